package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/httpapi"
	"github.com/idgraph/idgraph/internal/store"
)

// Input hardening over real HTTP (spec decisions D1, D5, D6, D7; §1.3, §1.4,
// §1.8, §4.1). Every rejected request must answer the exact status and Graph
// code, name the offending property where there is one, and change nothing:
// the store snapshot before and after is identical.

// inFixture is a server with one tenant per profile and something to update
// in each.
type inFixture struct {
	s          *testServer
	tok        string // admin of the default tenant (b2c, classic profile)
	curTok     string // admin of a b2c tenant with the current profile
	connID     string // basic-auth connector in the default tenant
	curConnID  string // basic-auth connector in the current tenant
	certConnID string // client-certificate connector in the default tenant
	pfx        certtest.PFX
}

func newInFixture(t *testing.T) *inFixture {
	t.Helper()
	s := newServer(t)
	cur := s.newTenant(graph.TenantB2C, graph.ProfileCurrent)
	f := &inFixture{s: s, tok: s.adminToken(s.Tenant.ID), curTok: s.adminToken(cur.ID), pfx: inPFX(t, "fixture", "pfx-pw")}
	f.connID = inCreateConnector(t, s, f.tok, inConnectorBody())
	f.curConnID = inCreateConnector(t, s, f.curTok, inConnectorBody())
	f.certConnID = inCreateConnector(t, s, f.tok, inWith(inConnectorBody(), "authenticationConfiguration", inPKCS12Auth(f.pfx)))
	r := s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: f.tok, Body: inProviderBody("Amazon")})
	if r.Status != http.StatusCreated {
		t.Fatalf("create Amazon provider: %d %s", r.Status, r.Body)
	}
	return f
}

func inPFX(t *testing.T, cn, password string) certtest.PFX {
	t.Helper()
	p, err := certtest.Valid(cn, password)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func inConnectorBody() map[string]any {
	return map[string]any{
		"displayName": "Input connector",
		"targetUrl":   "https://api.example.com/signup",
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user", "password": "s3cret-pw"},
	}
}

func inBasicAuth(kv ...any) map[string]any {
	return inWith(map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user", "password": "s3cret-pw"}, kv...)
}

func inPKCS12Auth(p certtest.PFX, kv ...any) map[string]any {
	return inWith(map[string]any{"@odata.type": "#microsoft.graph.pkcs12Certificate", "pkcs12Value": p.Base64, "password": p.Password}, kv...)
}

func inProviderBody(typ string) map[string]any {
	return map[string]any{"name": "Login with " + typ, "type": typ, "clientId": "client-" + typ, "clientSecret": "secret-" + typ}
}

// inDelete as a value in inWith removes the member.
type inDeleteMarker struct{}

var inDelete = inDeleteMarker{}

// inWith returns a shallow copy of m with name/value pairs set (or removed).
func inWith(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if _, ok := kv[i+1].(inDeleteMarker); ok {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

func inJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func inCreateConnector(t *testing.T, s *testServer, tok string, body any) string {
	t.Helper()
	r := s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok, Body: body})
	if r.Status != http.StatusCreated {
		t.Fatalf("create connector: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["id"].(string)
	if id == "" {
		t.Fatalf("create connector: no id in %s", r.Body)
	}
	return id
}

// inErrMessage returns error.message of a Graph error body.
func inErrMessage(t *testing.T, r response) string {
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

// inExpectRejected sends req and asserts the error (status, code, message
// naming each of msg) and that nothing in the store changed.
func inExpectRejected(t *testing.T, s *testServer, req request, status int, code string, msg ...string) response {
	t.Helper()
	before := s.snapshot()
	r := s.do(req)
	checkError(t, r, status, code)
	m := inErrMessage(t, r)
	for _, want := range msg {
		if !strings.Contains(m, want) {
			t.Errorf("error message %q does not contain %q", m, want)
		}
	}
	if d := cmp.Diff(before, s.snapshot()); d != "" {
		t.Errorf("a rejected %s %s changed the store (-before +after):\n%s", req.Method, req.Path, d)
	}
	return r
}

func inExpectStatus(t *testing.T, s *testServer, req request, status int) response {
	t.Helper()
	r := s.do(req)
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", req.Method, req.Path, r.Status, status, r.Body)
	}
	return r
}

// inTarget is an operation that reads a JSON object body.
type inTarget struct {
	name   string
	method string
	path   string
	tok    string
	valid  map[string]any // a body the operation accepts
	dupKey string         // a member of valid, to duplicate
}

func (f *inFixture) targets(t *testing.T) []inTarget {
	upload := inPFX(t, "upload-target", "")
	return []inTarget{
		{"connector create", "POST", "/v1.0/identity/apiConnectors", f.tok, inConnectorBody(), "displayName"},
		{"connector update", "PATCH", "/v1.0/identity/apiConnectors/" + f.connID, f.tok, map[string]any{"displayName": "Renamed"}, "displayName"},
		{"connector upload", "POST", "/beta/identity/apiConnectors/" + f.certConnID + "/uploadClientCertificate", f.tok,
			map[string]any{"pkcs12Value": upload.Base64, "password": upload.Password}, "password"},
		{"provider create", "POST", "/v1.0/identityProviders", f.tok, inProviderBody("Google"), "name"},
		{"provider update", "PATCH", "/v1.0/identityProviders/Amazon-OAUTH", f.tok, map[string]any{"name": "Renamed"}, "name"},
	}
}

// inNested returns n nested JSON arrays: "[[...]]".
func inNested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// inPrepend inserts raw members before the members of the object body.
func inPrepend(t *testing.T, members string, body map[string]any) string {
	t.Helper()
	b := inJSON(t, body)
	return "{" + members + "," + b[1:]
}

// inPadded returns a valid JSON object of exactly size bytes: body with an
// extra "pad" string member.
func inPadded(t *testing.T, size int, body map[string]any) string {
	t.Helper()
	prefix, suffix := `{"pad":"`, `",`+inJSON(t, body)[1:]
	n := size - len(prefix) - len(suffix)
	if n < 0 {
		t.Fatal("body too large to pad")
	}
	out := prefix + strings.Repeat("x", n) + suffix
	if len(out) != size {
		t.Fatalf("padded body is %d bytes, want %d", len(out), size)
	}
	return out
}

// TestInputMalformedBodies runs the body-level checks against every operation
// that reads a body.
func TestInputMalformedBodies(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	const bad, code400 = http.StatusBadRequest, "Request_BadRequest"
	for _, tg := range f.targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			req := func(body any) request {
				return request{Method: tg.method, Path: tg.path, Token: tg.tok, Body: body}
			}
			valid := inJSON(t, tg.valid)
			cases := []struct {
				name   string
				req    request
				status int
				code   string
				msg    []string
			}{
				{"malformed", req(`{"displayName": "x",`), bad, code400, nil},
				{"malformed/unquoted name", req(`{displayName: "x"}`), bad, code400, nil},
				{"malformed/single quotes", req(`{'displayName': 'x'}`), bad, code400, nil},
				{"not an object/array", req(`[` + valid + `]`), bad, code400, nil},
				{"not an object/empty array", req(`[]`), bad, code400, nil},
				{"not an object/string", req(`"x"`), bad, code400, nil},
				{"not an object/number", req(`42`), bad, code400, nil},
				{"not an object/null", req(`null`), bad, code400, nil},
				{"trailing garbage", req(valid + ` x`), bad, code400, nil},
				{"trailing second object", req(valid + `{}`), bad, code400, nil},
				{"trailing value", req(valid + ` 1`), bad, code400, nil},
				{"trailing bracket", req(valid + `]`), bad, code400, nil},
				{"empty body", req(``), bad, code400, nil},
				{"whitespace body", req("  \n"), bad, code400, nil},
				{"duplicate property", req(inPrepend(t, fmt.Sprintf(`%q:"dup"`, tg.dupKey), tg.valid)), bad, code400, []string{tg.dupKey}},
				{"duplicate nested property", req(inPrepend(t, `"bogus":{"a":1,"a":2}`, tg.valid)), bad, code400, nil},
				{"unknown property", req(inWith(tg.valid, "bogus", 1)), bad, code400, []string{"bogus"}},
				{"unknown property differing in case", req(inPrepend(t, fmt.Sprintf(`%q:"x"`, strings.ToUpper(tg.dupKey)), tg.valid)), bad, code400,
					[]string{strings.ToUpper(tg.dupKey)}},
				{"@odata.context annotation", req(inWith(tg.valid, "@odata.context", "https://graph.microsoft.com/v1.0/$metadata#x/$entity")),
					bad, code400, []string{"@odata.context"}},
				{"id on create or different id", req(inWith(tg.valid, "id", "00000000-0000-0000-0000-000000000001")), bad, code400, []string{"id"}},
				{"nested 33 deep", req(inPrepend(t, `"bogus":`+inNested(32), tg.valid)), bad, code400, []string{"deeper"}},
				{"nested 40 deep", req(inPrepend(t, `"bogus":`+inNested(39), tg.valid)), bad, code400, []string{"deeper"}},
				{"nested 30 deep is an unknown property", req(inPrepend(t, `"bogus":`+inNested(29), tg.valid)), bad, code400, []string{"bogus"}},
				{"nested 32 deep is an unknown property", req(inPrepend(t, `"bogus":`+inNested(31), tg.valid)), bad, code400, []string{"bogus"}},
				{"body of 4 MiB+1", req(inPadded(t, httpapi.MaxBodySize+1, tg.valid)), http.StatusRequestEntityTooLarge, "Request_EntityTooLarge", nil},
				{"body of exactly 4 MiB is read (unknown pad)", req(inPadded(t, httpapi.MaxBodySize, tg.valid)), bad, code400, []string{"pad"}},
				{"gzip body inflating to 4 MiB+1", request{Method: tg.method, Path: tg.path, Token: tg.tok, Gzip: true,
					Body: inPadded(t, httpapi.MaxBodySize+1, tg.valid)}, http.StatusRequestEntityTooLarge, "Request_EntityTooLarge", nil},
				{"gzip body inflating to 16 MiB", request{Method: tg.method, Path: tg.path, Token: tg.tok, Gzip: true,
					Body: inPadded(t, 16<<20, tg.valid)}, http.StatusRequestEntityTooLarge, "Request_EntityTooLarge", nil},
				{"gzip header on a plain body", request{Method: tg.method, Path: tg.path, Token: tg.tok, Body: valid,
					Header: map[string]string{"Content-Encoding": "gzip"}}, bad, code400, nil},
				{"content type text/plain", request{Method: tg.method, Path: tg.path, Token: tg.tok, Body: valid,
					Header: map[string]string{"Content-Type": "text/plain"}}, http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType", nil},
				{"no content type", request{Method: tg.method, Path: tg.path, Token: tg.tok, Body: valid, NoCType: true},
					http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType", nil},
				{"content type form", request{Method: tg.method, Path: tg.path, Token: tg.tok, Body: valid,
					Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType", nil},
				{"content type application/jsonp", request{Method: tg.method, Path: tg.path, Token: tg.tok, Body: valid,
					Header: map[string]string{"Content-Type": "application/jsonp"}}, http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType", nil},
				{"content encoding br", request{Method: tg.method, Path: tg.path, Token: tg.tok, Body: valid,
					Header: map[string]string{"Content-Encoding": "br"}}, http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType", []string{"br"}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					inExpectRejected(t, s, c.req, c.status, c.code, c.msg...)
				})
			}
		})
	}
}

// TestInputConnectorRejects covers identityApiConnector's properties (§1.3,
// §1.4) on create and update.
func TestInputConnectorRejects(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	const bad, code400 = http.StatusBadRequest, "Request_BadRequest"
	create := func(tok string, body any) request {
		return request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok, Body: body}
	}
	patch := func(tok, id string, body any) request {
		return request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + id, Token: tok, Body: body}
	}
	upload := func(id string, body any) request {
		return request{Method: "POST", Path: "/v1.0/identity/apiConnectors/" + id + "/uploadClientCertificate", Token: f.tok, Body: body}
	}
	base := inConnectorBody()
	wrongPW := inPFX(t, "wrong-password", "right")
	fresh := inPFX(t, "fresh", "pw")
	notB64 := "this is not base64!!"

	// Cases that apply to a create body and to the same members in a PATCH.
	type kase struct {
		name string
		kv   []any // members set on the body (inDelete removes)
		msg  []string
	}
	both := []kase{
		{"unknown property", []any{"bogus", 1}, []string{"'bogus'"}},
		{"unknown property in authenticationConfiguration", []any{"authenticationConfiguration", inBasicAuth("bogus", 1)},
			[]string{"authenticationConfiguration.bogus"}},
		{"unknown property in pkcs12Certificate", []any{"authenticationConfiguration", inPKCS12Auth(fresh, "bogus", 1)},
			[]string{"authenticationConfiguration.bogus"}},
		{"read-only certificateList", []any{"certificateList", []any{}}, []string{"certificateList"}},
		{"read-only certificateList in authenticationConfiguration", []any{"authenticationConfiguration", inBasicAuth("certificateList", []any{})},
			[]string{"certificateList"}},
		{"@odata.context annotation", []any{"@odata.context", "https://graph.microsoft.com/v1.0/$metadata#identity/apiConnectors/$entity"},
			[]string{"@odata.context"}},
		{"displayName number", []any{"displayName", 5}, []string{"displayName"}},
		{"displayName null", []any{"displayName", nil}, []string{"displayName"}},
		{"displayName object", []any{"displayName", map[string]any{}}, []string{"displayName"}},
		{"targetUrl bool", []any{"targetUrl", true}, []string{"targetUrl"}},
		{"targetUrl null", []any{"targetUrl", nil}, []string{"targetUrl"}},
		{"authenticationConfiguration string", []any{"authenticationConfiguration", "x"}, []string{"authenticationConfiguration"}},
		{"authenticationConfiguration array", []any{"authenticationConfiguration", []any{}}, []string{"authenticationConfiguration"}},
		{"authenticationConfiguration null", []any{"authenticationConfiguration", nil}, []string{"authenticationConfiguration"}},
		{"password number", []any{"authenticationConfiguration", inBasicAuth("password", 123)}, []string{"authenticationConfiguration.password"}},
		{"username bool", []any{"authenticationConfiguration", inBasicAuth("username", false)}, []string{"authenticationConfiguration.username"}},
		{"pkcs12Value number", []any{"authenticationConfiguration", inPKCS12Auth(fresh, "pkcs12Value", 7)}, []string{"pkcs12Value"}},
		{"entity @odata.type user", []any{"@odata.type", "#microsoft.graph.user"}, []string{"user"}},
		{"entity @odata.type number", []any{"@odata.type", 1}, []string{"@odata.type"}},
		{"auth @odata.type foo", []any{"authenticationConfiguration", inBasicAuth("@odata.type", "#microsoft.graph.foo")}, []string{"foo"}},
		{"auth @odata.type clientCertificateAuthentication", []any{"authenticationConfiguration",
			map[string]any{"@odata.type": "#microsoft.graph.clientCertificateAuthentication", "certificateList": []any{}}}, []string{"clientCertificateAuthentication"}},
		{"auth @odata.type identityApiConnector", []any{"authenticationConfiguration", inBasicAuth("@odata.type", "#microsoft.graph.identityApiConnector")}, nil},
		{"auth @odata.type missing", []any{"authenticationConfiguration", inBasicAuth("@odata.type", inDelete)}, []string{"@odata.type"}},
		{"auth @odata.type empty", []any{"authenticationConfiguration", inBasicAuth("@odata.type", "")}, nil},
		{"displayName empty", []any{"displayName", ""}, []string{"displayName"}},
		{"displayName blank", []any{"displayName", "   "}, []string{"displayName"}},
		{"displayName too long", []any{"displayName", strings.Repeat("n", graph.MaxDisplayNameLength+1)}, []string{"displayName"}},
		{"targetUrl empty", []any{"targetUrl", ""}, []string{"targetUrl"}},
		{"password empty", []any{"authenticationConfiguration", inBasicAuth("password", "")}, []string{"password"}},
		{"username empty", []any{"authenticationConfiguration", inBasicAuth("username", "")}, []string{"username"}},
		{"pkcs12Value not base64", []any{"authenticationConfiguration", inPKCS12Auth(fresh, "pkcs12Value", notB64)}, []string{"pkcs12Value"}},
		{"pkcs12Value base64 of garbage", []any{"authenticationConfiguration", inPKCS12Auth(fresh, "pkcs12Value", "aGVsbG8gd29ybGQ=")}, []string{"pkcs12Value"}},
		{"pkcs12 wrong password", []any{"authenticationConfiguration", inPKCS12Auth(wrongPW, "password", "wrong")}, []string{"pkcs12Value"}},
		{"pkcs12 without password", []any{"authenticationConfiguration", inPKCS12Auth(fresh, "password", inDelete)}, []string{"password"}},
		{"pkcs12 without pkcs12Value", []any{"authenticationConfiguration", inPKCS12Auth(fresh, "pkcs12Value", inDelete)}, []string{"pkcs12Value"}},
	}
	for _, c := range both {
		t.Run("create/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, create(f.tok, inWith(base, c.kv...)), bad, code400, c.msg...)
		})
		t.Run("update/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, patch(f.tok, f.connID, inWith(map[string]any{}, c.kv...)), bad, code400, c.msg...)
		})
	}

	// Create only.
	for _, c := range []kase{
		{"id on create", []any{"id", "00000000-0000-0000-0000-000000000001"}, []string{"id"}},
		{"basicAuthentication without password", []any{"authenticationConfiguration", inBasicAuth("password", inDelete)}, []string{"password"}},
		{"basicAuthentication without username", []any{"authenticationConfiguration", inBasicAuth("username", inDelete)}, []string{"username"}},
		{"missing displayName", []any{"displayName", inDelete}, []string{"displayName"}},
		{"missing targetUrl", []any{"targetUrl", inDelete}, []string{"targetUrl"}},
		{"missing authenticationConfiguration", []any{"authenticationConfiguration", inDelete}, []string{"authenticationConfiguration"}},
	} {
		t.Run("create/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, create(f.tok, inWith(base, c.kv...)), bad, code400, c.msg...)
		})
	}

	// Update only.
	t.Run("update/id different from the path", func(t *testing.T) {
		inExpectRejected(t, s, patch(f.tok, f.connID, map[string]any{"id": f.curConnID, "displayName": "x"}), bad, code400, "id")
	})
	t.Run("update/certificate connector to basicAuthentication without password", func(t *testing.T) {
		inExpectRejected(t, s, patch(f.tok, f.certConnID, map[string]any{"authenticationConfiguration": inBasicAuth("password", inDelete)}),
			bad, code400, "password")
	})
	t.Run("update/missing connector is 404", func(t *testing.T) {
		inExpectRejected(t, s, patch(f.tok, "00000000-0000-0000-0000-00000000dead", map[string]any{"displayName": "x"}),
			http.StatusNotFound, "Request_ResourceNotFound")
	})

	// The current profile: targetUrl must be an absolute https URL; the
	// abstract base type is rejected (decision D1).
	for _, c := range []kase{
		{"targetUrl http", []any{"targetUrl", "http://x"}, []string{"targetUrl"}},
		{"targetUrl not a url", []any{"targetUrl", "not a url"}, []string{"targetUrl"}},
		{"targetUrl placeholder", []any{"targetUrl", "String"}, []string{"targetUrl"}},
		{"targetUrl relative", []any{"targetUrl", "/api/signup"}, []string{"targetUrl"}},
		{"targetUrl with user info", []any{"targetUrl", "https://u:p@api.example.com/"}, []string{"targetUrl"}},
		{"abstract base authentication", []any{"authenticationConfiguration",
			map[string]any{"@odata.type": "microsoft.graph.apiAuthenticationConfigurationBase"}}, []string{"authenticationConfiguration"}},
	} {
		t.Run("current/create/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, create(f.curTok, inWith(base, c.kv...)), bad, code400, c.msg...)
		})
		t.Run("current/update/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, patch(f.curTok, f.curConnID, inWith(map[string]any{}, c.kv...)), bad, code400, c.msg...)
		})
	}

	// uploadClientCertificate.
	for _, c := range []struct {
		name string
		body any
		msg  []string
	}{
		{"pkcs12Value not base64", map[string]any{"pkcs12Value": notB64, "password": ""}, []string{"pkcs12Value"}},
		{"wrong password", map[string]any{"pkcs12Value": wrongPW.Base64, "password": "wrong"}, []string{"pkcs12Value"}},
		{"missing password", map[string]any{"pkcs12Value": fresh.Base64}, []string{"password"}},
		{"missing pkcs12Value", map[string]any{"password": fresh.Password}, []string{"pkcs12Value"}},
		{"password number", map[string]any{"pkcs12Value": fresh.Base64, "password": 1}, []string{"password"}},
		{"certificate already uploaded", map[string]any{"pkcs12Value": f.pfx.Base64, "password": f.pfx.Password}, []string{f.pfx.Thumbprint}},
	} {
		t.Run("upload/"+c.name, func(t *testing.T) {
			r := inExpectRejected(t, s, upload(f.certConnID, c.body), bad, code400, c.msg...)
			if bytes.Contains(r.Body, []byte("wrong")) || bytes.Contains(r.Body, []byte(`"right"`)) {
				t.Errorf("error body echoes a password: %s", r.Body)
			}
		})
	}
}

// TestInputConnectorAccepts covers the positive side of the same checks.
func TestInputConnectorAccepts(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	base := inConnectorBody()
	for _, c := range []struct {
		name       string
		entityType any // nil: absent
		authType   string
	}{
		{"with #", "#microsoft.graph.identityApiConnector", "#microsoft.graph.basicAuthentication"},
		{"without #", "microsoft.graph.identityApiConnector", "microsoft.graph.basicAuthentication"},
		{"upper case", "#MICROSOFT.GRAPH.IDENTITYAPICONNECTOR", "#MICROSOFT.GRAPH.BASICAUTHENTICATION"},
		{"mixed case without #", "Microsoft.Graph.IdentityApiConnector", "microsoft.graph.BasicAuthentication"},
		{"no entity type", nil, "#microsoft.graph.basicAuthentication"},
	} {
		t.Run("create/@odata.type "+c.name, func(t *testing.T) {
			body := inWith(base, "authenticationConfiguration", inBasicAuth("@odata.type", c.authType))
			if c.entityType != nil {
				body["@odata.type"] = c.entityType
			}
			r := inExpectStatus(t, s, request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: f.tok, Body: body}, http.StatusCreated)
			auth, _ := r.JSON(t)["authenticationConfiguration"].(map[string]any)
			if auth["@odata.type"] != "#microsoft.graph.basicAuthentication" || auth["password"] != "******" {
				t.Errorf("authenticationConfiguration = %v", auth)
			}
		})
		t.Run("update/@odata.type "+c.name, func(t *testing.T) {
			body := map[string]any{"displayName": "typed " + c.name, "authenticationConfiguration": inBasicAuth("@odata.type", c.authType)}
			if c.entityType != nil {
				body["@odata.type"] = c.entityType
			}
			inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok, Body: body}, http.StatusOK)
		})
	}
	t.Run("create/pkcs12Certificate upper case without #", func(t *testing.T) {
		p := inPFX(t, "upper", "")
		r := inExpectStatus(t, s, request{Method: "POST", Path: "/beta/identity/apiConnectors", Token: f.tok,
			Body: inWith(base, "authenticationConfiguration", inPKCS12Auth(p, "@odata.type", "MICROSOFT.GRAPH.PKCS12CERTIFICATE"))}, http.StatusCreated)
		auth, _ := r.JSON(t)["authenticationConfiguration"].(map[string]any)
		if auth["@odata.type"] != "#microsoft.graph.clientCertificateAuthentication" {
			t.Errorf("authenticationConfiguration = %v", auth)
		}
	})
	t.Run("update/id equal to the path id in another case", func(t *testing.T) {
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok,
			Body: map[string]any{"id": strings.ToUpper(f.connID), "displayName": "same id"}}, http.StatusOK)
	})
	t.Run("classic accepts the placeholder targetUrl", func(t *testing.T) {
		inExpectStatus(t, s, request{Method: "POST", Path: "/beta/identity/apiConnectors", Token: f.tok,
			Body: inWith(base, "targetUrl", "String")}, http.StatusCreated)
		r := inExpectStatus(t, s, request{Method: "PATCH", Path: "/beta/identity/apiConnectors/" + f.connID, Token: f.tok,
			Body: map[string]any{"targetUrl": "String"}}, http.StatusOK)
		if r.JSON(t)["targetUrl"] != "String" {
			t.Errorf("PATCH body = %s", r.Body)
		}
	})
	t.Run("current accepts an https targetUrl", func(t *testing.T) {
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.curConnID, Token: f.curTok,
			Body: map[string]any{"targetUrl": "https://api.example.com/v2"}}, http.StatusNoContent)
	})
	for _, ct := range []string{"application/json; charset=utf-8", "application/json;odata.metadata=minimal", "APPLICATION/JSON"} {
		t.Run("content type "+ct, func(t *testing.T) {
			inExpectStatus(t, s, request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: f.tok, Body: base,
				Header: map[string]string{"Content-Type": ct}}, http.StatusCreated)
			inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok,
				Body: map[string]any{"displayName": ct}, Header: map[string]string{"Content-Type": ct}}, http.StatusOK)
			inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: f.tok,
				Body: map[string]any{"name": ct}, Header: map[string]string{"Content-Type": ct}}, http.StatusNoContent)
		})
	}
	t.Run("content encoding identity", func(t *testing.T) {
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok,
			Body: map[string]any{"displayName": "identity"}, Header: map[string]string{"Content-Encoding": "identity"}}, http.StatusOK)
	})
}

// TestInputGzipBodies: the Go SDK compresses every write (decision D7).
func TestInputGzipBodies(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	r := inExpectStatus(t, s, request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: f.tok, Gzip: true,
		Body: inWith(inConnectorBody(), "displayName", "gzipped create")}, http.StatusCreated)
	id, _ := r.JSON(t)["id"].(string)
	r = inExpectStatus(t, s, request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + id, Token: f.tok}, http.StatusOK)
	if got := r.JSON(t)["displayName"]; got != "gzipped create" {
		t.Errorf("GET after gzip create: displayName = %v", got)
	}

	inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + id, Token: f.tok, Gzip: true,
		Body: map[string]any{"displayName": "gzipped patch", "targetUrl": "https://gzip.example.com/"}}, http.StatusOK)
	r = inExpectStatus(t, s, request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + id, Token: f.tok}, http.StatusOK)
	if m := r.JSON(t); m["displayName"] != "gzipped patch" || m["targetUrl"] != "https://gzip.example.com/" {
		t.Errorf("GET after gzip PATCH: %s", r.Body)
	}

	// Upper-case encoding name, on the deprecated API.
	inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: f.tok, Gzip: true,
		Header: map[string]string{"Content-Encoding": "GZIP"}, Body: map[string]any{"clientId": "gzipped-client"}}, http.StatusNoContent)
	r = inExpectStatus(t, s, request{Method: "GET", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: f.tok}, http.StatusOK)
	if got := r.JSON(t)["clientId"]; got != "gzipped-client" {
		t.Errorf("GET after gzip provider PATCH: clientId = %v", got)
	}
	inExpectStatus(t, s, request{Method: "POST", Path: "/v1.0/identityProviders", Token: f.tok, Gzip: true,
		Body: inProviderBody("GitHub")}, http.StatusCreated)
}

// TestInputDeprecatedProviderRejects covers the deprecated identityProvider
// body (§1.8, decision D4).
func TestInputDeprecatedProviderRejects(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	const bad, code400 = http.StatusBadRequest, "Request_BadRequest"
	create := func(body any) request {
		return request{Method: "POST", Path: "/v1.0/identityProviders", Token: f.tok, Body: body}
	}
	patch := func(body any) request {
		return request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: f.tok, Body: body}
	}
	base := inProviderBody("Google")
	type kase struct {
		name string
		kv   []any
		msg  []string
	}
	both := []kase{
		{"name null", []any{"name", nil}, []string{"'name'"}},
		{"name number", []any{"name", 5}, []string{"'name'"}},
		{"clientSecret number", []any{"clientSecret", 123}, []string{"clientSecret"}},
		{"clientSecret null", []any{"clientSecret", nil}, []string{"clientSecret"}},
		{"clientId array", []any{"clientId", []any{"a"}}, []string{"clientId"}},
		{"type number", []any{"type", 1}, []string{"type"}},
		{"unknown property", []any{"displayName", "x"}, []string{"displayName"}},
		{"@odata.type user", []any{"@odata.type", "#microsoft.graph.user"}, []string{"user"}},
		{"@odata.type socialIdentityProvider", []any{"@odata.type", "#microsoft.graph.socialIdentityProvider"}, nil},
		{"@odata.context annotation", []any{"@odata.context", "https://graph.microsoft.com/v1.0/$metadata#identityProviders/$entity"}, []string{"@odata.context"}},
		// The deprecated body calls it name; a message about displayName
		// names a property identityProvider does not have (decision D7).
		{"name empty", []any{"name", ""}, []string{"name"}},
		{"name blank", []any{"name", "  "}, []string{"name"}},
		{"clientId empty", []any{"clientId", " "}, []string{"clientId"}},
		{"clientSecret empty", []any{"clientSecret", ""}, []string{"clientSecret"}},
	}
	for _, c := range both {
		t.Run("create/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, create(inWith(base, c.kv...)), bad, code400, c.msg...)
		})
		t.Run("update/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, patch(inWith(map[string]any{}, c.kv...)), bad, code400, c.msg...)
		})
	}
	for _, c := range []kase{
		{"id", []any{"id", "Google-OAUTH"}, []string{"id"}},
		{"type Nope", []any{"type", "Nope"}, []string{"Nope"}},
		{"type empty", []any{"type", ""}, nil},
		{"missing clientSecret", []any{"clientSecret", inDelete}, []string{"clientSecret"}},
		{"missing type", []any{"type", inDelete}, []string{"type"}},
		{"missing name", []any{"name", inDelete}, []string{"name"}},
	} {
		t.Run("create/"+c.name, func(t *testing.T) {
			inExpectRejected(t, s, create(inWith(base, c.kv...)), bad, code400, c.msg...)
		})
	}
	t.Run("create/second Amazon provider", func(t *testing.T) {
		inExpectRejected(t, s, create(inProviderBody("Amazon")), http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue")
	})
	t.Run("create/second Amazon provider in another case", func(t *testing.T) {
		inExpectRejected(t, s, create(inProviderBody("AMAZON")), http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue")
	})
	t.Run("update/type change", func(t *testing.T) {
		inExpectRejected(t, s, patch(map[string]any{"type": "Google"}), bad, code400, "type")
	})
	t.Run("update/id different from the path", func(t *testing.T) {
		inExpectRejected(t, s, patch(map[string]any{"id": "Google-OAUTH", "name": "x"}), bad, code400, "id")
	})
	t.Run("update/same type in another case is accepted", func(t *testing.T) {
		inExpectStatus(t, s, patch(map[string]any{"type": "amazon", "id": "amazon-oauth"}), http.StatusNoContent)
	})
	for _, typ := range []string{"#microsoft.graph.identityProvider", "microsoft.graph.identityprovider", "#MICROSOFT.GRAPH.IDENTITYPROVIDER"} {
		t.Run("update/@odata.type "+typ+" is accepted", func(t *testing.T) {
			inExpectStatus(t, s, patch(map[string]any{"@odata.type": typ, "name": "typed"}), http.StatusNoContent)
		})
	}
}

// TestInputPaths: paths match case-insensitively, on the escaped path, with
// ('id') keys, () on functions and qualified names (decision D7).
func TestInputPaths(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	tok := f.tok
	get := func(path string) request { return request{Method: "GET", Path: path, Token: tok} }
	ok := func(t *testing.T, req request, status int) response {
		t.Helper()
		return inExpectStatus(t, s, req, status)
	}

	t.Run("upper-case collection", func(t *testing.T) {
		r := ok(t, get("/V1.0/IDENTITY/APICONNECTORS"), http.StatusOK)
		if v, _ := r.JSON(t)["value"].([]any); len(v) != 2 {
			t.Errorf("list: %d connectors, want 2: %s", len(v), r.Body)
		}
	})
	t.Run("upper-case entity and id", func(t *testing.T) {
		r := ok(t, get("/BETA/Identity/ApiConnectors/"+strings.ToUpper(f.connID)), http.StatusOK)
		if r.JSON(t)["id"] != f.connID {
			t.Errorf("GET by upper-case id: %s", r.Body)
		}
	})
	t.Run("lower-case action", func(t *testing.T) {
		p := inPFX(t, "lower-action", "")
		ok(t, request{Method: "POST", Path: "/beta/identity/apiconnectors/" + f.certConnID + "/uploadclientcertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": p.Base64, "password": ""}}, http.StatusOK)
	})
	t.Run("qualified action", func(t *testing.T) {
		p := inPFX(t, "qualified-action", "")
		ok(t, request{Method: "POST", Path: "/v1.0/identity/apiConnectors/" + f.certConnID + "/microsoft.graph.uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": p.Base64, "password": ""}}, http.StatusOK)
	})
	t.Run("key syntax", func(t *testing.T) {
		r := ok(t, get("/v1.0/identityProviders('Amazon-OAUTH')"), http.StatusOK)
		if r.JSON(t)["id"] != "Amazon-OAUTH" {
			t.Errorf("GET by key: %s", r.Body)
		}
		ok(t, get("/v1.0/identityProviders('amazon-oauth')"), http.StatusOK)
		ok(t, request{Method: "PATCH", Path: "/v1.0/identityProviders('Amazon-OAUTH')", Token: tok, Body: map[string]any{"name": "by key"}},
			http.StatusNoContent)
		ok(t, get("/beta/identity/apiConnectors('"+f.connID+"')"), http.StatusOK)
	})
	// OData's ABNF (URL conventions, "SQUOTE = "'" / "%27"") lets a client
	// percent-encode the quotes of a key, as many URL encoders do.
	t.Run("key syntax with percent-encoded quotes", func(t *testing.T) {
		for _, p := range []string{"/v1.0/identityProviders(%27Amazon-OAUTH%27)", "/v1.0/identityProviders%28%27Amazon-OAUTH%27%29"} {
			if r := s.do(get(p)); r.Status != http.StatusOK {
				t.Errorf("GET %s: %d %s, want 200", p, r.Status, r.Body)
			}
		}
	})
	t.Run("availableProviderTypes spellings", func(t *testing.T) {
		for _, p := range []string{
			"/v1.0/identityProviders/availableProviderTypes",
			"/v1.0/identityProviders/availableProviderTypes()",
			"/v1.0/identityProviders/microsoft.graph.availableProviderTypes",
			"/v1.0/identityProviders/microsoft.graph.availableProviderTypes()",
			"/beta/IdentityProviders/Microsoft.Graph.AvailableProviderTypes()",
			"/v1.0/identityproviders/availableprovidertypes()/",
		} {
			r := ok(t, get(p), http.StatusOK)
			if v, _ := r.JSON(t)["value"].([]any); len(v) == 0 {
				t.Errorf("GET %s: no types: %s", p, r.Body)
			}
		}
	})
	t.Run("trailing slash", func(t *testing.T) {
		ok(t, get("/v1.0/identity/apiConnectors/"), http.StatusOK)
		ok(t, get("/v1.0/identityProviders/"), http.StatusOK)
		ok(t, get("/v1.0/identity/apiConnectors/"+f.connID+"/"), http.StatusOK)
		ok(t, request{Method: "POST", Path: "/v1.0/identity/apiConnectors/", Token: tok, Body: inConnectorBody()}, http.StatusCreated)
	})
	t.Run("escaped slash is one segment", func(t *testing.T) {
		inExpectRejected(t, s, get("/v1.0/identity/apiConnectors/a%2Fb"), http.StatusNotFound, "Request_ResourceNotFound")
		inExpectRejected(t, s, get("/v1.0/identity/apiConnectors/a%2fb"), http.StatusNotFound, "Request_ResourceNotFound")
		inExpectRejected(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/a%2Fb", Token: tok, Body: map[string]any{"displayName": "x"}},
			http.StatusNotFound, "Request_ResourceNotFound")
		inExpectRejected(t, s, get("/v1.0/identityProviders/Amazon%2FOAUTH"), http.StatusNotFound, "Request_ResourceNotFound")
	})
	t.Run("unknown Graph path", func(t *testing.T) {
		inExpectRejected(t, s, get("/v1.0/users"), http.StatusNotImplemented, "NotImplemented")
		inExpectRejected(t, s, get("/beta/identity/userFlowAttributes"), http.StatusNotImplemented, "NotImplemented")
		inExpectRejected(t, s, get("/v1.0/identity/apiConnectors/"+f.connID+"/bogus"), http.StatusNotImplemented, "NotImplemented")
	})
	t.Run("unknown version", func(t *testing.T) {
		inExpectRejected(t, s, get("/v2.0/x"), http.StatusNotFound, "Request_ResourceNotFound")
		inExpectRejected(t, s, get("/v2.0/identity/apiConnectors"), http.StatusNotFound, "Request_ResourceNotFound")
	})
	t.Run("method not allowed", func(t *testing.T) {
		for _, c := range []struct{ method, path, allow string }{
			{"PUT", "/v1.0/identity/apiConnectors/" + f.connID, "GET, PATCH, DELETE"},
			{"POST", "/v1.0/identity/apiConnectors/" + f.connID, "GET, PATCH, DELETE"},
			{"DELETE", "/v1.0/identity/apiConnectors", "GET, POST"},
			{"GET", "/v1.0/identity/apiConnectors/" + f.connID + "/uploadClientCertificate", "POST"},
			{"PUT", "/v1.0/identityProviders/Amazon-OAUTH", "GET, PATCH, DELETE"},
		} {
			r := inExpectRejected(t, s, request{Method: c.method, Path: c.path, Token: tok, Body: map[string]any{"displayName": "x"}},
				http.StatusMethodNotAllowed, "Request_BadRequest", c.method)
			if got := r.Header.Get("Allow"); got != c.allow {
				t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
			}
		}
	})
	t.Run("dot segments", func(t *testing.T) {
		for _, p := range []string{
			"/v1.0/identity/./apiConnectors",
			"/v1.0/identity/apiConnectors/../apiConnectors",
			"/v1.0/identity/apiConnectors/.",
			"/v1.0/identity/apiConnectors/" + f.connID + "/..",
			"/v1.0/../beta/identity/apiConnectors",
			"/v1.0//identity/apiConnectors",
		} {
			inExpectRejected(t, s, get(p), http.StatusBadRequest, "Request_BadRequest")
		}
		inExpectRejected(t, s, request{Method: "DELETE", Path: "/v1.0/identity/apiConnectors/" + f.connID + "/.", Token: tok},
			http.StatusBadRequest, "Request_BadRequest")
	})
}

// TestInputRequestIDs: request-id on every response, client-request-id echoed
// in the header and innerError, JSON on every 4xx (decision D7, §4.2).
func TestInputRequestIDs(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	const cid = "7f1b2c3d-0000-4000-8000-00000000c1d0"
	hdr := map[string]string{"client-request-id": cid}
	seen := map[string]bool{}
	for _, c := range []struct {
		name   string
		req    request
		status int
	}{
		{"GET ok", request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok, Header: hdr}, http.StatusOK},
		{"list ok", request{Method: "GET", Path: "/v1.0/identityProviders", Token: f.tok, Header: hdr}, http.StatusOK},
		{"PATCH ok", request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: f.tok, Header: hdr,
			Body: map[string]any{"name": "ids"}}, http.StatusNoContent},
		{"400", request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok, Header: hdr, Body: `{`}, http.StatusBadRequest},
		{"400 path", request{Method: "GET", Path: "/v1.0/identity/../x", Token: f.tok, Header: hdr}, http.StatusBadRequest},
		{"401", request{Method: "GET", Path: "/v1.0/identity/apiConnectors", Header: hdr}, http.StatusUnauthorized},
		{"404", request{Method: "GET", Path: "/v1.0/identity/apiConnectors/missing", Token: f.tok, Header: hdr}, http.StatusNotFound},
		{"404 version", request{Method: "GET", Path: "/v2.0/x", Header: hdr}, http.StatusNotFound},
		{"405", request{Method: "PUT", Path: "/v1.0/identity/apiConnectors", Token: f.tok, Header: hdr}, http.StatusMethodNotAllowed},
		{"409", request{Method: "POST", Path: "/v1.0/identityProviders", Token: f.tok, Header: hdr, Body: inProviderBody("Amazon")}, http.StatusConflict},
		{"413", request{Method: "POST", Path: "/v1.0/identityProviders", Token: f.tok, Header: hdr,
			Body: inPadded(t, httpapi.MaxBodySize+1, inProviderBody("Google"))}, http.StatusRequestEntityTooLarge},
		{"415", request{Method: "POST", Path: "/v1.0/identityProviders", Token: f.tok, Header: hdr, Body: "{}", NoCType: true}, http.StatusUnsupportedMediaType},
		{"501", request{Method: "GET", Path: "/v1.0/users", Token: f.tok, Header: hdr}, http.StatusNotImplemented},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.req)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			rid := r.Header.Get("request-id")
			if rid == "" {
				t.Errorf("no request-id header")
			} else if seen[rid] {
				t.Errorf("request-id %s reused", rid)
			}
			seen[rid] = true
			if got := r.Header.Get("client-request-id"); got != cid {
				t.Errorf("client-request-id header = %q, want %q", got, cid)
			}
			if r.Status >= 400 {
				// checkError compares innerError's ids with the headers and
				// checks the JSON content type.
				code := map[int]string{400: "Request_BadRequest", 401: "InvalidAuthenticationToken", 404: "Request_ResourceNotFound",
					405: "Request_BadRequest", 409: "Request_MultipleObjectsWithSameKeyValue", 413: "Request_EntityTooLarge",
					415: "Request_UnsupportedMediaType", 501: "NotImplemented"}[r.Status]
				checkError(t, r, c.status, code)
				var env struct {
					Error struct {
						InnerError map[string]string `json:"innerError"`
					} `json:"error"`
				}
				json.Unmarshal(r.Body, &env)
				if got := env.Error.InnerError["client-request-id"]; got != cid {
					t.Errorf("innerError.client-request-id = %q, want %q", got, cid)
				}
			}
		})
	}
	t.Run("no client-request-id", func(t *testing.T) {
		r := s.do(request{Method: "GET", Path: "/v1.0/identity/apiConnectors/missing", Token: f.tok})
		checkError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
		if r.Header.Get("request-id") == "" || r.Header.Get("client-request-id") == "" {
			t.Errorf("ids missing: request-id %q client-request-id %q", r.Header.Get("request-id"), r.Header.Get("client-request-id"))
		}
	})
}

// TestInputPrefer: the OData Prefer header wins over the profile's default
// (decision D1).
func TestInputPrefer(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	patch := func(tok, id, name, prefer string) response {
		h := map[string]string{}
		if prefer != "" {
			h["Prefer"] = prefer
		}
		return s.do(request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + id, Token: tok, Header: h,
			Body: map[string]any{"displayName": name}})
	}
	check := func(t *testing.T, r response, status int, applied, name string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
		}
		if got := r.Header.Get("Preference-Applied"); got != applied {
			t.Errorf("Preference-Applied = %q, want %q", got, applied)
		}
		if r.Header.Get("ETag") == "" {
			t.Errorf("no ETag")
		}
		if status == http.StatusNoContent {
			if len(r.Body) != 0 {
				t.Errorf("204 with a body: %q", r.Body)
			}
			return
		}
		m := r.JSON(t)
		if m["displayName"] != name {
			t.Errorf("body displayName = %v, want %q", m["displayName"], name)
		}
		if auth, _ := m["authenticationConfiguration"].(map[string]any); auth["password"] != "******" {
			t.Errorf("password not masked: %v", auth)
		}
	}
	t.Run("classic default", func(t *testing.T) {
		check(t, patch(f.tok, f.connID, "classic default", ""), http.StatusOK, "", "classic default")
	})
	t.Run("classic return=minimal", func(t *testing.T) {
		check(t, patch(f.tok, f.connID, "classic minimal", "return=minimal"), http.StatusNoContent, "return=minimal", "")
	})
	t.Run("current default", func(t *testing.T) {
		check(t, patch(f.curTok, f.curConnID, "current default", ""), http.StatusNoContent, "", "")
	})
	t.Run("current return=representation", func(t *testing.T) {
		check(t, patch(f.curTok, f.curConnID, "current representation", "return=representation"), http.StatusOK, "return=representation", "current representation")
	})
	t.Run("current return=representation among other preferences", func(t *testing.T) {
		check(t, patch(f.curTok, f.curConnID, "current list", `odata.maxpagesize=10, return="representation"`), http.StatusOK, "return=representation", "current list")
	})
	t.Run("deprecated return=representation", func(t *testing.T) {
		r := s.do(request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: f.tok,
			Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]any{"name": "prefer"}})
		if r.Status != http.StatusOK || r.Header.Get("Preference-Applied") != "return=representation" {
			t.Fatalf("status %d, Preference-Applied %q: %s", r.Status, r.Header.Get("Preference-Applied"), r.Body)
		}
		if m := r.JSON(t); m["name"] != "prefer" || m["clientSecret"] != "*****" {
			t.Errorf("body = %s", r.Body)
		}
	})
	t.Run("the change is stored under return=minimal", func(t *testing.T) {
		r := inExpectStatus(t, s, request{Method: "GET", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok}, http.StatusOK)
		if got := r.JSON(t)["displayName"]; got != "classic minimal" {
			t.Errorf("displayName = %v", got)
		}
	})
}

// TestInputSecretsKept: a PATCH that omits a secret keeps it (decision D6).
func TestInputSecretsKept(t *testing.T) {
	f := newInFixture(t)
	s := f.s
	ctx := context.Background()
	loadConnector := func() graph.APIConnector {
		t.Helper()
		rec, err := s.Store.Get(ctx, s.Tenant.ID, store.APIConnectors, f.connID)
		if err != nil {
			t.Fatal(err)
		}
		var c graph.APIConnector
		if err := json.Unmarshal(rec.Data, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	loadProvider := func() graph.IdentityProvider {
		t.Helper()
		rec, err := s.Store.Get(ctx, s.Tenant.ID, store.IdentityProviders, "Amazon-OAUTH")
		if err != nil {
			t.Fatal(err)
		}
		var p graph.IdentityProvider
		if err := json.Unmarshal(rec.Data, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("connector username only", func(t *testing.T) {
		before := loadConnector()
		if before.Auth.Type != graph.AuthBasic || !before.Auth.Password.Set() {
			t.Fatalf("fixture connector auth = %+v", before.Auth)
		}
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok,
			Body: map[string]any{"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "new-user"}}},
			http.StatusOK)
		after := loadConnector()
		if after.Auth.Username != "new-user" {
			t.Errorf("username = %q, want new-user", after.Auth.Username)
		}
		if after.Auth.Type != graph.AuthBasic || !bytes.Equal(after.Auth.Password, before.Auth.Password) {
			t.Errorf("the stored password changed on a PATCH without one: %x -> %x", before.Auth.Password, after.Auth.Password)
		}
	})
	t.Run("connector displayName only", func(t *testing.T) {
		before := loadConnector()
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok,
			Body: map[string]any{"displayName": "renamed"}}, http.StatusOK)
		after := loadConnector()
		if !bytes.Equal(after.Auth.Password, before.Auth.Password) || after.Auth.Username != before.Auth.Username {
			t.Errorf("auth changed on a displayName PATCH: %+v -> %+v", before.Auth, after.Auth)
		}
	})
	t.Run("connector new password is stored", func(t *testing.T) {
		before := loadConnector()
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + f.connID, Token: f.tok,
			Body: map[string]any{"authenticationConfiguration": inBasicAuth("username", "new-user", "password", "another-pw")}}, http.StatusOK)
		if after := loadConnector(); bytes.Equal(after.Auth.Password, before.Auth.Password) {
			t.Errorf("the stored password did not change on a PATCH with a new one")
		}
	})
	t.Run("deprecated provider without clientSecret", func(t *testing.T) {
		before := loadProvider()
		if !before.ClientSecret.Set() {
			t.Fatalf("fixture provider has no secret")
		}
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: f.tok,
			Body: map[string]any{"name": "renamed", "clientId": "new-client"}}, http.StatusNoContent)
		after := loadProvider()
		if after.DisplayName != "renamed" || after.ClientID != "new-client" {
			t.Errorf("provider = %+v", after)
		}
		if !bytes.Equal(after.ClientSecret, before.ClientSecret) {
			t.Errorf("the stored clientSecret changed on a PATCH without one")
		}
	})
	t.Run("deprecated provider new clientSecret is stored", func(t *testing.T) {
		before := loadProvider()
		inExpectStatus(t, s, request{Method: "PATCH", Path: "/v1.0/identityProviders/amazon-oauth", Token: f.tok,
			Body: map[string]any{"clientSecret": "rotated"}}, http.StatusNoContent)
		if after := loadProvider(); bytes.Equal(after.ClientSecret, before.ClientSecret) {
			t.Errorf("the stored clientSecret did not change on a PATCH with a new one")
		}
	})
}
