package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// JSON batching over real HTTP: POST /{version}/$batch. Every inner request
// runs through the whole chain with the batch's bearer token, so its answer
// is the answer it gets alone; a malformed batch is refused whole and
// changes nothing; a request whose dependency failed answers 424 and does
// not run.

var btVersions = []string{"v1.0", "beta"}

// btItem is one inner response.
type btItem struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// object decodes the inner body as a JSON object.
func (it btItem) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(it.Body, &m); err != nil || m == nil {
		t.Fatalf("inner response %s: body is not a JSON object: %v\n%s", it.ID, err, it.Body)
	}
	return m
}

// errorCode returns the inner body's error.code and error.message.
func (it btItem) errorCode(t *testing.T) (code, message string) {
	t.Helper()
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(it.Body, &env); err != nil {
		t.Fatalf("inner response %s: error body is not JSON: %v\n%s", it.ID, err, it.Body)
	}
	if env.Error.Code == "" || env.Error.Message == "" {
		t.Errorf("inner response %s: no Graph error envelope: %s", it.ID, it.Body)
	}
	if rid := it.Headers["request-id"]; rid == "" || env.Error.InnerError.RequestID != rid {
		t.Errorf("inner response %s: innerError.request-id %q, header request-id %q", it.ID, env.Error.InnerError.RequestID, rid)
	}
	return env.Error.Code, env.Error.Message
}

// btRequest is one inner request.
func btRequest(id, method, u string, kv ...any) map[string]any {
	m := map[string]any{"id": id, "method": method, "url": u}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// btJSON is the headers of an inner request with a JSON body.
var btJSON = map[string]any{"Content-Type": "application/json"}

// btBatch sends a batch and returns the raw response.
func btBatch(s *testServer, version, token string, body any, header ...string) response {
	s.t.Helper()
	req := request{Method: "POST", Path: "/" + version + "/$batch", Token: token, Body: body, Header: map[string]string{}}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header[header[i]] = header[i+1]
	}
	return s.do(req)
}

// btRun sends requests as a batch, expects 200 and returns the inner
// responses by id, checking that they come in the order of the requests.
func btRun(t *testing.T, s *testServer, version, token string, reqs ...map[string]any) (map[string]btItem, response) {
	t.Helper()
	r := btBatch(s, version, token, map[string]any{"requests": reqs})
	if r.Status != http.StatusOK {
		t.Fatalf("batch: status %d, want 200; body %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("batch Content-Type = %q", ct)
	}
	var out struct {
		Responses []btItem `json:"responses"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("batch body: %v\n%s", err, r.Body)
	}
	if len(out.Responses) != len(reqs) {
		t.Fatalf("batch: %d responses for %d requests: %s", len(out.Responses), len(reqs), r.Body)
	}
	byID := map[string]btItem{}
	for i, it := range out.Responses {
		if want := reqs[i]["id"]; it.ID != want {
			t.Errorf("response %d has id %q, want %q (the order of the requests)", i, it.ID, want)
		}
		if it.Headers == nil {
			t.Errorf("response %s has no headers object", it.ID)
		}
		byID[it.ID] = it
	}
	return byID, r
}

// btStatus fails unless the inner response has the status.
func btStatus(t *testing.T, it btItem, status int) {
	t.Helper()
	if it.Status != status {
		t.Fatalf("inner response %q: status %d, want %d; headers %v; body %s", it.ID, it.Status, status, it.Headers, it.Body)
	}
}

// btReject sends a batch body and expects a 400 for the whole batch whose
// message contains want, with nothing stored changed.
func btReject(t *testing.T, s *testServer, version, token string, body any, want string) {
	t.Helper()
	before := s.snapshot()
	r := btBatch(s, version, token, body)
	checkError(t, r, http.StatusBadRequest, "Request_BadRequest")
	if msg := ufErrMessage(t, r); !strings.Contains(strings.ToLower(msg), strings.ToLower(want)) {
		t.Errorf("message %q does not contain %q", msg, want)
	}
	if d := cmp.Diff(before, s.snapshot()); d != "" {
		t.Errorf("a refused batch changed the store (-before +after):\n%s", d)
	}
}

// btErrCode returns error.code of a Graph error body.
func btErrCode(t *testing.T, r response) string {
	t.Helper()
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, r.Body)
	}
	return env.Error.Code
}

// btConnector is a basic-auth connector body.
func btConnector(name, password string) map[string]any {
	return map[string]any{
		"displayName": name, "targetUrl": "https://api.example.com/" + strings.ReplaceAll(name, " ", "-"),
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user", "password": password},
	}
}

// btCreateConnector creates a connector directly and returns its id.
func btCreateConnector(t *testing.T, s *testServer, token, name string) string {
	t.Helper()
	r := ufExpect(t, s, request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: token, Body: btConnector(name, "pw")}, http.StatusCreated)
	id, _ := ufObject(t, r)["id"].(string)
	return id
}

// btConnectorNames are the display names of the tenant's stored connectors.
func btConnectorNames(t *testing.T, s *testServer, tenant string) []string {
	t.Helper()
	vs, err := store.ListAs[graph.APIConnector](context.Background(), s.Store, tenant, store.APIConnectors)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vs {
		names = append(names, v.Value.DisplayName)
	}
	return names
}

func btHasProvider(t *testing.T, s *testServer, tenant, id string) bool {
	t.Helper()
	_, err := s.Store.Get(context.Background(), tenant, store.IdentityProviders, id)
	if err != nil && graph.KindOf(err) != graph.KindNotFound {
		t.Fatal(err)
	}
	return err == nil
}

func TestBatchMixedOperations(t *testing.T) {
	for _, v := range btVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			keep := btCreateConnector(t, s, tok, "Keep")
			gone := btCreateConnector(t, s, tok, "Gone")
			ufExpect(t, s, request{Method: "POST", Path: "/" + v + "/identityProviders", Token: tok,
				Body: map[string]any{"name": "Amazon", "type": "Amazon", "clientId": "c", "clientSecret": "s"}}, http.StatusCreated)

			got, _ := btRun(t, s, v, tok,
				btRequest("create-conn", "POST", "/identity/apiConnectors", "headers", btJSON, "body", btConnector("Created", "pw")),
				btRequest("create-idp", "post", "identity/identityProviders", "headers", btJSON, "body", map[string]any{
					"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Google", "identityProviderType": "Google",
					"clientId": "g", "clientSecret": "gs"}),
				btRequest("create-dep", "POST", "/identityProviders", "headers", btJSON,
					"body", map[string]any{"name": "GitHub", "type": "GitHub", "clientId": "c", "clientSecret": "s"}),
				btRequest("get-conn", "GET", "/identity/apiConnectors/"+keep),
				btRequest("get-conn-key", "GET", "identity/apiConnectors('"+strings.ToUpper(keep)+"')"),
				btRequest("patch-conn", "PATCH", "/identity/apiConnectors/"+keep, "headers", btJSON, "body", map[string]any{"displayName": "Kept"}),
				btRequest("delete-conn", "DELETE", "/identity/apiConnectors/"+gone),
				btRequest("patch-idp", "PATCH", "/identity/identityProviders/Amazon-OAUTH", "headers", btJSON, "body", map[string]any{"clientId": "c2"}),
				btRequest("get-idp", "GET", "/identity/identityProviders/Amazon-OAUTH"),
				btRequest("delete-dep", "DELETE", "/identityProviders/GitHub-OAUTH", "dependsOn", []string{"create-dep"}),
				btRequest("list", "GET", "/identity/apiConnectors", "dependsOn", []string{"create-conn", "delete-conn"}),
			)
			root := "https://graph.microsoft.com/" + v

			it := got["create-conn"]
			btStatus(t, it, http.StatusCreated)
			created, _ := it.object(t)["id"].(string)
			if loc := it.Headers["Location"]; loc != root+"/identity/apiConnectors/"+created {
				t.Errorf("create-conn Location = %q, want %s/identity/apiConnectors/%s", loc, root, created)
			}
			if it.Headers["ETag"] == "" || !strings.HasPrefix(it.Headers["Content-Type"], "application/json") {
				t.Errorf("create-conn headers %v: want ETag and a JSON Content-Type", it.Headers)
			}
			it = got["create-idp"]
			btStatus(t, it, http.StatusCreated)
			if loc := it.Headers["Location"]; loc != root+"/identity/identityProviders/Google-OAUTH" {
				t.Errorf("create-idp Location = %q", loc)
			}
			it = got["create-dep"]
			btStatus(t, it, http.StatusCreated)
			if it.Headers["Deprecation"] == "" || it.Headers["Sunset"] == "" || !strings.Contains(it.Headers["Link"], `rel="deprecation"`) {
				t.Errorf("deprecated API response headers %v: want Deprecation, Sunset and Link", it.Headers)
			}
			for _, id := range []string{"get-conn", "get-conn-key"} {
				it = got[id]
				btStatus(t, it, http.StatusOK)
				if it.object(t)["id"] != keep || it.Headers["ETag"] == "" {
					t.Errorf("%s: %s (headers %v)", id, it.Body, it.Headers)
				}
			}
			it = got["patch-conn"]
			btStatus(t, it, http.StatusOK) // the classic profile answers a connector PATCH with the entity
			if it.object(t)["displayName"] != "Kept" || it.Headers["ETag"] == "" {
				t.Errorf("patch-conn: %s (headers %v)", it.Body, it.Headers)
			}
			for _, id := range []string{"delete-conn", "patch-idp", "delete-dep"} {
				it = got[id]
				btStatus(t, it, http.StatusNoContent)
				if len(it.Body) != 0 {
					t.Errorf("%s: 204 with body %s", id, it.Body)
				}
			}
			if got["patch-idp"].Headers["ETag"] == "" {
				t.Errorf("patch-idp: no ETag in %v", got["patch-idp"].Headers)
			}
			it = got["get-idp"]
			btStatus(t, it, http.StatusOK)
			if m := it.object(t); m["clientId"] != "c2" || m["@odata.type"] != "#microsoft.graph.socialIdentityProvider" {
				t.Errorf("get-idp after patch-idp: %s", it.Body)
			}
			it = got["list"]
			btStatus(t, it, http.StatusOK)
			ids := ufIDs(ufValues(t, response{Body: it.Body}))
			if !strings.Contains(strings.Join(ids, ","), created) || strings.Contains(strings.Join(ids, ","), gone) {
				t.Errorf("list after create and delete: %v (created %s, deleted %s)", ids, created, gone)
			}

			// The store agrees.
			if names := strings.Join(btConnectorNames(t, s, s.Tenant.ID), ","); names != "Kept,Created" && names != "Created,Kept" {
				t.Errorf("stored connectors %q, want Kept and Created", names)
			}
			if !btHasProvider(t, s, s.Tenant.ID, "Google-OAUTH") || btHasProvider(t, s, s.Tenant.ID, "GitHub-OAUTH") {
				t.Errorf("stored providers: want Google-OAUTH and no GitHub-OAUTH")
			}
		})
	}
}

func TestBatchSecretsMasked(t *testing.T) {
	secrets := []string{"bt-leak-conn-1", "bt-leak-conn-2", "bt-leak-idp-1", "bt-leak-idp-2", "bt-leak-dep-1", "bt-leak-dep-2"}
	for _, v := range btVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			rep := map[string]any{"Content-Type": "application/json", "Prefer": "return=representation"}
			got, r := btRun(t, s, v, tok,
				btRequest("c", "POST", "/identity/apiConnectors", "headers", btJSON, "body", btConnector("Secret", "bt-leak-conn-1")),
				btRequest("i", "POST", "/identity/identityProviders", "headers", btJSON, "body", map[string]any{
					"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Amazon", "identityProviderType": "Amazon",
					"clientId": "a", "clientSecret": "bt-leak-idp-1"}),
				btRequest("d", "POST", "/identityProviders", "headers", btJSON,
					"body", map[string]any{"name": "Google", "type": "Google", "clientId": "g", "clientSecret": "bt-leak-dep-1"}),
				btRequest("pi", "PATCH", "/identity/identityProviders/Amazon-OAUTH", "headers", rep,
					"body", map[string]any{"clientSecret": "bt-leak-idp-2"}, "dependsOn", []string{"i"}),
				btRequest("pd", "PATCH", "/identityProviders/Google-OAUTH", "headers", rep,
					"body", map[string]any{"clientSecret": "bt-leak-dep-2"}, "dependsOn", []string{"d"}),
				// Rejected writes carrying secrets.
				btRequest("bad", "POST", "/identity/apiConnectors", "headers", btJSON,
					"body", map[string]any{"displayName": "x", "bogus": 1, "authenticationConfiguration": map[string]any{
						"@odata.type": "#microsoft.graph.basicAuthentication", "username": "u", "password": "bt-leak-conn-2"}}),
				btRequest("lc", "GET", "/identity/apiConnectors", "dependsOn", []string{"c"}),
				btRequest("li", "GET", "/identity/identityProviders", "dependsOn", []string{"pi"}),
				btRequest("ld", "GET", "/identityProviders", "dependsOn", []string{"pd"}),
				btRequest("gd", "GET", "/identityProviders/Google-OAUTH", "dependsOn", []string{"pd"}),
			)
			for _, sec := range secrets {
				if strings.Contains(string(r.Body), sec) {
					t.Errorf("the batch response shows the secret %q: %s", sec, r.Body)
				}
			}
			btStatus(t, got["bad"], http.StatusBadRequest)
			for _, id := range []string{"c", "i", "d"} {
				btStatus(t, got[id], http.StatusCreated)
			}
			btStatus(t, got["pi"], http.StatusOK)
			btStatus(t, got["pd"], http.StatusOK)
			if m := got["c"].object(t); m["authenticationConfiguration"].(map[string]any)["password"] != graph.MaskSix {
				t.Errorf("created connector: password not masked: %s", got["c"].Body)
			}
			for _, id := range []string{"i", "pi"} {
				if m := got[id].object(t); m["clientSecret"] != graph.MaskSix {
					t.Errorf("%s: clientSecret not masked: %s", id, got[id].Body)
				}
			}
			for _, id := range []string{"d", "pd", "gd"} {
				if m := got[id].object(t); m["clientSecret"] != graph.MaskFive {
					t.Errorf("%s: clientSecret not masked: %s", id, got[id].Body)
				}
			}
			logs := s.Logs.String()
			for _, sec := range secrets {
				if strings.Contains(logs, sec) {
					t.Errorf("the log shows the secret %q", sec)
				}
			}
		})
	}
}

func TestBatchMalformedRefused(t *testing.T) {
	for _, v := range btVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			post := func(id string, kv ...any) map[string]any {
				return btRequest(id, "POST", "/identity/apiConnectors", append([]any{"headers", btJSON, "body", btConnector("Refused "+id, "pw")}, kv...)...)
			}
			get := func(id string, kv ...any) map[string]any {
				return btRequest(id, "GET", "/identity/apiConnectors", kv...)
			}
			many := func(n int) []map[string]any {
				var out []map[string]any
				for i := range n {
					out = append(out, post(fmt.Sprint(i)))
				}
				return out
			}
			reqs := func(rs ...map[string]any) map[string]any { return map[string]any{"requests": rs} }
			cases := []struct {
				name string
				body any
				want string
			}{
				{"21 requests", map[string]any{"requests": many(21)}, "between 1 and 20"},
				{"no requests", map[string]any{"requests": []any{}}, "between 1 and 20"},
				{"requests missing", map[string]any{}, "'requests'"},
				{"requests null", map[string]any{"requests": nil}, "'requests'"},
				{"requests not an array", map[string]any{"requests": map[string]any{"id": "1"}}, "'requests'"},
				{"unknown top-level member", map[string]any{"requests": many(1), "bogus": true}, "'bogus'"},
				{"non-object request", map[string]any{"requests": []any{post("1"), 1}}, "index 1"},
				{"null request", map[string]any{"requests": []any{nil}}, "index 0"},
				{"array request", map[string]any{"requests": []any{[]any{}}}, "index 0"},
				{"missing id", reqs(post("1"), btRequest("", "GET", "/identity/apiConnectors")), "'id'"},
				{"numeric id", reqs(post("1"), map[string]any{"id": 2, "method": "GET", "url": "/identity/apiConnectors"}), "'id'"},
				{"duplicate ids", reqs(post("1"), post("2"), get("1")), "'1'"},
				{"missing method", reqs(post("1"), map[string]any{"id": "2", "url": "/identity/apiConnectors"}), "'method'"},
				{"unknown method", reqs(post("1"), btRequest("2", "HEAD", "/identity/apiConnectors")), "'method'"},
				{"missing url", reqs(post("1"), map[string]any{"id": "2", "method": "GET"}), "'url'"},
				{"empty url", reqs(post("1"), btRequest("2", "GET", "")), "'url'"},
				{"unknown request member", reqs(post("1", "bogus", 1)), "'bogus'"},
				{"unknown dependsOn", reqs(post("1"), get("2", "dependsOn", []string{"9"})), "'9'"},
				{"dependsOn not an array", reqs(post("1"), get("2", "dependsOn", "1")), "'dependsOn'"},
				{"self dependency", reqs(post("1"), get("a", "dependsOn", []string{"a"})), "itself"},
				{"cycle", reqs(post("0"), post("a", "dependsOn", []string{"b"}), get("b", "dependsOn", []string{"a"})), "cycle"},
				{"longer cycle", reqs(post("a", "dependsOn", []string{"c"}), get("b", "dependsOn", []string{"a"}), get("c", "dependsOn", []string{"b"})), "cycle"},
				{"nested batch", reqs(post("1"), btRequest("2", "POST", "/$batch", "headers", btJSON, "body", reqs(get("x")))), "Nested batch requests are not supported."},
				{"nested batch without slash", reqs(post("1"), btRequest("2", "POST", "$batch")), "Nested batch requests are not supported."},
				{"nested batch escaped", reqs(post("1"), btRequest("2", "POST", "%24batch")), "Nested batch requests are not supported."},
				{"absolute url on another host", reqs(post("1"), get("2"), btRequest("3", "GET", "https://example.com/"+v+"/identity/apiConnectors")), "relative"},
				{"absolute url of the other version", reqs(post("1"), btRequest("2", "GET", "https://graph.microsoft.com/"+other(v)+"/identity/apiConnectors")), "relative"},
				{"scheme-relative url", reqs(post("1"), btRequest("2", "GET", "//graph.microsoft.com/"+v+"/identity/apiConnectors")), "relative"},
				{"v1.0 prefix", reqs(post("1"), btRequest("2", "GET", "/v1.0/identity/apiConnectors")), "v1.0"},
				{"beta prefix", reqs(post("1"), btRequest("2", "GET", "/beta/identity/apiConnectors")), "beta"},
				{"control byte in url", reqs(post("1"), btRequest("2", "GET", "/identity/apiConnectors\n")), "'url'"},
				{"body without Content-Type", reqs(post("1"), btRequest("2", "POST", "/identity/apiConnectors", "body", btConnector("x", "pw"))), "Content-Type"},
				{"headers not an object", reqs(post("1"), get("2", "headers", []string{"a"})), "'headers'"},
				{"header not a string", reqs(post("1"), get("2", "headers", map[string]any{"Prefer": 1})), "'Prefer'"},
				{"bad header name", reqs(post("1"), get("2", "headers", map[string]any{"Bad Name": "x"})), "header name"},
				{"bad header value", reqs(post("1"), get("2", "headers", map[string]any{"Prefer": "a\r\nX-Injected: 1"})), "'Prefer'"},
				{"non-JSON body not base64", reqs(post("1"), btRequest("2", "POST", "/identity/apiConnectors",
					"headers", map[string]any{"Content-Type": "text/plain"}, "body", "not base64!")), "base64"},
				{"non-JSON body not a string", reqs(post("1"), btRequest("2", "POST", "/identity/apiConnectors",
					"headers", map[string]any{"Content-Type": "text/plain"}, "body", map[string]any{"a": 1})), "base64"},
				{"bad JSON", `{"requests":[{"id":"1","method":"POST","url":"/identity/apiConnectors",`, "JSON"},
				{"trailing garbage", `{"requests":[]} x`, "JSON"},
				{"duplicate member", `{"requests":[{"id":"1","id":"2","method":"GET","url":"/identity/apiConnectors"}]}`, "more than once"},
				{"not an object", `[{"id":"1","method":"GET","url":"/identity/apiConnectors"}]`, "JSON object"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { btReject(t, s, v, tok, c.body, c.want) })
			}
			if names := btConnectorNames(t, s, s.Tenant.ID); len(names) != 0 {
				t.Errorf("refused batches created connectors %v", names)
			}

			t.Run("20 requests", func(t *testing.T) {
				rs := many(20)
				got, _ := btRun(t, s, v, tok, rs...)
				for _, it := range got {
					btStatus(t, it, http.StatusCreated)
				}
				if n := len(btConnectorNames(t, s, s.Tenant.ID)); n != 20 {
					t.Errorf("%d connectors stored, want 20", n)
				}
			})
			t.Run("not JSON", func(t *testing.T) {
				before := s.snapshot()
				r := s.do(request{Method: "POST", Path: "/" + v + "/$batch", Token: tok, Body: `{"requests":[]}`,
					Header: map[string]string{"Content-Type": "text/plain"}})
				checkError(t, r, http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType")
				if d := cmp.Diff(before, s.snapshot()); d != "" {
					t.Errorf("store changed:\n%s", d)
				}
			})
			t.Run("gzip", func(t *testing.T) {
				r := s.do(request{Method: "POST", Path: "/" + v + "/$batch", Token: tok, Gzip: true,
					Body: map[string]any{"requests": []any{get("1")}}})
				if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"status":200`) {
					t.Errorf("gzip batch: %d %s", r.Status, r.Body)
				}
			})
		})
	}
}

// other is the other API version.
func other(v string) string {
	if v == "beta" {
		return "v1.0"
	}
	return "beta"
}

// TestBatchAbsoluteURLs: a request URL may name the version root on the
// cloud's Graph host or on the server's own address, as the Go SDK sends
// it when a client built for Graph is pointed at idgraph.
func TestBatchAbsoluteURLs(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	for _, v := range []string{"v1.0", "beta"} {
		t.Run(v, func(t *testing.T) {
			got, _ := btRun(t, s, v, tok,
				btRequest("graph", "POST", "https://graph.microsoft.com/"+v+"/identity/apiConnectors", "headers", btJSON, "body", btConnector("Absolute "+v, "pw-absolute")),
				btRequest("self", "GET", s.URL+"/"+v+"/identity/apiConnectors?$filter="+url.QueryEscape("displayName eq 'Absolute "+v+"'"), "dependsOn", []string{"graph"}),
				btRequest("upper", "GET", "HTTPS://GRAPH.MICROSOFT.COM/"+strings.ToUpper(v)+"/identity/apiConnectors/$count"))
			btStatus(t, got["graph"], http.StatusCreated)
			btStatus(t, got["self"], http.StatusOK)
			btStatus(t, got["upper"], http.StatusOK)
			var page struct {
				Value []map[string]any `json:"value"`
			}
			if err := json.Unmarshal(got["self"].Body, &page); err != nil || len(page.Value) != 1 {
				t.Errorf("GET on the server's own address: %s (%v), want the connector just created", got["self"].Body, err)
			}
		})
	}
}

func TestBatchFailedDependency(t *testing.T) {
	for _, v := range btVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			before := s.snapshot()
			got, _ := btRun(t, s, v, tok,
				btRequest("3", "POST", "/identityProviders", "headers", btJSON, "dependsOn", []string{"2"},
					"body", map[string]any{"name": "Amazon", "type": "Amazon", "clientId": "c", "clientSecret": "s"}),
				btRequest("1", "GET", "/identity/apiConnectors/"+fzOtherID),
				btRequest("2", "POST", "/identity/apiConnectors", "headers", btJSON, "body", btConnector("Never", "pw"), "dependsOn", []string{"1"}),
				btRequest("4", "GET", "/identity/apiConnectors"),
				btRequest("5", "DELETE", "/identity/apiConnectors/"+fzOtherID, "dependsOn", []string{"4", "3"}),
			)
			btStatus(t, got["1"], http.StatusNotFound)
			if code, _ := got["1"].errorCode(t); code != "Request_ResourceNotFound" {
				t.Errorf("1: code %q", code)
			}
			btStatus(t, got["4"], http.StatusOK)
			for id, dep := range map[string]string{"2": "1", "3": "2", "5": "3"} {
				it := got[id]
				btStatus(t, it, http.StatusFailedDependency)
				code, msg := it.errorCode(t)
				if code != "FailedDependency" || !strings.Contains(msg, "'"+dep+"'") {
					t.Errorf("%s: code %q message %q, want FailedDependency naming '%s'", id, code, msg, dep)
				}
				if !strings.HasPrefix(it.Headers["Content-Type"], "application/json") {
					t.Errorf("%s: Content-Type %q", id, it.Headers["Content-Type"])
				}
			}
			if d := cmp.Diff(before, s.snapshot()); d != "" {
				t.Errorf("dependents of a failed request ran (-before +after):\n%s", d)
			}
			if strings.Contains(s.Logs.String(), `"route":"DELETE /`+v+`/identity/apiConnectors/{id}"`) {
				t.Errorf("the log shows the DELETE ran")
			}

			// A dependency listed later runs first.
			got, _ = btRun(t, s, v, tok,
				btRequest("list", "GET", "/identity/apiConnectors", "dependsOn", []string{"create"}),
				btRequest("create", "POST", "/identity/apiConnectors", "headers", btJSON, "body", btConnector("First", "pw")),
			)
			btStatus(t, got["create"], http.StatusCreated)
			btStatus(t, got["list"], http.StatusOK)
			if items := ufValues(t, response{Body: got["list"].Body}); len(items) != 1 {
				t.Errorf("list ran before the create it depends on: %s", got["list"].Body)
			}
		})
	}
}

func TestBatchAuthorization(t *testing.T) {
	for _, v := range btVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			admin := s.adminToken(s.Tenant.ID)
			ufExpect(t, s, request{Method: "POST", Path: "/" + v + "/identityProviders", Token: admin,
				Body: map[string]any{"name": "Amazon", "type": "Amazon", "clientId": "c", "clientSecret": "s"}}, http.StatusCreated)
			reader := s.appToken(s.Tenant.ID, "IdentityProvider.Read.All")

			before := s.snapshot()
			got, _ := btRun(t, s, v, reader,
				btRequest("read", "GET", "/identityProviders/Amazon-OAUTH"),
				btRequest("write", "POST", "/identity/identityProviders", "headers", btJSON, "body", map[string]any{
					"@odata.type": "#microsoft.graph.socialIdentityProvider", "displayName": "Google", "identityProviderType": "Google",
					"clientId": "g", "clientSecret": "gs"}),
				btRequest("delete", "DELETE", "/identityProviders/Amazon-OAUTH"),
				btRequest("connectors", "GET", "/identity/apiConnectors"),
				btRequest("after", "GET", "/identity/identityProviders/Amazon-OAUTH", "dependsOn", []string{"read"}),
				// An Authorization header inside the batch does not replace the batch's token.
				btRequest("override", "DELETE", "/identityProviders/Amazon-OAUTH", "headers", map[string]any{"Authorization": "Bearer " + admin}),
			)
			btStatus(t, got["read"], http.StatusOK)
			btStatus(t, got["after"], http.StatusOK)
			for _, id := range []string{"write", "delete", "connectors", "override"} {
				btStatus(t, got[id], http.StatusForbidden)
				if code, _ := got[id].errorCode(t); code != "Authorization_RequestDenied" {
					t.Errorf("%s: code %q", id, code)
				}
			}
			if d := cmp.Diff(before, s.snapshot()); d != "" {
				t.Errorf("a denied inner request changed the store (-before +after):\n%s", d)
			}

			checkError(t, btBatch(s, v, "not-a-token", map[string]any{"requests": []any{btRequest("1", "GET", "/identityProviders")}}),
				http.StatusUnauthorized, "InvalidAuthenticationToken")
			checkError(t, btBatch(s, v, "", map[string]any{"requests": []any{btRequest("1", "GET", "/identityProviders")}}),
				http.StatusUnauthorized, "InvalidAuthenticationToken")
			// A token of another tenant sees only its own tenant.
			other := s.newTenant(graph.TenantB2C, "")
			got, _ = btRun(t, s, v, s.adminToken(other.ID), btRequest("x", "GET", "/identityProviders/Amazon-OAUTH"))
			btStatus(t, got["x"], http.StatusNotFound)

			for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
				r := s.do(request{Method: m, Path: "/" + v + "/$batch", Token: admin})
				checkError(t, r, http.StatusMethodNotAllowed, "Request_BadRequest")
				if a := r.Header.Get("Allow"); a != "POST" {
					t.Errorf("%s $batch: Allow %q, want POST", m, a)
				}
			}
		})
	}
}

func TestBatchHeadersAndIDs(t *testing.T) {
	for _, v := range btVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			conn := btCreateConnector(t, s, tok, "Conn")
			ufExpect(t, s, request{Method: "POST", Path: "/" + v + "/identityProviders", Token: tok,
				Body: map[string]any{"name": "Amazon", "type": "Amazon", "clientId": "c", "clientSecret": "s"}}, http.StatusCreated)
			r := s.do(request{Method: "GET", Path: "/" + v + "/identity/apiConnectors/" + conn, Token: tok})
			etag := r.Header.Get("ETag")

			got, outer := btRun(t, s, v, tok,
				btRequest("rep", "PATCH", "/identityProviders/Amazon-OAUTH",
					"headers", map[string]any{"Content-Type": "application/json", "Prefer": "return=representation"},
					"body", map[string]any{"name": "Renamed"}),
				btRequest("min", "PATCH", "/identity/apiConnectors/"+conn,
					"headers", map[string]any{"content-type": "application/json; charset=utf-8", "prefer": "return=minimal"},
					"body", map[string]any{"displayName": "Minimal"}),
				btRequest("stale", "PATCH", "/identity/apiConnectors/"+conn, "dependsOn", []string{"min"},
					"headers", map[string]any{"Content-Type": "application/json", "If-Match": etag}, "body", map[string]any{"displayName": "Stale"}),
				btRequest("client", "GET", "/identityProviders", "headers", map[string]any{"client-request-id": "bt-client-id"}),
				btRequest("missing", "GET", "/identity/apiConnectors/"+fzOtherID),
				btRequest("unknown", "GET", "/identity/bogus"),
				btRequest("method", "PUT", "/identity/apiConnectors"),
				btRequest("text", "POST", "/identity/apiConnectors", "headers", map[string]any{"Content-Type": "text/plain"},
					"body", base64.StdEncoding.EncodeToString([]byte(`{"displayName":"x"}`))),
				btRequest("b64json", "POST", "/identityProviders", "headers", map[string]any{"Content-Type": "application/json"},
					"body", "eyJ9"), // a JSON string is sent as JSON, not decoded
			)
			it := got["rep"]
			btStatus(t, it, http.StatusOK)
			if it.Headers["Preference-Applied"] != "return=representation" || it.object(t)["name"] != "Renamed" {
				t.Errorf("Prefer: return=representation: headers %v body %s", it.Headers, it.Body)
			}
			it = got["min"]
			btStatus(t, it, http.StatusNoContent)
			if it.Headers["Preference-Applied"] != "return=minimal" || it.Headers["ETag"] == "" || it.Headers["ETag"] == etag {
				t.Errorf("Prefer: return=minimal: headers %v", it.Headers)
			}
			btStatus(t, got["stale"], http.StatusPreconditionFailed)
			it = got["client"]
			btStatus(t, it, http.StatusOK)
			if it.Headers["client-request-id"] != "bt-client-id" {
				t.Errorf("client-request-id = %q, want it echoed", it.Headers["client-request-id"])
			}
			btStatus(t, got["missing"], http.StatusNotFound)
			btStatus(t, got["unknown"], http.StatusNotImplemented)
			btStatus(t, got["method"], http.StatusMethodNotAllowed)
			if got["method"].Headers["Allow"] == "" {
				t.Errorf("inner 405 without Allow: %v", got["method"].Headers)
			}
			btStatus(t, got["text"], http.StatusUnsupportedMediaType)
			btStatus(t, got["b64json"], http.StatusBadRequest)
			for id, it := range got {
				if it.Status >= 400 {
					it.errorCode(t)
				}
				if !strings.HasPrefix(it.Headers["Content-Type"], "application/json") && it.Status != http.StatusNoContent {
					t.Errorf("%s: Content-Type %q", id, it.Headers["Content-Type"])
				}
			}

			// Request ids: every inner request has its own, none is the batch's.
			seen := map[string]string{outer.Header.Get("request-id"): "the batch"}
			if outer.Header.Get("request-id") == "" {
				t.Fatal("the batch response has no request-id")
			}
			for id, it := range got {
				rid := it.Headers["request-id"]
				if rid == "" {
					t.Errorf("%s: no request-id", id)
					continue
				}
				if prev, dup := seen[rid]; dup {
					t.Errorf("%s and %s share the request-id %s", id, prev, rid)
				}
				seen[rid] = id
			}
			// Every inner request is logged under its own request id.
			for id, it := range got {
				if !strings.Contains(s.Logs.String(), it.Headers["request-id"]) {
					t.Errorf("%s: request %s not logged", id, it.Headers["request-id"])
				}
			}
			if !strings.Contains(s.Logs.String(), `"route":"POST /`+v+`/$batch"`) {
				t.Errorf("the batch is not logged under its route")
			}
		})
	}
}

// TestBatchQueryOptions: inner GETs keep their query; the answer is the one
// the same GET gets alone. The $select and $filter checks run when the
// server implements those options.
func TestBatchQueryOptions(t *testing.T) {
	for _, v := range btVersions {
		t.Run(v, func(t *testing.T) {
			s := newServer(t)
			tok := s.adminToken(s.Tenant.ID)
			for _, n := range []string{"Alpha", "Beta", "Gamma"} {
				btCreateConnector(t, s, tok, n)
			}
			sel := "/identity/apiConnectors?$select=displayName&$filter=" + url.QueryEscape("displayName eq 'beta'")
			count := "/identity/apiConnectors/$count"
			got, _ := btRun(t, s, v, tok,
				btRequest("sel", "GET", sel),
				btRequest("raw", "GET", "identity/apiConnectors?$filter=displayName eq 'Gamma'&$select=targetUrl"),
				btRequest("count", "GET", count),
			)
			for id, u := range map[string]string{"sel": sel, "raw": "/identity/apiConnectors?$filter=displayName%20eq%20%27Gamma%27&$select=targetUrl", "count": count} {
				direct := s.do(request{Method: "GET", Path: "/" + v + u, Token: tok})
				it := got[id]
				if it.Status != direct.Status {
					t.Errorf("%s: inner status %d, the same GET alone %d (%s)", id, it.Status, direct.Status, direct.Body)
					continue
				}
				if it.Headers["Content-Type"] != direct.Header.Get("Content-Type") {
					t.Errorf("%s: inner Content-Type %q, alone %q", id, it.Headers["Content-Type"], direct.Header.Get("Content-Type"))
				}
				switch {
				case direct.Status >= 300:
					if code, _ := it.errorCode(t); code != btErrCode(t, direct) {
						t.Errorf("%s: inner error code %q, alone %q", id, code, btErrCode(t, direct))
					}
				case strings.HasPrefix(direct.Header.Get("Content-Type"), "application/json"):
					var in, alone any
					if err := json.Unmarshal(it.Body, &in); err != nil {
						t.Fatalf("%s: inner body: %v", id, err)
					}
					if err := json.Unmarshal(direct.Body, &alone); err != nil {
						t.Fatalf("%s: body alone: %v", id, err)
					}
					if d := cmp.Diff(alone, in); d != "" {
						t.Errorf("%s: inner body differs from the body alone (-alone +inner):\n%s", id, d)
					}
				default:
					var text string
					if err := json.Unmarshal(it.Body, &text); err != nil || text != string(direct.Body) {
						t.Errorf("%s: inner body %s, want the text %q as a JSON string", id, it.Body, direct.Body)
					}
				}
			}

			it := got["sel"]
			if it.Status != http.StatusOK {
				t.Fatalf("inner GET with $select/$filter answered %d: %s", it.Status, it.Body)
			}
			m := it.object(t)
			if ctx, _ := m["@odata.context"].(string); !strings.Contains(ctx, "(displayName)") {
				t.Fatalf("inner GET with $select: @odata.context %q lacks the selection", ctx)
			}
			items := ufValues(t, response{Body: it.Body})
			if len(items) != 1 || items[0]["displayName"] != "Beta" {
				t.Fatalf("$filter=displayName eq 'beta': %v", items)
			}
			if _, ok := items[0]["targetUrl"]; ok {
				t.Errorf("$select=displayName: item has targetUrl: %v", items[0])
			}
			if items := ufValues(t, response{Body: got["raw"].Body}); len(items) != 1 || items[0]["targetUrl"] == nil || items[0]["displayName"] != nil {
				t.Errorf("unescaped query: %v", items)
			}
			if c := got["count"]; c.Status == http.StatusOK && string(c.Body) != `"3"` {
				t.Errorf("/$count: body %s, want the string \"3\"", c.Body)
			}
		})
	}
}
