package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// countingKeys is a KeyFunc over the server key that counts its calls.
type countingKeys struct{ calls atomic.Int64 }

func (c *countingKeys) key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	c.calls.Add(1)
	if kid == testKid {
		return &serverKey.PublicKey, nil
	}
	return nil, errors.New("unknown kid")
}

func TestVerifiedTokenCache(t *testing.T) {
	keys := &countingKeys{}
	now := fixedNow
	v := &Verifier{Keys: keys.key, Now: func() time.Time { return now }}
	tok := validToken(t, appClaims())
	for range 100 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := keys.calls.Load(); n != 1 {
		t.Errorf("100 verifications of one token looked up the key %d times, want 1", n)
	}
	// A failure is never cached as a success, nor cached at all.
	h, p, _ := parts(t, tok)
	forged := h + "." + p + "." + b64JSON(t, obj{"x": 1})
	for range 3 {
		if _, err := v.Verify(context.Background(), forged); err == nil {
			t.Fatal("forged token accepted")
		}
	}
	// Past its expiry the cached token is verified again, and refused.
	now = fixedNow.Add(2 * time.Hour)
	if _, err := v.Verify(context.Background(), tok); err == nil {
		t.Error("expired token accepted from the cache")
	}
}

// issuerServer serves a JWKS whose keys the test swaps.
type issuerServer struct {
	srv  *httptest.Server
	jwks atomic.Value // []byte
	hits atomic.Int64
}

func newIssuerServer(t *testing.T, keys ...*rsa.PrivateKey) *issuerServer {
	s := &issuerServer{}
	s.set(t, keys...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Write(s.jwks.Load().([]byte))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *issuerServer) set(t *testing.T, keys ...*rsa.PrivateKey) {
	var set jose.JSONWebKeySet
	for i, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kidOf(i), Use: "sig", Algorithm: "RS256"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.jwks.Store(b)
}

func kidOf(i int) string { return "ext-" + string(rune('a'+i)) }

func TestExternalIssuer(t *testing.T) {
	keyA, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyB, _ := rsa.GenerateKey(rand.Reader, 2048)
	js := newIssuerServer(t, keyA)
	now := fixedNow
	ext := &ExternalIssuer{Issuer: "https://issuer.test/{tenantid}/v2.0", JWKSURL: js.srv.URL,
		Audiences: []string{"api://custom"}, Now: func() time.Time { return now }}
	v := &Verifier{Keys: (&countingKeys{}).key, Now: func() time.Time { return now }, Issuers: []*ExternalIssuer{ext}, NoCache: true}
	extClaims := func() obj {
		return with(appClaims(), "iss", "https://issuer.test/"+testTID+"/v2.0", "aud", "api://custom")
	}
	sign := func(c obj, kid string, key *rsa.PrivateKey) string {
		return jws(t, obj{"alg": "RS256", "typ": "JWT", "kid": kid}, c, key)
	}
	ctx := context.Background()

	if _, err := v.Verify(ctx, sign(extClaims(), "ext-a", keyA)); err != nil {
		t.Fatalf("token of the trusted issuer: %v", err)
	}
	// Keys are bound to their issuer, both ways.
	if _, err := v.Verify(ctx, sign(appClaims(), "ext-a", keyA)); err == nil {
		t.Error("the external issuer's key verified a token naming the built-in issuer")
	}
	if _, err := v.Verify(ctx, sign(extClaims(), testKid, serverKey)); err == nil {
		t.Error("the built-in key verified a token naming the external issuer")
	}
	// Its audiences count only for its own tokens.
	if _, err := v.Verify(ctx, validToken(t, with(appClaims(), "aud", "api://custom"))); err == nil {
		t.Error("an external issuer's audience was accepted on a built-in token")
	}
	// The template takes the token's tid: another tenant's issuer is not it.
	if _, err := v.Verify(ctx, sign(with(extClaims(), "iss", "https://issuer.test/00000000-0000-0000-0000-000000000001/v2.0"), "ext-a", keyA)); err == nil {
		t.Error("accepted an issuer for another tenant than tid")
	}

	// Rotation: a new kid triggers one refresh and then verifies.
	js.set(t, keyA, keyB)
	hits := js.hits.Load()
	if _, err := v.Verify(ctx, sign(extClaims(), "ext-b", keyB)); err == nil {
		t.Fatal("new kid accepted before the refresh interval passed")
	}
	now = now.Add(RefreshInterval)
	if _, err := v.Verify(ctx, sign(extClaims(), "ext-b", keyB)); err != nil {
		t.Fatalf("token signed with the rotated-in key after the interval: %v", err)
	}
	if n := js.hits.Load() - hits; n != 1 {
		t.Errorf("rotation caused %d key reads, want 1", n)
	}

	// A flood of unknown kids within one interval reads the keys at most once.
	hits = js.hits.Load()
	now = now.Add(RefreshInterval)
	for i := range 1000 {
		v.Verify(ctx, sign(extClaims(), "random-"+string(rune('A'+i%26)), keyA))
	}
	if n := js.hits.Load() - hits; n > 1 {
		t.Errorf("1000 unknown kids caused %d key reads, want at most 1", n)
	}

	// With the key server down, the last good keys keep working.
	js.srv.Close()
	now = now.Add(RefreshInterval)
	v.Verify(ctx, sign(extClaims(), "unknown-kid", keyA)) // forces a failing read
	if _, err := v.Verify(ctx, sign(extClaims(), "ext-a", keyA)); err != nil {
		t.Errorf("cached key stopped working when the key server went down: %v", err)
	}
}

func TestExternalIssuerKeysFromFile(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &key.PublicKey, KeyID: "k1", Use: "sig"},
		{Key: &small.PublicKey, KeyID: "weak", Use: "sig"},
		{Key: &key.PublicKey, KeyID: "enc", Use: "enc"},
	}}
	b, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ext := &ExternalIssuer{Issuer: "https://file.test", JWKSFile: path, Now: func() time.Time { return fixedNow }}
	v := &Verifier{Keys: (&countingKeys{}).key, Now: func() time.Time { return fixedNow }, Issuers: []*ExternalIssuer{ext}}
	c := with(appClaims(), "iss", "https://file.test")
	if _, err := v.Verify(context.Background(), jws(t, obj{"alg": "RS256", "kid": "k1"}, c, key)); err != nil {
		t.Fatalf("token verified by a key from a file: %v", err)
	}
	for _, kid := range []string{"weak", "enc"} {
		k := key
		if kid == "weak" {
			k = small
		}
		if _, err := v.Verify(context.Background(), jws(t, obj{"alg": "RS256", "kid": kid}, c, k)); err == nil {
			t.Errorf("key %q (too small or not for signing) was used", kid)
		}
	}
}

func TestExternalIssuerRefreshRobustness(t *testing.T) {
	keyA, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyB, _ := rsa.GenerateKey(rand.Reader, 2048)
	js := newIssuerServer(t, keyA)
	now := fixedNow
	ext := &ExternalIssuer{Issuer: "https://issuer.test/{tenantid}/v2.0", JWKSURL: js.srv.URL, Now: func() time.Time { return now }}
	v := &Verifier{Keys: (&countingKeys{}).key, Now: func() time.Time { return now }, Issuers: []*ExternalIssuer{ext}, NoCache: true}
	claims := with(appClaims(), "iss", "https://issuer.test/"+testTID+"/v2.0")
	sign := func(kid string, key *rsa.PrivateKey) string {
		return jws(t, obj{"alg": "RS256", "kid": kid}, claims, key)
	}

	// A request that gives up mid-refresh does not spoil the refresh.
	js.set(t, keyA, keyB)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(cancelled, sign("ext-b", keyB)); err != nil {
		t.Errorf("a cancelled request's refresh did not load the keys: %v", err)
	}

	// A key the issuer removed stops verifying once the keys are re-read
	// (at the latest after MaxKeyAge, even with no unknown kid).
	js.set(t, keyB)
	if _, err := v.Verify(context.Background(), sign("ext-a", keyA)); err != nil {
		t.Fatalf("before the keys age: %v", err)
	}
	now = now.Add(MaxKeyAge)
	if _, err := v.Verify(context.Background(), sign("ext-a", keyA)); err == nil {
		t.Error("a key removed from the issuer's set still verifies after MaxKeyAge")
	}
}

func TestExternalIssuerRetriesWhileNoKeys(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	js := newIssuerServer(t, key)
	up := false
	now := fixedNow
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write(js.jwks.Load().([]byte))
	}))
	defer srv.Close()
	ext := &ExternalIssuer{Issuer: "https://down.test", Tenants: []string{testTID}, JWKSURL: srv.URL, Now: func() time.Time { return now }}
	ext.Refresh(context.Background()) // fails at start
	up = true
	v := &Verifier{Keys: (&countingKeys{}).key, Now: func() time.Time { return now }, Issuers: []*ExternalIssuer{ext}, NoCache: true}
	tok := jws(t, obj{"alg": "RS256", "kid": "ext-a"}, with(appClaims(), "iss", "https://down.test"), key)
	now = now.Add(RetryInterval)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("keys not fetched again %v after a failed start: %v", RetryInterval, err)
	}
}

func TestExternalIssuerBindings(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other := "00000000-0000-0000-0000-0000000000b2"
	// A fixed issuer serves only its listed tenants.
	fixed := &ExternalIssuer{Issuer: "https://ci-idp.test", Tenants: []string{testTID}}
	if !fixed.Matches("https://ci-idp.test", testTID) || fixed.Matches("https://ci-idp.test", other) {
		t.Error("a fixed issuer's tenant list is not enforced")
	}
	// A key whose set names tenant A's issuer does not verify tenant B's token.
	set := map[string]any{"keys": []any{jwkWithIssuer(t, key, "k1", "https://issuer.test/"+testTID+"/v2.0")}}
	b, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, b, 0o600)
	ext := &ExternalIssuer{Issuer: "https://issuer.test/{tenantid}/v2.0", JWKSFile: path, Now: func() time.Time { return fixedNow }}
	v := &Verifier{Keys: (&countingKeys{}).key, Now: func() time.Time { return fixedNow }, Issuers: []*ExternalIssuer{ext}, NoCache: true}
	ok := with(appClaims(), "iss", "https://issuer.test/"+testTID+"/v2.0")
	if _, err := v.Verify(context.Background(), jws(t, obj{"alg": "RS256", "kid": "k1"}, ok, key)); err != nil {
		t.Fatalf("token of the key's own tenant: %v", err)
	}
	bad := with(appClaims(), "iss", "https://issuer.test/"+other+"/v2.0", "tid", other)
	if _, err := v.Verify(context.Background(), jws(t, obj{"alg": "RS256", "kid": "k1"}, bad, key)); err == nil {
		t.Error("a key published for tenant A verified a token of tenant B")
	}
}

func jwkWithIssuer(t *testing.T, key *rsa.PrivateKey, kid, issuer string) map[string]any {
	b, err := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	m["issuer"] = issuer
	return m
}
