package auth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ExternalIssuer is another token issuer the server trusts, with its own
// keys and audiences. Its keys are read from a JWKS URL or file; an unknown
// kid re-reads them at most once per RefreshInterval, and a failed read keeps
// the last good keys.
type ExternalIssuer struct {
	// Issuer is the exact iss value; "{tenantid}" in it stands for the
	// token's tid, as in Entra's multi-tenant issuer template.
	Issuer    string
	JWKSURL   string   // https URL of the issuer's keys
	JWKSFile  string   // or a local file with them
	Audiences []string // accepted besides Graph's own
	// Tenants limits an issuer without "{tenantid}" to these tenant ids
	// (its tokens' tid must be one of them).
	Tenants []string
	Client  *http.Client // for JWKSURL; a 5-second client when nil
	Now     func() time.Time

	mu          sync.Mutex
	fetchMu     sync.Mutex
	keys        map[string]issuerKey
	lastFetch   time.Time
	lastSuccess time.Time
	fetches     int
}

// issuerKey is one key of an issuer's set, with the issuer the set names
// for it (Entra's keys carry one), if any.
type issuerKey struct {
	pub    *rsa.PublicKey
	issuer string
}

// Key refresh timing: an unknown kid re-reads the keys at most once per
// RefreshInterval (every RetryInterval while none could be read yet), and
// the keys are re-read every MaxKeyAge anyway, so keys the issuer removed
// stop verifying.
const (
	RefreshInterval = 5 * time.Minute
	RetryInterval   = 10 * time.Second
	MaxKeyAge       = 12 * time.Hour
)

// maxJWKSSize bounds a fetched key set.
const maxJWKSSize = 256 << 10

// Matches reports whether iss is this issuer's, for a token of tenant tid.
func (e *ExternalIssuer) Matches(iss, tid string) bool {
	if !templateMatches(e.Issuer, iss, tid) {
		return false
	}
	if !strings.Contains(e.Issuer, "{tenantid}") && len(e.Tenants) > 0 {
		return slices.ContainsFunc(e.Tenants, func(t string) bool { return strings.EqualFold(t, tid) })
	}
	return true
}

func templateMatches(template, iss, tid string) bool {
	if strings.Contains(template, "{tenantid}") {
		if tid == "" {
			return false
		}
		template = strings.ReplaceAll(template, "{tenantid}", tid)
	}
	return iss == template
}

// KeyFor returns the key for kid to verify a token naming iss and tid. A key
// whose set names an issuer serves only tokens of that issuer.
func (e *ExternalIssuer) KeyFor(ctx context.Context, kid, iss, tid string) (*rsa.PublicKey, error) {
	k, err := e.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if k.issuer != "" && !templateMatches(k.issuer, iss, tid) {
		return nil, fmt.Errorf("key %s belongs to issuer %s", kid, k.issuer)
	}
	return k.pub, nil
}

func (e *ExternalIssuer) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *ExternalIssuer) key(ctx context.Context, kid string) (issuerKey, error) {
	if k, ok := e.cached(kid); ok && !e.stale() {
		return k, nil
	}
	e.fetchMu.Lock()
	defer e.fetchMu.Unlock()
	if k, ok := e.cached(kid); ok && !e.stale() {
		return k, nil
	}
	e.mu.Lock()
	since := e.now().Sub(e.lastFetch)
	due := e.fetches == 0 || since >= RefreshInterval || (len(e.keys) == 0 && since >= RetryInterval) ||
		e.now().Sub(e.lastSuccess) >= MaxKeyAge
	e.mu.Unlock()
	if due {
		if err := e.Refresh(ctx); err != nil && e.known() == 0 {
			return issuerKey{}, err
		}
	}
	if k, ok := e.cached(kid); ok {
		return k, nil
	}
	return issuerKey{}, errors.New("unknown kid for this issuer")
}

// stale reports keys older than MaxKeyAge (that a refresh was not tried
// for in the last RefreshInterval).
func (e *ExternalIssuer) stale() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	return now.Sub(e.lastSuccess) >= MaxKeyAge && now.Sub(e.lastFetch) >= RefreshInterval
}

func (e *ExternalIssuer) cached(kid string) (issuerKey, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, ok := e.keys[kid]
	return k, ok
}

func (e *ExternalIssuer) known() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.keys)
}

// Fetches returns how many times the keys were read.
func (e *ExternalIssuer) Fetches() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fetches
}

// Refresh reads the issuer's keys now, whatever happens to the caller's
// request meanwhile. On failure the last good keys stay.
func (e *ExternalIssuer) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	e.mu.Lock()
	e.lastFetch = e.now()
	e.fetches++
	e.mu.Unlock()
	data, err := e.read(ctx)
	if err != nil {
		return fmt.Errorf("issuer %s: read keys: %w", e.Issuer, err)
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return fmt.Errorf("issuer %s: %w", e.Issuer, err)
	}
	e.mu.Lock()
	e.keys = keys
	e.lastSuccess = e.now()
	e.mu.Unlock()
	return nil
}

func (e *ExternalIssuer) read(ctx context.Context) ([]byte, error) {
	if e.JWKSFile != "" {
		f, err := os.Open(e.JWKSFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readLimited(f)
	}
	client := e.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", e.JWKSURL, res.Status)
	}
	return readLimited(res.Body)
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJWKSSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSSize {
		return nil, fmt.Errorf("key set larger than %d bytes", maxJWKSSize)
	}
	return data, nil
}

// parseJWKS keeps the RSA signing keys of at least 2048 bits that have a kid.
func parseJWKS(data []byte) (map[string]issuerKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("key set is not JSON: %w", err)
	}
	keys := map[string]issuerKey{}
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // a key type we do not use
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || k.KeyID == "" || (k.Use != "" && k.Use != "sig") || pub.N.BitLen() < 2048 {
			continue
		}
		var extra struct {
			Issuer string `json:"issuer"`
		}
		json.Unmarshal(raw, &extra)
		keys[k.KeyID] = issuerKey{pub: pub, issuer: extra.Issuer}
	}
	if len(keys) == 0 {
		return nil, errors.New("key set holds no usable RSA signing key")
	}
	return keys, nil
}
