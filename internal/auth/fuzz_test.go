package auth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idgraph/idgraph/internal/graph"
)

// fzBudget is the time one Verify may take. Real verification of a 32 KiB
// token takes well under a millisecond; the budget leaves room for a loaded
// fuzzing machine while still catching anything super-linear.
const fzBudget = 100 * time.Millisecond

// fzKeys is the KeyFunc under fuzz: the server's real RSA key under testKid,
// nothing else. It records nothing, so a long fuzz run stays flat in memory.
func fzKeys(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if kid == testKid {
		return &serverKey.PublicKey, nil
	}
	return nil, errors.New("unknown kid")
}

// FuzzBearer feeds arbitrary strings to Verifier.Verify. Invariants:
//   - Verify never panics;
//   - every error is a *graph.Error of KindUnauthenticated, code
//     InvalidAuthenticationToken, with a message and a zero principal;
//   - a token is accepted only if it verifies independently under go-jose with
//     the server's key, is in its one canonical compact spelling, and carries
//     the claims the principal reports (so only validly signed seeds pass);
//   - while fuzzing (not in plain go test, which stays free of timing), one
//     Verify takes well under fzBudget.
func FuzzBearer(f *testing.F) {
	v := &Verifier{Keys: fzKeys, Now: func() time.Time { return fixedNow }}
	ctx := context.Background()
	valid, others := fzBearerSeeds(f)
	for _, s := range valid {
		// The accepting branch of the oracle must be reachable, or the
		// fuzz target would only ever check rejections.
		if _, err := v.Verify(ctx, s); err != nil {
			f.Fatalf("valid seed rejected: %v", err)
		}
		f.Add(s)
	}
	for _, s := range others {
		f.Add(s)
	}
	fuzzing := false
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		fuzzing = true
	}
	f.Fuzz(func(t *testing.T, raw string) {
		start := time.Now()
		p, err := v.Verify(ctx, raw)
		if elapsed := time.Since(start); fuzzing && elapsed > fzBudget {
			// Re-measure before blaming the verifier for a scheduler hiccup.
			best := elapsed
			for range 2 {
				start := time.Now()
				v.Verify(ctx, raw)
				best = min(best, time.Since(start))
			}
			if best > fzBudget {
				t.Errorf("Verify of a %d-byte input took %v (best of 3), budget %v; input %s", len(raw), best, fzBudget, fzQuote(raw))
			}
		}
		if err != nil {
			fzCheckRejected(t, raw, p, err)
			return
		}
		fzCheckAccepted(t, raw, p)
	})
}

func fzCheckRejected(t *testing.T, raw string, p graph.Principal, err error) {
	t.Helper()
	ge, ok := err.(*graph.Error)
	if !ok {
		t.Fatalf("error is %T (%v), want *graph.Error; input %s", err, err, fzQuote(raw))
	}
	if ge.Kind != graph.KindUnauthenticated || ge.Code != "InvalidAuthenticationToken" || ge.Message == "" {
		t.Fatalf("error kind %v code %q message %q, want KindUnauthenticated/InvalidAuthenticationToken with a message; input %s",
			ge.Kind, ge.Code, ge.Message, fzQuote(raw))
	}
	if p.TenantID != "" || p.AppID != "" || p.ObjectID != "" || p.Roles != nil || p.Scopes != nil || p.DirectoryRoles != nil || p.Delegated {
		t.Fatalf("rejected token still yields principal %+v; input %s", p, fzQuote(raw))
	}
}

// fzCheckAccepted re-checks an accepted token without the code under test:
// go-jose parses and verifies it against the server's public key, the parsed
// token serialises back to exactly the input, and the claims agree with the
// principal and the verifier's clock and audiences.
func fzCheckAccepted(t *testing.T, raw string, p graph.Principal) {
	t.Helper()
	sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("Verify accepted a token go-jose cannot parse (%v); input %s", err, fzQuote(raw))
	}
	if len(sig.Signatures) != 1 || sig.Signatures[0].Header.KeyID != testKid || sig.Signatures[0].Header.Algorithm != "RS256" {
		t.Fatalf("Verify accepted a token with signatures %+v; input %s", sig.Signatures, fzQuote(raw))
	}
	payload, err := sig.Verify(&serverKey.PublicKey)
	if err != nil {
		t.Fatalf("Verify accepted a token whose signature go-jose rejects under the server key (%v); input %s", err, fzQuote(raw))
	}
	if back, err := sig.CompactSerialize(); err != nil || back != raw {
		t.Fatalf("accepted token is not in canonical compact form: re-serialised %q (%v); input %s", back, err, fzQuote(raw))
	}
	if !verifyRSA(raw) {
		t.Fatalf("accepted token fails a hand-rolled RS256 check; input %s", fzQuote(raw))
	}
	var c struct {
		Exp *float64        `json:"exp"`
		Nbf *float64        `json:"nbf"`
		Aud json.RawMessage `json:"aud"`
		TID string          `json:"tid"`
		Scp string          `json:"scp"`
		Typ string          `json:"idtyp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("accepted token's payload is not a JSON object (%v); input %s", err, fzQuote(raw))
	}
	now := float64(fixedNow.Unix())
	if c.Exp == nil || *c.Exp+Leeway.Seconds() < now {
		t.Fatalf("accepted token without exp or expired (exp %v at %v); input %s", c.Exp, fixedNow, fzQuote(raw))
	}
	if c.Nbf != nil && *c.Nbf-Leeway.Seconds() > now {
		t.Fatalf("accepted token not yet valid (nbf %v at %v); input %s", *c.Nbf, fixedNow, fzQuote(raw))
	}
	var auds []string
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		auds = []string{one}
	} else if err := json.Unmarshal(c.Aud, &auds); err != nil {
		t.Fatalf("accepted token's aud %s is neither a string nor a list; input %s", c.Aud, fzQuote(raw))
	}
	if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(DefaultAudiences, a) }) {
		t.Fatalf("accepted token for audiences %q; input %s", auds, fzQuote(raw))
	}
	if !graph.IsGUID(c.TID) || p.TenantID != strings.ToLower(c.TID) {
		t.Fatalf("principal tenant %q, token tid %q; input %s", p.TenantID, c.TID, fzQuote(raw))
	}
	if p.Delegated != (c.Scp != "" && c.Typ != "app") {
		t.Fatalf("principal delegated=%v for scp %q idtyp %q; input %s", p.Delegated, c.Scp, c.Typ, fzQuote(raw))
	}
}

// verifyRSA checks an RS256 compact JWS with the standard library alone.
func verifyRSA(raw string) bool {
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil {
		return false
	}
	h := sha256.Sum256([]byte(raw[:i]))
	return rsa.VerifyPKCS1v15(&serverKey.PublicKey, crypto.SHA256, h[:], sig) == nil
}

// fzBearerSeeds returns validly signed tokens that Verify accepts, and forged,
// malformed and flooding inputs that it must refuse.
func fzBearerSeeds(f *testing.F) (valid, others []string) {
	app := validToken(f, appClaims())
	user := validToken(f, userClaims())
	h, p, s := parts(f, app)
	noneHeader := b64JSON(f, obj{"alg": "none", "typ": "JWT", "kid": testKid})
	pkixDER, err := x509.MarshalPKIXPublicKey(&serverKey.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	forgedClaims := b64JSON(f, with(appClaims(), "tid", otherTID, "iss", "https://login.microsoftonline.com/"+otherTID+"/v2.0"))
	valid = []string{
		app,
		user,
		validToken(f, with(appClaims(), "aud", []string{"x", DefaultAudiences[2]})),
		validToken(f, with(appClaims(), "iss", "https://sts.windows.net/"+testTID+"/")),
		validToken(f, with(appClaims(), "pad", strings.Repeat("A", 16<<10))),
	}
	others = []string{
		// alg none, with and without a signature segment.
		noneHeader + "." + p + ".",
		noneHeader + "." + p + "." + s,
		jws(f, obj{"alg": "none", "kid": testKid}, appClaims(), nil),
		// Forgeries: other key, unknown kid, HS256 keyed with the public key,
		// a tampered payload, other algorithms, no kid.
		jws(f, serverHeader(), appClaims(), attackerKey),
		jws(f, with(serverHeader(), "kid", "nope"), appClaims(), serverKey),
		jws(f, with(serverHeader(), "kid", nil), appClaims(), serverKey),
		jws(f, with(serverHeader(), "alg", "HS256"), appClaims(), pkixDER),
		jws(f, with(serverHeader(), "alg", "RS512"), appClaims(), serverKey),
		jws(f, with(serverHeader(), "alg", "PS256"), appClaims(), serverKey),
		jws(f, with(serverHeader(), "crit", []string{"exp"}), appClaims(), serverKey),
		h + "." + forgedClaims + "." + s,
		// Claims that fail after the signature checks out.
		validToken(f, with(appClaims(), "exp", fixedNow.Add(-time.Hour).Unix())),
		validToken(f, with(appClaims(), "exp", nil)),
		validToken(f, with(appClaims(), "nbf", fixedNow.Add(time.Hour).Unix())),
		validToken(f, with(appClaims(), "aud", "https://evil.example")),
		validToken(f, with(appClaims(), "tid", "not-a-guid")),
		validToken(f, with(appClaims(), "iss", "https://login.microsoftonline.com/"+testTID+"/v2.0?x")),
		validToken(f, with(appClaims(), "roles", nil, "idtyp", nil)),
		validToken(f, with(appClaims(), "exp", "tomorrow")),
		// Non-canonical spellings of a valid token.
		app + "=",
		" " + app,
		app + " ",
		h + "=." + p + "." + s,
		strings.ToUpper(h[:1]) + h[1:] + "." + p + "." + s[:len(s)-1] + "B",
		h + "." + p + "." + s + ".",
		h + ".." + s,
		"Bearer " + app,
		// JSON serialisation.
		`{"payload":"` + p + `","protected":"` + h + `","signature":"` + s + `"}`,
		// Garbage, floods and long strings.
		"",
		".",
		"..",
		"...",
		"a.b.c",
		"e30.e30.",
		"e30.e30.e30",
		strings.Repeat(".", 4096),
		strings.Repeat(".", MaxTokenSize),
		strings.Repeat(".", MaxTokenSize+1),
		strings.Repeat("A", MaxTokenSize),
		strings.Repeat("A", MaxTokenSize+1),
		strings.Repeat("A", 10000) + "." + strings.Repeat("B", 10000) + "." + strings.Repeat("C", 10000),
		h + "." + strings.Repeat("A", 24000) + "." + s,
		"\x00\xff\xfe.\u2028.\U0001F600",
	}
	return valid, others
}

// fzQuote shows an input in a failure message, shortened if long.
func fzQuote(s string) string {
	const limit = 300
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:limit]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
