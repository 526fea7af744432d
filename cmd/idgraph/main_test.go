package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// lockedBuffer collects output written by concurrent goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envMap is a getenv backed by a map: the tests never read the real
// environment.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// server is `idgraph serve` running in a goroutine.
type server struct {
	base   string
	stdout *lockedBuffer
	stderr *lockedBuffer
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
}

var (
	servingRE = regexp.MustCompile(`serving Microsoft Graph at (https?://\S+)`)
	caRE      = regexp.MustCompile(`CA certificate: (\S+)`)
)

// testRoots trusts the local CA of every server the tests started, so test
// clients verify the servers' certificates as real clients do.
var (
	testRootsMu sync.Mutex
	testRoots   = x509.NewCertPool()
)

func trustCA(t *testing.T, path string) {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the printed CA certificate: %v", err)
	}
	testRootsMu.Lock()
	defer testRootsMu.Unlock()
	if !testRoots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", path)
	}
}

func testClient() *http.Client {
	testRootsMu.Lock()
	defer testRootsMu.Unlock()
	return &http.Client{Timeout: waitTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testRoots.Clone()}}}
}

// startServe runs `idgraph serve args...` and waits until it prints where it
// serves. It fails the test if serve ends first or takes too long.
func startServe(t *testing.T, args []string, env map[string]string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, append([]string{"serve"}, args...), envMap(env), s.stdout, s.stderr) }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.After(waitTimeout)
	for {
		if m := servingRE.FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
			if !strings.HasPrefix(s.base, "https://127.0.0.1:") && !strings.HasPrefix(s.base, "http://127.0.0.1:") {
				t.Fatalf("serving at %s, want a loopback address", s.base)
			}
			if strings.HasPrefix(s.base, "https://") {
				ca := caRE.FindStringSubmatch(s.stdout.String())
				if ca == nil {
					t.Fatalf("HTTPS without a printed CA certificate:\n%s", s.stdout)
				}
				trustCA(t, ca[1])
			}
			return s
		}
		select {
		case err := <-s.done:
			s.ended, s.err = true, err
			t.Fatalf("serve ended before serving: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
		case <-deadline:
			t.Fatalf("serve printed no 'serving Microsoft Graph at' line within %v\nstdout:\n%s\nstderr:\n%s", waitTimeout, s.stdout, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop cancels serve's context and returns what run returned; it fails the
// test if run does not return in time.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	if s.ended {
		return s.err
	}
	s.cancel()
	select {
	case s.err = <-s.done:
	case <-time.After(waitTimeout):
		t.Fatalf("serve did not return within %v of cancellation", waitTimeout)
	}
	s.ended = true
	return s.err
}

// runCmd runs one short command, bounded in time.
func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, envMap(env), &out, &errb) }()
	select {
	case err = <-done:
	case <-time.After(waitTimeout + time.Second):
		t.Fatalf("idgraph %s did not return within %v", strings.Join(args, " "), waitTimeout)
	}
	return out.String(), errb.String(), err
}

// mintToken runs `idgraph token` and returns the token.
func mintToken(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, errOut, err := runCmd(t, env, append([]string{"token"}, args...)...)
	if err != nil {
		t.Fatalf("token %v: %v\n%s", args, err, errOut)
	}
	tok := strings.TrimSpace(out)
	if !strings.HasPrefix(tok, "eyJ") || strings.Count(tok, ".") != 2 {
		t.Fatalf("token printed %q, want a compact JWS", out)
	}
	return tok
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, url, token, body string) httpResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := testClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{res.StatusCode, res.Header, b}
}

// TestServeReferenceExampleAndRestart runs the program as a user would: serve
// on a free loopback port, mint a token with the token command, run the
// deprecated-provider reference example over HTTP, stop gracefully, and find
// the provider again after a restart on the same data directory.
func TestServeReferenceExampleAndRestart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	srv := startServe(t, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, env)
	if !strings.Contains(srv.stdout.String(), "data directory: "+dir) {
		t.Errorf("serve did not print its data directory:\n%s", srv.stdout)
	}

	tok := mintToken(t, env, "--data-dir", dir, "--issuer", srv.base, "--roles", "IdentityProvider.ReadWrite.All")
	r := call(t, "POST", srv.base+"/v1.0/identityProviders", tok,
		`{"name":"Login with Amazon","type":"Amazon","clientId":"56433757-cadd-4135-8431-2c9e3fd68ae8","clientSecret":"000000000000"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST Amazon provider: %d %s", r.status, r.body)
	}
	r = call(t, "PATCH", srv.base+"/v1.0/identityProviders/Amazon-OAuth", tok, `{"clientSecret":"1111111111111"}`)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("PATCH Amazon-OAuth: %d %q, want 204 and no body", r.status, r.body)
	}
	etag := r.header.Get("ETag")

	if err := srv.stop(t); err != nil {
		t.Fatalf("serve returned %v after cancellation, want nil (graceful shutdown)\nstderr:\n%s", err, srv.stderr)
	}
	if !strings.Contains(srv.stdout.String(), "idgraph stopped") {
		t.Errorf("serve did not print 'idgraph stopped':\n%s", srv.stdout)
	}
	for _, leak := range []string{"000000000000", "1111111111111", tok} {
		if strings.Contains(srv.stdout.String()+srv.stderr.String(), leak) {
			t.Errorf("serve output holds a secret or token %q", leak[:12])
		}
	}
	for _, tokenish := range []string{"eyJ", "Bearer "} {
		if strings.Contains(srv.stderr.String(), tokenish) {
			t.Errorf("serve's log holds %q:\n%s", tokenish, srv.stderr)
		}
	}
	if !strings.Contains(srv.stderr.String(), `"msg":"request"`) {
		t.Errorf("serve logged no requests; the log checks would be vacuous:\n%s", srv.stderr)
	}
	if info, err := os.Stat(filepath.Join(dir, "secret.key")); err != nil {
		t.Errorf("no generated secret.key in the data directory: %v", err)
	} else if info.Mode().Perm()&0o077 != 0 {
		t.Errorf("secret.key mode %v, want no group or other access", info.Mode().Perm())
	}

	// Restart on the same directory: the provider and the token survive.
	srv2 := startServe(t, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, env)
	r = call(t, "GET", srv2.base+"/v1.0/identityProviders/Amazon-OAUTH", tok, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET Amazon-OAUTH after restart (token minted before): %d %s", r.status, r.body)
	}
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p["id"] != "Amazon-OAUTH" || p["name"] != "Login with Amazon" || p["type"] != "Amazon" ||
		p["clientId"] != "56433757-cadd-4135-8431-2c9e3fd68ae8" || p["clientSecret"] != "*****" {
		t.Errorf("provider after restart = %v", p)
	}
	if got := r.header.Get("ETag"); got != etag {
		t.Errorf("ETag after restart = %s, want %s (the PATCH's)", got, etag)
	}
	tok2 := mintToken(t, env, "--data-dir", dir, "--issuer", srv2.base, "--roles", "IdentityProvider.Read.All")
	r = call(t, "GET", srv2.base+"/v1.0/identityProviders", tok2, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Amazon-OAUTH") {
		t.Errorf("list after restart: %d %s", r.status, r.body)
	}
	if err := srv2.stop(t); err != nil {
		t.Errorf("second serve returned %v, want nil", err)
	}
}

// TestServeEnvironmentFallback configures serve through IDGRAPH_* variables
// only.
func TestServeEnvironmentFallback(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "from-env")
	env := map[string]string{"IDGRAPH_ADDR": "127.0.0.1:0", "IDGRAPH_DATA_DIR": dir, "IDGRAPH_PROFILE": "current"}
	srv := startServe(t, nil, env)
	out := srv.stdout.String()
	if !strings.Contains(out, "data directory: "+dir) {
		t.Errorf("serve did not use IDGRAPH_DATA_DIR %s:\n%s", dir, out)
	}
	if !strings.Contains(out, "(profile current, cloud global)") {
		t.Errorf("serve did not use IDGRAPH_PROFILE=current:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "idgraph.db")); err != nil {
		t.Errorf("no database in IDGRAPH_DATA_DIR: %v", err)
	}
	// The token command reads IDGRAPH_DATA_DIR and IDGRAPH_ISSUER as well.
	tokEnv := map[string]string{"IDGRAPH_DATA_DIR": dir, "IDGRAPH_ISSUER": srv.base}
	tok := mintToken(t, tokEnv, "--roles", "IdentityProvider.Read.All")
	if r := call(t, "GET", srv.base+"/v1.0/identityProviders", tok, ""); r.status != http.StatusOK {
		t.Errorf("GET with a token minted from the environment: %d %s", r.status, r.body)
	}
	// A flag wins over its variable.
	other := filepath.Join(t.TempDir(), "from-flag")
	if _, _, err := runCmd(t, map[string]string{"IDGRAPH_DATA_DIR": dir}, "tenant", "list", "--data-dir", other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "idgraph.db")); err != nil {
		t.Errorf("--data-dir did not override IDGRAPH_DATA_DIR: %v", err)
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
}

// TestServeCloudAndSunset: --cloud decides the Graph host in responses and
// which APIs exist; --sunset-deprecated-api removes the deprecated API; both
// have environment fallbacks.
func TestServeCloudAndSunset(t *testing.T) {
	dir := t.TempDir()
	srv := startServe(t, []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--cloud", "china", "--sunset-deprecated-api"}, nil)
	if out := srv.stdout.String(); !strings.Contains(out, "cloud china") || !strings.Contains(out, "--sunset-deprecated-api") {
		t.Errorf("banner does not name the cloud and the sunset:\n%s", out)
	}
	env := map[string]string{"IDGRAPH_DATA_DIR": dir, "IDGRAPH_ISSUER": srv.base}
	tok := mintToken(t, env, "--roles", "APIConnectors.ReadWrite.All,IdentityProvider.ReadWrite.All")
	r := call(t, "GET", srv.base+"/v1.0/identity/apiConnectors", tok, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"@odata.context":"https://microsoftgraph.chinacloudapi.cn/v1.0/$metadata#identity/apiConnectors"`) {
		t.Errorf("china cloud list: %d %s", r.status, r.body)
	}
	r = call(t, "GET", srv.base+"/v1.0/identityProviders", tok, "")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "Resource not found for the segment 'identityProviders'.") {
		t.Errorf("sunset deprecated API: %d %s", r.status, r.body)
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}

	srv = startServe(t, nil, map[string]string{"IDGRAPH_ADDR": "127.0.0.1:0", "IDGRAPH_DATA_DIR": dir, "IDGRAPH_CLOUD": "usgov"})
	env["IDGRAPH_ISSUER"] = srv.base
	tok = mintToken(t, env, "--roles", "APIConnectors.ReadWrite.All,IdentityProvider.ReadWrite.All")
	r = call(t, "GET", srv.base+"/v1.0/identity/apiConnectors", tok, "")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"code":"BadRequest"`) {
		t.Errorf("v1.0 apiConnectors in usgov: %d %s", r.status, r.body)
	}
	r = call(t, "GET", srv.base+"/v1.0/identityProviders", tok, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"value":[]`) {
		t.Errorf("deprecated API in usgov: %d %s", r.status, r.body)
	}
	r = call(t, "GET", srv.base+"/beta/identity/apiConnectors", tok, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "https://graph.microsoft.us/beta/$metadata") {
		t.Errorf("beta apiConnectors in usgov: %d %s", r.status, r.body)
	}
	if _, _, err := runCmd(t, nil, "serve", "--data-dir", dir, "--cloud", "mars"); err == nil {
		t.Error("serve accepted --cloud mars")
	}
}

// TestSecretKeyFromEnvironment: IDGRAPH_SECRET_KEY seals the data (no key
// file is generated), and another key later refuses to start.
func TestSecretKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	newKey := func() string {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	key := newKey()
	env := map[string]string{"IDGRAPH_SECRET_KEY": key}
	srv := startServe(t, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, env)
	tok := mintToken(t, env, "--data-dir", dir, "--issuer", srv.base, "--roles", "IdentityProvider.ReadWrite.All")
	r := call(t, "POST", srv.base+"/v1.0/identityProviders", tok,
		`{"name":"Google","type":"Google","clientId":"g","clientSecret":"google-secret-value"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST provider: %d %s", r.status, r.body)
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if strings.Contains(srv.stdout.String()+srv.stderr.String(), key) {
		t.Errorf("serve printed the secret key")
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("secret.key exists (%v): the key from IDGRAPH_SECRET_KEY should have been used", err)
	}

	// The same key starts again.
	if _, errOut, err := runCmd(t, env, "tenant", "list", "--data-dir", dir); err != nil {
		t.Fatalf("tenant list with the original key: %v\n%s", err, errOut)
	}

	// Another key refuses, for serve and the other commands alike.
	wrong := map[string]string{"IDGRAPH_SECRET_KEY": newKey()}
	_, _, err := runCmd(t, wrong, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("serve with another key: err = %v, want a refusal naming the fingerprint", err)
	}
	if _, _, err := runCmd(t, wrong, "token", "--data-dir", dir, "--roles", "IdentityProvider.Read.All"); err == nil {
		t.Errorf("token with another key succeeded")
	}
	// No key at all beside an existing database: refused, and no new key
	// file is made (it would be another key, and would hide the loss).
	if _, _, err := runCmd(t, map[string]string{}, "tenant", "list", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Errorf("tenant list without the key: err = %v, want a refusal saying the key is missing", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a secret.key was created beside an existing database: %v", err)
	}
	// A malformed key is an error, not a silent fallback.
	if _, _, err := runCmd(t, map[string]string{"IDGRAPH_SECRET_KEY": "not-a-key"}, "tenant", "list", "--data-dir", t.TempDir()); err == nil {
		t.Errorf("tenant list with a malformed IDGRAPH_SECRET_KEY succeeded")
	}
}

// TestTenantAndTokenCommands covers tenant create/list and token --tenant.
func TestTenantAndTokenCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	out, errOut, err := runCmd(t, env, "tenant", "create", "--data-dir", dir, "--kind", "workforce", "--name", "Contoso")
	if err != nil {
		t.Fatalf("tenant create: %v\n%s", err, errOut)
	}
	id := strings.TrimSpace(out)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("tenant create printed %q, want a GUID", out)
	}
	out, errOut, err = runCmd(t, env, "tenant", "list", "--data-dir", dir)
	if err != nil {
		t.Fatalf("tenant list: %v\n%s", err, errOut)
	}
	var found, defaults int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			t.Errorf("tenant list line %q: want id, kind, name", line)
			continue
		}
		if f[0] == id {
			found++
			if f[1] != "workforce" || f[2] != "Contoso" {
				t.Errorf("tenant list shows %q, want kind workforce and name Contoso", line)
			}
		}
		if strings.HasSuffix(line, "(default)") {
			defaults++
		}
	}
	if found != 1 || defaults != 1 {
		t.Errorf("tenant list (created %s found %d times, %d defaults):\n%s", id, found, defaults, out)
	}

	// Tokens: for the new tenant, for personal accounts (MSA), not for an
	// unknown tenant.
	mintToken(t, env, "--data-dir", dir, "--tenant", id, "--roles", "IdentityProvider.Read.All")
	mintToken(t, env, "--data-dir", dir, "--tenant", "9188040d-6c67-4c5b-b112-36a304b66dad", "--scp", "IdentityProvider.Read.All")
	if out, _, err := runCmd(t, env, "token", "--data-dir", dir, "--tenant", "3f9e2b7c-1d4a-4e5b-9c8d-7a6b5c4d3e2f", "--roles", "IdentityProvider.Read.All"); err == nil {
		t.Errorf("token for an unknown tenant succeeded: %q", out)
	}

	// Invalid tenant input.
	if _, _, err := runCmd(t, env, "tenant", "create", "--data-dir", dir, "--kind", "bogus"); err == nil {
		t.Errorf("tenant create --kind bogus succeeded")
	}
	if _, _, err := runCmd(t, env, "tenant", "create", "--data-dir", dir, "--profile", "bogus"); err == nil {
		t.Errorf("tenant create --profile bogus succeeded")
	}
	if _, _, err := runCmd(t, env, "tenant", "frobnicate", "--data-dir", dir); err == nil {
		t.Errorf("tenant frobnicate succeeded")
	}
}

// TestCommandLine covers version, unknown commands and invalid flags.
func TestCommandLine(t *testing.T) {
	env := map[string]string{}
	out, _, err := runCmd(t, env, "version")
	if err != nil || !strings.HasPrefix(out, "idgraph ") || strings.TrimSpace(out) == "idgraph" {
		t.Errorf("version: %q, %v", out, err)
	}
	if _, _, err := runCmd(t, env, "frobnicate"); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("unknown command: err = %v, want one naming it", err)
	}
	if _, _, err := runCmd(t, env); err == nil {
		t.Errorf("no command succeeded")
	}
	dir := t.TempDir()
	_, _, err = runCmd(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--profile", "bogus")
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("serve --profile bogus: err = %v, want an error naming the profile", err)
	}
	if _, _, err := runCmd(t, map[string]string{"IDGRAPH_PROFILE": "bogus"}, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir); err == nil {
		t.Errorf("serve with IDGRAPH_PROFILE=bogus succeeded")
	}
	if _, _, err := runCmd(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "loud"); err == nil {
		t.Errorf("serve --log-level loud succeeded")
	}
	if _, _, err := runCmd(t, env, "serve", "--no-such-flag"); err == nil {
		t.Errorf("serve --no-such-flag succeeded")
	}
}

// TestArgumentChecks covers arguments the commands refuse rather than ignore.
func TestArgumentChecks(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "stray"},
		{"token", "--data-dir", dir, "stray"},
		{"token", "--data-dir", dir, "--roles", "IdentityProvider.Read.All", "--scp", "IdentityProvider.Read.All"},
		{"token", "--data-dir", dir, "--roles", "IdentityProvider.Read.All", "--wids", "62e90394-69f5-4237-9190-012177145e10"},
		{"tenant", "list", "--data-dir", dir, "stray"},
	}
	for _, args := range cases {
		if _, _, err := runCmd(t, map[string]string{}, args...); err == nil {
			t.Errorf("idgraph %s succeeded, want an error", strings.Join(args, " "))
		}
	}
}

func TestDisplayAddr(t *testing.T) {
	for _, c := range []struct {
		in   *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 41399}, "127.0.0.1:41399"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 1}, "127.0.0.1:1"},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9443}, "127.0.0.1:9443"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 9443}, "[::1]:9443"},
	} {
		if got := displayAddr(c.in); got != c.want {
			t.Errorf("displayAddr(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
