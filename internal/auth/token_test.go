package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idgraph/idgraph/internal/graph"
)

// The test fixtures: the server's signing key (known to the KeyFunc under
// testKid) and an attacker's keys (known to nobody).
var (
	serverKey   = mustRSA(2048)
	attackerKey = mustRSA(2048)
	attackerEC  = mustEC()
)

const (
	testKid = "server-key-1"
	// testTID is upper case on purpose: the principal must carry it lower-cased.
	testTID   = "6B2F3A2E-0D2C-4C55-9A57-6F3F1F0E2B11"
	otherTID  = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	testAppID = "11111111-2222-4333-8444-555555555555"
	testOID   = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
)

// fixedNow is the verifier's clock in every test (a whole second, so that the
// NumericDate boundaries are exact).
var fixedNow = time.Unix(1_800_000_000, 0).UTC()

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// keySource is the KeyFunc under test: a map, recording every kid asked for.
type keySource struct {
	mu    sync.Mutex
	keys  map[string]*rsa.PublicKey
	asked []string
}

func newKeySource() *keySource {
	return &keySource{keys: map[string]*rsa.PublicKey{testKid: &serverKey.PublicKey}}
}

func (s *keySource) key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, kid)
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("unknown kid")
}

func (s *keySource) kids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func newVerifier(ks *keySource) *Verifier {
	return &Verifier{Keys: ks.key, Now: func() time.Time { return fixedNow }}
}

// --- hand-made JWS -------------------------------------------------------

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

type obj = map[string]any

// signInput signs a JWS signing input with alg and key, by hand.
func signInput(t testing.TB, alg string, key any, input string) string {
	t.Helper()
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		h := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPKCS1v15(nil, key.(*rsa.PrivateKey), crypto.SHA256, h[:])
	case "RS512":
		h := sha512.Sum512([]byte(input))
		sig, err = rsa.SignPKCS1v15(nil, key.(*rsa.PrivateKey), crypto.SHA512, h[:])
	case "PS256":
		h := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h[:],
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		h := sha256.Sum256([]byte(input))
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), h[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		t.Fatalf("unknown alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b64(sig)
}

// jws builds a compact JWS from a header and claims; header["alg"] picks the
// algorithm (RS256 when absent).
func jws(t testing.TB, header, claims obj, key any) string {
	t.Helper()
	alg, _ := header["alg"].(string)
	if alg == "" {
		alg = "RS256"
		header["alg"] = alg
	}
	input := b64JSON(t, header) + "." + b64JSON(t, claims)
	return input + "." + signInput(t, alg, key, input)
}

func serverHeader() obj { return obj{"alg": "RS256", "typ": "JWT", "kid": testKid} }

// appClaims are the claims of a valid app-only token at fixedNow.
func appClaims() obj {
	return obj{
		"iss":   "https://login.microsoftonline.com/" + testTID + "/v2.0",
		"aud":   "https://graph.microsoft.com",
		"tid":   testTID,
		"oid":   testOID,
		"appid": testAppID,
		"idtyp": "app",
		"roles": []string{"IdentityProvider.Read.All", "APIConnectors.ReadWrite.All"},
		"ver":   "2.0",
		"iat":   fixedNow.Add(-time.Minute).Unix(),
		"nbf":   fixedNow.Add(-time.Minute).Unix(),
		"exp":   fixedNow.Add(time.Hour).Unix(),
	}
}

// userClaims are the claims of a valid delegated token at fixedNow.
func userClaims() obj {
	c := appClaims()
	delete(c, "roles")
	delete(c, "appid")
	c["azp"] = testAppID
	c["idtyp"] = "user"
	c["scp"] = "IdentityProvider.Read.All  IdentityProvider.ReadWrite.All openid"
	c["wids"] = []string{RoleExternalIdentityProviderAdministrator, "b79fbf4d-3ef9-4689-8143-76b194e85509"}
	return c
}

func with(c obj, kv ...any) obj {
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

func validToken(t testing.TB, claims obj) string { return jws(t, serverHeader(), claims, serverKey) }

// parts splits a compact token into its three segments.
func parts(t testing.TB, tok string) (h, p, s string) {
	t.Helper()
	ps := strings.Split(tok, ".")
	if len(ps) != 3 {
		t.Fatalf("token has %d parts", len(ps))
	}
	return ps[0], ps[1], ps[2]
}

// assertRejected checks the one way Verify may refuse a token.
func assertRejected(t *testing.T, raw string, p graph.Principal, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("token accepted, want 401; principal %+v", p)
	}
	var ge *graph.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %T %v is not a *graph.Error", err, err)
	}
	if ge.Kind != graph.KindUnauthenticated {
		t.Errorf("kind = %v, want KindUnauthenticated", ge.Kind)
	}
	if ge.Code != "InvalidAuthenticationToken" {
		t.Errorf("code = %q, want InvalidAuthenticationToken", ge.Code)
	}
	if ge.Message == "" {
		t.Error("empty message")
	}
	if !reflect.DeepEqual(p, graph.Principal{}) {
		t.Errorf("rejected token still yields principal %+v", p)
	}
	if raw == "" {
		return
	}
	if strings.Contains(ge.Message, raw) {
		t.Errorf("message contains the token: %q", ge.Message)
	}
	if len(raw) > 2*MaxTokenSize {
		return // floods: the segments are dots
	}
	for _, seg := range strings.Split(raw, ".") {
		if len(seg) >= 16 && (strings.Contains(ge.Message, seg) || strings.Contains(err.Error(), seg)) {
			t.Errorf("error %q contains a token segment", err.Error())
		}
	}
}

// --- accepted tokens ---------------------------------------------------------

func TestVerifyAccepts(t *testing.T) {
	lower := strings.ToLower(testTID)
	ctx := context.Background()
	cases := []struct {
		name  string
		token func(t *testing.T) string
		want  graph.Principal
	}{
		{"app token (appid)", func(t *testing.T) string { return validToken(t, appClaims()) },
			graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID,
				Roles: []string{"IdentityProvider.Read.All", "APIConnectors.ReadWrite.All"}}},
		{"app token, azp only (v2)", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "appid", nil, "azp", testAppID))
		}, graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID,
			Roles: []string{"IdentityProvider.Read.All", "APIConnectors.ReadWrite.All"}}},
		{"app token without idtyp (roles, no scp)", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "idtyp", nil))
		}, graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID,
			Roles: []string{"IdentityProvider.Read.All", "APIConnectors.ReadWrite.All"}}},
		{"user token: scp split, wids", func(t *testing.T) string { return validToken(t, userClaims()) },
			graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID, Delegated: true,
				Scopes:         []string{"IdentityProvider.Read.All", "IdentityProvider.ReadWrite.All", "openid"},
				DirectoryRoles: []string{RoleExternalIdentityProviderAdministrator, "b79fbf4d-3ef9-4689-8143-76b194e85509"}}},
		{"user token carrying roles: roles dropped", func(t *testing.T) string {
			return validToken(t, with(userClaims(), "roles", []string{IdentityProviderReadWriteAll}))
		}, graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID, Delegated: true,
			Scopes:         []string{"IdentityProvider.Read.All", "IdentityProvider.ReadWrite.All", "openid"},
			DirectoryRoles: []string{RoleExternalIdentityProviderAdministrator, "b79fbf4d-3ef9-4689-8143-76b194e85509"}}},
		{"user token without idtyp", func(t *testing.T) string {
			return validToken(t, with(userClaims(), "idtyp", nil, "wids", nil, "scp", "APIConnectors.ReadWrite.All"))
		}, graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID, Delegated: true,
			Scopes: []string{"APIConnectors.ReadWrite.All"}}},
		{"idtyp=app with scp is an app token", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "scp", "IdentityProvider.ReadWrite.All"))
		}, graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID,
			Roles: []string{"IdentityProvider.Read.All", "APIConnectors.ReadWrite.All"}}},
		{"idtyp=app with neither scp nor roles: app without permissions", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "roles", nil))
		}, graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID}},
		{"minted by Mint", func(t *testing.T) string {
			tok, err := Mint(SigningKey{ID: testKid, Key: serverKey},
				jwt.Claims{Issuer: "http://127.0.0.1:9443/" + testTID + "/v2.0", Audience: jwt.Audience{GraphAppID},
					IssuedAt: jwt.NewNumericDate(fixedNow), NotBefore: jwt.NewNumericDate(fixedNow),
					Expiry: jwt.NewNumericDate(fixedNow.Add(time.Hour))},
				Claims{TenantID: testTID, ObjectID: testOID, AppID: testAppID, IDType: "app", Roles: []string{"R"}})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID, Roles: []string{"R"}}},
	}
	// Every accepted audience, issuer form and leeway boundary, on the app token.
	app := graph.Principal{TenantID: lower, ObjectID: testOID, AppID: testAppID,
		Roles: []string{"IdentityProvider.Read.All", "APIConnectors.ReadWrite.All"}}
	variants := []struct {
		name string
		kv   []any
	}{
		{"aud https://graph.microsoft.com", []any{"aud", "https://graph.microsoft.com"}},
		{"aud https://graph.microsoft.com/", []any{"aud", "https://graph.microsoft.com/"}},
		{"aud Graph app id", []any{"aud", GraphAppID}},
		{"aud array containing a valid one", []any{"aud", []string{"api://someone-else", "https://graph.microsoft.com/"}}},
		{"iss v1 sts.windows.net", []any{"iss", "https://sts.windows.net/" + testTID + "/"}},
		{"iss v1 sts.windows.net, lower-case tid", []any{"iss", "https://sts.windows.net/" + lower + "/"}},
		{"iss http origin v2", []any{"iss", "http://127.0.0.1:9443/" + testTID + "/v2.0"}},
		{"iss https origin v2", []any{"iss", "https://idgraph.example.org:8443/" + testTID + "/v2.0"}},
		{"iss v2, tid in other case", []any{"iss", "https://login.microsoftonline.com/" + lower + "/v2.0"}},
		{"exp 299 s in the past", []any{"exp", fixedNow.Add(-299 * time.Second).Unix(), "iat", fixedNow.Add(-time.Hour).Unix(), "nbf", fixedNow.Add(-time.Hour).Unix()}},
		{"nbf 299 s in the future", []any{"nbf", fixedNow.Add(299 * time.Second).Unix(), "iat", nil}},
		{"iat 299 s in the future", []any{"iat", fixedNow.Add(299 * time.Second).Unix(), "nbf", nil}},
		{"no nbf, no iat", []any{"nbf", nil, "iat", nil}},
	}
	for _, v := range variants {
		cases = append(cases, struct {
			name  string
			token func(t *testing.T) string
			want  graph.Principal
		}{v.name, func(t *testing.T) string { return validToken(t, with(appClaims(), v.kv...)) }, app})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks := newKeySource()
			tok := tc.token(t)
			p, err := newVerifier(ks).Verify(ctx, tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(p, tc.want) {
				t.Errorf("principal\n got %+v\nwant %+v", p, tc.want)
			}
			if got := ks.kids(); !slices.Equal(got, []string{testKid}) {
				t.Errorf("KeyFunc asked for %q, want exactly [%s]", got, testKid)
			}
		})
	}
}

// --- rejected tokens -----------------------------------------------------------

func TestVerifyAttackMatrix(t *testing.T) {
	ctx := context.Background()

	// An attacker-controlled "key server": if anything fetched a key named by a
	// token header, the hit count would show it.
	var hits atomic.Int64
	attackerJWK := jose.JSONWebKey{Key: &attackerKey.PublicKey, KeyID: "attacker", Algorithm: "RS256", Use: "sig"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{attackerJWK}})
	}))
	defer srv.Close()
	jwkJSON, err := json.Marshal(attackerJWK)
	if err != nil {
		t.Fatal(err)
	}
	var jwkHeader obj
	if err := json.Unmarshal(jwkJSON, &jwkHeader); err != nil {
		t.Fatal(err)
	}
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject: pkix.Name{CommonName: "attacker"}, NotBefore: fixedNow.Add(-time.Hour), NotAfter: fixedNow.Add(time.Hour)},
		&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"}},
		&attackerKey.PublicKey, attackerKey)
	if err != nil {
		t.Fatal(err)
	}
	pkixDER, err := x509.MarshalPKIXPublicKey(&serverKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1DER := x509.MarshalPKCS1PublicKey(&serverKey.PublicKey)

	hdr := func(kv ...any) obj { return with(serverHeader(), kv...) }
	// tamper re-encodes the payload of a correctly signed token with changed claims.
	tamper := func(t *testing.T, tok string, kv ...any) string {
		h, p, s := parts(t, tok)
		raw, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatal(err)
		}
		var c obj
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		forged := b64JSON(t, with(c, kv...))
		if forged == p {
			t.Fatal("tampering changed nothing")
		}
		return h + "." + forged + "." + s
	}
	bigToken := func(t *testing.T, size int) string { // a validly signed token of about size bytes
		return validToken(t, with(appClaims(), "pad", strings.Repeat("A", size*3/4)))
	}

	cases := []struct {
		name  string
		token func(t *testing.T) string
	}{
		// Algorithms (row 1, T1).
		{"alg none, unsigned", func(t *testing.T) string {
			return jws(t, hdr("alg", "none"), appClaims(), nil)
		}},
		{"alg none, unsigned, no kid", func(t *testing.T) string {
			return jws(t, obj{"alg": "none", "typ": "JWT"}, appClaims(), nil)
		}},
		{"alg None (case variant)", func(t *testing.T) string {
			return b64JSON(t, hdr("alg", "None")) + "." + b64JSON(t, appClaims()) + "."
		}},
		{"alg none keeping the original signature", func(t *testing.T) string {
			_, p, s := parts(t, validToken(t, appClaims()))
			return b64JSON(t, hdr("alg", "none")) + "." + p + "." + s
		}},
		{"HS256 keyed with the RSA public key PKIX DER", func(t *testing.T) string {
			return jws(t, hdr("alg", "HS256"), appClaims(), pkixDER)
		}},
		{"HS256 keyed with the RSA public key PKCS#1 DER", func(t *testing.T) string {
			return jws(t, hdr("alg", "HS256"), appClaims(), pkcs1DER)
		}},
		{"HS256 keyed with the RSA modulus bytes", func(t *testing.T) string {
			return jws(t, hdr("alg", "HS256"), appClaims(), serverKey.N.Bytes())
		}},
		{"RS512 with the server key", func(t *testing.T) string {
			return jws(t, hdr("alg", "RS512"), appClaims(), serverKey)
		}},
		{"PS256 with the server key", func(t *testing.T) string {
			return jws(t, hdr("alg", "PS256"), appClaims(), serverKey)
		}},
		{"ES256 with an attacker EC key", func(t *testing.T) string {
			return jws(t, hdr("alg", "ES256"), appClaims(), attackerEC)
		}},
		{"RS256 header, signature of RS512", func(t *testing.T) string {
			h := b64JSON(t, serverHeader())
			p := b64JSON(t, appClaims())
			return h + "." + p + "." + signInput(t, "RS512", serverKey, h+"."+p)
		}},
		// Signatures.
		{"stripped signature", func(t *testing.T) string {
			h, p, _ := parts(t, validToken(t, appClaims()))
			return h + "." + p + "."
		}},
		{"signature of another token", func(t *testing.T) string {
			h, p, _ := parts(t, validToken(t, appClaims()))
			_, _, s := parts(t, validToken(t, userClaims()))
			return h + "." + p + "." + s
		}},
		{"signature by the attacker key", func(t *testing.T) string {
			return jws(t, serverHeader(), appClaims(), attackerKey)
		}},
		{"tampered payload (roles added)", func(t *testing.T) string {
			return tamper(t, validToken(t, appClaims()), "roles", []string{IdentityProviderReadWriteAll, APIConnectorsReadWriteAll, "Directory.ReadWrite.All"})
		}},
		{"tampered payload (other tenant)", func(t *testing.T) string {
			return tamper(t, validToken(t, appClaims()), "tid", otherTID, "iss", "https://login.microsoftonline.com/"+otherTID+"/v2.0")
		}},
		{"tampered payload (user token given GA)", func(t *testing.T) string {
			return tamper(t, validToken(t, userClaims()), "wids", []string{RoleGlobalAdministrator})
		}},
		{"tampered header (typ changed)", func(t *testing.T) string {
			_, p, s := parts(t, validToken(t, appClaims()))
			return b64JSON(t, hdr("typ", "at+jwt")) + "." + p + "." + s
		}},
		{"non-canonical base64 in the signature (trailing bits)", func(t *testing.T) string {
			tok := validToken(t, appClaims())
			// 256 signature bytes = 342 base64 characters, the last carrying
			// 2 bits of data and 4 padding bits: flip a padding bit.
			last := tok[len(tok)-1]
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			i := strings.IndexByte(alphabet, last)
			return tok[:len(tok)-1] + string(alphabet[i^1])
		}},
		{"padded base64 signature", func(t *testing.T) string { return validToken(t, appClaims()) + "==" }},
		{"trailing newline", func(t *testing.T) string { return validToken(t, appClaims()) + "\n" }},
		{"leading space", func(t *testing.T) string { return " " + validToken(t, appClaims()) }},
		// Key selection (row 1, T2).
		{"unknown kid, signed by its (attacker) key", func(t *testing.T) string {
			return jws(t, hdr("kid", "attacker"), appClaims(), attackerKey)
		}},
		{"unknown kid, signed by the server key", func(t *testing.T) string {
			return jws(t, hdr("kid", "server-key-0"), appClaims(), serverKey)
		}},
		{"missing kid", func(t *testing.T) string { return jws(t, hdr("kid", nil), appClaims(), serverKey) }},
		{"empty kid", func(t *testing.T) string { return jws(t, hdr("kid", ""), appClaims(), serverKey) }},
		{"kid not a string", func(t *testing.T) string { return jws(t, hdr("kid", 1), appClaims(), serverKey) }},
		{"kid ../../../dev/null", func(t *testing.T) string {
			return jws(t, hdr("kid", "../../../dev/null"), appClaims(), serverKey)
		}},
		{"kid ../../../dev/null, HS256 with empty key", func(t *testing.T) string {
			return jws(t, hdr("kid", "../../../dev/null", "alg", "HS256"), appClaims(), []byte{})
		}},
		{"jku to attacker JWKS, attacker kid", func(t *testing.T) string {
			return jws(t, hdr("kid", "attacker", "jku", srv.URL+"/keys"), appClaims(), attackerKey)
		}},
		{"jku to attacker JWKS, server kid", func(t *testing.T) string {
			return jws(t, hdr("jku", srv.URL+"/keys"), appClaims(), attackerKey)
		}},
		{"x5u to attacker certificate", func(t *testing.T) string {
			return jws(t, hdr("kid", "attacker", "x5u", srv.URL+"/cert.pem"), appClaims(), attackerKey)
		}},
		{"embedded jwk, attacker kid", func(t *testing.T) string {
			return jws(t, hdr("kid", "attacker", "jwk", jwkHeader), appClaims(), attackerKey)
		}},
		{"embedded jwk, server kid", func(t *testing.T) string {
			return jws(t, hdr("jwk", jwkHeader), appClaims(), attackerKey)
		}},
		{"embedded jwk, no kid", func(t *testing.T) string {
			return jws(t, hdr("kid", nil, "jwk", jwkHeader), appClaims(), attackerKey)
		}},
		{"x5c attacker certificate, server kid", func(t *testing.T) string {
			return jws(t, hdr("x5c", []string{base64.StdEncoding.EncodeToString(certDER)}), appClaims(), attackerKey)
		}},
		// Shape and size (row 3, T4).
		{"empty", func(t *testing.T) string { return "" }},
		{"garbage", func(t *testing.T) string { return "not a token" }},
		{"two dots only", func(t *testing.T) string { return ".." }},
		{"a.b.c", func(t *testing.T) string { return "a.b.c" }},
		{"two parts", func(t *testing.T) string {
			h, p, _ := parts(t, validToken(t, appClaims()))
			return h + "." + p
		}},
		{"four parts", func(t *testing.T) string { return validToken(t, appClaims()) + ".AAAA" }},
		{"JWE-like 5 parts", func(t *testing.T) string {
			return b64JSON(t, obj{"alg": "RSA-OAEP", "enc": "A256GCM", "zip": "DEF", "kid": testKid}) + ".AAAA.AAAA.AAAA.AAAA"
		}},
		{"JWS JSON serialization", func(t *testing.T) string {
			h, p, s := parts(t, validToken(t, appClaims()))
			b, _ := json.Marshal(obj{"payload": p, "protected": h, "signature": s})
			return string(b)
		}},
		{"header is a JSON array", func(t *testing.T) string {
			return b64([]byte(`[]`)) + "." + b64JSON(t, appClaims()) + ".AAAA"
		}},
		{"payload is a JSON array, validly signed", func(t *testing.T) string {
			input := b64JSON(t, serverHeader()) + "." + b64([]byte(`[1,2]`))
			return input + "." + signInput(t, "RS256", serverKey, input)
		}},
		{"payload is JSON null, validly signed", func(t *testing.T) string {
			input := b64JSON(t, serverHeader()) + "." + b64([]byte(`null`))
			return input + "." + signInput(t, "RS256", serverKey, input)
		}},
		{"payload not JSON, validly signed", func(t *testing.T) string {
			input := b64JSON(t, serverHeader()) + "." + b64([]byte(`hello`))
			return input + "." + signInput(t, "RS256", serverKey, input)
		}},
		{"validly signed token of MaxTokenSize+8 KiB", func(t *testing.T) string {
			tok := bigToken(t, MaxTokenSize+8<<10)
			if len(tok) <= MaxTokenSize {
				t.Fatalf("token is %d bytes", len(tok))
			}
			return tok
		}},
		{"MaxTokenSize+1 dots", func(t *testing.T) string { return strings.Repeat(".", MaxTokenSize+1) }},
		{"MaxTokenSize dots", func(t *testing.T) string { return strings.Repeat(".", MaxTokenSize) }},
		// Audience (row 2, T3).
		{"wrong aud", func(t *testing.T) string { return validToken(t, with(appClaims(), "aud", "api://someone-else")) }},
		{"aud of another resource", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "aud", "https://management.azure.com/"))
		}},
		{"aud array without a valid one", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "aud", []string{"api://a", "api://b"}))
		}},
		{"aud empty array", func(t *testing.T) string { return validToken(t, with(appClaims(), "aud", []string{})) }},
		{"aud empty string", func(t *testing.T) string { return validToken(t, with(appClaims(), "aud", "")) }},
		{"aud missing", func(t *testing.T) string { return validToken(t, with(appClaims(), "aud", nil)) }},
		{"aud a number", func(t *testing.T) string { return validToken(t, with(appClaims(), "aud", 3)) }},
		{"aud graph with path", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "aud", "https://graph.microsoft.com/v1.0"))
		}},
		// Issuer and tenant (row 2, T3).
		{"iss for another tenant than tid", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/"+otherTID+"/v2.0"))
		}},
		{"iss v1 for another tenant", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://sts.windows.net/"+otherTID+"/"))
		}},
		{"iss v1 without trailing slash", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://sts.windows.net/"+testTID))
		}},
		{"iss v1 over http", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "http://sts.windows.net/"+testTID+"/"))
		}},
		{"iss with query", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/"+testTID+"/v2.0?x=1"))
		}},
		{"iss with empty query", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/"+testTID+"/v2.0?"))
		}},
		{"iss with fragment", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/"+testTID+"/v2.0#f"))
		}},
		{"iss with empty fragment", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/"+testTID+"/v2.0#"))
		}},
		{"iss with userinfo", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://user@login.microsoftonline.com/"+testTID+"/v2.0"))
		}},
		{"iss with path prefix", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/x/"+testTID+"/v2.0"))
		}},
		{"iss with trailing slash after v2.0", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/"+testTID+"/v2.0/"))
		}},
		{"iss without host", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https:///"+testTID+"/v2.0"))
		}},
		{"iss relative", func(t *testing.T) string { return validToken(t, with(appClaims(), "iss", "/"+testTID+"/v2.0")) }},
		{"iss ftp scheme", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "ftp://login.microsoftonline.com/"+testTID+"/v2.0"))
		}},
		{"iss templated", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iss", "https://login.microsoftonline.com/{tenantid}/v2.0"))
		}},
		{"iss missing", func(t *testing.T) string { return validToken(t, with(appClaims(), "iss", nil)) }},
		{"tid common (not a GUID)", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "tid", "common", "iss", "https://login.microsoftonline.com/common/v2.0"))
		}},
		{"tid in braces", func(t *testing.T) string {
			tid := "{" + testTID + "}"
			return validToken(t, with(appClaims(), "tid", tid, "iss", "https://login.microsoftonline.com/"+tid+"/v2.0"))
		}},
		{"tid with suffix", func(t *testing.T) string {
			tid := testTID + "0"
			return validToken(t, with(appClaims(), "tid", tid, "iss", "https://login.microsoftonline.com/"+tid+"/v2.0"))
		}},
		{"tid path traversal", func(t *testing.T) string {
			tid := "../" + testTID
			return validToken(t, with(appClaims(), "tid", tid, "iss", "https://login.microsoftonline.com/"+tid+"/v2.0"))
		}},
		{"tid missing", func(t *testing.T) string { return validToken(t, with(appClaims(), "tid", nil)) }},
		{"tid a number", func(t *testing.T) string { return validToken(t, with(appClaims(), "tid", 42)) }},
		// Token type (row 2): neither scp nor roles nor idtyp=app.
		{"ID-token shape (no scp, no roles, no idtyp)", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "roles", nil, "idtyp", nil, "nonce", "n", "name", "Alice"))
		}},
		{"idtyp=user, no scp, no roles", func(t *testing.T) string {
			return validToken(t, with(userClaims(), "scp", nil))
		}},
		{"empty scp, no roles", func(t *testing.T) string {
			return validToken(t, with(userClaims(), "scp", ""))
		}},
		{"idtyp App (case variant), no scp, no roles", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "roles", nil, "idtyp", "App"))
		}},
		// Time (row 2): exp required, leeway 300 s.
		{"exp missing", func(t *testing.T) string { return validToken(t, with(appClaims(), "exp", nil)) }},
		{"exp a string", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "exp", fmt.Sprint(fixedNow.Add(time.Hour).Unix())))
		}},
		{"exp 301 s in the past", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "exp", fixedNow.Add(-301*time.Second).Unix(),
				"iat", fixedNow.Add(-time.Hour).Unix(), "nbf", fixedNow.Add(-time.Hour).Unix()))
		}},
		{"nbf 301 s in the future", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "nbf", fixedNow.Add(301*time.Second).Unix(), "iat", nil))
		}},
		{"iat 301 s in the future", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "iat", fixedNow.Add(301*time.Second).Unix(), "nbf", nil))
		}},
		{"expired long ago", func(t *testing.T) string {
			return validToken(t, with(appClaims(), "exp", fixedNow.Add(-4000*time.Second).Unix(),
				"iat", fixedNow.Add(-8000*time.Second).Unix(), "nbf", fixedNow.Add(-8000*time.Second).Unix()))
		}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks := newKeySource()
			tok := tc.token(t)
			p, err := newVerifier(ks).Verify(ctx, tok)
			assertRejected(t, tok, p, err)
			t.Logf("cause: %v", err)
			for _, kid := range ks.kids() {
				if strings.Contains(kid, srv.URL) || strings.Contains(kid, "://") {
					t.Errorf("KeyFunc asked for %q", kid)
				}
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the attacker key server was contacted %d times; the KeyFunc must be the only key source", n)
	}
}

// An expired token whose payload was also tampered with is refused on its
// signature, not on its expiry (the CVE-2024-51744 shape).
func TestVerifyExpiredAndTampered(t *testing.T) {
	ks := newKeySource()
	tok := validToken(t, with(appClaims(), "exp", fixedNow.Add(-4000*time.Second).Unix(),
		"iat", fixedNow.Add(-8000*time.Second).Unix(), "nbf", fixedNow.Add(-8000*time.Second).Unix()))
	h, p, s := parts(t, tok)
	raw, _ := base64.RawURLEncoding.DecodeString(p)
	forged := strings.Replace(string(raw), `"IdentityProvider.Read.All"`, `"IdentityProvider.ReadWrite.All"`, 1)
	if forged == string(raw) {
		t.Fatal("tampering changed nothing")
	}
	tok = h + "." + b64([]byte(forged)) + "." + s
	pr, err := newVerifier(ks).Verify(context.Background(), tok)
	assertRejected(t, tok, pr, err)
	var ge *graph.Error
	if errors.As(err, &ge) && strings.Contains(strings.ToLower(ge.Message), "expired") {
		t.Errorf("rejected on expiry (%q), want rejection on the signature", ge.Message)
	}
	if errors.Is(err, jwt.ErrExpired) {
		t.Errorf("cause is ErrExpired: %v; the signature must be checked first", err)
	}
}

// The size bound is exact: a validly signed token of exactly MaxTokenSize
// bytes passes; one byte more is refused before parsing.
func TestVerifyMaxTokenSizeBoundary(t *testing.T) {
	for _, size := range []int{MaxTokenSize, MaxTokenSize + 1} {
		tok := tokenOfSize(t, size)
		if len(tok) != size {
			t.Fatalf("built a token of %d bytes, want %d", len(tok), size)
		}
		ks := newKeySource()
		p, err := newVerifier(ks).Verify(context.Background(), tok)
		if size <= MaxTokenSize {
			if err != nil {
				t.Errorf("%d-byte token: %v", size, err)
			}
			continue
		}
		assertRejected(t, tok, p, err)
		if len(ks.kids()) != 0 {
			t.Errorf("%d-byte token reached the KeyFunc", size)
		}
	}
}

// tokenOfSize builds a valid token of exactly size bytes by padding a header
// field and a claim.
func tokenOfSize(t *testing.T, size int) string {
	sigLen := base64.RawURLEncoding.EncodedLen(serverKey.Size())
	for hx := 0; hx < 8; hx++ {
		h := with(serverHeader(), "x", strings.Repeat("h", hx))
		hLen := len(b64JSON(t, h))
		base := len(b64JSON(t, with(appClaims(), "pad", "")))
		est := (size-hLen-2-sigLen-base)*3/4 - 8
		for n := max(est, 0); n < est+24; n++ {
			c := with(appClaims(), "pad", strings.Repeat("p", n))
			if hLen+1+len(b64JSON(t, c))+1+sigLen == size {
				return jws(t, h, c, serverKey)
			}
		}
	}
	t.Fatalf("cannot build a token of %d bytes", size)
	return ""
}

// 100 tokens of 1 MiB of dots are refused cheaply (row 3): before any key
// lookup, allocating almost nothing. (Speed is a benchmark's business.)
func TestVerifyDotFlood(t *testing.T) {
	const n, size = 100, 1 << 20
	buf := strings.Repeat(".", size+n)
	ks := newKeySource()
	v := newVerifier(ks)
	ctx := context.Background()
	var errs [n]error
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		_, errs[i] = v.Verify(ctx, buf[i:i+size])
	}
	runtime.ReadMemStats(&after)
	for i, err := range errs {
		assertRejected(t, buf[i:i+size], graph.Principal{}, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("100 × 1 MiB dot floods allocated %d bytes, want < 1 MiB", alloc)
	}
	if len(ks.kids()) != 0 {
		t.Errorf("floods reached the KeyFunc: %d calls", len(ks.kids()))
	}

	// At the size limit the dot count refuses them too.
	flood := strings.Repeat(".", MaxTokenSize)
	for range n {
		p, err := v.Verify(ctx, flood)
		assertRejected(t, flood, p, err)
	}
	if len(ks.kids()) != 0 {
		t.Errorf("floods reached the KeyFunc: %d calls", len(ks.kids()))
	}
}

// The spec (D2) accepts the three Graph audiences "plus configured ones":
// configuring an extra audience must not drop the defaults.
func TestVerifyConfiguredAudiencesAddToDefaults(t *testing.T) {
	ks := newKeySource()
	v := newVerifier(ks)
	v.Audiences = []string{"api://idgraph-custom"}
	for _, aud := range append([]string{"api://idgraph-custom"}, DefaultAudiences...) {
		tok := validToken(t, with(appClaims(), "aud", aud))
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("aud %q with Audiences=%q: %v", aud, v.Audiences, err)
		}
	}
	tok := validToken(t, with(appClaims(), "aud", "api://other"))
	p, err := v.Verify(context.Background(), tok)
	assertRejected(t, tok, p, err)
}

// Without Now the verifier uses the real clock.
func TestVerifyDefaultClock(t *testing.T) {
	ks := newKeySource()
	v := &Verifier{Keys: ks.key}
	now := time.Now()
	ok := validToken(t, with(appClaims(), "iat", now.Unix(), "nbf", now.Unix(), "exp", now.Add(time.Hour).Unix()))
	if _, err := v.Verify(context.Background(), ok); err != nil {
		t.Errorf("fresh token: %v", err)
	}
	// appClaims expire at fixedNow+1h, far from the real clock either way.
	old := validToken(t, with(appClaims(), "iat", now.Add(-3*time.Hour).Unix(), "nbf", now.Add(-3*time.Hour).Unix(),
		"exp", now.Add(-2*time.Hour).Unix()))
	p, err := v.Verify(context.Background(), old)
	assertRejected(t, old, p, err)
}

func TestKeyIDIsThumbprint(t *testing.T) {
	kid, err := KeyID(&serverKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := (&jose.JSONWebKey{Key: &serverKey.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if kid != base64.RawURLEncoding.EncodeToString(sum) || len(kid) != 43 {
		t.Errorf("KeyID = %q", kid)
	}
	other, _ := KeyID(&attackerKey.PublicKey)
	if other == kid {
		t.Error("two keys share a kid")
	}
}
