package authority_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/auth"
	"github.com/idgraph/idgraph/internal/authority"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/httpapi"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store/sqlite"
	"github.com/idgraph/idgraph/internal/tlsca"
)

const (
	graphScope   = "https://graph.microsoft.com/.default"
	permIDP      = "IdentityProvider.ReadWrite.All"
	permAPIConn  = "APIConnectors.ReadWrite.All"
	roleGlobalAd = "62e90394-69f5-4237-9190-012177145e10"
)

// syncBuffer collects the log output of concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one real idgraph origin: Graph, the authority and the control URLs
// behind httpapi.Root, on a loopback httptest server over a SQLite store.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	client *http.Client
	dir    *directory.Directory
	tenant graph.Tenant
	logs   *syncBuffer
	caPEM  []byte

	mu        sync.Mutex
	secrets   []string // every secret or password a request carried
	authority int      // requests to authority paths
}

func newEnv(t *testing.T, useTLS bool) *env {
	t.Helper()
	ctx := context.Background()
	dataDir := t.TempDir()
	keys, err := secret.New(bytes.Repeat([]byte{0x5a}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "idgraph.db"))
	if err != nil {
		t.Fatal(err)
	}
	d := directory.New(st, keys, nil)
	tenant, err := d.Bootstrap(ctx)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api := httpapi.New(httpapi.Options{Store: st, Directory: d, Keys: keys, Logger: log})
	issuer := &authority.Handler{Dir: d, Log: log, NotFound: api}
	e := &env{t: t, dir: d, tenant: tenant, logs: logs}
	if useTLS {
		files, err := tlsca.Ensure(filepath.Join(dataDir, "tls"), nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if e.caPEM, err = tlsca.PEM(files.CA); err != nil {
			t.Fatal(err)
		}
		e.srv = httptest.NewTLSServer(httpapi.Root(api, issuer, e.caPEM))
	} else {
		e.srv = httptest.NewServer(httpapi.Root(api, issuer, nil))
	}
	e.client = e.srv.Client()
	e.client.Timeout = 10 * time.Second
	t.Cleanup(func() {
		e.srv.Close()
		st.Close()
		e.checkLogs()
	})
	return e
}

// checkLogs asserts that the server logged requests but never a secret, a
// password or a token.
func (e *env) checkLogs() {
	t := e.t
	t.Helper()
	logs := e.logs.String()
	if e.authority > 0 && !strings.Contains(logs, `"msg":"authority"`) {
		t.Errorf("the authority logged nothing; the secret check below would be vacuous:\n%s", logs)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the secret/password %q", s)
		}
	}
	if strings.Contains(logs, "eyJ") {
		t.Errorf("the log contains a JWT (\"eyJ\")")
	}
}

func (e *env) sent(secrets ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			e.secrets = append(e.secrets, s)
		}
	}
}

func (e *env) origin() string { return e.srv.URL }

func (e *env) host() string {
	return strings.TrimPrefix(strings.TrimPrefix(e.srv.URL, "https://"), "http://")
}

func (e *env) port() string { return e.host()[strings.LastIndexByte(e.host(), ':')+1:] }

func (e *env) tokenPath() string { return "/" + e.tenant.ID + "/oauth2/v2.0/token" }

type app struct {
	graph.App
	secret string
}

func (e *env) newApp(spec directory.AppSpec) app {
	e.t.Helper()
	if spec.DisplayName == "" {
		spec.DisplayName = "test app"
	}
	a, s, err := e.dir.CreateApp(context.Background(), e.tenant.ID, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	e.sent(s)
	return app{App: a, secret: s}
}

func (e *env) newUser(upn, password string, roles ...string) graph.User {
	e.t.Helper()
	u, err := e.dir.CreateUser(context.Background(), e.tenant.ID, directory.UserSpec{UserPrincipalName: upn, Password: password, DirectoryRoles: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	e.sent(password)
	return u
}

// request is one HTTP request to the origin.
type request struct {
	method string
	path   string // may carry a query string, or end in a bare "?"
	host   string // Host header; the server's own when empty
	form   url.Values
	body   string // raw body, when form is nil
	header map[string]string
	basic  []string // client id and secret for HTTP Basic
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%v): %d %s", err, r.status, r.body)
	}
	return m
}

func (e *env) do(rq request) response {
	e.t.Helper()
	var body io.Reader
	if rq.form != nil {
		body = strings.NewReader(rq.form.Encode())
	} else if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequest(rq.method, e.origin()+rq.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if authority.Match(req.URL.Path) {
		e.mu.Lock()
		e.authority++
		e.mu.Unlock()
	}
	if rq.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	if rq.host != "" {
		req.Host = rq.host
	}
	if rq.basic != nil {
		req.SetBasicAuth(url.QueryEscape(rq.basic[0]), url.QueryEscape(rq.basic[1]))
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// token posts form to the tenant's token endpoint.
func (e *env) token(form url.Values) response {
	e.t.Helper()
	e.sent(form.Get("client_secret"), form.Get("password"))
	return e.do(request{method: "POST", path: e.tokenPath(), form: form})
}

func ccForm(a app, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {a.ClientID}, "client_secret": {a.secret}, "scope": {scope}}
}

func pwForm(a app, user, password, scope string) url.Values {
	return url.Values{"grant_type": {"password"}, "client_id": {a.ClientID}, "client_secret": {a.secret}, "username": {user}, "password": {password}, "scope": {scope}}
}

// accessToken asserts a successful token response and returns the token.
func accessToken(t *testing.T, r response) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d, want 200; body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("token: Content-Type = %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token: Cache-Control = %q, want no-store (RFC 6749 §5.1)", cc)
	}
	m := r.json(t)
	if m["token_type"] != "Bearer" {
		t.Errorf("token_type = %v, want Bearer", m["token_type"])
	}
	if v, ok := m["expires_in"].(float64); !ok || v != 3599 {
		t.Errorf("expires_in = %#v, want the number 3599", m["expires_in"])
	}
	if v, ok := m["ext_expires_in"].(float64); !ok || v != 3599 {
		t.Errorf("ext_expires_in = %#v, want the number 3599", m["ext_expires_in"])
	}
	tok, _ := m["access_token"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("access_token %q is not a compact JWT", tok)
	}
	return tok
}

// jwtPart decodes one part (0 header, 1 claims) of a compact JWT.
func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func strs(v any) []string {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// verify checks tok with the server's keys and its common claims, and returns
// the raw claims.
func (e *env) verify(t *testing.T, tok, origin string) (graph.Principal, map[string]any) {
	t.Helper()
	p, err := (&auth.Verifier{Keys: e.dir.PublicKey}).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("the issued token does not verify: %v", err)
	}
	h := jwtPart(t, tok, 0)
	if h["alg"] != "RS256" || h["kid"] == nil || h["kid"] == "" {
		t.Errorf("token header = %v, want alg RS256 and a kid", h)
	}
	c := jwtPart(t, tok, 1)
	if c["tid"] != e.tenant.ID || p.TenantID != e.tenant.ID {
		t.Errorf("tid = %v (principal %s), want %s", c["tid"], p.TenantID, e.tenant.ID)
	}
	if aud := c["aud"]; aud != "https://graph.microsoft.com" && !slices.Equal(strs(aud), []string{"https://graph.microsoft.com"}) {
		t.Errorf("aud = %v, want https://graph.microsoft.com", aud)
	}
	if want := origin + "/" + e.tenant.ID + "/v2.0"; c["iss"] != want {
		t.Errorf("iss = %v, want %s", c["iss"], want)
	}
	now := float64(time.Now().Unix())
	iat, _ := c["iat"].(float64)
	nbf, _ := c["nbf"].(float64)
	exp, _ := c["exp"].(float64)
	if math.Abs(iat-now) > 5 || math.Abs(nbf-now) > 5 || math.Abs(exp-(now+3600)) > 5 {
		t.Errorf("iat/nbf/exp = %v/%v/%v, want ≈ %v/%v/%v", iat, nbf, exp, now, now, now+3600)
	}
	return p, c
}

// checkAADError asserts Entra's error shape.
func checkAADError(t *testing.T, r response, status int, code string, aadsts int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Errorf("error = %v, want %s; body %s", m["error"], code, r.body)
	}
	desc, _ := m["error_description"].(string)
	if aadsts != 0 {
		if prefix := "AADSTS" + itoa(aadsts) + ":"; !strings.HasPrefix(desc, prefix) {
			t.Errorf("error_description = %q, want it to start with %q", desc, prefix)
		}
		codes, ok := m["error_codes"].([]any)
		if !ok || len(codes) != 1 || codes[0] != float64(aadsts) {
			t.Errorf("error_codes = %v, want [%d]", m["error_codes"], aadsts)
		}
	}
	if _, err := time.Parse("2006-01-02 15:04:05Z", asString(m["timestamp"])); err != nil {
		t.Errorf("timestamp = %v: %v", m["timestamp"], err)
	}
	for _, k := range []string{"trace_id", "correlation_id"} {
		if _, err := uuid.Parse(asString(m[k])); err != nil {
			t.Errorf("%s = %v, want a GUID", k, m[k])
		}
	}
	return m
}

func asString(v any) string { s, _ := v.(string); return s }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// traceSuffix strips the per-request ids from an error_description.
var traceSuffix = regexp.MustCompile(` Trace ID: \S+ Correlation ID: \S+ Timestamp: .*$`)

func TestOpenIDConfiguration(t *testing.T) {
	e := newEnv(t, true)
	tid := e.tenant.ID
	path := "/" + tid + "/v2.0/.well-known/openid-configuration"

	check := func(t *testing.T, r response, origin string) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200; body %s", r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q", ct)
		}
		m := r.json(t)
		base := origin + "/" + tid
		for k, want := range map[string]string{
			"issuer":                 base + "/v2.0",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"jwks_uri":               base + "/discovery/v2.0/keys",
		} {
			if m[k] != want {
				t.Errorf("%s = %v, want %s", k, m[k], want)
			}
		}
	}

	t.Run("loopback IP host", func(t *testing.T) {
		check(t, e.do(request{method: "GET", path: path}), "https://127.0.0.1:"+e.port())
	})
	t.Run("issuer follows the Host header", func(t *testing.T) {
		check(t, e.do(request{method: "GET", path: path, host: "localhost:" + e.port()}), "https://localhost:"+e.port())
	})
	t.Run("upper-case tenant segment", func(t *testing.T) {
		check(t, e.do(request{method: "GET", path: "/" + strings.ToUpper(tid) + "/v2.0/.well-known/openid-configuration"}), e.origin())
	})
	t.Run("trailing bare question mark", func(t *testing.T) {
		check(t, e.do(request{method: "GET", path: path + "?"}), e.origin())
	})
	t.Run("MSAL Go headers", func(t *testing.T) {
		check(t, e.do(request{method: "GET", path: path, header: map[string]string{
			"X-Client-Sku": "MSAL.Go", "X-Client-Ver": "1.10.1", "Client-Request-Id": uuid.NewString(), "Return-Client-Request-Id": "false",
		}}), e.origin())
	})
	t.Run("unknown tenant", func(t *testing.T) {
		for _, seg := range []string{uuid.NewString(), "contoso.onmicrosoft.com"} {
			checkAADError(t, e.do(request{method: "GET", path: "/" + seg + "/v2.0/.well-known/openid-configuration"}),
				http.StatusBadRequest, "invalid_tenant", 90002)
		}
		a := e.newApp(directory.AppSpec{Roles: []string{permIDP}})
		r := e.do(request{method: "POST", path: "/" + uuid.NewString() + "/oauth2/v2.0/token", form: ccForm(a, graphScope)})
		checkAADError(t, r, http.StatusBadRequest, "invalid_tenant", 90002)
	})
}

func TestOpenIDConfigurationPlainHTTP(t *testing.T) {
	e := newEnv(t, false)
	r := e.do(request{method: "GET", path: "/" + e.tenant.ID + "/v2.0/.well-known/openid-configuration"})
	if r.status != http.StatusOK {
		t.Fatalf("status %d; body %s", r.status, r.body)
	}
	m := r.json(t)
	if want := "http://127.0.0.1:" + e.port() + "/" + e.tenant.ID + "/v2.0"; m["issuer"] != want {
		t.Errorf("issuer = %v, want %s", m["issuer"], want)
	}
	if want := "http://127.0.0.1:" + e.port() + "/" + e.tenant.ID + "/oauth2/v2.0/token"; m["token_endpoint"] != want {
		t.Errorf("token_endpoint = %v, want %s", m["token_endpoint"], want)
	}

	// A token from the plain-HTTP origin carries an http issuer and works there.
	a := e.newApp(directory.AppSpec{Roles: []string{permIDP}})
	tok := accessToken(t, e.token(ccForm(a, graphScope)))
	e.verify(t, tok, "http://127.0.0.1:"+e.port())
	if r := e.do(request{method: "GET", path: "/v1.0/identityProviders", header: map[string]string{"Authorization": "Bearer " + tok}}); r.status != http.StatusOK {
		t.Errorf("GET /v1.0/identityProviders with the plain-HTTP token: %d %s", r.status, r.body)
	}
	// No caPEM on this origin.
	if r := e.do(request{method: "GET", path: "/_idgraph/ca.pem"}); r.status != http.StatusNotFound {
		t.Errorf("GET /_idgraph/ca.pem without a CA: %d, want 404", r.status)
	}
}

func TestJWKS(t *testing.T) {
	e := newEnv(t, false)
	path := "/" + e.tenant.ID + "/discovery/v2.0/keys"
	kids := func() []string {
		t.Helper()
		r := e.do(request{method: "GET", path: path})
		if r.status != http.StatusOK {
			t.Fatalf("JWKS: %d %s", r.status, r.body)
		}
		var out []string
		for _, k := range r.json(t)["keys"].([]any) {
			k := k.(map[string]any)
			if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" {
				t.Errorf("key %v: want kty RSA, use sig, alg RS256", k)
			}
			if asString(k["n"]) == "" || asString(k["e"]) == "" {
				t.Errorf("key %v has no modulus or exponent", k)
			}
			for _, priv := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := k[priv]; ok {
					t.Errorf("key %v publishes the private part %q", k["kid"], priv)
				}
			}
			out = append(out, asString(k["kid"]))
		}
		return out
	}
	before := kids() // the first fetch makes the first key
	ks, err := e.dir.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 1 || before[0] != ks[0].ID {
		t.Fatalf("JWKS kids = %v, want [%s]", before, ks[0].ID)
	}
	a := e.newApp(directory.AppSpec{Roles: []string{permIDP}})
	oldTok := accessToken(t, e.token(ccForm(a, graphScope)))

	nk, err := e.dir.RotateKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after := kids()
	if !sameSet(after, []string{ks[0].ID, nk.ID}) {
		t.Errorf("JWKS kids after rotation = %v, want %s and %s", after, ks[0].ID, nk.ID)
	}
	newTok := accessToken(t, e.token(ccForm(a, graphScope)))
	if kid := jwtPart(t, newTok, 0)["kid"]; kid != nk.ID {
		t.Errorf("a token issued after rotation has kid %v, want the new key %s", kid, nk.ID)
	}
	e.verify(t, oldTok, e.origin())
	e.verify(t, newTok, e.origin())
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t, true)
	roles := []string{permIDP, permAPIConn}
	a := e.newApp(directory.AppSpec{Roles: roles})

	checkAppToken := func(t *testing.T, tok, origin string) {
		t.Helper()
		p, c := e.verify(t, tok, origin)
		if c["appid"] != a.ClientID || c["azp"] != a.ClientID || p.AppID != a.ClientID {
			t.Errorf("appid/azp = %v/%v, want %s", c["appid"], c["azp"], a.ClientID)
		}
		if c["oid"] != a.ObjectID || p.ObjectID != a.ObjectID {
			t.Errorf("oid = %v, want the app's ObjectID %s", c["oid"], a.ObjectID)
		}
		if c["idtyp"] != "app" || p.Delegated {
			t.Errorf("idtyp = %v (delegated %v), want app", c["idtyp"], p.Delegated)
		}
		if got := strs(c["roles"]); !sameSet(got, roles) || len(got) != len(roles) {
			t.Errorf("roles = %v, want exactly %v", c["roles"], roles)
		}
		if _, ok := c["scp"]; ok {
			t.Errorf("an app token carries scp %v", c["scp"])
		}
	}

	cases := []struct {
		name string
		rq   request
	}{
		{"form secret", request{form: ccForm(a, graphScope)}},
		{"HTTP Basic", request{basic: []string{a.ClientID, a.secret},
			form: url.Values{"grant_type": {"client_credentials"}, "scope": {graphScope}}}},
		{"MSAL Go scopes and claims", request{form: func() url.Values {
			f := ccForm(a, graphScope+" openid offline_access profile")
			f.Set("claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`)
			return f
		}(), header: map[string]string{"X-Client-Sku": "MSAL.Go", "X-Client-Ver": "1.10.1", "Client-Request-Id": uuid.NewString()}}},
		{"Graph app id .default", request{form: ccForm(a, "00000003-0000-0000-c000-000000000000/.default")}},
		{"MSAL Node telemetry and query client-request-id", request{
			path: "?client-request-id=" + uuid.NewString(),
			form: func() url.Values {
				f := ccForm(a, graphScope)
				f.Set("x-client-SKU", "msal.js.node")
				f.Set("x-client-VER", "5.6.0")
				f.Set("x-client-OS", "linux")
				f.Set("x-client-CPU", "x64")
				f.Set("x-ms-lib-capability", "retry-after, h429")
				f.Set("x-client-current-telemetry", "5|771,2,,,|,")
				f.Set("x-client-last-telemetry", "5|0|||0,0")
				f.Set("client-request-id", uuid.NewString())
				return f
			}()}},
		{"upper-case client id", request{form: func() url.Values {
			f := ccForm(a, graphScope)
			f.Set("client_id", strings.ToUpper(a.ClientID))
			return f
		}()}},
		{"a wrong secret in the query string is ignored", request{path: "?client_secret=wrong-secret-in-the-query", form: ccForm(a, graphScope)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.rq.method, c.rq.path = "POST", e.tokenPath()+c.rq.path
			e.sent("wrong-secret-in-the-query")
			checkAppToken(t, accessToken(t, e.do(c.rq)), e.origin())
		})
	}

	t.Run("issuer follows the Host header", func(t *testing.T) {
		r := e.do(request{method: "POST", path: e.tokenPath(), host: "localhost:" + e.port(), form: ccForm(a, graphScope)})
		checkAppToken(t, accessToken(t, r), "https://localhost:"+e.port())
	})
	t.Run("HTTP Basic with a secret that needs encoding", func(t *testing.T) {
		// RFC 6749 §2.3.1: client id and secret are form-encoded before Base64.
		b := e.newApp(directory.AppSpec{Roles: []string{permIDP}, Secret: "Q8~a+b/c=d:e%f&g h.secret"})
		r := e.do(request{method: "POST", path: e.tokenPath(), basic: []string{b.ClientID, b.secret},
			form: url.Values{"grant_type": {"client_credentials"}, "scope": {graphScope}}})
		accessToken(t, r)
		accessToken(t, e.token(ccForm(b, graphScope)))
	})
	t.Run("another tenant's endpoint does not know the app", func(t *testing.T) {
		other, err := e.dir.CreateTenant(context.Background(), graph.Tenant{ID: uuid.NewString(), DisplayName: "other"})
		if err != nil {
			t.Fatal(err)
		}
		r := e.do(request{method: "POST", path: "/" + other.ID + "/oauth2/v2.0/token", form: ccForm(a, graphScope)})
		checkAADError(t, r, http.StatusBadRequest, "unauthorized_client", 700016)
	})
}

func TestClientCredentialsErrors(t *testing.T) {
	e := newEnv(t, true)
	a := e.newApp(directory.AppSpec{Roles: []string{permIDP}})
	other := e.newApp(directory.AppSpec{Roles: []string{permIDP}})

	t.Run("wrong secret", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Set("client_secret", "this-is-not-the-secret-0123456789")
		checkAADError(t, e.token(f), http.StatusUnauthorized, "invalid_client", 7000215)
	})
	t.Run("wrong secret over HTTP Basic", func(t *testing.T) {
		e.sent("basic-wrong-secret-0123456789")
		r := e.do(request{method: "POST", path: e.tokenPath(), basic: []string{a.ClientID, "basic-wrong-secret-0123456789"},
			form: url.Values{"grant_type": {"client_credentials"}, "scope": {graphScope}}})
		checkAADError(t, r, http.StatusUnauthorized, "invalid_client", 7000215)
	})
	t.Run("another app's secret", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Set("client_secret", other.secret)
		checkAADError(t, e.token(f), http.StatusUnauthorized, "invalid_client", 7000215)
	})
	t.Run("no secret", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Del("client_secret")
		checkAADError(t, e.token(f), http.StatusUnauthorized, "invalid_client", 7000216)
	})
	t.Run("secret only in the query string", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Del("client_secret")
		r := e.do(request{method: "POST", path: e.tokenPath() + "?client_secret=" + url.QueryEscape(a.secret), form: f})
		checkAADError(t, r, http.StatusUnauthorized, "invalid_client", 7000216)
	})
	t.Run("unknown client id", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Set("client_id", uuid.NewString())
		checkAADError(t, e.token(f), http.StatusBadRequest, "unauthorized_client", 700016)
	})
	t.Run("missing scope", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Del("scope")
		checkAADError(t, e.token(f), http.StatusBadRequest, "invalid_request", 900144)
	})
	t.Run("scope without .default", func(t *testing.T) {
		for _, s := range []string{"User.Read", "https://graph.microsoft.com/User.Read", "openid profile", "https://other.example/.default"} {
			checkAADError(t, e.token(ccForm(a, s)), http.StatusBadRequest, "invalid_scope", 0)
		}
	})
	t.Run("unsupported grant type", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Set("grant_type", "authorization_code")
		checkAADError(t, e.token(f), http.StatusBadRequest, "unsupported_grant_type", 70003)
	})
	t.Run("GET", func(t *testing.T) {
		r := e.do(request{method: "GET", path: e.tokenPath()})
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET token endpoint: %d, want 405; body %s", r.status, r.body)
		}
		// RFC 9110 §15.5.6: a 405 MUST carry Allow (Graph's 405s and
		// /_idgraph/'s do).
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "POST") {
			t.Errorf("GET token endpoint: 405 without an Allow header naming POST (Allow = %q)", allow)
		}
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		f := ccForm(a, graphScope)
		f.Set("padding", strings.Repeat("x", 70<<10))
		r := e.token(f)
		if r.status < 400 || r.status > 499 {
			t.Errorf("oversized body: %d, want 4xx; body %.300s", r.status, r.body)
		}
	})
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t, true)
	a := e.newApp(directory.AppSpec{Scopes: []string{permIDP, permAPIConn}})
	const upn, password = "admin@contoso.example", "correct horse battery staple"
	u := e.newUser(upn, password, roleGlobalAd)

	checkUserToken := func(t *testing.T, tok string, scopes []string) {
		t.Helper()
		p, c := e.verify(t, tok, e.origin())
		if c["idtyp"] != "user" || !p.Delegated {
			t.Errorf("idtyp = %v (delegated %v), want user", c["idtyp"], p.Delegated)
		}
		scp := asString(c["scp"])
		if got := strings.Split(scp, " "); !sameSet(got, scopes) {
			t.Errorf("scp = %q, want %v space-separated", scp, scopes)
		}
		if got := strs(c["wids"]); !slices.Equal(got, []string{roleGlobalAd}) {
			t.Errorf("wids = %v, want [%s]", c["wids"], roleGlobalAd)
		}
		if c["oid"] != u.ID {
			t.Errorf("oid = %v, want the user id %s", c["oid"], u.ID)
		}
		if c["appid"] != a.ClientID || c["azp"] != a.ClientID {
			t.Errorf("appid/azp = %v/%v, want %s", c["appid"], c["azp"], a.ClientID)
		}
		if _, ok := c["roles"]; ok {
			t.Errorf("a user token carries roles %v", c["roles"])
		}
	}

	t.Run(".default", func(t *testing.T) {
		checkUserToken(t, accessToken(t, e.token(pwForm(a, upn, password, graphScope))), []string{permIDP, permAPIConn})
	})
	t.Run(".default with OIDC scopes", func(t *testing.T) {
		checkUserToken(t, accessToken(t, e.token(pwForm(a, upn, password, graphScope+" openid profile offline_access"))), []string{permIDP, permAPIConn})
	})
	t.Run("named scope", func(t *testing.T) {
		checkUserToken(t, accessToken(t, e.token(pwForm(a, upn, password, "https://graph.microsoft.com/"+permIDP))), []string{permIDP})
	})
	t.Run("scope not granted to the app", func(t *testing.T) {
		for _, s := range []string{"https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/" + permIDP + " https://graph.microsoft.com/Directory.ReadWrite.All"} {
			checkAADError(t, e.token(pwForm(a, upn, password, s)), http.StatusBadRequest, "invalid_scope", 0)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		f := pwForm(a, upn, password, graphScope)
		f.Set("client_secret", "not-the-app-secret-0123456789")
		checkAADError(t, e.token(f), http.StatusUnauthorized, "invalid_client", 7000215)
	})

	t.Run("user of another tenant", func(t *testing.T) {
		other, err := e.dir.CreateTenant(context.Background(), graph.Tenant{ID: uuid.NewString(), DisplayName: "other"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.CreateUser(context.Background(), other.ID, directory.UserSpec{UserPrincipalName: "elsewhere@other.example",
			Password: password, DirectoryRoles: []string{roleGlobalAd}}); err != nil {
			t.Fatal(err)
		}
		checkAADError(t, e.token(pwForm(a, "elsewhere@other.example", password, graphScope)), http.StatusBadRequest, "invalid_grant", 50126)
	})

	wrong := e.token(pwForm(a, upn, "wrong password 123", graphScope))
	unknown := e.token(pwForm(a, "nobody@contoso.example", password, graphScope))
	t.Run("wrong password", func(t *testing.T) {
		checkAADError(t, wrong, http.StatusBadRequest, "invalid_grant", 50126)
	})
	t.Run("unknown user answers as a wrong password", func(t *testing.T) {
		um := checkAADError(t, unknown, http.StatusBadRequest, "invalid_grant", 50126)
		wm := wrong.json(t)
		if unknown.status != wrong.status {
			t.Errorf("status: unknown user %d, wrong password %d", unknown.status, wrong.status)
		}
		for _, k := range []string{"error", "error_codes"} {
			if !jsonEqual(um[k], wm[k]) {
				t.Errorf("%s: unknown user %v, wrong password %v", k, um[k], wm[k])
			}
		}
		ud := traceSuffix.ReplaceAllString(asString(um["error_description"]), "")
		wd := traceSuffix.ReplaceAllString(asString(wm["error_description"]), "")
		if ud != wd {
			t.Errorf("error_description differs:\nunknown user:   %s\nwrong password: %s", ud, wd)
		}
	})
	t.Run("unknown user takes as long as a wrong password", func(t *testing.T) {
		// The answers match; the time must too, or a caller enumerates
		// users by timing (a password check is a 100,000-round PBKDF2).
		best := func(user, pw string) time.Duration {
			d := time.Duration(math.MaxInt64)
			for range 3 {
				start := time.Now()
				e.token(pwForm(a, user, pw, graphScope))
				d = min(d, time.Since(start))
			}
			return d
		}
		w := best(upn, "wrong password 123")
		n := best("nobody@contoso.example", "wrong password 123")
		if n < w/3 {
			t.Errorf("unknown user answers in %v, a wrong password in %v: response time reveals which users exist", n, w)
		}
	})
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestInstanceDiscovery(t *testing.T) {
	e := newEnv(t, true)
	for _, host := range []string{"", "localhost:" + e.port()} {
		origin, h := e.origin(), e.host()
		if host != "" {
			origin, h = "https://"+host, host
		}
		q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {origin + "/" + e.tenant.ID + "/oauth2/v2.0/authorize"}}
		r := e.do(request{method: "GET", path: "/common/discovery/instance?" + q.Encode(), host: host})
		if r.status != http.StatusOK {
			t.Fatalf("instance discovery (host %q): %d %s", host, r.status, r.body)
		}
		m := r.json(t)
		if want := origin + "/{tenant}/v2.0/.well-known/openid-configuration"; m["tenant_discovery_endpoint"] != want {
			t.Errorf("tenant_discovery_endpoint = %v, want %s", m["tenant_discovery_endpoint"], want)
		}
		md, _ := m["metadata"].([]any)
		found := false
		for _, x := range md {
			if x, ok := x.(map[string]any); ok && slices.Contains(strs(x["aliases"]), h) {
				found = true
			}
		}
		if !found {
			t.Errorf("metadata %v: no aliases entry with %s", m["metadata"], h)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t, true)
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	t.Run("app token reads providers", func(t *testing.T) {
		a := e.newApp(directory.AppSpec{Roles: []string{permIDP}})
		tok := accessToken(t, e.token(ccForm(a, graphScope+" openid offline_access profile")))
		r := e.do(request{method: "GET", path: "/v1.0/identityProviders", header: bearer(tok)})
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1.0/identityProviders: %d %s", r.status, r.body)
		}
		if _, ok := r.json(t)["value"].([]any); !ok {
			t.Errorf("no value array: %s", r.body)
		}
	})
	t.Run("token from the localhost origin works on 127.0.0.1", func(t *testing.T) {
		a := e.newApp(directory.AppSpec{Roles: []string{permIDP}})
		tok := accessToken(t, e.do(request{method: "POST", path: e.tokenPath(), host: "localhost:" + e.port(), form: ccForm(a, graphScope)}))
		if r := e.do(request{method: "GET", path: "/v1.0/identityProviders", header: bearer(tok)}); r.status != http.StatusOK {
			t.Errorf("GET /v1.0/identityProviders: %d %s", r.status, r.body)
		}
	})
	t.Run("app without roles is denied", func(t *testing.T) {
		a := e.newApp(directory.AppSpec{})
		tok := accessToken(t, e.token(ccForm(a, graphScope)))
		if roles, ok := jwtPart(t, tok, 1)["roles"]; ok && len(strs(roles)) != 0 {
			t.Errorf("roles = %v, want none", roles)
		}
		r := e.do(request{method: "GET", path: "/v1.0/identityProviders", header: bearer(tok)})
		if r.status != http.StatusForbidden {
			t.Fatalf("GET /v1.0/identityProviders without roles: %d, want 403; %s", r.status, r.body)
		}
		if code := r.json(t)["error"].(map[string]any)["code"]; code != "Authorization_RequestDenied" {
			t.Errorf("error.code = %v, want Authorization_RequestDenied", code)
		}
	})
	t.Run("global admin user creates a provider", func(t *testing.T) {
		a := e.newApp(directory.AppSpec{Scopes: []string{permIDP, permAPIConn}})
		e.newUser("ga@contoso.example", "a very good password", roleGlobalAd)
		tok := accessToken(t, e.token(pwForm(a, "ga@contoso.example", "a very good password", graphScope)))
		const providerSecret = "provider-client-secret-9f3a"
		e.sent(providerSecret)
		body, _ := json.Marshal(map[string]any{"name": "Login with Amazon", "type": "Amazon", "clientId": "amazon-client", "clientSecret": providerSecret})
		h := bearer(tok)
		h["Content-Type"] = "application/json"
		r := e.do(request{method: "POST", path: "/v1.0/identityProviders", header: h, body: string(body)})
		if r.status != http.StatusCreated {
			t.Fatalf("POST /v1.0/identityProviders: %d, want 201; %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), providerSecret) {
			t.Errorf("the create response shows the provider secret: %s", r.body)
		}
	})
}

func TestControlAndFallthrough(t *testing.T) {
	e := newEnv(t, true)
	t.Run("ca.pem", func(t *testing.T) {
		r := e.do(request{method: "GET", path: "/_idgraph/ca.pem"})
		if r.status != http.StatusOK || !bytes.Equal(r.body, e.caPEM) {
			t.Fatalf("GET /_idgraph/ca.pem: %d, body equal to caPEM: %v", r.status, bytes.Equal(r.body, e.caPEM))
		}
		if b, _ := pem.Decode(r.body); b == nil || b.Type != "CERTIFICATE" {
			t.Errorf("ca.pem is not a PEM certificate")
		}
	})
	t.Run("health", func(t *testing.T) {
		r := e.do(request{method: "GET", path: "/_idgraph/health"})
		if r.status != http.StatusOK || r.json(t)["status"] != "ok" {
			t.Errorf("GET /_idgraph/health: %d %s", r.status, r.body)
		}
	})
	t.Run("unknown path is Graph's 404", func(t *testing.T) {
		for _, p := range []string{"/foo", "/" + e.tenant.ID + "/oauth2/v2.0/nothing"} {
			r := e.do(request{method: "GET", path: p})
			if r.status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404; %s", p, r.status, r.body)
				continue
			}
			er, _ := r.json(t)["error"].(map[string]any)
			inner, _ := er["innerError"].(map[string]any)
			if er["code"] != "Request_ResourceNotFound" || asString(er["message"]) == "" || asString(inner["request-id"]) == "" {
				t.Errorf("GET %s: not Graph's error envelope: %s", p, r.body)
			}
		}
	})
}

// A confidential app must send its secret before any password is checked; an
// app registered as a public client (SDK username/password credentials) need
// not.
func TestPasswordGrantClientKinds(t *testing.T) {
	e := newEnv(t, true)
	e.newUser("pat@contoso.test", "user-password-1", "62e90394-69f5-4237-9190-012177145e10")
	scopes := []string{"IdentityProvider.ReadWrite.All"}
	confidential := e.newApp(directory.AppSpec{DisplayName: "web", Scopes: scopes})
	public := e.newApp(directory.AppSpec{DisplayName: "cli", Scopes: scopes, PublicClient: true})

	noSecret := func(a app) url.Values {
		f := pwForm(a, "pat@contoso.test", "user-password-1", "https://graph.microsoft.com/.default")
		f.Del("client_secret")
		return f
	}
	checkAADError(t, e.token(noSecret(confidential)), http.StatusUnauthorized, "invalid_client", 7000218)
	accessToken(t, e.token(noSecret(public)))
	// A public client that does send a secret must send the right one.
	wrong := noSecret(public)
	wrong.Set("client_secret", "not-the-secret-of-this-app")
	checkAADError(t, e.token(wrong), http.StatusUnauthorized, "invalid_client", 7000215)
}

// MSAL Go asks the user realm before a username/password sign-in.
func TestUserRealm(t *testing.T) {
	e := newEnv(t, true)
	r := e.do(request{method: "GET", path: "/common/UserRealm/pat@contoso.test?api-version=1.0"})
	if r.status != http.StatusOK {
		t.Fatalf("UserRealm: %d %s", r.status, r.body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got["account_type"] != "Managed" || got["domain_name"] != "contoso.test" {
		t.Errorf("UserRealm = %v, want a managed contoso.test realm", got)
	}
	if r := e.do(request{method: "DELETE", path: "/common/discovery/instance"}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE instance discovery: %d, want 405", r.status)
	}
}
