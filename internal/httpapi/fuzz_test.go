package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// Fuzz targets over real HTTP against one real server per target (a real
// SQLite store in a temporary directory). Invariants, for every input:
//   - no status ≥ 500 (FuzzRoutePath: except 501 NotImplemented), so no panic
//     either: the server turns a panic into a 500;
//   - every non-2xx response carries Graph's error envelope with a non-empty
//     code and message;
//   - a rejected request (any non-2xx) leaves the store snapshot unchanged;
//   - FuzzRoutePath: a GET never changes the snapshot, whatever it answers.
//
// Between inputs the fixture (one connector, the Amazon provider) is put back
// as it was, so every input meets the same state and a crasher replays alone.

const fzAmazonID = "Amazon-OAUTH"

// fzFixture is the server a fuzz target shares across its inputs.
type fzFixture struct {
	s      *testServer
	logs   *fzLogTail
	tok    string // admin of the default tenant
	connID string // basic-auth connector in the default tenant
	keep   []store.Record
	wire   *fzWire
}

// fzNewServer is newServer for a *testing.F. Its t is bound per input
// (bind), so the helpers of helpers_test.go fail the right test. The log is
// kept as a bounded tail: a fuzz run sends far too many requests to keep them
// all, and a failure needs only its own lines.
func fzNewServer(f *testing.F) (*testServer, *fzLogTail) {
	f.Helper()
	logs := &fzLogTail{}
	return newServerWith(f, serverOptions{logs: logs}), logs
}

// fzSetup starts the server and creates the fixture over HTTP: a basic-auth
// connector and the Amazon social provider.
func fzSetup(f *testing.F) *fzFixture {
	f.Helper()
	s, logs := fzNewServer(f)
	tok, err := s.Dir.Mint(context.Background(), directory.MintOptions{Tenant: s.Tenant.ID, Issuer: s.URL, TTL: 7 * 24 * time.Hour,
		Roles: []string{"APIConnectors.ReadWrite.All", "IdentityProvider.ReadWrite.All", "IdentityUserFlow.ReadWrite.All"}})
	if err != nil {
		f.Fatal(err)
	}
	fx := &fzFixture{s: s, logs: logs, tok: tok, wire: &fzWire{addr: strings.TrimPrefix(s.URL, "http://")}}
	f.Cleanup(fx.wire.close)
	create := func(path string, body any) map[string]any {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", s.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			f.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusCreated {
			f.Fatalf("fixture POST %s: %d %s", path, res.StatusCode, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			f.Fatal(err)
		}
		return m
	}
	conn := create("/v1.0/identity/apiConnectors", fzConnectorBody())
	fx.connID, _ = conn["id"].(string)
	create("/v1.0/identityProviders", fzProviderBody("Amazon"))
	create("/beta/identity/identityProviders", fzAppleBody())
	create("/beta/identity/b2cUserFlows", map[string]any{"id": "fuzz", "userFlowType": "signUpOrSignIn", "userFlowTypeVersion": 3})
	for _, k := range []struct {
		c  store.Collection
		id string
	}{{store.APIConnectors, fx.connID}, {store.IdentityProviders, fzAmazonID}, {store.IdentityProviders, graph.AppleManagedProviderID},
		{store.UserFlows, fzFlowID}} {
		r, err := s.Store.Get(context.Background(), s.Tenant.ID, k.c, k.id)
		if err != nil {
			f.Fatalf("fixture %s %s: %v", k.c, k.id, err)
		}
		fx.keep = append(fx.keep, r)
	}
	return fx
}

// bind points the server's helpers at this input's test.
func (fx *fzFixture) bind(t *testing.T) *testServer {
	fx.s.t = t
	return fx.s
}

// reset puts the tenant's connectors and providers back as the fixture made
// them: extra records are deleted, missing ones recreated, changed ones
// rewritten (their version moves on; nothing the targets check depends on it).
func (fx *fzFixture) reset(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st, tenant := fx.s.Store, fx.s.Tenant.ID
	kept := map[string]store.Record{}
	for _, r := range fx.keep {
		kept[string(r.Collection)+"/"+store.Key(r.ID)] = r
	}
	for _, c := range []store.Collection{store.APIConnectors, store.IdentityProviders, store.UserFlows} {
		rs, err := st.List(ctx, tenant, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if _, ok := kept[string(c)+"/"+store.Key(r.ID)]; !ok {
				if err := st.Delete(ctx, tenant, c, r.ID, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, k := range fx.keep {
		cur, err := st.Get(ctx, tenant, k.Collection, k.ID)
		switch {
		case graph.KindOf(err) == graph.KindNotFound:
			_, err = st.Create(ctx, store.Record{Tenant: tenant, Collection: k.Collection, ID: k.ID, Data: k.Data})
		case err == nil && !bytes.Equal(cur.Data, k.Data):
			_, err = st.Update(ctx, tenant, k.Collection, k.ID, func(store.Tx, store.Record) ([]byte, error) { return k.Data, nil })
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// --- FuzzPatchBody -----------------------------------------------------------

// FuzzPatchBody sends arbitrary bytes as the JSON body of one of the
// body-reading operations (target picks it): PATCH of a connector, POST and
// PATCH of both identity-provider APIs (social and Apple), POST of a user
// flow and the PUT and POST $ref of a flow's connector step and providers.
// Every seed body is tried on every target.
func FuzzPatchBody(f *testing.F) {
	fx := fzSetup(f)
	targets := []struct{ method, path string }{
		{"PATCH", "/v1.0/identity/apiConnectors/" + fx.connID},
		{"POST", "/v1.0/identityProviders"},
		{"PATCH", "/v1.0/identityProviders/" + fzAmazonID},
		{"POST", "/beta/identityProviders"},
		{"POST", "/beta/identity/identityProviders"},
		{"PATCH", "/v1.0/identity/identityProviders/" + fzAmazonID},
		{"PATCH", "/beta/identity/identityProviders/" + graph.AppleManagedProviderID},
		{"POST", "/beta/identity/b2cUserFlows"},
		{"PUT", "/beta/identity/b2cUserFlows/" + fzFlowID + "/apiConnectorConfiguration/postFederationSignup/$ref"},
		{"POST", "/beta/identity/b2cUserFlows/" + fzFlowID + "/identityProviders/$ref"},
	}
	for _, b := range fzBodySeeds(f) {
		for i := range targets {
			f.Add(b, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, target uint8) {
		s := fx.bind(t)
		defer fx.reset(t)
		tg := targets[int(target)%len(targets)]
		before := s.snapshot()
		r := fx.timed(t, func() response { return s.do(request{Method: tg.method, Path: tg.path, Token: fx.tok, Body: body}) })
		fx.check(t, tg.method+" "+tg.path, strconv.Quote(string(body)), r, before, false)
	})
}

func fzConnectorBody() map[string]any {
	return map[string]any{
		"displayName": "Fuzz connector",
		"targetUrl":   "https://api.example.com/signup",
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user", "password": "s3cret-pw"},
	}
}

// fzFlowID is the fixture's B2C user flow.
const fzFlowID = "B2C_1_fuzz"

func fzAppleBody() map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.appleManagedIdentityProvider", "displayName": "Sign in with Apple",
		"developerId": "DEV123", "serviceId": "com.example.app", "keyId": "KEY123", "certificateData": "apple-key"}
}

func fzProviderBody(typ string) map[string]any {
	return map[string]any{"name": "Login with " + typ, "type": typ, "clientId": "client-" + typ, "clientSecret": "secret-" + typ}
}

// fzBodySeeds: valid bodies for each target, the classic example body,
// malformed JSON, deep nesting, duplicate names and odd values.
func fzBodySeeds(f *testing.F) [][]byte {
	f.Helper()
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	pfx, err := certtest.Valid("fuzz", "pfx-pw")
	if err != nil {
		f.Fatal(err)
	}
	expired, err := certtest.New("fuzz-expired", "", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	classic, err := os.ReadFile(filepath.Join("testdata", "conformance", "classic", "v1.0_update_identityapiconnector.json"))
	if err != nil {
		f.Fatal(err)
	}
	var vector struct {
		Request struct {
			Body json.RawMessage `json:"body"`
		} `json:"request"`
	}
	if err := json.Unmarshal(classic, &vector); err != nil || len(vector.Request.Body) == 0 {
		f.Fatalf("classic example body: %v", err)
	}
	nest := func(open, close string, n int) string {
		return `{"bogus":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}`
	}
	nestObj := func(n int) string {
		return strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n)
	}
	seeds := []string{
		// Valid bodies.
		`{}`,
		string(vector.Request.Body), // the classic example
		js(fzConnectorBody()),
		js(fzAppleBody()),
		`{"@odata.type":"#microsoft.graph.socialIdentityProvider","displayName":"G","identityProviderType":"Google","clientId":"c","clientSecret":"s"}`,
		`{"@odata.type":"microsoft.graph.openIdConnectIdentityProvider","displayName":"Contoso","clientId":"c","clientSecret":"s",` +
			`"claimsMapping":{"userId":"sub","displayName":"name"},"metadataUrl":"https://idp.example.com/.well-known/openid-configuration",` +
			`"responseMode":"form_post","responseType":"code","scope":"openid"}`,
		`{"name":"OIDC","type":"OpenIDConnect","clientId":"c","clientSecret":"s","claimsMapping":{"userId":"sub","displayName":"name"},` +
			`"metadataUrl":"https://idp.example.com/.well-known/openid-configuration","responseMode":"query","responseType":"id_token","scope":"openid"}`,
		`{"@odata.type":"#microsoft.graph.socialIdentityProvider","displayName":"Apple"}`,
		`{"id":"Partner","userFlowType":"signUpOrSignIn","userFlowTypeVersion":1,"isLanguageCustomizationEnabled":true,"defaultLanguageTag":"fr"}`,
		`{"id":"p2","userFlowType":"signIn","userFlowTypeVersion":2,"identityProviders":[{"id":"Amazon-OAUTH"}],` +
			`"apiConnectorConfiguration":{"postFederationSignup":{"@odata.id":"x"}}}`,
		`{"@odata.id":"https://graph.microsoft.com/beta/identity/apiConnectors/00000000-0000-0000-0000-000000000000"}`,
		`{"@odata.id":"https://graph.microsoft.com/beta/identityProviders/Amazon-OAUTH"}`,
		`{"@odata.id":"/beta/identity/identityProviders/Apple-Managed-OIDC"}`,
		`{"userFlowTypeVersion":1e400}`,
		`{"displayName":"Renamed","targetUrl":"https://api.example.com/other"}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"u2"}}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","password":"new-pw"}}`,
		`{"authenticationConfiguration":{"@odata.type":"microsoft.graph.apiAuthenticationConfigurationBase"}}`,
		js(map[string]any{"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.pkcs12Certificate", "pkcs12Value": pfx.Base64, "password": pfx.Password}}),
		js(map[string]any{"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.pkcs12Certificate", "pkcs12Value": expired.Base64, "password": ""}}),
		js(map[string]any{"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.pkcs12Certificate", "pkcs12Value": pfx.Base64, "password": "wrong"}}),
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.pkcs12Certificate","pkcs12Value":"MIIB","password":""}}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.pkcs12Certificate","pkcs12Value":"!!!","password":""}}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.clientCertificateAuthentication","certificateList":[]}}`,
		`{"@odata.type":"#microsoft.graph.identityApiConnector","id":"` + fzOtherID + `","displayName":"x"}`,
		js(fzProviderBody("Amazon")),
		js(fzProviderBody("Google")),
		js(fzProviderBody("facebook")),
		`{"name":"Renamed"}`,
		`{"clientId":"new-client","clientSecret":"new-secret"}`,
		`{"id":"amazon-oauth","type":"Amazon","name":"x"}`,
		`{"@odata.type":"#microsoft.graph.identityProvider","name":"x"}`,
		`{"@odata.type":"microsoft.graph.socialIdentityProvider","name":"x"}`,
		// Rejected values.
		`{"displayName":null}`,
		`{"displayName":1e999999}`,
		`{"displayName":""}`,
		`{"targetUrl":"http://insecure.example"}`,
		`{"targetUrl":"https://exa mple/\u0000"}`,
		`{"clientSecret":""}`,
		`{"type":"Facebook"}`,
		`{"type":"Amazon","name":"x","clientId":"c"}`,
		`{"certificateList":[]}`,
		`{"@odata.type":null}`,
		`{"@odata.type":"#microsoft.graph."}`,
		`{"@odata.type":"microsoft.graph.identityApiConnector","@odata.context":"x"}`,
		`{"authenticationConfiguration":null}`,
		`{"authenticationConfiguration":{}}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","password":""}}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","bogus":1}}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.pkcs12Certificate"}}`,
		`{"id":"someone-else"}`,
		`{"name":"\ud800"}`,
		"{\"name\":\"\xff\xfe\"}",
		"{\"displayName\":\"" + strings.Repeat("x", 8192) + "\"}",
		// Malformed JSON and non-objects.
		``,
		"  \n",
		`{"displayName": "x",`,
		`{displayName: "x"}`,
		`{'name': 'x'}`,
		`[]`,
		`[{}]`,
		`null`,
		`"x"`,
		`42`,
		`{}{}`,
		`{} x`,
		`{"a":1}]`,
		`{"a":1}}`,
		`{"a"}`,
		`{"a":}`,
		`{,}`,
		`{"a":1,}`,
		"\xef\xbb\xbf{}",
		"{\"a\":\"\x00\"}",
		`{"a":"\u0000"}`,
		`{"a":tru}`,
		`{"a":01}`,
		`{"a":-}`,
		`{"a":[1,2,]}`,
		// Duplicate names.
		`{"displayName":"a","displayName":"b"}`,
		`{"name":"a","name":"b"}`,
		`{"name":"a","Name":"b"}`,
		`{"name":"a","na\u006de":"b"}`,
		`{"bogus":{"a":1,"a":2}}`,
		`{"authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"a","username":"b"}}`,
		`{"x":[{"a":1},{"a":1}],"x":2}`,
		// Deep nesting, at and past the limit.
		nest("[", "]", 30),
		nest("[", "]", 31),
		nest("[", "]", 32),
		nest("[", "]", 2000),
		nestObj(32),
		nestObj(33),
		nestObj(1000),
		strings.Repeat("[", 5000),
		`{"a":` + strings.Repeat("{", 3000),
	}
	out := make([][]byte, len(seeds))
	for i, s := range seeds {
		out[i] = []byte(s)
	}
	return out
}

// fzOtherID is an id no connector has.
const fzOtherID = "00000000-0000-0000-0000-000000000001"

// --- FuzzRoutePath -----------------------------------------------------------

// FuzzRoutePath sends arbitrary request targets with an admin token, once
// each with GET, PATCH, POST and DELETE (PATCH and POST with a body of {}).
// The target goes on the wire byte for byte in an HTTP/1.1 request line; an
// input that cannot be a request target as it stands is sent in its escaped
// form instead, and skipped when even that is no valid target.
func FuzzRoutePath(f *testing.F) {
	fx := fzSetup(f)
	for _, p := range fzPathSeeds(fx.connID) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		target, ok := fzTarget(path)
		if !ok {
			t.Skip("not a request target, even escaped")
		}
		s := fx.bind(t)
		defer fx.reset(t)
		for _, method := range []string{"GET", "PATCH", "POST", "DELETE"} {
			var body []byte
			if method == "PATCH" || method == "POST" {
				body = []byte(`{}`)
			}
			before := s.snapshot()
			r := fx.timed(t, func() response { return fx.wire.do(t, method, target, fx.tok, body) })
			fx.check(t, method+" "+strconv.Quote(target), strconv.Quote(path), r, before, true)
			if method == "GET" {
				if after := s.snapshot(); !maps.Equal(before, after) {
					t.Fatalf("GET %q answered %d and changed the store (-before +after):\n%s", target, r.Status, cmp.Diff(before, after))
				}
			}
		}
	})
}

func fzPathSeeds(connID string) []string {
	c := "/v1.0/identity/apiConnectors/" + connID
	return []string{
		"/v1.0/identity/apiConnectors",
		"/beta/identity/apiConnectors/",
		c,
		"/beta/identity/apiConnectors('" + connID + "')",
		"/v1.0/identity/apiConnectors(%27" + strings.ToUpper(connID) + "%27)",
		"/v1.0/identity/apiConnectors%28%27" + connID + "%27%29",
		c + "/uploadClientCertificate",
		c + "/microsoft.graph.uploadClientCertificate()",
		c + "/bogus",
		c + "/..",
		c + "/.",
		"/v1.0/identity/apiConnectors/a%2Fb",
		"/v1.0/identity/apiConnectors/%2e%2e",
		"/v1.0/identityProviders",
		"/v1.0/identityProviders/availableProviderTypes()",
		"/BETA/IdentityProviders/Microsoft.Graph.AvailableProviderTypes()/",
		"/v1.0/identityProviders/" + fzAmazonID,
		"/v1.0/identityProviders('amazon-oauth')",
		"/v1.0/identityProviders(%27Amazon-OAUTH%27)",
		"/v1.0/identityProviders%28%27Amazon-OAUTH%27%29",
		"/v1.0/identityProviders/Amazon%2FOAUTH",
		"/v1.0/identityProviders/" + fzAmazonID + "?$select=id&$top=1",
		"/v1.0/identityProviders/" + fzAmazonID + "#frag",
		"/v1.0/identityProviders('')",
		"/v1.0/identityProviders(')",
		"/v1.0/identityProviders(''')",
		"/v1.0/identityProviders('a''b')",
		"/v1.0/identityProviders()",
		"/v1.0/identityProviders/()",
		"/v1.0/identityProviders/(",
		"/v1.0/identityProviders/)",
		"/v1.0/identityProviders/%",
		"/v1.0/identityProviders/%zz",
		"/v1.0/identityProviders/%00",
		"/v1.0/identityProviders/%ff%fe",
		"/v1.0/identityProviders/\xff",
		"/v1.0/identityProviders/é",
		"/v1.0/identityProviders/a b",
		"/v1.0/identityProviders/a\x00b",
		"/v1.0/identityProviders/" + strings.Repeat("x", 4096),
		"/v1.0" + strings.Repeat("/a", 500),
		"/v1.0/me",
		"/v1.0/identity/b2cUserFlows",
		"/v1.0/identity",
		"/v1.0",
		"/v1.0/",
		"/v1.0//identityProviders",
		"/v1.0/./identityProviders",
		"/v1.0/../beta/identityProviders",
		"/v2.0/identityProviders",
		"/",
		"//",
		"//v1.0/identityProviders",
		"/%2F",
		"/?",
		"/*",
		"*",
		"",
		"v1.0/identityProviders",
		"http://example.com/v1.0/identityProviders",
	}
}

// fzMaxTarget keeps request lines well inside the server's header limit.
const fzMaxTarget = 16 << 10

// fzTarget returns what goes on the wire for path: path itself if it is a
// valid request target, else its escaped form if that is one.
func fzTarget(path string) (string, bool) {
	if fzValidTarget(path) {
		return path, true
	}
	if strings.HasPrefix(path, "/") {
		if e := (&url.URL{Path: path}).EscapedPath(); fzValidTarget(e) {
			return e, true
		}
	}
	return "", false
}

// fzValidTarget reports whether the Go server takes p as an origin-form
// request target: it starts with "/", has no space or control byte, and
// parses as a request URI.
func fzValidTarget(p string) bool {
	if p == "" || p[0] != '/' || len(p) > fzMaxTarget {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	_, err := url.ParseRequestURI(p)
	return err == nil
}

// fzWire sends hand-written HTTP/1.1 requests over a kept-alive connection,
// so the request target reaches the server exactly as written.
type fzWire struct {
	addr string
	mu   sync.Mutex
	conn net.Conn
	br   *bufio.Reader
}

func (w *fzWire) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		w.conn.Close()
		w.conn, w.br = nil, nil
	}
}

func (w *fzWire) do(t *testing.T, method, target, token string, body []byte) response {
	t.Helper()
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", method, target, w.addr, token)
	if body != nil {
		fmt.Fprintf(&raw, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	raw.WriteString("\r\n")
	raw.Write(body)
	w.mu.Lock()
	defer w.mu.Unlock()
	for attempt := 0; ; attempt++ {
		reused := w.conn != nil
		r, err := w.roundTrip(method, raw.Bytes())
		if err == nil {
			return r
		}
		if w.conn != nil {
			w.conn.Close()
			w.conn, w.br = nil, nil
		}
		// A kept-alive connection the server has closed fails before the
		// request is read: retry once on a fresh one.
		if !reused || attempt > 0 {
			t.Fatalf("%s %q: %v", method, target, err)
		}
	}
}

func (w *fzWire) roundTrip(method string, raw []byte) (response, error) {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.addr, 5*time.Second)
		if err != nil {
			return response{}, err
		}
		w.conn, w.br = c, bufio.NewReader(c)
	}
	// A server that does not answer within the deadline is a finding too.
	w.conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := w.conn.Write(raw); err != nil {
		return response{}, err
	}
	res, err := http.ReadResponse(w.br, &http.Request{Method: method})
	if err != nil {
		return response{}, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return response{}, err
	}
	if res.Close {
		w.conn.Close()
		w.conn, w.br = nil, nil
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// --- checks ------------------------------------------------------------------

// fzBudget is the time within which every input must be answered.
const fzBudget = 100 * time.Millisecond

// timed runs one request. While fuzzing, an answer slower than fzBudget is
// measured again (after putting the fixture back, as a write may have
// changed it) before it counts as a finding: a scheduler hiccup on a busy
// machine is not one. Plain go test runs skip the timing.
func (fx *fzFixture) timed(t *testing.T, do func() response) response {
	t.Helper()
	start := time.Now()
	r := do()
	if elapsed := time.Since(start); fzFuzzing() && elapsed > fzBudget {
		best := elapsed
		for range 2 {
			fx.reset(t)
			start := time.Now()
			do()
			best = min(best, time.Since(start))
		}
		if best > fzBudget {
			t.Fatalf("answered in %v (best of 3), budget %v", best, fzBudget)
		}
	}
	return r
}

func fzFuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// check applies the invariants to one response. allow501 admits 501
// NotImplemented, the answer for a Graph path outside the slice.
func (fx *fzFixture) check(t *testing.T, what, input string, r response, before map[string]string, allow501 bool) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s\ninput: %s\nstatus %d, body %s\nserver log: %s", what, fmt.Sprintf(format, args...),
			fzShort(input), r.Status, fzShort(string(r.Body)), fx.logs.find(r.Header.Get("request-id")))
	}
	if r.Status >= 500 && !(allow501 && r.Status == http.StatusNotImplemented) {
		fail("server error")
	}
	if r.Status >= 200 && r.Status < 300 {
		if len(r.Body) > 0 && !json.Valid(r.Body) {
			fail("2xx body is not JSON")
		}
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		fail("error Content-Type %q, want application/json", ct)
	}
	var env struct {
		Error *struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		fail("error body is not JSON: %v", err)
	}
	if env.Error == nil || env.Error.Code == "" || env.Error.Message == "" {
		fail("no Graph error envelope with code and message")
	}
	if id := r.Header.Get("request-id"); id == "" || env.Error.InnerError.RequestID != id {
		fail("innerError.request-id %q, header request-id %q", env.Error.InnerError.RequestID, id)
	}
	if after := fx.s.snapshot(); !maps.Equal(before, after) {
		fail("rejected request changed the store (-before +after):\n%s", cmp.Diff(before, after))
	}
}

func fzShort(s string) string {
	const limit = 600
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// fzLogTail keeps the last lines the server logged.
type fzLogTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *fzLogTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimRight(string(p), "\n"))
	if len(l.lines) > 256 {
		l.lines = append(l.lines[:0:0], l.lines[128:]...)
	}
	return len(p), nil
}

// find returns the logged lines of one request.
func (l *fzLogTail) find(requestID string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if requestID != "" && strings.Contains(line, requestID) {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return "(none found)"
	}
	return strings.Join(out, "\n")
}
