package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/httpapi"
	"github.com/idgraph/idgraph/internal/logjson"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// testServer is a real idgraph server over HTTP on a real SQLite store in a
// temporary directory.
type testServer struct {
	t       testing.TB
	URL     string
	DataDir string
	Store   *sqlite.Store
	Dir     *directory.Directory
	Keys    *secret.Keyring
	Tenant  graph.Tenant // the default tenant (kind b2c)
	Logs    *syncBuffer  // everything the server logged, at debug level
	http    *httptest.Server
}

type serverOptions struct {
	profile graph.Profile // server-wide profile; classic when empty
	dataDir string        // reuse a data directory (restart tests)
	key     []byte        // secret key; a fixed test key when nil
	logs    io.Writer     // where the server logs; Logs collects it when nil
	cloud   graph.Cloud   // national cloud; global when empty
	sunset  bool          // answer the deprecated identityProvider API as removed
}

var testKey = bytes.Repeat([]byte{0x42}, secret.KeySize)

func newServer(t *testing.T) *testServer { return newServerWith(t, serverOptions{}) }

func newServerWith(t testing.TB, o serverOptions) *testServer {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	if o.key == nil {
		o.key = testKey
	}
	keys, err := secret.New(o.key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(o.dataDir, "idgraph.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(st, keys, nil)
	tenant, err := dir.Bootstrap(context.Background())
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	var logTo io.Writer = logs
	if o.logs != nil {
		logTo = o.logs
	}
	api := httpapi.New(httpapi.Options{Store: st, Directory: dir, Keys: keys, Profile: o.profile, Cloud: o.cloud, SunsetDeprecated: o.sunset,
		Logger: slog.New(logjson.New(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	hs := httptest.NewServer(api)
	s := &testServer{t: t, URL: hs.URL, DataDir: o.dataDir, Store: st, Dir: dir, Keys: keys, Tenant: tenant, Logs: logs, http: hs}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and closes the store; safe to call twice.
func (s *testServer) Close() {
	if s.http != nil {
		s.http.Close()
		s.Store.Close()
		s.http = nil
	}
}

// newTenant creates a tenant of the given kind (and profile override, if any).
func (s *testServer) newTenant(kind graph.TenantKind, profile graph.Profile) graph.Tenant {
	s.t.Helper()
	t, err := s.Dir.CreateTenant(context.Background(), graph.Tenant{ID: uuid.NewString(), DisplayName: "test", Kind: kind, Profile: profile})
	if err != nil {
		s.t.Fatal(err)
	}
	return t
}

// appToken mints an app-only token for tenant with application permissions.
func (s *testServer) appToken(tenant string, roles ...string) string {
	s.t.Helper()
	return s.mint(directory.MintOptions{Tenant: tenant, Roles: roles})
}

// userToken mints a delegated token for tenant with scopes and directory roles.
func (s *testServer) userToken(tenant string, scopes, wids []string) string {
	s.t.Helper()
	return s.mint(directory.MintOptions{Tenant: tenant, Scopes: scopes, WIDs: wids})
}

func (s *testServer) mint(o directory.MintOptions) string {
	s.t.Helper()
	if o.Issuer == "" {
		o.Issuer = s.URL
	}
	tok, err := s.Dir.Mint(context.Background(), o)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// adminToken may do everything in tenant.
func (s *testServer) adminToken(tenant string) string {
	return s.appToken(tenant, "APIConnectors.ReadWrite.All", "IdentityProvider.ReadWrite.All", "IdentityUserFlow.ReadWrite.All")
}

// response is a finished request.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object (nil for an empty body).
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	if len(r.Body) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// request is one call to the server.
type request struct {
	Method  string
	Path    string // /v1.0/... or /beta/..., escaped as it goes on the wire
	Token   string // bearer token; none when empty
	Body    any    // nil, a string/[]byte sent as is, or a value sent as JSON
	Header  map[string]string
	Gzip    bool // compress the body with Content-Encoding: gzip
	NoCType bool // send no Content-Type
}

// do sends req. A body gets Content-Type: application/json unless NoCType or
// a Content-Type in Header says otherwise.
func (s *testServer) do(req request) response {
	s.t.Helper()
	var body []byte
	switch b := req.Body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			s.t.Fatal(err)
		}
	}
	if req.Gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	var rd io.Reader
	if req.Body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequest(req.Method, s.URL+req.Path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	// Keep the path exactly as written (escapes included).
	hr.URL.Opaque = "//" + hr.URL.Host + strings.SplitN(req.Path, "?", 2)[0]
	if req.Body != nil && !req.NoCType {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.Gzip {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// snapshot returns every stored record of every tenant the server knows, as
// raw documents with versions: equal snapshots mean nothing changed.
func (s *testServer) snapshot() map[string]string {
	s.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	add := func(tenant string, c store.Collection) {
		rs, err := s.Store.List(ctx, tenant, c)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, r := range rs {
			out[tenant+"/"+string(c)+"/"+r.ID] = string(r.Data) + "@" + store.ETag(r.Version)
		}
	}
	for _, c := range []store.Collection{store.Tenants, store.SigningKeys, store.Meta} {
		add(store.Global, c)
	}
	ts, err := s.Dir.Tenants(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, t := range ts {
		for _, c := range []store.Collection{store.APIConnectors, store.IdentityProviders, store.UserFlows, store.Apps, store.Users} {
			add(t.ID, c)
		}
	}
	return out
}

// syncBuffer collects log output from concurrent handlers.
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

// checkError asserts a Graph error envelope with the given status and code.
func checkError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Date            string `json:"date"`
				RequestID       string `json:"request-id"`
				ClientRequestID string `json:"client-request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, r.Body)
	}
	e := env.Error
	if e.Code != code {
		t.Errorf("error code = %q, want %q (message %q)", e.Code, code, e.Message)
	}
	if e.Message == "" {
		t.Errorf("error message is empty: %s", r.Body)
	}
	if _, err := time.Parse("2006-01-02T15:04:05", e.InnerError.Date); err != nil {
		t.Errorf("innerError.date = %q: %v", e.InnerError.Date, err)
	}
	if e.InnerError.RequestID == "" || e.InnerError.RequestID != r.Header.Get("request-id") {
		t.Errorf("innerError.request-id = %q, header request-id = %q", e.InnerError.RequestID, r.Header.Get("request-id"))
	}
	if e.InnerError.ClientRequestID == "" || e.InnerError.ClientRequestID != r.Header.Get("client-request-id") {
		t.Errorf("innerError.client-request-id = %q, header = %q", e.InnerError.ClientRequestID, r.Header.Get("client-request-id"))
	}
}
