package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ETags, If-Match and concurrent writers (decision D9): every entity
// response carries a weak ETag W/"n" whose n is the stored version; a stale
// If-Match is refused with 412 and changes nothing; concurrent PATCHes are
// serialised without lost updates.

var ccETagRE = regexp.MustCompile(`^W/"([0-9]+)"$`)

// ccVersion parses an ETag header of the form W/"n".
func ccVersion(t *testing.T, h http.Header) int64 {
	t.Helper()
	tag := h.Get("ETag")
	m := ccETagRE.FindStringSubmatch(tag)
	if m == nil {
		t.Fatalf("ETag = %q, want W/\"n\"", tag)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestETagOnEveryEntityResponse: GET, create, PATCH (200 and 204) and upload
// answer an ETag that increases by one per write.
func TestETagOnEveryEntityResponse(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	want := func(t *testing.T, r response, status int, version int64) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
		}
		if got := ccVersion(t, r.Header); got != version {
			t.Errorf("ETag version %d, want %d", got, version)
		}
	}

	t.Run("connector", func(t *testing.T) {
		r := s.do(request{Method: "POST", Path: "/v1.0/identity/apiConnectors", Token: tok, Body: inConnectorBody()})
		want(t, r, http.StatusCreated, 1)
		id := r.JSON(t)["id"].(string)
		path := "/v1.0/identity/apiConnectors/" + id
		want(t, s.do(request{Method: "GET", Path: path, Token: tok}), http.StatusOK, 1)
		want(t, s.do(request{Method: "GET", Path: "/beta/identity/apiConnectors/" + id, Token: tok}), http.StatusOK, 1)
		want(t, s.do(request{Method: "PATCH", Path: path, Token: tok, Body: map[string]any{"displayName": "v2"}}), http.StatusOK, 2)
		want(t, s.do(request{Method: "PATCH", Path: path, Token: tok, Body: map[string]any{"displayName": "v3"},
			Header: map[string]string{"Prefer": "return=minimal"}}), http.StatusNoContent, 3)
		p := inPFX(t, "etag-upload", "")
		want(t, s.do(request{Method: "POST", Path: path + "/uploadClientCertificate", Token: tok,
			Body: map[string]any{"pkcs12Value": p.Base64, "password": ""}}), http.StatusOK, 4)
		want(t, s.do(request{Method: "GET", Path: path, Token: tok}), http.StatusOK, 4)
		// A rejected write does not bump the version.
		checkError(t, s.do(request{Method: "PATCH", Path: path, Token: tok, Body: map[string]any{"displayName": ""}}),
			http.StatusBadRequest, "Request_BadRequest")
		want(t, s.do(request{Method: "GET", Path: path, Token: tok}), http.StatusOK, 4)
	})

	t.Run("current profile connector", func(t *testing.T) {
		cur := s.newTenant("b2c", "current")
		ctok := s.adminToken(cur.ID)
		r := s.do(request{Method: "POST", Path: "/beta/identity/apiConnectors", Token: ctok, Body: inConnectorBody()})
		want(t, r, http.StatusCreated, 1)
		path := "/beta/identity/apiConnectors/" + r.JSON(t)["id"].(string)
		want(t, s.do(request{Method: "PATCH", Path: path, Token: ctok, Body: map[string]any{"displayName": "v2"}}), http.StatusNoContent, 2)
		want(t, s.do(request{Method: "GET", Path: path, Token: ctok}), http.StatusOK, 2)
	})

	t.Run("deprecated provider", func(t *testing.T) {
		want(t, s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok, Body: inProviderBody("Amazon")}), http.StatusCreated, 1)
		want(t, s.do(request{Method: "GET", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: tok}), http.StatusOK, 1)
		want(t, s.do(request{Method: "PATCH", Path: "/v1.0/identityProviders/Amazon-OAUTH", Token: tok, Body: map[string]any{"name": "v2"}}),
			http.StatusNoContent, 2)
		want(t, s.do(request{Method: "PATCH", Path: "/beta/identityProviders/amazon-oauth", Token: tok, Body: map[string]any{"name": "v3"},
			Header: map[string]string{"Prefer": "return=representation"}}), http.StatusOK, 3)
		want(t, s.do(request{Method: "GET", Path: "/beta/identityProviders('Amazon-OAUTH')", Token: tok}), http.StatusOK, 3)
	})
}

// TestIfMatch: a stale If-Match → 412 PreconditionFailed and no change; the
// current ETag or * → success (decision D9).
func TestIfMatch(t *testing.T) {
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	id := inCreateConnector(t, s, tok, inConnectorBody())
	path := "/v1.0/identity/apiConnectors/" + id
	if r := s.do(request{Method: "POST", Path: "/v1.0/identityProviders", Token: tok, Body: inProviderBody("Amazon")}); r.Status != http.StatusCreated {
		t.Fatalf("create provider: %d %s", r.Status, r.Body)
	}
	ppath := "/v1.0/identityProviders/Amazon-OAUTH"
	ifMatch := func(v string) map[string]string { return map[string]string{"If-Match": v} }
	stale := func(t *testing.T, req request) {
		t.Helper()
		inExpectRejected(t, s, req, http.StatusPreconditionFailed, "PreconditionFailed")
	}
	okStatus := func(t *testing.T, req request, status int) response {
		t.Helper()
		return inExpectStatus(t, s, req, status)
	}

	t.Run("connector", func(t *testing.T) {
		// Version 1 → 2 without If-Match; W/"1" is now stale.
		okStatus(t, request{Method: "PATCH", Path: path, Token: tok, Body: map[string]any{"displayName": "two"}}, http.StatusOK)
		for _, tag := range []string{`W/"1"`, `"1"`, `W/"3"`, `W/"0"`, `"garbage"`, `W/"1", W/"3"`} {
			stale(t, request{Method: "PATCH", Path: path, Token: tok, Header: ifMatch(tag), Body: map[string]any{"displayName": "stale"}})
			stale(t, request{Method: "DELETE", Path: path, Token: tok, Header: ifMatch(tag)})
		}
		p := inPFX(t, "if-match", "")
		stale(t, request{Method: "POST", Path: path + "/uploadClientCertificate", Token: tok, Header: ifMatch(`W/"1"`),
			Body: map[string]any{"pkcs12Value": p.Base64, "password": ""}})
		// The stale PATCH with a new password changed nothing either.
		stale(t, request{Method: "PATCH", Path: path, Token: tok, Header: ifMatch(`W/"1"`),
			Body: map[string]any{"authenticationConfiguration": inBasicAuth("password", "stale-pw")}})

		r := okStatus(t, request{Method: "GET", Path: path, Token: tok}, http.StatusOK)
		if got := r.JSON(t)["displayName"]; got != "two" {
			t.Errorf("displayName = %v after stale writes", got)
		}
		cur := r.Header.Get("ETag")
		r = okStatus(t, request{Method: "PATCH", Path: path, Token: tok, Header: ifMatch(cur), Body: map[string]any{"displayName": "three"}}, http.StatusOK)
		if ccVersion(t, r.Header) != 3 || r.JSON(t)["displayName"] != "three" {
			t.Errorf("PATCH with the current ETag: %v %s", r.Header.Get("ETag"), r.Body)
		}
		// The strong spelling of the current tag, and a list holding it.
		okStatus(t, request{Method: "PATCH", Path: path, Token: tok, Header: ifMatch(`"3"`), Body: map[string]any{"displayName": "four"}}, http.StatusOK)
		okStatus(t, request{Method: "PATCH", Path: path, Token: tok, Header: ifMatch(`W/"1", W/"4"`), Body: map[string]any{"displayName": "five"}}, http.StatusOK)
		r = okStatus(t, request{Method: "PATCH", Path: path, Token: tok, Header: ifMatch("*"), Body: map[string]any{"displayName": "six"}}, http.StatusOK)
		if ccVersion(t, r.Header) != 6 {
			t.Errorf("PATCH If-Match *: ETag %s, want W/\"6\"", r.Header.Get("ETag"))
		}
		okStatus(t, request{Method: "POST", Path: path + "/uploadClientCertificate", Token: tok, Header: ifMatch(`W/"6"`),
			Body: map[string]any{"pkcs12Value": p.Base64, "password": ""}}, http.StatusOK)
		stale(t, request{Method: "DELETE", Path: path, Token: tok, Header: ifMatch(`W/"6"`)})
		okStatus(t, request{Method: "DELETE", Path: path, Token: tok, Header: ifMatch(`W/"7"`)}, http.StatusNoContent)
		checkError(t, s.do(request{Method: "GET", Path: path, Token: tok}), http.StatusNotFound, "Request_ResourceNotFound")
	})

	t.Run("connector delete with If-Match *", func(t *testing.T) {
		id := inCreateConnector(t, s, tok, inConnectorBody())
		okStatus(t, request{Method: "DELETE", Path: "/v1.0/identity/apiConnectors/" + id, Token: tok, Header: ifMatch("*")}, http.StatusNoContent)
	})

	t.Run("deprecated provider", func(t *testing.T) {
		okStatus(t, request{Method: "PATCH", Path: ppath, Token: tok, Body: map[string]any{"name": "two"}}, http.StatusNoContent)
		stale(t, request{Method: "PATCH", Path: ppath, Token: tok, Header: ifMatch(`W/"1"`), Body: map[string]any{"clientSecret": "stale"}})
		stale(t, request{Method: "DELETE", Path: ppath, Token: tok, Header: ifMatch(`W/"1"`)})
		cur := okStatus(t, request{Method: "GET", Path: ppath, Token: tok}, http.StatusOK).Header.Get("ETag")
		r := okStatus(t, request{Method: "PATCH", Path: ppath, Token: tok, Header: ifMatch(cur), Body: map[string]any{"name": "three"}}, http.StatusNoContent)
		if ccVersion(t, r.Header) != 3 {
			t.Errorf("ETag %s, want W/\"3\"", r.Header.Get("ETag"))
		}
		okStatus(t, request{Method: "PATCH", Path: ppath, Token: tok, Header: ifMatch("*"), Body: map[string]any{"name": "four"}}, http.StatusNoContent)
		stale(t, request{Method: "DELETE", Path: ppath, Token: tok, Header: ifMatch(cur)})
		okStatus(t, request{Method: "DELETE", Path: ppath, Token: tok, Header: ifMatch(`W/"4"`)}, http.StatusNoContent)
	})
}

// ccClient sends requests from many goroutines; unlike testServer.do it
// reports failures as errors, since only the test goroutine may stop a test.
type ccClient struct {
	base, token string
	hc          *http.Client
}

func newCCClient(s *testServer, token string) *ccClient {
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second}
	c := &ccClient{base: s.URL, token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	s.t.Cleanup(tr.CloseIdleConnections)
	return c
}

func (c *ccClient) do(method, path string, body any, hdr map[string]string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

func ccParseVersion(tag string) (int64, bool) {
	m := ccETagRE.FindStringSubmatch(tag)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

// TestConcurrentIfMatchPatches: 32 writers × 20 optimistic PATCHes of one
// connector (GET the ETag, PATCH with If-Match, retry on 412) all succeed;
// every success got its own version and the final version is 1 + 640.
func TestConcurrentIfMatchPatches(t *testing.T) {
	const writers, perWriter = 32, 20
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	id := inCreateConnector(t, s, tok, inConnectorBody())
	path := "/v1.0/identity/apiConnectors/" + id
	c := newCCClient(s, tok)

	var (
		mu        sync.Mutex
		versions  []int64
		lastName  = map[int64]string{} // version → displayName written
		retries   atomic.Int64
		fiveXX    atomic.Int64
		wg        sync.WaitGroup
		failures  atomic.Int64
		maxErrors = int64(20)
	)
	fail := func(format string, args ...any) {
		if failures.Add(1) <= maxErrors {
			t.Errorf(format, args...)
		}
	}
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				name := fmt.Sprintf("writer-%02d-%02d", w, i)
				for attempt := 0; ; attempt++ {
					if attempt > 5000 {
						fail("writer %d: PATCH %d did not succeed after %d attempts", w, i, attempt)
						return
					}
					st, h, b, err := c.do("GET", path, nil, nil)
					if err != nil || st != http.StatusOK {
						if st >= 500 {
							fiveXX.Add(1)
						}
						fail("writer %d: GET: %v %d %s", w, err, st, b)
						return
					}
					st, h, b, err = c.do("PATCH", path, map[string]any{"displayName": name}, map[string]string{"If-Match": h.Get("ETag")})
					if err != nil {
						fail("writer %d: PATCH: %v", w, err)
						return
					}
					if st >= 500 {
						fiveXX.Add(1)
					}
					if st == http.StatusPreconditionFailed {
						retries.Add(1)
						continue
					}
					if st != http.StatusOK {
						fail("writer %d: PATCH: %d %s", w, st, b)
						return
					}
					v, ok := ccParseVersion(h.Get("ETag"))
					if !ok {
						fail("writer %d: PATCH ETag %q", w, h.Get("ETag"))
					}
					mu.Lock()
					versions = append(versions, v)
					lastName[v] = name
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d writers × %d optimistic PATCHes: %d retries after 412, %v", writers, perWriter, retries.Load(), time.Since(start))

	if n := fiveXX.Load(); n != 0 {
		t.Errorf("%d responses with status >= 500", n)
	}
	if len(versions) != writers*perWriter {
		t.Errorf("%d PATCHes succeeded, want %d", len(versions), writers*perWriter)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	for i, v := range versions {
		if v != int64(i)+2 {
			t.Errorf("successful PATCH versions are not 2..%d without gaps or repeats: at %d got %d", writers*perWriter+1, i, v)
			break
		}
	}
	r := s.do(request{Method: "GET", Path: path, Token: tok})
	if r.Status != http.StatusOK {
		t.Fatalf("final GET: %d %s", r.Status, r.Body)
	}
	final := ccVersion(t, r.Header)
	if final != 1+writers*perWriter {
		t.Errorf("final ETag version %d, want %d", final, 1+writers*perWriter)
	}
	if got, want := r.JSON(t)["displayName"], lastName[final]; got != want {
		t.Errorf("final displayName %v, want %q (written at version %d)", got, want, final)
	}
}

// TestConcurrentDisjointPatches: two groups of writers without If-Match, one
// patching displayName and one targetUrl, 100 PATCHes each: no update is
// lost, so the final connector holds the last value of each group.
func TestConcurrentDisjointPatches(t *testing.T) {
	const perGroup, writersPerGroup = 100, 4
	s := newServer(t)
	tok := s.adminToken(s.Tenant.ID)
	id := inCreateConnector(t, s, tok, inConnectorBody())
	path := "/v1.0/identity/apiConnectors/" + id
	c := newCCClient(s, tok)

	type write struct {
		version int64
		value   string
	}
	var (
		mu       sync.Mutex
		byGroup  = map[string][]write{}
		fiveXX   atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, prop := range []string{"displayName", "targetUrl"} {
		for w := range writersPerGroup {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perGroup / writersPerGroup {
					value := fmt.Sprintf("%s-%d-%02d", prop, w, i)
					if prop == "targetUrl" {
						value = fmt.Sprintf("https://api.example.com/w%d/%02d", w, i)
					}
					st, h, b, err := c.do("PATCH", path, map[string]any{prop: value}, nil)
					if err != nil {
						fail("%s writer %d: %v", prop, w, err)
						return
					}
					if st >= 500 {
						fiveXX.Add(1)
					}
					if st != http.StatusOK {
						fail("%s writer %d: PATCH %d %s", prop, w, st, b)
						continue
					}
					v, ok := ccParseVersion(h.Get("ETag"))
					if !ok {
						fail("%s writer %d: ETag %q", prop, w, h.Get("ETag"))
						continue
					}
					// The 200 body is the connector as this write left it.
					var got map[string]any
					if json.Unmarshal(b, &got) != nil || got[prop] != value {
						fail("%s writer %d: PATCH body shows %v, want %q", prop, w, got[prop], value)
					}
					mu.Lock()
					byGroup[prop] = append(byGroup[prop], write{v, value})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()

	if n := fiveXX.Load(); n != 0 {
		t.Errorf("%d responses with status >= 500", n)
	}
	var all []int64
	last := map[string]write{}
	for prop, ws := range byGroup {
		if len(ws) != perGroup {
			t.Errorf("%s: %d PATCHes succeeded, want %d", prop, len(ws), perGroup)
		}
		for _, w := range ws {
			all = append(all, w.version)
			if w.version > last[prop].version {
				last[prop] = w
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for i, v := range all {
		if v != int64(i)+2 {
			t.Errorf("PATCH versions are not 2..%d without gaps or repeats: at %d got %d", 2*perGroup+1, i, v)
			break
		}
	}
	r := s.do(request{Method: "GET", Path: path, Token: tok})
	if r.Status != http.StatusOK {
		t.Fatalf("final GET: %d %s", r.Status, r.Body)
	}
	if v := ccVersion(t, r.Header); v != 1+2*perGroup {
		t.Errorf("final ETag version %d, want %d", v, 1+2*perGroup)
	}
	got := r.JSON(t)
	for _, prop := range []string{"displayName", "targetUrl"} {
		if got[prop] != last[prop].value {
			t.Errorf("final %s = %v, want the last write %q (version %d)", prop, got[prop], last[prop].value, last[prop].version)
		}
	}
	if auth, _ := got["authenticationConfiguration"].(map[string]any); auth["username"] != "user" || auth["password"] != "******" {
		t.Errorf("authenticationConfiguration changed: %v", auth)
	}
}
