package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/directory"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// rsAcked is what the server acknowledged about one resource: the ETag of the
// last successful write and the body a GET returned afterwards.
type rsAcked struct {
	token string
	etag  string
	body  []byte
}

// TestRestartKeepsAcknowledgedWrites makes every kind of write, closes the
// server, starts a new one on the same data directory and key, and checks
// that every acknowledged state reads back the same (values and ETags), that
// deleted resources stay deleted, that tokens minted before the restart still
// verify, and that the default tenant is the same (decision D9).
func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	s1 := newServer(t)
	tok := s1.adminToken(s1.Tenant.ID)
	userTok := s1.userToken(s1.Tenant.ID, []string{"IdentityProvider.ReadWrite.All"}, []string{"62e90394-69f5-4237-9190-012177145e10"})

	// A second tenant: workforce kind, current profile.
	t2 := s1.newTenant(graph.TenantWorkforce, graph.ProfileCurrent)
	tok2 := s1.adminToken(t2.ID)

	state := map[string]*rsAcked{} // GET path → acknowledged state
	var gone []string              // GET paths of deleted resources, with their token
	goneTok := map[string]string{}

	mustStatus := func(label string, r response, want int) {
		t.Helper()
		if r.Status != want {
			t.Fatalf("%s: status %d, want %d; body %s", label, r.Status, want, r.Body)
		}
	}
	ack := func(path, token string, r response) {
		t.Helper()
		etag := r.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: acknowledged write without an ETag (status %d)", path, r.Status)
		}
		state[path] = &rsAcked{token: token, etag: etag}
	}
	createConnector := func(version, token, name, target string) (string, string) {
		t.Helper()
		r := s1.do(request{Method: "POST", Path: "/" + version + "/identity/apiConnectors", Token: token, Body: map[string]any{
			"displayName": name, "targetUrl": target, "authenticationConfiguration": canBasicAuth("user-"+name, "pw-"+name)}})
		mustStatus("create "+name, r, http.StatusCreated)
		id := r.JSON(t)["id"].(string)
		path := "/" + version + "/identity/apiConnectors/" + id
		ack(path, token, r)
		return id, path
	}

	// A: created, never changed.
	_, pathA := createConnector("v1.0", tok, "A", "https://a.example.com")

	// B: created on beta, PATCHed twice (classic default 200, then 204).
	idB, pathB := createConnector("beta", tok, "B", "https://b.example.com")
	r := s1.do(request{Method: "PATCH", Path: pathB, Token: tok, Body: map[string]any{"displayName": "B renamed",
		"authenticationConfiguration": canBasicAuth("user-B2", "pw-B2")}})
	mustStatus("patch B", r, http.StatusOK)
	ack(pathB, tok, r)
	r = s1.do(request{Method: "PATCH", Path: "/v1.0/identity/apiConnectors/" + idB, Token: tok,
		Header: map[string]string{"Prefer": "return=minimal", "If-Match": r.Header.Get("ETag")},
		Body:   map[string]any{"targetUrl": "https://b2.example.com"}})
	mustStatus("patch B minimal", r, http.StatusNoContent)
	ack(pathB, tok, r)

	// C: basic, PATCHed to a certificate, then another uploaded.
	idC, pathC := createConnector("v1.0", tok, "C", "https://c.example.com")
	pfx1, err := certtest.Valid("restart one", "pw1")
	if err != nil {
		t.Fatal(err)
	}
	pfx2, err := certtest.Valid("restart two", "")
	if err != nil {
		t.Fatal(err)
	}
	r = s1.do(request{Method: "PATCH", Path: pathC, Token: tok, Body: map[string]any{"authenticationConfiguration": canPKCS12Auth(pfx1)}})
	mustStatus("patch C to certificate", r, http.StatusOK)
	ack(pathC, tok, r)
	r = s1.do(request{Method: "POST", Path: "/beta/identity/apiConnectors/" + idC + "/uploadClientCertificate", Token: tok,
		Body: map[string]any{"pkcs12Value": pfx2.Base64, "password": pfx2.Password}})
	mustStatus("upload C", r, http.StatusOK)
	ack(pathC, tok, r)

	// D: created then deleted.
	_, pathD := createConnector("v1.0", tok, "D", "https://d.example.com")
	r = s1.do(request{Method: "DELETE", Path: pathD, Token: tok})
	mustStatus("delete D", r, http.StatusNoContent)
	delete(state, pathD)
	gone = append(gone, pathD)
	goneTok[pathD] = tok

	// E: a PATCH refused with a stale If-Match is not acknowledged.
	_, pathE := createConnector("beta", tok, "E", "https://e.example.com")
	staleE := state[pathE].etag
	r = s1.do(request{Method: "PATCH", Path: pathE, Token: tok, Body: map[string]any{"displayName": "E renamed"}})
	mustStatus("patch E", r, http.StatusOK)
	ack(pathE, tok, r)
	r = s1.do(request{Method: "PATCH", Path: pathE, Token: tok, Header: map[string]string{"If-Match": staleE},
		Body: map[string]any{"displayName": "E must not be stored"}})
	mustStatus("stale patch E", r, http.StatusPreconditionFailed)

	// Deprecated providers: Amazon (PATCHed by two paths), Google, Facebook (deleted).
	r = s1.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok, Body: map[string]string{
		"name": "Login with Amazon", "type": "Amazon", "clientId": "56433757-cadd-4135-8431-2c9e3fd68ae8", "clientSecret": "000000000000"}})
	mustStatus("create Amazon", r, http.StatusCreated)
	pathAmazon := "/v1.0/identityProviders/Amazon-OAUTH"
	ack(pathAmazon, tok, r)
	r = s1.do(request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAuth", Token: tok, Body: `{"clientSecret": "1111111111111"}`})
	mustStatus("patch Amazon", r, http.StatusNoContent)
	ack(pathAmazon, tok, r)
	r = s1.do(request{Method: "PATCH", Path: "/beta/identityProviders/Amazon-OAUTH", Token: userTok,
		Header: map[string]string{"Prefer": "return=representation"}, Body: map[string]string{"name": "Amazon renamed", "clientId": "client-2"}})
	mustStatus("patch Amazon (beta, delegated)", r, http.StatusOK)
	ack(pathAmazon, tok, r)
	r = s1.do(request{Method: "POST", Path: "/beta/identityProviders", Token: tok, Body: map[string]string{
		"name": "Google", "type": "Google", "clientId": "g", "clientSecret": "gsecret"}})
	mustStatus("create Google", r, http.StatusCreated)
	ack("/beta/identityProviders/Google-OAUTH", tok, r)
	r = s1.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok, Body: map[string]string{
		"name": "Facebook", "type": "Facebook", "clientId": "f", "clientSecret": "fsecret"}})
	mustStatus("create Facebook", r, http.StatusCreated)
	r = s1.do(request{Method: "DELETE", Path: "/v1.0/identityProviders/Facebook-OAUTH", Token: tok})
	mustStatus("delete Facebook", r, http.StatusNoContent)
	gone = append(gone, "/v1.0/identityProviders/Facebook-OAUTH")
	goneTok["/v1.0/identityProviders/Facebook-OAUTH"] = tok

	// The second tenant: a provider and a connector (current profile: 204 on PATCH).
	r = s1.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok2, Body: map[string]string{
		"name": "Google (workforce)", "type": "Google", "clientId": "wg", "clientSecret": "wgsecret"}})
	mustStatus("create Google in tenant 2", r, http.StatusCreated)
	ack("/v1.0/identityProviders/Google-OAUTH#t2", tok2, r)
	_, pathW := createConnector("v1.0", tok2, "W", "https://w.example.com")
	r = s1.do(request{Method: "PATCH", Path: pathW, Token: tok2, Body: map[string]any{"displayName": "W renamed"}})
	mustStatus("patch W", r, http.StatusNoContent)
	ack(pathW, tok2, r)

	// Concurrent creates (group commit): every acknowledged one must survive.
	var mu sync.Mutex
	var wg sync.WaitGroup
	var concErrs []string
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"displayName": fmt.Sprintf("concurrent %d", i), "targetUrl": "https://x.example.com",
				"authenticationConfiguration": canBasicAuth("u", fmt.Sprintf("p%d", i))})
			req, _ := http.NewRequest("POST", s1.URL+"/v1.0/identity/apiConnectors", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				concErrs = append(concErrs, err.Error())
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusCreated {
				concErrs = append(concErrs, fmt.Sprintf("status %d: %s", res.StatusCode, b))
				return
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				concErrs = append(concErrs, err.Error())
				return
			}
			path := "/v1.0/identity/apiConnectors/" + m["id"].(string)
			state[path] = &rsAcked{token: tok, etag: res.Header.Get("ETag")}
		}()
	}
	wg.Wait()
	if len(concErrs) > 0 {
		t.Errorf("concurrent creates failed: %v", concErrs)
	}

	// What the first server shows, just before it stops.
	get := func(s *testServer, path, token string) response {
		t.Helper()
		p, _, _ := strings.Cut(path, "#")
		return s.do(request{Method: "GET", Path: p, Token: token})
	}
	for path, a := range state {
		r := get(s1, path, a.token)
		mustStatus("GET before restart "+path, r, http.StatusOK)
		if got := r.Header.Get("ETag"); got != a.etag {
			t.Errorf("before restart: %s ETag %s, but the last write acknowledged %s", path, got, a.etag)
		}
		a.body = r.Body
	}
	lists := map[string]string{
		"/v1.0/identity/apiConnectors": tok, "/beta/identity/apiConnectors": tok,
		"/v1.0/identityProviders": tok, "/beta/identityProviders": tok,
		"/v1.0/identity/apiConnectors#t2": tok2, "/beta/identityProviders#t2": tok2,
	}
	listBodies := map[string][]byte{}
	for path, token := range lists {
		r := get(s1, path, token)
		mustStatus("list before restart "+path, r, http.StatusOK)
		listBodies[path] = r.Body
	}
	snap := s1.snapshot()
	kids1 := rsSigningKeyIDs(t, s1.Dir)
	fingerprint := s1.Keys.Fingerprint()
	s1.Close()

	// Restart on the same directory with the same key.
	s2 := newServerWith(t, serverOptions{dataDir: s1.DataDir})
	if s2.Tenant.ID != s1.Tenant.ID || s2.Tenant.Kind != s1.Tenant.Kind {
		t.Errorf("default tenant after restart = %+v, want %+v", s2.Tenant, s1.Tenant)
	}
	if diff := cmp.Diff(snap, s2.snapshot()); diff != "" {
		t.Errorf("stored records changed across the restart (-before +after):\n%s", diff)
	}
	if kids2 := rsSigningKeyIDs(t, s2.Dir); !cmp.Equal(kids1, kids2) {
		t.Errorf("signing keys after restart = %v, want %v (no new key on a bootstrapped directory)", kids2, kids1)
	}
	if got, err := s2.Dir.Tenant(context.Background(), t2.ID); err != nil || got.Kind != graph.TenantWorkforce || got.Profile != graph.ProfileCurrent {
		t.Errorf("tenant 2 after restart = %+v, %v", got, err)
	}

	// Tokens minted before the restart still verify, and every acknowledged
	// state reads back byte for byte with its ETag.
	for path, a := range state {
		r := get(s2, path, a.token)
		if r.Status != http.StatusOK {
			t.Errorf("after restart: GET %s = %d %s", path, r.Status, r.Body)
			continue
		}
		if got := r.Header.Get("ETag"); got != a.etag {
			t.Errorf("after restart: %s ETag %s, want %s", path, got, a.etag)
		}
		if !bytes.Equal(r.Body, a.body) {
			t.Errorf("after restart: %s body\n%s\nwant\n%s", path, r.Body, a.body)
		}
	}
	for path, token := range lists {
		r := get(s2, path, token)
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, listBodies[path]) {
			t.Errorf("after restart: list %s = %d\n%s\nwant\n%s", path, r.Status, r.Body, listBodies[path])
		}
	}
	for _, path := range gone {
		if r := get(s2, path, goneTok[path]); r.Status != http.StatusNotFound {
			t.Errorf("after restart: deleted %s = %d %s, want 404", path, r.Status, r.Body)
		}
	}
	// The refused write stayed refused.
	if r := get(s2, pathE, tok); strings.Contains(string(r.Body), "must not be stored") {
		t.Errorf("a PATCH answered 412 was stored: %s", r.Body)
	}
	// The delegated token minted before the restart verifies as well.
	if r := get(s2, pathAmazon, userTok); r.Status != http.StatusOK {
		t.Errorf("delegated token minted before the restart: %d %s", r.Status, r.Body)
	}
	// Connector A's ETag from before the restart still guards writes.
	r = s2.do(request{Method: "PATCH", Path: pathA, Token: tok, Header: map[string]string{"If-Match": state[pathA].etag},
		Body: map[string]any{"displayName": "A after restart"}})
	if r.Status != http.StatusOK {
		t.Errorf("PATCH with the pre-restart ETag: %d %s", r.Status, r.Body)
	} else if r.Header.Get("ETag") == state[pathA].etag {
		t.Errorf("PATCH after restart kept ETag %s", state[pathA].etag)
	}
	// A new token from the restarted server works too.
	if r := get(s2, pathA, s2.adminToken(s2.Tenant.ID)); r.Status != http.StatusOK {
		t.Errorf("token minted after the restart: %d %s", r.Status, r.Body)
	}
	snap2 := s2.snapshot()
	s2.Close()

	// Another secret key on the same data: Bootstrap refuses, naming both
	// fingerprints, and changes nothing.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(s1.DataDir, "idgraph.db"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := secret.New(bytes.Repeat([]byte{0x17}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	_, err = directory.New(st, other, nil).Bootstrap(ctx)
	st.Close()
	if err == nil {
		t.Fatal("Bootstrap with another secret key succeeded; want a refusal")
	}
	if msg := err.Error(); !strings.Contains(msg, "fingerprint") || !strings.Contains(msg, other.Fingerprint()) || !strings.Contains(msg, fingerprint) {
		t.Errorf("Bootstrap error = %q, want it to name the fingerprints (given %s, data %s)", msg, other.Fingerprint(), fingerprint)
	}
	s3 := newServerWith(t, serverOptions{dataDir: s1.DataDir})
	if diff := cmp.Diff(snap2, s3.snapshot()); diff != "" {
		t.Errorf("the refused Bootstrap changed the data (-before +after):\n%s", diff)
	}
	if r := get(s3, pathA, tok); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "A after restart") {
		t.Errorf("after the refused key and another restart: %d %s", r.Status, r.Body)
	}
}

func rsSigningKeyIDs(t *testing.T, d *directory.Directory) []string {
	t.Helper()
	ks, err := d.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}
