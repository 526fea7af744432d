package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// User flows over real HTTP: /identity/b2xUserFlows (workforce tenants, v1.0
// and beta) and /identity/b2cUserFlows (B2C tenants, beta), their
// apiConnectorConfiguration and their identityProviders relationship. Every
// rejected request must change nothing: ufSnapshot (the store snapshot plus
// every user flow) is the same before and after.
//
// The helpers prefixed uf are shared with cross_view_test.go and
// identity_providers_test.go.

const ufGraphRoot = "https://graph.microsoft.com"

// ufEnv is a server with a workforce tenant (b2x flows) and the default B2C
// tenant (b2c flows), and an admin token for each.
type ufEnv struct {
	s      *testServer
	wf     graph.Tenant
	wfTok  string // admin of the workforce tenant
	b2cTok string // admin of the default (B2C) tenant
}

func newUFEnv(t *testing.T) *ufEnv {
	t.Helper()
	s := newServer(t)
	wf := s.newTenant(graph.TenantWorkforce, "")
	return &ufEnv{s: s, wf: wf, wfTok: s.adminToken(wf.ID), b2cTok: s.adminToken(s.Tenant.ID)}
}

// ufSnapshot is s.snapshot() plus every stored user flow of every tenant.
func ufSnapshot(t testing.TB, s *testServer) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := s.snapshot()
	ts, err := s.Dir.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range ts {
		rs, err := s.Store.List(ctx, tn.ID, store.UserFlows)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out[tn.ID+"/"+string(store.UserFlows)+"/"+r.ID] = string(r.Data) + "@" + store.ETag(r.Version)
		}
	}
	return out
}

// ufErrMessage returns error.message of a Graph error body.
func ufErrMessage(t *testing.T, r response) string {
	t.Helper()
	var env struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, r.Body)
	}
	return env.Error.Message
}

// ufReject sends req and asserts the error (status, code, a message
// containing each of msg, ignoring case: ids match case-insensitively) and
// that nothing stored changed.
func ufReject(t *testing.T, s *testServer, req request, status int, code string, msg ...string) response {
	t.Helper()
	before := ufSnapshot(t, s)
	r := s.do(req)
	checkError(t, r, status, code)
	if r.Status == status {
		m := ufErrMessage(t, r)
		for _, want := range msg {
			if !strings.Contains(strings.ToLower(m), strings.ToLower(want)) {
				t.Errorf("%s %s: error message %q does not contain %q", req.Method, req.Path, m, want)
			}
		}
	}
	if d := cmp.Diff(before, ufSnapshot(t, s)); d != "" {
		t.Errorf("a rejected %s %s changed the store (-before +after):\n%s", req.Method, req.Path, d)
	}
	return r
}

// ufExpect sends req and fails the test unless it answers status.
func ufExpect(t *testing.T, s *testServer, req request, status int) response {
	t.Helper()
	r := s.do(req)
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", req.Method, req.Path, r.Status, status, r.Body)
	}
	return r
}

// ufObject decodes a JSON object body.
func ufObject(t *testing.T, r response) map[string]any {
	t.Helper()
	m := r.JSON(t)
	if m == nil {
		t.Fatalf("empty body, want a JSON object")
	}
	return m
}

// ufValues decodes the value array of a collection body.
func ufValues(t *testing.T, r response) []map[string]any {
	t.Helper()
	var c struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(r.Body, &c); err != nil {
		t.Fatalf("collection body: %v\n%s", err, r.Body)
	}
	if c.Value == nil {
		t.Fatalf("collection body has no value array: %s", r.Body)
	}
	return c.Value
}

// ufIDs returns the ids of collection items.
func ufIDs(items []map[string]any) []string {
	var ids []string
	for _, it := range items {
		id, _ := it["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// ufFind returns the item with the id (case-insensitive), or nil.
func ufFind(items []map[string]any, id string) map[string]any {
	for _, it := range items {
		if s, _ := it["id"].(string); strings.EqualFold(s, id) {
			return it
		}
	}
	return nil
}

// ufCheckProps asserts that m has each of the name/value pairs of want.
func ufCheckProps(t *testing.T, what string, m map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("%s: no %q in %v", what, k, m)
			continue
		}
		if d := cmp.Diff(v, got); d != "" {
			t.Errorf("%s: %q (-want +got):\n%s", what, k, d)
		}
	}
}

// ufNoSecrets fails if any response body contains one of the secrets.
func ufNoSecrets(t *testing.T, what string, body []byte, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(string(body), sec) {
			t.Errorf("%s: the body shows the secret %q: %s", what, sec, body)
		}
	}
}

// ufConnectorPassword is the password of every connector ufCreateConnector
// creates: it must never be shown.
const ufConnectorPassword = "uf-connector-Pa55word"

// ufCreateConnector creates a basic-auth API connector and returns its id.
func ufCreateConnector(t *testing.T, s *testServer, tok, name string) string {
	t.Helper()
	r := ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok, Body: map[string]any{
		"displayName": name,
		"targetUrl":   "https://api.example.com/" + url.PathEscape(name),
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user-" + name, "password": ufConnectorPassword},
	}}, http.StatusCreated)
	id, _ := ufObject(t, r)["id"].(string)
	if id == "" {
		t.Fatalf("create connector: no id in %s", r.Body)
	}
	return id
}

// ufSocialSecret is the client secret of ufCreateSocial providers.
func ufSocialSecret(typ string) string { return "uf-social-secret-" + typ }

// ufCreateSocial creates a social provider of type typ through the
// deprecated v1.0 API and returns its id.
func ufCreateSocial(t *testing.T, s *testServer, tok, typ string) string {
	t.Helper()
	r := ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok, Body: map[string]any{
		"name": "Login with " + typ, "type": typ, "clientId": "client-" + typ, "clientSecret": ufSocialSecret(typ),
	}}, http.StatusCreated)
	id, _ := ufObject(t, r)["id"].(string)
	if id != typ+"-OAUTH" {
		t.Fatalf("create %s provider: id %q, want %q", typ, id, typ+"-OAUTH")
	}
	return id
}

// ufFlowBody is a create body for a flow named name.
func ufFlowBody(name, typ string, version float64, kv ...any) map[string]any {
	m := map[string]any{"id": name, "userFlowType": typ, "userFlowTypeVersion": version}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// ufCreateFlow creates a flow and returns its id.
func ufCreateFlow(t *testing.T, s *testServer, tok, version, coll string, body map[string]any) string {
	t.Helper()
	r := ufExpect(t, s, request{Method: "POST", Path: "/" + version + "/identity/" + coll, Token: tok, Body: body}, http.StatusCreated)
	id, _ := ufObject(t, r)["id"].(string)
	if id == "" {
		t.Fatalf("create flow: no id in %s", r.Body)
	}
	return id
}

// ufStoredFlow reads a flow straight from the store.
func ufStoredFlow(t *testing.T, s *testServer, tenant, id string) (graph.UserFlow, bool) {
	t.Helper()
	v, err := store.GetAs[graph.UserFlow](context.Background(), s.Store, tenant, store.UserFlows, id)
	if graph.KindOf(err) == graph.KindNotFound {
		return graph.UserFlow{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v.Value, true
}

// ufConnectorURL is an absolute reference to a connector.
func ufConnectorURL(version, id string) string {
	return ufGraphRoot + "/" + version + "/identity/apiConnectors/" + id
}

func TestUserFlowB2XCreate(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	for _, v := range []string{"v1.0", "beta"} {
		t.Run(v, func(t *testing.T) {
			name := "Partner" + strings.ReplaceAll(v, ".", "")
			id := "B2X_1_" + name
			r := ufExpect(t, s, request{Method: "POST", Path: "/" + v + "/identity/b2xUserFlows", Token: e.wfTok,
				Body: ufFlowBody(name, "signUpOrSignIn", 1)}, http.StatusCreated)
			if got, want := r.Header.Get("Location"), ufGraphRoot+"/"+v+"/identity/b2xUserFlows('"+id+"')"; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if r.Header.Get("ETag") == "" {
				t.Errorf("create: no ETag")
			}
			m := ufObject(t, r)
			want := map[string]any{
				"@odata.context":      ufGraphRoot + "/" + v + "/$metadata#identity/b2xUserFlows/$entity",
				"id":                  id,
				"userFlowType":        "signUpOrSignIn",
				"userFlowTypeVersion": 1.0,
			}
			if d := cmp.Diff(want, m); d != "" {
				t.Errorf("create body (-want +got):\n%s", d)
			}
			if f, ok := ufStoredFlow(t, s, e.wf.ID, id); !ok || f.Kind != graph.FlowB2X {
				t.Errorf("stored flow = %+v, %v", f, ok)
			}
			// The Location names the flow: GET it.
			loc, _ := strings.CutPrefix(r.Header.Get("Location"), ufGraphRoot)
			g := ufExpect(t, s, request{Method: "GET", Path: strings.ReplaceAll(strings.ReplaceAll(loc, "'", "%27"), " ", "%20"), Token: e.wfTok}, http.StatusOK)
			if got := ufObject(t, g)["id"]; got != id {
				t.Errorf("GET Location: id %v, want %s", got, id)
			}

			// A second flow of that name (prefixed or not, any case) is a conflict.
			for _, dup := range []string{name, id, strings.ToLower(name), "b2x_1_" + strings.ToUpper(name)} {
				ufReject(t, s, request{Method: "POST", Path: "/" + v + "/identity/b2xUserFlows", Token: e.wfTok,
					Body: ufFlowBody(dup, "signUpOrSignIn", 1)}, http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", id)
			}
		})
	}

	// The prefix is not added twice; the entity's own @odata.type is accepted.
	r := ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/b2xUserFlows", Token: e.wfTok,
		Body: ufFlowBody("B2X_1_Prefixed", "signUpOrSignIn", 1, "@odata.type", "#microsoft.graph.b2xIdentityUserFlow")}, http.StatusCreated)
	if got := ufObject(t, r)["id"]; got != "B2X_1_Prefixed" {
		t.Errorf("id = %v, want B2X_1_Prefixed", got)
	}
}

func TestUserFlowB2XCreateRejects(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	long := strings.Repeat("a", 101)
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"type signUp", ufFlowBody("Bad", "signUp", 1), "userFlowType"},
		{"type signIn", ufFlowBody("Bad", "signIn", 1), "userFlowType"},
		{"type unknown", ufFlowBody("Bad", "bogus", 1), "userFlowType"},
		{"type missing", map[string]any{"id": "Bad", "userFlowTypeVersion": 1}, "userFlowType"},
		{"type not a string", ufFlowBody("Bad", "signUpOrSignIn", 1, "userFlowType", 3), "userFlowType"},
		{"version 2", ufFlowBody("Bad", "signUpOrSignIn", 2), "userFlowTypeVersion"},
		{"version 0", ufFlowBody("Bad", "signUpOrSignIn", 0), "userFlowTypeVersion"},
		{"version 1.5", ufFlowBody("Bad", "signUpOrSignIn", 1.5), "userFlowTypeVersion"},
		{"version string", ufFlowBody("Bad", "signUpOrSignIn", 1, "userFlowTypeVersion", "1"), "userFlowTypeVersion"},
		{"version missing", map[string]any{"id": "Bad", "userFlowType": "signUpOrSignIn"}, "userFlowTypeVersion"},
		{"id missing", map[string]any{"userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1}, "id"},
		{"id empty", ufFlowBody("", "signUpOrSignIn", 1), "id"},
		{"id prefix only", ufFlowBody("B2X_1_", "signUpOrSignIn", 1), "id"},
		{"id with space", ufFlowBody("Bad name", "signUpOrSignIn", 1), "id"},
		{"id with slash", ufFlowBody("Bad/name", "signUpOrSignIn", 1), "id"},
		{"id with quote", ufFlowBody("Bad'name", "signUpOrSignIn", 1), "id"},
		{"id too long", ufFlowBody(long, "signUpOrSignIn", 1), "id"},
		{"id not a string", ufFlowBody("Bad", "signUpOrSignIn", 1, "id", 7), "id"},
		{"unknown property", ufFlowBody("Bad", "signUpOrSignIn", 1, "colour", "blue"), "colour"},
		{"languages", ufFlowBody("Bad", "signUpOrSignIn", 1, "languages", []any{}), "languages"},
		{"wrong @odata.type", ufFlowBody("Bad", "signUpOrSignIn", 1, "@odata.type", "#microsoft.graph.b2cIdentityUserFlow"), "@odata.type"},
		{"b2c property", ufFlowBody("Bad", "signUpOrSignIn", 1, "defaultLanguageTag", "en"), "defaultLanguageTag"},
		{"preTokenIssuance in v1.0", ufFlowBody("Bad", "signUpOrSignIn", 1, "apiConnectorConfiguration",
			map[string]any{"preTokenIssuance": map[string]any{"@odata.id": "x"}}), "preTokenIssuance"},
		{"apiConnectorConfiguration not an object", ufFlowBody("Bad", "signUpOrSignIn", 1, "apiConnectorConfiguration", "x"), "apiConnectorConfiguration"},
		{"identityProviders not an array", ufFlowBody("Bad", "signUpOrSignIn", 1, "identityProviders", "Google-OAUTH"), "identityProviders"},
		{"identityProviders item without id", ufFlowBody("Bad", "signUpOrSignIn", 1, "identityProviders", []any{map[string]any{"name": "x"}}), "identityProviders"},
		{"not JSON", "{", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msg []string
			if tc.msg != "" {
				msg = append(msg, tc.msg)
			}
			ufReject(t, s, request{Method: "POST", Path: "/v1.0/identity/b2xUserFlows", Token: e.wfTok, Body: tc.body},
				http.StatusBadRequest, "Request_BadRequest", msg...)
		})
	}
	if _, ok := ufStoredFlow(t, s, e.wf.ID, "B2X_1_Bad"); ok {
		t.Errorf("a rejected create stored B2X_1_Bad")
	}

	// b2xUserFlows belong to workforce tenants: B2C and external tenants get
	// 400 on every operation, and nothing is stored.
	ext := s.newTenant(graph.TenantExternal, "")
	for _, tok := range []string{e.b2cTok, s.adminToken(ext.ID)} {
		for _, v := range []string{"v1.0", "beta"} {
			p := "/" + v + "/identity/b2xUserFlows"
			ufReject(t, s, request{Method: "POST", Path: p, Token: tok, Body: ufFlowBody("Partner", "signUpOrSignIn", 1)},
				http.StatusBadRequest, "Request_BadRequest", "workforce")
			ufReject(t, s, request{Method: "GET", Path: p, Token: tok}, http.StatusBadRequest, "Request_BadRequest")
			ufReject(t, s, request{Method: "GET", Path: p + "/B2X_1_Partner", Token: tok}, http.StatusBadRequest, "Request_BadRequest")
			ufReject(t, s, request{Method: "DELETE", Path: p + "/B2X_1_Partner", Token: tok}, http.StatusBadRequest, "Request_BadRequest")
		}
	}
}

func TestUserFlowB2C(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	p := "/beta/identity/b2cUserFlows"

	r := ufExpect(t, s, request{Method: "POST", Path: p, Token: e.b2cTok, Body: ufFlowBody("SignUp", "signUp", 3)}, http.StatusCreated)
	if got, want := r.Header.Get("Location"), ufGraphRoot+"/beta/identity/b2cUserFlows('B2C_1_SignUp')"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	want := map[string]any{
		"@odata.context":                 ufGraphRoot + "/beta/$metadata#identity/b2cUserFlows/$entity",
		"id":                             "B2C_1_SignUp",
		"userFlowType":                   "signUp",
		"userFlowTypeVersion":            3.0,
		"isLanguageCustomizationEnabled": false,
		"defaultLanguageTag":             "en",
	}
	if d := cmp.Diff(want, ufObject(t, r)); d != "" {
		t.Errorf("create body (-want +got):\n%s", d)
	}

	// Every userFlowType, case-insensitively, in its canonical spelling.
	for i, typ := range []string{"SIGNIN", "signUpOrSignIn", "passwordreset", "profileUpdate", "resourceOwner"} {
		name := fmt.Sprintf("Flow%d", i)
		r := ufExpect(t, s, request{Method: "POST", Path: p, Token: e.b2cTok,
			Body: ufFlowBody(name, typ, float64(i%3+1), "isLanguageCustomizationEnabled", true, "defaultLanguageTag", "fr-CA")}, http.StatusCreated)
		m := ufObject(t, r)
		canon, _ := graph.CanonicalUserFlowType(typ)
		ufCheckProps(t, "create "+typ, m, map[string]any{"id": "B2C_1_" + name, "userFlowType": canon,
			"userFlowTypeVersion": float64(i%3 + 1), "isLanguageCustomizationEnabled": true, "defaultLanguageTag": "fr-CA"})
	}

	ufReject(t, s, request{Method: "POST", Path: p, Token: e.b2cTok, Body: ufFlowBody("signup", "signUp", 1)},
		http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "B2C_1_SignUp")
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"type unknown", ufFlowBody("Bad", "signOut", 1), "userFlowType"},
		{"version 0", ufFlowBody("Bad", "signUp", 0), "userFlowTypeVersion"},
		{"version 4", ufFlowBody("Bad", "signUp", 4), "userFlowTypeVersion"},
		{"version string", ufFlowBody("Bad", "signUp", 1, "userFlowTypeVersion", "2"), "userFlowTypeVersion"},
		{"id bad", ufFlowBody("Bad!", "signUp", 1), "id"},
		{"id missing", map[string]any{"userFlowType": "signUp", "userFlowTypeVersion": 1}, "id"},
		{"language flag not Boolean", ufFlowBody("Bad", "signUp", 1, "isLanguageCustomizationEnabled", "yes"), "isLanguageCustomizationEnabled"},
		{"language tag not a string", ufFlowBody("Bad", "signUp", 1, "defaultLanguageTag", 1), "defaultLanguageTag"},
		{"language tag too long", ufFlowBody("Bad", "signUp", 1, "defaultLanguageTag", strings.Repeat("x", 36)), "defaultLanguageTag"},
		{"unknown property", ufFlowBody("Bad", "signUp", 1, "colour", "blue"), "colour"},
		{"b2x @odata.type", ufFlowBody("Bad", "signUp", 1, "@odata.type", "#microsoft.graph.b2xIdentityUserFlow"), "@odata.type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ufReject(t, s, request{Method: "POST", Path: p, Token: e.b2cTok, Body: tc.body}, http.StatusBadRequest, "Request_BadRequest", tc.msg)
		})
	}
	if _, ok := ufStoredFlow(t, s, s.Tenant.ID, "B2C_1_Bad"); ok {
		t.Errorf("a rejected create stored B2C_1_Bad")
	}

	// b2cUserFlows do not exist in v1.0, whatever the tenant.
	for _, req := range []request{
		{Method: "POST", Path: "/v1.0/identity/b2cUserFlows", Token: e.b2cTok, Body: ufFlowBody("V1", "signUp", 1)},
		{Method: "GET", Path: "/v1.0/identity/b2cUserFlows", Token: e.b2cTok},
		{Method: "GET", Path: "/v1.0/identity/b2cUserFlows/B2C_1_SignUp", Token: e.b2cTok},
		{Method: "DELETE", Path: "/v1.0/identity/b2cUserFlows/B2C_1_SignUp", Token: e.b2cTok},
		{Method: "GET", Path: "/v1.0/identity/b2cUserFlows/B2C_1_SignUp/apiConnectorConfiguration", Token: e.b2cTok},
		{Method: "GET", Path: "/v1.0/identity/b2cUserFlows", Token: e.wfTok},
	} {
		r := ufReject(t, s, req, http.StatusBadRequest, "BadRequest")
		if m := ufErrMessage(t, r); m != "Resource not found for the segment 'b2cUserFlows'." {
			t.Errorf("%s %s: message %q", req.Method, req.Path, m)
		}
	}

	// b2cUserFlows belong to B2C tenants.
	ext := s.newTenant(graph.TenantExternal, "")
	for _, tok := range []string{e.wfTok, s.adminToken(ext.ID)} {
		ufReject(t, s, request{Method: "POST", Path: p, Token: tok, Body: ufFlowBody("SignUp", "signUp", 1)}, http.StatusBadRequest, "Request_BadRequest", "b2c")
		ufReject(t, s, request{Method: "GET", Path: p, Token: tok}, http.StatusBadRequest, "Request_BadRequest")
		ufReject(t, s, request{Method: "GET", Path: p + "/B2C_1_SignUp", Token: tok}, http.StatusBadRequest, "Request_BadRequest")
		ufReject(t, s, request{Method: "DELETE", Path: p + "/B2C_1_SignUp", Token: tok}, http.StatusBadRequest, "Request_BadRequest")
	}

	// List, get, delete.
	items := ufValues(t, ufExpect(t, s, request{Method: "GET", Path: p, Token: e.b2cTok}, http.StatusOK))
	if ids := ufIDs(items); len(ids) != 6 || !slices.Contains(ids, "B2C_1_SignUp") || !slices.Contains(ids, "B2C_1_Flow4") {
		t.Errorf("list ids = %v", ids)
	}
	ufCheckProps(t, "list item", ufFind(items, "B2C_1_SignUp"), map[string]any{"userFlowType": "signUp", "defaultLanguageTag": "en"})
	g := ufExpect(t, s, request{Method: "GET", Path: p + "/b2c_1_signup", Token: e.b2cTok}, http.StatusOK)
	want["@odata.context"] = ufGraphRoot + "/beta/$metadata#identity/b2cUserFlows/$entity"
	if d := cmp.Diff(want, ufObject(t, g)); d != "" {
		t.Errorf("get body (-want +got):\n%s", d)
	}
	ufExpect(t, s, request{Method: "DELETE", Path: p + "/B2C_1_SignUp", Token: e.b2cTok}, http.StatusNoContent)
	ufReject(t, s, request{Method: "GET", Path: p + "/B2C_1_SignUp", Token: e.b2cTok}, http.StatusNotFound, "Request_ResourceNotFound")
	ufReject(t, s, request{Method: "DELETE", Path: p + "/B2C_1_SignUp", Token: e.b2cTok}, http.StatusNotFound, "Request_ResourceNotFound")
}

func TestUserFlowListGetDelete(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	for _, v := range []string{"v1.0", "beta"} {
		p := "/" + v + "/identity/b2xUserFlows"
		r := ufExpect(t, s, request{Method: "GET", Path: p, Token: e.wfTok}, http.StatusOK)
		if got := ufObject(t, r)["@odata.context"]; got != ufGraphRoot+"/"+v+"/$metadata#identity/b2xUserFlows" {
			t.Errorf("%s list @odata.context = %v", v, got)
		}
		if items := ufValues(t, r); len(items) != 0 {
			t.Errorf("%s: new tenant lists flows %v", v, ufIDs(items))
		}
	}
	ufCreateFlow(t, s, e.wfTok, "v1.0", "b2xUserFlows", ufFlowBody("One", "signUpOrSignIn", 1))
	ufCreateFlow(t, s, e.wfTok, "beta", "b2xUserFlows", ufFlowBody("Two", "signUpOrSignIn", 1))
	// A B2C tenant's flows never show in the workforce tenant.
	ufCreateFlow(t, s, e.b2cTok, "beta", "b2cUserFlows", ufFlowBody("One", "signUp", 1))
	for _, v := range []string{"v1.0", "beta"} {
		p := "/" + v + "/identity/b2xUserFlows"
		items := ufValues(t, ufExpect(t, s, request{Method: "GET", Path: p, Token: e.wfTok}, http.StatusOK))
		if d := cmp.Diff([]string{"B2X_1_One", "B2X_1_Two"}, ufIDs(items)); d != "" {
			t.Errorf("%s list ids (-want +got):\n%s", v, d)
		}
		want := map[string]any{"id": "B2X_1_One", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 1.0}
		if d := cmp.Diff(want, ufFind(items, "B2X_1_One")); d != "" {
			t.Errorf("%s list item (-want +got):\n%s", v, d)
		}
		for _, path := range []string{p + "/B2X_1_Two", p + "/b2x_1_two", p + "('B2X_1_Two')"} {
			g := ufExpect(t, s, request{Method: "GET", Path: strings.ReplaceAll(path, "'", "%27"), Token: e.wfTok}, http.StatusOK)
			ufCheckProps(t, "get "+path, ufObject(t, g), map[string]any{"id": "B2X_1_Two",
				"@odata.context": ufGraphRoot + "/" + v + "/$metadata#identity/b2xUserFlows/$entity"})
			if g.Header.Get("ETag") == "" {
				t.Errorf("get %s: no ETag", path)
			}
		}
		ufReject(t, s, request{Method: "GET", Path: p + "/B2X_1_Missing", Token: e.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
		ufReject(t, s, request{Method: "DELETE", Path: p + "/B2X_1_Missing", Token: e.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
	}

	// Delete honours If-Match.
	g := ufExpect(t, s, request{Method: "GET", Path: "/v1.0/identity/b2xUserFlows/B2X_1_One", Token: e.wfTok}, http.StatusOK)
	etag := g.Header.Get("ETag")
	ufReject(t, s, request{Method: "DELETE", Path: "/v1.0/identity/b2xUserFlows/B2X_1_One", Token: e.wfTok,
		Header: map[string]string{"If-Match": `W/"999999"`}}, http.StatusPreconditionFailed, "PreconditionFailed")
	ufExpect(t, s, request{Method: "DELETE", Path: "/v1.0/identity/b2xUserFlows/B2X_1_One", Token: e.wfTok,
		Header: map[string]string{"If-Match": etag}}, http.StatusNoContent)
	ufExpect(t, s, request{Method: "DELETE", Path: "/beta/identity/b2xUserFlows/b2x_1_two", Token: e.wfTok}, http.StatusNoContent)
	for _, v := range []string{"v1.0", "beta"} {
		items := ufValues(t, ufExpect(t, s, request{Method: "GET", Path: "/" + v + "/identity/b2xUserFlows", Token: e.wfTok}, http.StatusOK))
		if len(items) != 0 {
			t.Errorf("%s: deleted flows still listed: %v", v, ufIDs(items))
		}
		ufReject(t, s, request{Method: "GET", Path: "/" + v + "/identity/b2xUserFlows/B2X_1_One", Token: e.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
	}
	if _, ok := ufStoredFlow(t, s, s.Tenant.ID, "B2C_1_One"); !ok {
		t.Errorf("deleting b2x flows removed the B2C tenant's flow")
	}
	// The other tenant's flow of the same name is not reachable.
	ufReject(t, s, request{Method: "GET", Path: "/beta/identity/b2cUserFlows/B2C_1_One", Token: e.wfTok}, http.StatusBadRequest, "Request_BadRequest")
}

func TestUserFlowCreateWithReferences(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	c1 := ufCreateConnector(t, s, e.wfTok, "signup-check")
	c2 := ufCreateConnector(t, s, e.wfTok, "attributes-check")
	google := ufCreateSocial(t, s, e.wfTok, "Google")
	facebook := ufCreateSocial(t, s, e.wfTok, "Facebook")

	id := ufCreateFlow(t, s, e.wfTok, "v1.0", "b2xUserFlows", ufFlowBody("WithRefs", "signUpOrSignIn", 1,
		"apiConnectorConfiguration", map[string]any{
			"postFederationSignup":    map[string]any{"@odata.id": ufConnectorURL("v1.0", c1)},
			"postAttributeCollection": map[string]any{"@odata.id": c2},
		},
		"identityProviders", []any{map[string]any{"id": "google-oauth"}, map[string]any{"id": facebook, "name": "ignored", "clientSecret": "******"}}))
	f, ok := ufStoredFlow(t, s, e.wf.ID, id)
	if !ok {
		t.Fatalf("flow %s not stored", id)
	}
	if d := cmp.Diff(map[string]string{graph.StepPostFederationSignup: c1, graph.StepPostAttributeCollection: c2}, f.APIConnectors); d != "" {
		t.Errorf("stored connectors (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{google, facebook}, f.IdentityProviders); d != "" {
		t.Errorf("stored providers (-want +got):\n%s", d)
	}
	conf := ufObject(t, ufExpect(t, s, request{Method: "GET", Path: "/v1.0/identity/b2xUserFlows/" + id + "/apiConnectorConfiguration?$expand=*", Token: e.wfTok}, http.StatusOK))
	for step, cid := range map[string]string{"postFederationSignup": c1, "postAttributeCollection": c2} {
		c, _ := conf[step].(map[string]any)
		if c == nil || c["id"] != cid {
			t.Errorf("%s = %v, want connector %s", step, conf[step], cid)
		}
	}
	items := ufValues(t, ufExpect(t, s, request{Method: "GET", Path: "/v1.0/identity/b2xUserFlows/" + id + "/identityProviders", Token: e.wfTok}, http.StatusOK))
	if d := cmp.Diff([]string{google, facebook}, ufIDs(items)); d != "" {
		t.Errorf("flow providers (-want +got):\n%s", d)
	}

	// A reference to something missing (or not offerable) fails the whole
	// create: no flow is stored.
	for _, tc := range []struct {
		name string
		kv   []any
		msg  string
	}{
		{"missing connector", []any{"apiConnectorConfiguration", map[string]any{"postFederationSignup": map[string]any{"@odata.id": ufConnectorURL("v1.0", "missing-connector")}}}, "missing-connector"},
		{"one good one missing connector", []any{"apiConnectorConfiguration", map[string]any{
			"postFederationSignup":    map[string]any{"@odata.id": c1},
			"postAttributeCollection": map[string]any{"@odata.id": "missing-connector"}}}, "missing-connector"},
		{"connector URL of another collection", []any{"apiConnectorConfiguration", map[string]any{"postFederationSignup": map[string]any{"@odata.id": ufGraphRoot + "/v1.0/identityProviders/" + c1}}}, "@odata.id"},
		{"step without @odata.id", []any{"apiConnectorConfiguration", map[string]any{"postFederationSignup": map[string]any{}}}, "@odata.id"},
		{"unknown step", []any{"apiConnectorConfiguration", map[string]any{"preSignIn": map[string]any{"@odata.id": c1}}}, "preSignIn"},
		{"missing provider", []any{"identityProviders", []any{map[string]any{"id": "Google-OAUTH"}, map[string]any{"id": "Amazon-OAUTH"}}}, "Amazon-OAUTH"},
		{"built-in provider", []any{"identityProviders", []any{map[string]any{"id": "MSASignup-OAUTH"}}}, "MSASignup-OAUTH"},
		{"good connector missing provider", []any{
			"apiConnectorConfiguration", map[string]any{"postFederationSignup": map[string]any{"@odata.id": c1}},
			"identityProviders", []any{map[string]any{"id": "Nope-OAUTH"}}}, "Nope-OAUTH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ufReject(t, s, request{Method: "POST", Path: "/v1.0/identity/b2xUserFlows", Token: e.wfTok,
				Body: ufFlowBody("Dangling", "signUpOrSignIn", 1, tc.kv...)}, http.StatusBadRequest, "Request_BadRequest", tc.msg)
			if _, ok := ufStoredFlow(t, s, e.wf.ID, "B2X_1_Dangling"); ok {
				t.Fatalf("a rejected create stored B2X_1_Dangling")
			}
			ufReject(t, s, request{Method: "GET", Path: "/v1.0/identity/b2xUserFlows/B2X_1_Dangling", Token: e.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
		})
	}

	// Beta b2x and b2c flows take preTokenIssuance on create too.
	bid := ufCreateFlow(t, s, e.wfTok, "beta", "b2xUserFlows", ufFlowBody("BetaRefs", "signUpOrSignIn", 1,
		"apiConnectorConfiguration", map[string]any{"preTokenIssuance": map[string]any{"@odata.id": "/beta/identity/apiConnectors/" + c2}}))
	if f, _ := ufStoredFlow(t, s, e.wf.ID, bid); f.APIConnectors[graph.StepPreTokenIssuance] != c2 {
		t.Errorf("beta flow connectors = %v", f.APIConnectors)
	}
	bc := ufCreateConnector(t, s, e.b2cTok, "b2c-check")
	amazon := ufCreateSocial(t, s, e.b2cTok, "Amazon")
	cid := ufCreateFlow(t, s, e.b2cTok, "beta", "b2cUserFlows", ufFlowBody("Refs", "signUpOrSignIn", 2,
		"apiConnectorConfiguration", map[string]any{"preTokenIssuance": map[string]any{"@odata.id": ufConnectorURL("beta", bc)}},
		"identityProviders", []any{map[string]any{"id": amazon}}))
	if f, _ := ufStoredFlow(t, s, s.Tenant.ID, cid); f.APIConnectors[graph.StepPreTokenIssuance] != bc || !slices.Equal(f.IdentityProviders, []string{amazon}) {
		t.Errorf("b2c flow = %+v", f)
	}
	// Another tenant's connector does not exist here.
	ufReject(t, s, request{Method: "POST", Path: "/beta/identity/b2cUserFlows", Token: e.b2cTok,
		Body: ufFlowBody("Foreign", "signUp", 1, "apiConnectorConfiguration", map[string]any{"postFederationSignup": map[string]any{"@odata.id": c1}})},
		http.StatusBadRequest, "Request_BadRequest", c1)
}

// ufConnectorFixture is a workforce tenant with two connectors, a b2x flow,
// and a B2C flow.
type ufConnectorFixture struct {
	*ufEnv
	c1, c2 string // connectors of the workforce tenant
	flow   string // B2X_1_Conn
	bc     string // connector of the B2C tenant
	bflow  string // B2C_1_Conn
}

func newUFConnectorFixture(t *testing.T) *ufConnectorFixture {
	e := newUFEnv(t)
	f := &ufConnectorFixture{ufEnv: e}
	f.c1 = ufCreateConnector(t, e.s, e.wfTok, "one")
	f.c2 = ufCreateConnector(t, e.s, e.wfTok, "two")
	f.flow = ufCreateFlow(t, e.s, e.wfTok, "v1.0", "b2xUserFlows", ufFlowBody("Conn", "signUpOrSignIn", 1))
	f.bc = ufCreateConnector(t, e.s, e.b2cTok, "b2c")
	f.bflow = ufCreateFlow(t, e.s, e.b2cTok, "beta", "b2cUserFlows", ufFlowBody("Conn", "signUp", 1))
	return f
}

// ufCheckConnector asserts an expanded connector: the right one, password
// masked, no secret anywhere.
func ufCheckConnector(t *testing.T, what string, v any, id, name string) {
	t.Helper()
	c, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s = %v, want connector %s", what, v, id)
		return
	}
	ufCheckProps(t, what, c, map[string]any{
		"id": id, "displayName": name, "targetUrl": "https://api.example.com/" + name,
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user-" + name, "password": "******"},
	})
}

func TestUserFlowConnectorConfigurationGet(t *testing.T) {
	f := newUFConnectorFixture(t)
	s := f.s
	for _, v := range []string{"v1.0", "beta"} {
		ufExpect(t, s, request{Method: "PUT", Path: "/v1.0/identity/b2xUserFlows/" + f.flow + "/apiConnectorConfiguration/postFederationSignup/$ref",
			Token: f.wfTok, Body: map[string]any{"@odata.id": ufConnectorURL(v, f.c1)}}, http.StatusNoContent)
		base := "/" + v + "/identity/b2xUserFlows/" + f.flow + "/apiConnectorConfiguration"
		ctx := ufGraphRoot + "/" + v + "/$metadata#identity/b2xUserFlows('B2X_1_Conn')/apiConnectorConfiguration"
		stepCtx := func(step string) string {
			cast := "microsoft.graph.userFlowApiConnectorConfiguration/"
			if step == "postAttributeCollection" {
				cast += cast
			}
			return ufGraphRoot + "/" + v + "/$metadata#identity/b2xUserFlows('B2X_1_Conn')/apiConnectorConfiguration/" + cast + step + "/$entity"
		}

		// Without $expand the steps are navigation properties: not inlined.
		r := ufExpect(t, s, request{Method: "GET", Path: base, Token: f.wfTok}, http.StatusOK)
		if d := cmp.Diff(map[string]any{"@odata.context": ctx}, ufObject(t, r)); d != "" {
			t.Errorf("%s without $expand (-want +got):\n%s", v, d)
		}
		if r.Header.Get("ETag") == "" {
			t.Errorf("%s: no ETag", v)
		}

		r = ufExpect(t, s, request{Method: "GET", Path: base + "?$expand=postFederationSignup", Token: f.wfTok}, http.StatusOK)
		m := ufObject(t, r)
		ufCheckConnector(t, v+" postFederationSignup", m["postFederationSignup"], f.c1, "one")
		if got := m["@odata.context"]; got != ctx+"(postFederationSignup())" {
			t.Errorf("%s @odata.context = %v", v, got)
		}
		if got := m["postFederationSignup@odata.context"]; got != stepCtx("postFederationSignup") {
			t.Errorf("%s postFederationSignup@odata.context = %v", v, got)
		}
		if _, ok := m["postAttributeCollection"]; ok {
			t.Errorf("%s: postAttributeCollection inlined without being expanded: %s", v, r.Body)
		}
		ufNoSecrets(t, v+" expand", r.Body, ufConnectorPassword)

		// A step without a connector expands to null.
		r = ufExpect(t, s, request{Method: "GET", Path: base + "?$expand=postAttributeCollection", Token: f.wfTok}, http.StatusOK)
		m = ufObject(t, r)
		if v, ok := m["postAttributeCollection"]; !ok || v != nil {
			t.Errorf("unconfigured postAttributeCollection = %v (present %v), want null", v, ok)
		}

		ufExpect(t, s, request{Method: "PUT", Path: base + "/postAttributeCollection/$ref",
			Token: f.wfTok, Body: map[string]any{"@odata.id": f.c2}}, http.StatusNoContent)
		steps := []string{"postFederationSignup", "postAttributeCollection"}
		if v == "beta" {
			steps = append(steps, "preTokenIssuance")
		}
		extra := ""
		if v == "beta" {
			extra = ",preTokenIssuance"
		}
		for _, q := range []string{"$expand=*", "$expand=postFederationSignup,postAttributeCollection" + extra,
			"$expand=" + url.QueryEscape("postFederationSignup, postAttributeCollection") + extra, "$EXPAND=*",
			"$expand=microsoft.graph.postFederationSignup,POSTATTRIBUTECOLLECTION" + extra, "$expand=postFederationSignup,*"} {
			r := ufExpect(t, s, request{Method: "GET", Path: base + "?" + q, Token: f.wfTok}, http.StatusOK)
			m := ufObject(t, r)
			ufCheckConnector(t, v+" "+q+" postFederationSignup", m["postFederationSignup"], f.c1, "one")
			ufCheckConnector(t, v+" "+q+" postAttributeCollection", m["postAttributeCollection"], f.c2, "two")
			if got := m["postAttributeCollection@odata.context"]; got != stepCtx("postAttributeCollection") {
				t.Errorf("%s %s postAttributeCollection@odata.context = %v", v, q, got)
			}
			if v == "beta" {
				if got, ok := m["preTokenIssuance"]; !ok || got != nil {
					t.Errorf("%s %s preTokenIssuance = %v (present %v), want null", v, q, got, ok)
				}
			} else if _, ok := m["preTokenIssuance"]; ok {
				t.Errorf("v1.0 %s shows preTokenIssuance: %s", q, r.Body)
			}
			var parts []string
			for _, s := range steps {
				parts = append(parts, s+"()")
			}
			if got := m["@odata.context"]; got != ctx+"("+strings.Join(parts, ",")+")" {
				t.Errorf("%s %s @odata.context = %v", v, q, got)
			}
			ufNoSecrets(t, v+" "+q, r.Body, ufConnectorPassword)
		}

		// Unknown names are errors; preTokenIssuance is beta's.
		bad := []string{"$expand=postSignIn", "$expand=postFederationSignup,nope", "$expand=identityProviders"}
		if v == "v1.0" {
			bad = append(bad, "$expand=preTokenIssuance")
		}
		for _, q := range bad {
			ufReject(t, s, request{Method: "GET", Path: base + "?" + q, Token: f.wfTok}, http.StatusBadRequest, "Request_BadRequest")
		}

		// GET of one step: the connector, or 404 when the step has none.
		r = ufExpect(t, s, request{Method: "GET", Path: base + "/postAttributeCollection", Token: f.wfTok}, http.StatusOK)
		m = ufObject(t, r)
		ufCheckConnector(t, v+" step", m, f.c2, "two")
		if got := m["@odata.context"]; got != stepCtx("postAttributeCollection") {
			t.Errorf("%s step @odata.context = %v", v, got)
		}
		ufNoSecrets(t, v+" step", r.Body, ufConnectorPassword)
		ufExpect(t, s, request{Method: "PUT", Path: base + "/postAttributeCollection/$ref", Token: f.wfTok, Body: map[string]any{}}, http.StatusNoContent)
		ufReject(t, s, request{Method: "GET", Path: base + "/postAttributeCollection", Token: f.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
		ufReject(t, s, request{Method: "GET", Path: base + "/postSignIn", Token: f.wfTok}, http.StatusBadRequest, "BadRequest")
		if v == "v1.0" {
			ufReject(t, s, request{Method: "GET", Path: base + "/preTokenIssuance", Token: f.wfTok}, http.StatusBadRequest, "BadRequest")
		} else {
			ufReject(t, s, request{Method: "GET", Path: base + "/preTokenIssuance", Token: f.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
		}
		ufReject(t, s, request{Method: "GET", Path: "/" + v + "/identity/b2xUserFlows/B2X_1_Missing/apiConnectorConfiguration", Token: f.wfTok},
			http.StatusNotFound, "Request_ResourceNotFound")
	}

	// Beta's expand without "$"; b2c flows carry no per-step annotations.
	bbase := "/beta/identity/b2cUserFlows/" + f.bflow + "/apiConnectorConfiguration"
	ufExpect(t, s, request{Method: "PUT", Path: bbase + "/preTokenIssuance/$ref", Token: f.b2cTok,
		Body: map[string]any{"@odata.id": ufConnectorURL("beta", f.bc)}}, http.StatusNoContent)
	for _, q := range []string{"expand=preTokenIssuance", "$expand=preTokenIssuance", "expand=*"} {
		r := ufExpect(t, s, request{Method: "GET", Path: bbase + "?" + q, Token: f.b2cTok}, http.StatusOK)
		m := ufObject(t, r)
		ufCheckConnector(t, "b2c "+q, m["preTokenIssuance"], f.bc, "b2c")
		for k := range m {
			if strings.HasSuffix(k, "@odata.context") && k != "@odata.context" {
				t.Errorf("b2c %s: annotation %q", q, k)
			}
		}
		if got, _ := m["@odata.context"].(string); !strings.HasPrefix(got, ufGraphRoot+"/beta/$metadata#identity/b2cUserFlows('B2C_1_Conn')/apiConnectorConfiguration(") {
			t.Errorf("b2c %s @odata.context = %q", q, got)
		}
		ufNoSecrets(t, "b2c "+q, r.Body, ufConnectorPassword)
	}
	ufReject(t, s, request{Method: "GET", Path: bbase + "?expand=nothing", Token: f.b2cTok}, http.StatusBadRequest, "Request_BadRequest")
}

func TestUserFlowConnectorRef(t *testing.T) {
	f := newUFConnectorFixture(t)
	s := f.s
	stored := func() map[string]string {
		fl, _ := ufStoredFlow(t, s, f.wf.ID, f.flow)
		return fl.APIConnectors
	}
	for _, v := range []string{"v1.0", "beta"} {
		base := "/" + v + "/identity/b2xUserFlows/" + f.flow + "/apiConnectorConfiguration"
		put := func(step string, body any) request {
			return request{Method: "PUT", Path: base + "/" + step + "/$ref", Token: f.wfTok, Body: body}
		}
		for _, ref := range []string{
			ufConnectorURL(v, f.c1),
			"https://graph.microsoft.us/" + v + "/identity/apiConnectors/" + f.c1,
			"http://localhost:8443/beta/identity/apiConnectors/" + f.c1,
			"https://idgraph.example.internal/v1.0/identity/apiConnectors('" + f.c1 + "')",
			"/" + v + "/identity/apiConnectors/" + f.c1,
			"/v1.0/identity/apiConnectors/" + strings.ToUpper(f.c1),
			f.c1,
		} {
			ufExpect(t, s, request{Method: "PUT", Path: base + "/postAttributeCollection/$ref", Token: f.wfTok, Body: map[string]any{}}, http.StatusNoContent)
			r := ufExpect(t, s, put("postFederationSignup", map[string]any{"@odata.id": ref}), http.StatusNoContent)
			if len(r.Body) != 0 {
				t.Errorf("PUT $ref: body %s", r.Body)
			}
			if r.Header.Get("ETag") == "" {
				t.Errorf("PUT $ref: no ETag")
			}
			if got := stored()[graph.StepPostFederationSignup]; got != f.c1 {
				t.Errorf("%s after PUT %q: postFederationSignup = %q, want %q", v, ref, got, f.c1)
			}
		}
		// Replace, then a second step, then detach one.
		ufExpect(t, s, put("postFederationSignup", map[string]any{"@odata.id": ufConnectorURL(v, f.c2)}), http.StatusNoContent)
		ufExpect(t, s, put("postAttributeCollection", map[string]any{"@odata.id": ufConnectorURL(v, f.c1)}), http.StatusNoContent)
		if d := cmp.Diff(map[string]string{graph.StepPostFederationSignup: f.c2, graph.StepPostAttributeCollection: f.c1}, stored()); d != "" {
			t.Errorf("%s connectors (-want +got):\n%s", v, d)
		}
		ufExpect(t, s, put("postFederationSignup", map[string]any{}), http.StatusNoContent)
		if d := cmp.Diff(map[string]string{graph.StepPostAttributeCollection: f.c1}, stored()); d != "" {
			t.Errorf("%s after detach (-want +got):\n%s", v, d)
		}
		r := ufExpect(t, s, request{Method: "GET", Path: base + "?$expand=*", Token: f.wfTok}, http.StatusOK)
		if m := ufObject(t, r); m["postFederationSignup"] != nil {
			t.Errorf("%s detached step expands to %v", v, m["postFederationSignup"])
		}
		// Detaching an empty step is fine too.
		ufExpect(t, s, put("postFederationSignup", "{ }"), http.StatusNoContent)

		// preTokenIssuance is beta's.
		if v == "beta" {
			ufExpect(t, s, put("preTokenIssuance", map[string]any{"@odata.id": ufConnectorURL(v, f.c2)}), http.StatusNoContent)
			if got := stored()[graph.StepPreTokenIssuance]; got != f.c2 {
				t.Errorf("preTokenIssuance = %q", got)
			}
			ufExpect(t, s, put("preTokenIssuance", map[string]any{}), http.StatusNoContent)
		} else {
			r := ufReject(t, s, put("preTokenIssuance", map[string]any{"@odata.id": ufConnectorURL(v, f.c2)}), http.StatusBadRequest, "BadRequest")
			if m := ufErrMessage(t, r); m != "Resource not found for the segment 'preTokenIssuance'." {
				t.Errorf("v1.0 preTokenIssuance message %q", m)
			}
		}

		// Rejections change nothing.
		for _, tc := range []struct {
			name, step string
			body       any
			code, msg  string
		}{
			{"unknown step", "postSignIn", map[string]any{"@odata.id": f.c1}, "BadRequest", "postSignIn"},
			{"missing connector", "postFederationSignup", map[string]any{"@odata.id": ufConnectorURL(v, "no-such-connector")}, "Request_BadRequest", "no-such-connector"},
			{"missing connector bare id", "postFederationSignup", map[string]any{"@odata.id": "no-such-connector"}, "Request_BadRequest", "no-such-connector"},
			{"other tenant's connector", "postFederationSignup", map[string]any{"@odata.id": ufConnectorURL(v, f.bc)}, "Request_BadRequest", f.bc},
			{"URL of another collection", "postFederationSignup", map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identity/identityProviders/" + f.c1}, "Request_BadRequest", "@odata.id"},
			{"URL with extra segment", "postFederationSignup", map[string]any{"@odata.id": ufConnectorURL(v, f.c1) + "/extra"}, "Request_BadRequest", "@odata.id"},
			{"empty @odata.id", "postFederationSignup", map[string]any{"@odata.id": ""}, "Request_BadRequest", "@odata.id"},
			{"@odata.id not a string", "postFederationSignup", map[string]any{"@odata.id": 5}, "Request_BadRequest", "@odata.id"},
			{"unknown property", "postFederationSignup", map[string]any{"@odata.id": f.c1, "extra": true}, "Request_BadRequest", "extra"},
			{"not JSON", "postFederationSignup", "nope", "Request_BadRequest", ""},
		} {
			t.Run(v+" "+tc.name, func(t *testing.T) {
				var msg []string
				if tc.msg != "" {
					msg = append(msg, tc.msg)
				}
				ufReject(t, s, put(tc.step, tc.body), http.StatusBadRequest, tc.code, msg...)
			})
		}
		ufReject(t, s, request{Method: "PUT", Path: "/" + v + "/identity/b2xUserFlows/B2X_1_Missing/apiConnectorConfiguration/postFederationSignup/$ref",
			Token: f.wfTok, Body: map[string]any{"@odata.id": f.c1}}, http.StatusNotFound, "Request_ResourceNotFound")

		// If-Match: a stale ETag is refused, the current one accepted.
		g := ufExpect(t, s, request{Method: "GET", Path: "/" + v + "/identity/b2xUserFlows/" + f.flow, Token: f.wfTok}, http.StatusOK)
		etag := g.Header.Get("ETag")
		r = ufExpect(t, s, put("postFederationSignup", map[string]any{"@odata.id": f.c1}), http.StatusNoContent)
		newTag := r.Header.Get("ETag")
		if newTag == "" || newTag == etag {
			t.Errorf("PUT $ref ETag %q, before %q", newTag, etag)
		}
		ufReject(t, s, request{Method: "PUT", Path: base + "/postFederationSignup/$ref", Token: f.wfTok, Body: map[string]any{},
			Header: map[string]string{"If-Match": etag}}, http.StatusPreconditionFailed, "PreconditionFailed")
		ufExpect(t, s, request{Method: "PUT", Path: base + "/postFederationSignup/$ref", Token: f.wfTok, Body: map[string]any{},
			Header: map[string]string{"If-Match": newTag}}, http.StatusNoContent)
		ufExpect(t, s, put("postAttributeCollection", map[string]any{}), http.StatusNoContent)
	}

	// b2c flows (beta) work the same way, and exist only in beta.
	bbase := "/beta/identity/b2cUserFlows/" + f.bflow + "/apiConnectorConfiguration"
	for _, step := range []string{"postFederationSignup", "postAttributeCollection", "preTokenIssuance"} {
		ufExpect(t, s, request{Method: "PUT", Path: bbase + "/" + step + "/$ref", Token: f.b2cTok,
			Body: map[string]any{"@odata.id": "https://contoso.example/beta/identity/apiConnectors/" + f.bc}}, http.StatusNoContent)
	}
	if fl, _ := ufStoredFlow(t, s, s.Tenant.ID, f.bflow); len(fl.APIConnectors) != 3 {
		t.Errorf("b2c connectors = %v", fl.APIConnectors)
	}
	ufReject(t, s, request{Method: "PUT", Path: bbase + "/postFederationSignup/$ref", Token: f.b2cTok,
		Body: map[string]any{"@odata.id": "missing"}}, http.StatusBadRequest, "Request_BadRequest", "missing")
	ufReject(t, s, request{Method: "PUT", Path: "/v1.0/identity/b2cUserFlows/" + f.bflow + "/apiConnectorConfiguration/postFederationSignup/$ref",
		Token: f.b2cTok, Body: map[string]any{"@odata.id": f.bc}}, http.StatusBadRequest, "BadRequest")
	// A b2x path does not reach a b2c flow.
	ufReject(t, s, request{Method: "PUT", Path: "/beta/identity/b2xUserFlows/" + f.bflow + "/apiConnectorConfiguration/postFederationSignup/$ref",
		Token: f.b2cTok, Body: map[string]any{"@odata.id": f.bc}}, http.StatusBadRequest, "Request_BadRequest")
}

func TestUserFlowIdentityProviders(t *testing.T) {
	e := newUFEnv(t)
	s := e.s
	google := ufCreateSocial(t, s, e.wfTok, "Google")
	facebook := ufCreateSocial(t, s, e.wfTok, "Facebook")
	flow := ufCreateFlow(t, s, e.wfTok, "v1.0", "b2xUserFlows", ufFlowBody("Idp", "signUpOrSignIn", 1))
	stored := func() []string {
		fl, _ := ufStoredFlow(t, s, e.wf.ID, flow)
		return fl.IdentityProviders
	}
	for _, v := range []string{"v1.0", "beta"} {
		base := "/" + v + "/identity/b2xUserFlows/" + flow + "/identityProviders"
		r := ufExpect(t, s, request{Method: "GET", Path: base, Token: e.wfTok}, http.StatusOK)
		if items := ufValues(t, r); len(items) != 0 {
			t.Errorf("%s: new flow offers %v", v, ufIDs(items))
		}
		if got := ufObject(t, r)["@odata.context"]; got != ufGraphRoot+"/"+v+"/$metadata#identity/b2xUserFlows('B2X_1_Idp')/identityProviders" {
			t.Errorf("%s @odata.context = %v", v, got)
		}
		if r.Header.Get("Deprecation") == "" || r.Header.Get("Sunset") == "" || !strings.Contains(r.Header.Get("Link"), `rel="deprecation"`) {
			t.Errorf("%s: flow identityProviders answer without deprecation headers: %v", v, r.Header)
		}

		// By the deprecated URL, and by the new API's URL, any host.
		ufExpect(t, s, request{Method: "POST", Path: base + "/$ref", Token: e.wfTok,
			Body: map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identityProviders/" + google}}, http.StatusNoContent)
		ufExpect(t, s, request{Method: "POST", Path: base + "/$ref", Token: e.wfTok,
			Body: map[string]any{"@odata.id": "https://example.org/" + v + "/identity/identityProviders/facebook-oauth"}}, http.StatusNoContent)
		if d := cmp.Diff([]string{google, facebook}, stored()); d != "" {
			t.Errorf("%s stored providers (-want +got):\n%s", v, d)
		}
		r = ufExpect(t, s, request{Method: "GET", Path: base, Token: e.wfTok}, http.StatusOK)
		items := ufValues(t, r)
		want := map[string]any{"id": google, "name": "Login with Google", "type": "Google", "clientId": "client-Google", "clientSecret": "*****"}
		if v == "beta" {
			want["@odata.type"] = "microsoft.graph.identityProvider"
		}
		if d := cmp.Diff(want, ufFind(items, google)); d != "" {
			t.Errorf("%s flow provider item (-want +got):\n%s", v, d)
		}
		if d := cmp.Diff([]string{google, facebook}, ufIDs(items)); d != "" {
			t.Errorf("%s flow providers (-want +got):\n%s", v, d)
		}
		ufNoSecrets(t, v+" flow providers", r.Body, ufSocialSecret("Google"), ufSocialSecret("Facebook"))

		for _, tc := range []struct {
			name string
			body any
			code string
			msg  string
		}{
			{"duplicate", map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identityProviders/" + google}, "Request_BadRequest", "identityProviders"},
			{"duplicate other case", map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identity/identityProviders/GOOGLE-OAUTH"}, "Request_BadRequest", "identityProviders"},
			{"missing provider", map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identityProviders/Amazon-OAUTH"}, "Request_BadRequest", "Amazon-OAUTH"},
			{"built-in provider", map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identity/identityProviders/MSASignup-OAUTH"}, "Request_BadRequest", "MSASignup-OAUTH"},
			{"URL of another collection", map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identity/apiConnectors/" + google}, "Request_BadRequest", "@odata.id"},
			{"no @odata.id", map[string]any{}, "Request_BadRequest", "@odata.id"},
			{"unknown property", map[string]any{"@odata.id": ufGraphRoot + "/" + v + "/identityProviders/" + google, "x": 1}, "Request_BadRequest", "x"},
		} {
			t.Run(v+" "+tc.name, func(t *testing.T) {
				ufReject(t, s, request{Method: "POST", Path: base + "/$ref", Token: e.wfTok, Body: tc.body}, http.StatusBadRequest, tc.code, tc.msg)
			})
		}
		ufReject(t, s, request{Method: "POST", Path: "/" + v + "/identity/b2xUserFlows/B2X_1_Missing/identityProviders/$ref", Token: e.wfTok,
			Body: map[string]any{"@odata.id": google}}, http.StatusNotFound, "Request_ResourceNotFound")
		ufReject(t, s, request{Method: "GET", Path: "/" + v + "/identity/b2xUserFlows/B2X_1_Missing/identityProviders", Token: e.wfTok},
			http.StatusNotFound, "Request_ResourceNotFound")

		// Remove: 204, then absent → 404.
		ufExpect(t, s, request{Method: "DELETE", Path: base + "/" + google + "/$ref", Token: e.wfTok}, http.StatusNoContent)
		if d := cmp.Diff([]string{facebook}, stored()); d != "" {
			t.Errorf("%s after remove (-want +got):\n%s", v, d)
		}
		ufReject(t, s, request{Method: "DELETE", Path: base + "/" + google + "/$ref", Token: e.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
		ufReject(t, s, request{Method: "DELETE", Path: base + "/Amazon-OAUTH/$ref", Token: e.wfTok}, http.StatusNotFound, "Request_ResourceNotFound")
		ufExpect(t, s, request{Method: "DELETE", Path: base + "/FACEBOOK-oauth/$ref", Token: e.wfTok}, http.StatusNoContent)
		if got := stored(); len(got) != 0 {
			t.Errorf("%s after removing all: %v", v, got)
		}
	}

	// b2c flows (beta): the same relationship, without deprecation headers.
	amazon := ufCreateSocial(t, s, e.b2cTok, "Amazon")
	bflow := ufCreateFlow(t, s, e.b2cTok, "beta", "b2cUserFlows", ufFlowBody("Idp", "signUp", 1))
	bbase := "/beta/identity/b2cUserFlows/" + bflow + "/identityProviders"
	ufExpect(t, s, request{Method: "POST", Path: bbase + "/$ref", Token: e.b2cTok,
		Body: map[string]any{"@odata.id": ufGraphRoot + "/beta/identity/identityProviders/" + amazon}}, http.StatusNoContent)
	r := ufExpect(t, s, request{Method: "GET", Path: bbase, Token: e.b2cTok}, http.StatusOK)
	if d := cmp.Diff([]string{amazon}, ufIDs(ufValues(t, r))); d != "" {
		t.Errorf("b2c flow providers (-want +got):\n%s", d)
	}
	if r.Header.Get("Deprecation") != "" {
		t.Errorf("b2c flow providers carry a Deprecation header")
	}
	ufNoSecrets(t, "b2c flow providers", r.Body, ufSocialSecret("Amazon"))
	ufReject(t, s, request{Method: "POST", Path: bbase + "/$ref", Token: e.b2cTok,
		Body: map[string]any{"@odata.id": ufGraphRoot + "/beta/identityProviders/" + amazon}}, http.StatusBadRequest, "Request_BadRequest")
	// The list shows the provider as it is now, whichever view changed it.
	ufExpect(t, s, request{Method: "PATCH", Path: "/beta/identity/identityProviders/" + amazon, Token: e.b2cTok,
		Body: map[string]any{"displayName": "Amazon renamed", "clientId": "amazon-2"}}, http.StatusNoContent)
	r = ufExpect(t, s, request{Method: "GET", Path: bbase, Token: e.b2cTok}, http.StatusOK)
	ufCheckProps(t, "renamed flow provider", ufFind(ufValues(t, r), amazon), map[string]any{"name": "Amazon renamed", "clientId": "amazon-2", "type": "Amazon"})
	ufExpect(t, s, request{Method: "DELETE", Path: bbase + "/" + amazon + "/$ref", Token: e.b2cTok}, http.StatusNoContent)
	ufReject(t, s, request{Method: "DELETE", Path: bbase + "/" + amazon + "/$ref", Token: e.b2cTok}, http.StatusNotFound, "Request_ResourceNotFound")
}
