package auth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idgraph/idgraph/internal/graph"
)

// GraphAppID is Microsoft Graph's application id, one of its accepted audiences.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// CLIAppID is the client id of tokens minted by the idgraph command line.
const CLIAppID = "2c7e4c3e-6f1b-4d59-9a0c-1d0ca1d1e1a1"

// DefaultAudiences are the aud values Graph accepts.
var DefaultAudiences = []string{"https://graph.microsoft.com", "https://graph.microsoft.com/", GraphAppID}

// Leeway is the clock skew allowed on exp, nbf and iat.
const Leeway = 300 * time.Second

// MaxTokenSize bounds a bearer token; larger ones are refused before parsing.
const MaxTokenSize = 32 << 10

// Claims are the claims idgraph reads and mints besides the registered ones.
type Claims struct {
	TenantID string   `json:"tid,omitempty"`
	ObjectID string   `json:"oid,omitempty"`
	AppID    string   `json:"appid,omitempty"` // v1 tokens
	AZP      string   `json:"azp,omitempty"`   // v2 tokens
	IDType   string   `json:"idtyp,omitempty"` // "app" or "user"
	Roles    []string `json:"roles,omitempty"` // application permissions
	Scope    string   `json:"scp,omitempty"`   // delegated permissions, space-separated
	WIDs     []string `json:"wids,omitempty"`  // directory role template ids
	Version  string   `json:"ver,omitempty"`
}

// SigningKey is a token signing key.
type SigningKey struct {
	ID      string // kid
	Key     *rsa.PrivateKey
	Created time.Time
}

// KeyFunc returns the public key for a kid, or an error if it is unknown.
type KeyFunc func(ctx context.Context, kid string) (*rsa.PublicKey, error)

// Verifier checks bearer tokens. Tokens of the built-in authority are
// verified with Keys; tokens whose iss is a trusted external issuer's, with
// that issuer's keys only. Verified tokens are cached until they expire.
type Verifier struct {
	Keys      KeyFunc
	Audiences []string         // accepted aud values besides DefaultAudiences
	Now       func() time.Time // time.Now when nil
	Issuers   []*ExternalIssuer
	// NoCache turns the verified-token cache off (for tests of the checks).
	NoCache bool

	cache tokenCache
}

// Unauthenticated errors. Their messages are what the caller sees; the cause
// (wrapped) is logged only.
func unauthenticated(msg string, cause error) error {
	return &graph.Error{Kind: graph.KindUnauthenticated, Code: "InvalidAuthenticationToken", Message: msg, Err: cause}
}

const msgInvalid = "Access token validation failure."

// ErrNoToken is returned for a request without a bearer token.
var ErrNoToken = &graph.Error{Kind: graph.KindUnauthenticated, Code: "InvalidAuthenticationToken",
	Message: "Access token is empty. The request carried no 'Authorization: Bearer' token; " +
		"if you use a Graph SDK, add this server's host to the client's allowed hosts."}

// Verify checks raw and returns the principal it names.
func (v *Verifier) Verify(ctx context.Context, raw string) (graph.Principal, error) {
	if len(raw) > MaxTokenSize {
		return graph.Principal{}, unauthenticated(msgInvalid, errors.New("token too large"))
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	// A token seen before was checked whole when it was cached.
	if !v.NoCache {
		if p, ok := v.cache.get(raw, now()); ok {
			return p, nil
		}
	}
	if err := checkCompact(raw); err != nil {
		return graph.Principal{}, unauthenticated(msgInvalid, err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return graph.Principal{}, unauthenticated(msgInvalid, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return graph.Principal{}, unauthenticated(msgInvalid, errors.New("no kid"))
	}
	// The unverified iss and tid only choose whose keys may verify the
	// token; every claim is checked again after the signature.
	var unverified Claims
	var unverifiedStd jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverifiedStd, &unverified); err != nil {
		return graph.Principal{}, unauthenticated(msgInvalid, err)
	}
	keys, issuerOK, extraAuds := v.Keys, issuerMatches, []string(nil)
	for _, e := range v.Issuers {
		if e.Matches(unverifiedStd.Issuer, unverified.TenantID) {
			iss, tid := unverifiedStd.Issuer, unverified.TenantID
			keys = func(ctx context.Context, kid string) (*rsa.PublicKey, error) { return e.KeyFor(ctx, kid, iss, tid) }
			extraAuds = e.Audiences
			issuerOK = func(iss, tid string) bool { return e.Matches(iss, tid) }
			break
		}
	}
	pub, err := keys(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return graph.Principal{}, unauthenticated(msgInvalid, fmt.Errorf("kid %q: %w", tok.Headers[0].KeyID, err))
	}
	var std jwt.Claims
	var c Claims
	if err := tok.Claims(pub, &std, &c); err != nil {
		return graph.Principal{}, unauthenticated(msgInvalid, err)
	}
	if std.Expiry == nil {
		return graph.Principal{}, unauthenticated(msgInvalid, errors.New("no exp"))
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Time: now()}, Leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) || errors.Is(err, jwt.ErrNotValidYet) {
			return graph.Principal{}, unauthenticated("Access token has expired or is not yet valid.", err)
		}
		return graph.Principal{}, unauthenticated(msgInvalid, err)
	}
	accepted := func(a string) bool {
		return slices.Contains(DefaultAudiences, a) || slices.Contains(v.Audiences, a) || slices.Contains(extraAuds, a)
	}
	if !slices.ContainsFunc(std.Audience, accepted) {
		return graph.Principal{}, unauthenticated(msgInvalid, fmt.Errorf("audience %v", std.Audience))
	}
	if !graph.IsGUID(c.TenantID) {
		return graph.Principal{}, unauthenticated(msgInvalid, errors.New("tid is not a GUID"))
	}
	if !issuerOK(std.Issuer, c.TenantID) {
		return graph.Principal{}, unauthenticated(msgInvalid, fmt.Errorf("issuer %q for tenant %s", std.Issuer, c.TenantID))
	}
	p := graph.Principal{
		TenantID:       strings.ToLower(c.TenantID),
		ObjectID:       c.ObjectID,
		AppID:          c.AppID,
		Roles:          c.Roles,
		DirectoryRoles: c.WIDs,
	}
	if p.AppID == "" {
		p.AppID = c.AZP
	}
	if c.Scope != "" && c.IDType != "app" {
		p.Delegated = true
		p.Scopes = strings.Fields(c.Scope)
		p.Roles = nil
	} else if c.Roles == nil && c.IDType != "app" {
		// Neither an app token nor a user token: an ID token or worse.
		return graph.Principal{}, unauthenticated(msgInvalid, errors.New("token carries neither scp nor roles"))
	}
	if !v.NoCache {
		v.cache.put(raw, p, std.Expiry.Time(), now())
	}
	return p, nil
}

// checkCompact requires a compact JWS in canonical form: exactly three
// segments of strict base64url (no padding, no whitespace, no stray trailing
// bits), so that one token has exactly one spelling.
func checkCompact(raw string) error {
	if strings.Count(raw, ".") != 2 {
		return errors.New("not a compact JWS")
	}
	for _, seg := range strings.Split(raw, ".") {
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return errors.New("token segment is not base64url")
			}
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(seg); err != nil {
			return fmt.Errorf("token segment: %w", err)
		}
	}
	return nil
}

// Issuer is the issuer of the built-in authority's tokens for tenant tid,
// requested at origin (scheme and host, no trailing slash).
func Issuer(origin, tid string) string { return strings.TrimRight(origin, "/") + "/" + tid + "/v2.0" }

// issuerMatches accepts the built-in authority's issuers for tenant tid: the
// v2 form {origin}/{tid}/v2.0, where origin is the http(s) origin the token was
// requested from, and the v1 form https://sts.windows.net/{tid}/. The key that
// signed the token is the server's own, so the origin is not a trust decision.
func issuerMatches(iss, tid string) bool {
	if strings.EqualFold(iss, "https://sts.windows.net/"+tid+"/") {
		return true
	}
	if strings.ContainsAny(iss, "?#") {
		return false
	}
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	return strings.EqualFold(u.Path, "/"+tid+"/v2.0")
}

// Mint signs a token with key. std carries iss, aud, iat, nbf, exp.
func Mint(key SigningKey, std jwt.Claims, c Claims) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.Key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.ID))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(std).Claims(c).Serialize()
}

// KeyID derives a kid from a public key (its RFC 7638 thumbprint, base64url).
func KeyID(pub *rsa.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
