// Package directory manages the directory data around the Graph resources:
// tenants (with their kind, profile and custom roles), the token signing
// keys, and the check that the configured secret key is the one the data was
// written with. Everything is persisted through the store; signing keys are
// sealed with the secret key. Bootstrap prepares a data directory on first
// start: key check, a signing key, a default tenant.
package directory

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/auth"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
)

// Directory is the directory data of one idgraph deployment.
type Directory struct {
	store store.Store
	keys  *secret.Keyring
	now   func() time.Time

	sleep func(context.Context, time.Duration) error // waits for a reload's turn

	keyGenMu   sync.Mutex                 // held while the first signing key is made
	mu         sync.Mutex                 // guards public, lastReload and reloading
	public     map[string]*rsa.PublicKey  // kid → key, refreshed from the store
	private    map[string]auth.SigningKey // kid → opened and parsed signing key
	lastReload time.Time                  // when the last reload began (the rate limit)
	lastGood   time.Time                  // when the last successful reload began
	reloading  chan struct{}              // closed when the reload in progress ends
	reloads    int64                      // reloads begun for unknown kids
	reloaded   int64                      // the number of the last one that succeeded

	tenants store.Memo[graph.Tenant] // every request decodes its tenant
}

// New returns a Directory over s whose secrets are sealed with k.
func New(s store.Store, k *secret.Keyring, now func() time.Time) *Directory {
	if now == nil {
		now = time.Now
	}
	return &Directory{store: s, keys: k, now: now, sleep: sleepFor,
		public: map[string]*rsa.PublicKey{}, private: map[string]auth.SigningKey{}}
}

type keyCheck struct {
	Fingerprint string       `json:"fingerprint"`
	Check       graph.Sealed `json:"check"`
}

type defaultTenant struct {
	ID string `json:"id"`
}

type storedKey struct {
	ID         string       `json:"id"`
	Created    time.Time    `json:"created"`
	PrivateKey graph.Sealed `json:"privateKey"` // PKCS#8 DER
}

const (
	metaKeyCheck      = "secretKeyCheck"
	metaDefaultTenant = "defaultTenant"
	keyCheckText      = "idgraph secret key check"
)

// Bootstrap makes the data ready to serve and returns the default tenant. It
// refuses a secret key other than the one the data was sealed with.
func (d *Directory) Bootstrap(ctx context.Context) (graph.Tenant, error) {
	if err := d.checkSecretKey(ctx); err != nil {
		return graph.Tenant{}, err
	}
	// The signing key is made when first needed (SigningKey), not here:
	// generating an RSA key takes tens of milliseconds of a cold start, and
	// a server that only verifies trusted issuers' tokens never needs one.
	// Load the verification keys now, so the first requests need no reload.
	if err := d.reloadKeys(ctx); err != nil {
		return graph.Tenant{}, err
	}
	def, err := d.ensureDefaultTenant(ctx)
	if err != nil {
		return def, err
	}
	tenants, err := d.Tenants(ctx)
	if err != nil {
		return def, err
	}
	for _, t := range tenants {
		if err := d.ensureBuiltIns(ctx, t); err != nil {
			return def, err
		}
	}
	return def, nil
}

// Sealed reports whether s already holds data sealed with a secret key:
// a process that has no key must then be given that key, not make one.
func Sealed(ctx context.Context, s store.Store) (bool, error) {
	_, err := s.Get(ctx, store.Global, store.Meta, metaKeyCheck)
	if graph.KindOf(err) == graph.KindNotFound {
		return false, nil
	}
	return err == nil, err
}

func (d *Directory) checkSecretKey(ctx context.Context) error {
	aad := secret.AAD(store.Global, string(store.Meta), metaKeyCheck, "check")
	v, err := store.GetAs[keyCheck](ctx, d.store, store.Global, store.Meta, metaKeyCheck)
	if graph.KindOf(err) == graph.KindNotFound {
		sealed, err := d.keys.Seal([]byte(keyCheckText), aad)
		if err != nil {
			return err
		}
		_, err = store.CreateAs(ctx, d.store, store.Global, store.Meta, metaKeyCheck,
			keyCheck{Fingerprint: d.keys.Fingerprint(), Check: sealed})
		if graph.KindOf(err) == graph.KindConflict {
			return d.checkSecretKey(ctx) // another process wrote it first
		}
		return err
	}
	if err != nil {
		return err
	}
	if plain, err := d.keys.Open(v.Value.Check, aad); err != nil || string(plain) != keyCheckText {
		return fmt.Errorf("the secret key (fingerprint %s) is not the key this data was written with (fingerprint %s): "+
			"supply the original key (IDGRAPH_SECRET_KEY or the data directory's secret.key)", d.keys.Fingerprint(), v.Value.Fingerprint)
	}
	return nil
}

func (d *Directory) ensureDefaultTenant(ctx context.Context) (graph.Tenant, error) {
	// The pointer is written first and the tenant second, each step safe to
	// repeat: a crash between them leaves a pointer whose tenant the next
	// start creates, never a tenant nobody points to.
	v, err := store.GetAs[defaultTenant](ctx, d.store, store.Global, store.Meta, metaDefaultTenant)
	if graph.KindOf(err) == graph.KindNotFound {
		_, err = store.CreateAs(ctx, d.store, store.Global, store.Meta, metaDefaultTenant, defaultTenant{ID: uuid.NewString()})
		if err != nil && graph.KindOf(err) != graph.KindConflict {
			return graph.Tenant{}, err
		}
		return d.ensureDefaultTenant(ctx) // ours or a concurrent starter's pointer
	}
	if err != nil {
		return graph.Tenant{}, err
	}
	t, err := d.Tenant(ctx, v.Value.ID)
	if graph.KindOf(err) == graph.KindNotFound {
		t = graph.Tenant{ID: v.Value.ID, DisplayName: "Default Directory", Kind: graph.TenantB2C}
		if t, err = d.CreateTenant(ctx, t); graph.KindOf(err) == graph.KindConflict {
			return d.Tenant(ctx, v.Value.ID)
		}
	}
	return t, err
}

// DefaultTenant returns the tenant created on first start.
func (d *Directory) DefaultTenant(ctx context.Context) (graph.Tenant, error) {
	v, err := store.GetAs[defaultTenant](ctx, d.store, store.Global, store.Meta, metaDefaultTenant)
	if err != nil {
		return graph.Tenant{}, err
	}
	return d.Tenant(ctx, v.Value.ID)
}

// Tenant returns one tenant; KindNotFound if there is none with that id.
func (d *Directory) Tenant(ctx context.Context, id string) (graph.Tenant, error) {
	r, err := d.store.Get(ctx, store.Global, store.Tenants, id)
	if err != nil {
		return graph.Tenant{}, err
	}
	v, err := d.tenants.Decode(r)
	if err != nil {
		return graph.Tenant{}, err
	}
	t := v.Value
	t.CustomRoles = slices.Clone(t.CustomRoles) // the memo's value is shared
	return t, nil
}

// Tenants returns every tenant in creation order.
func (d *Directory) Tenants(ctx context.Context) ([]graph.Tenant, error) {
	return listValues[graph.Tenant](ctx, d.store, store.Global, store.Tenants)
}

// CreateTenant stores a new tenant; KindConflict if the id exists.
func (d *Directory) CreateTenant(ctx context.Context, t graph.Tenant) (graph.Tenant, error) {
	t.ID = strings.ToLower(t.ID)
	if t.Kind == "" {
		t.Kind = graph.TenantB2C
	}
	if err := t.Validate(); err != nil {
		return graph.Tenant{}, err
	}
	if _, err := store.CreateAs(ctx, d.store, store.Global, store.Tenants, t.ID, t); err != nil {
		return t, err
	}
	return t, d.ensureBuiltIns(ctx, t)
}

// ensureBuiltIns stores the built-in identity providers a tenant of its kind
// has from the start (decision D4). It is safe to repeat: Bootstrap runs it
// for every tenant, so a tenant whose creation was cut short gets them.
func (d *Directory) ensureBuiltIns(ctx context.Context, t graph.Tenant) error {
	for _, p := range graph.BuiltInProviders(t.Kind) {
		_, err := store.CreateAs(ctx, d.store, t.ID, store.IdentityProviders, p.ID, p)
		if err != nil && graph.KindOf(err) != graph.KindConflict {
			return err
		}
	}
	return nil
}

// UpdateTenant applies fn to a tenant atomically.
func (d *Directory) UpdateTenant(ctx context.Context, id string, fn func(*graph.Tenant) error) (graph.Tenant, error) {
	v, err := store.UpdateAs(ctx, d.store, store.Global, store.Tenants, id, func(_ store.Tx, cur store.Versioned[graph.Tenant]) (graph.Tenant, error) {
		t := cur.Value
		if err := fn(&t); err != nil {
			return t, err
		}
		t.ID = cur.Value.ID
		return t, t.Validate()
	})
	return v.Value, err
}

// listValues lists a collection's values without their versions.
func listValues[T any](ctx context.Context, s store.Store, tenant string, c store.Collection) ([]T, error) {
	vs, err := store.ListAs[T](ctx, s, tenant, c)
	out := make([]T, len(vs))
	for i, v := range vs {
		out[i] = v.Value
	}
	return out, err
}

// RotateKey creates a new signing key; it becomes the one new tokens are
// signed with, and older keys keep verifying the tokens they signed.
func (d *Directory) RotateKey(ctx context.Context) (auth.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return auth.SigningKey{}, err
	}
	kid, err := auth.KeyID(&priv.PublicKey)
	if err != nil {
		return auth.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return auth.SigningKey{}, err
	}
	sealed, err := d.keys.Seal(der, secret.AAD(store.Global, string(store.SigningKeys), kid, "privateKey"))
	if err != nil {
		return auth.SigningKey{}, err
	}
	created := d.now().UTC()
	if _, err := store.CreateAs(ctx, d.store, store.Global, store.SigningKeys, kid,
		storedKey{ID: kid, Created: created, PrivateKey: sealed}); err != nil {
		return auth.SigningKey{}, err
	}
	d.mu.Lock()
	d.public[kid] = &priv.PublicKey
	d.mu.Unlock()
	return auth.SigningKey{ID: kid, Key: priv, Created: created}, nil
}

// SigningKeys returns every signing key, oldest first.
func (d *Directory) SigningKeys(ctx context.Context) ([]auth.SigningKey, error) {
	vs, err := store.ListAs[storedKey](ctx, d.store, store.Global, store.SigningKeys)
	if err != nil {
		return nil, err
	}
	out := make([]auth.SigningKey, 0, len(vs))
	for _, v := range vs {
		// Keys never change once stored: each is opened and parsed once.
		d.mu.Lock()
		cached, ok := d.private[v.Value.ID]
		d.mu.Unlock()
		if ok {
			out = append(out, cached)
			continue
		}
		der, err := d.keys.Open(v.Value.PrivateKey, secret.AAD(store.Global, string(store.SigningKeys), v.Value.ID, "privateKey"))
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", v.Value.ID, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", v.Value.ID, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s is not RSA", v.Value.ID)
		}
		sk := auth.SigningKey{ID: v.Value.ID, Key: rk, Created: v.Value.Created}
		d.mu.Lock()
		d.private[sk.ID] = sk
		d.mu.Unlock()
		out = append(out, sk)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// SigningKey returns the newest signing key; KindNotFound if there is none.
func (d *Directory) SigningKey(ctx context.Context) (auth.SigningKey, error) {
	ks, err := d.SigningKeys(ctx)
	if err != nil || len(ks) > 0 {
		return last(ks), err
	}
	// The first key is made on first use, once per process.
	d.keyGenMu.Lock()
	defer d.keyGenMu.Unlock()
	if ks, err := d.SigningKeys(ctx); err != nil || len(ks) > 0 {
		return last(ks), err
	}
	return d.RotateKey(ctx)
}

func last(ks []auth.SigningKey) auth.SigningKey {
	if len(ks) == 0 {
		return auth.SigningKey{}
	}
	return ks[len(ks)-1]
}

// reloadInterval bounds how often an unknown kid makes the directory re-read
// the keys from the store: a flood of random kids costs at most one read
// per interval.
const reloadInterval = time.Second

// PublicKey is an auth.KeyFunc over the persisted signing keys. An unknown
// kid makes it re-read the keys, so that a key another process (a replica,
// the command line) rotated in verifies at once. The answer "unknown" is
// only given after a reload that began after the request arrived: keys
// stored before then are seen. Reloads are shared by every request waiting
// for one and start at most once per reloadInterval, so a request may wait
// up to that long for its turn instead of being refused.
func (d *Directory) PublicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := d.cachedKey(kid); ok {
		return k, nil
	}
	arrived := d.now()
	d.mu.Lock()
	before := d.reloads // reloads begun before this request arrived
	d.mu.Unlock()
	for {
		d.mu.Lock()
		if k, ok := d.public[kid]; ok {
			d.mu.Unlock()
			return k, nil
		}
		if running := d.reloading; running != nil {
			d.mu.Unlock()
			select {
			case <-running:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		// Without any key (a new data directory) another process may be
		// making the first: an unknown kid looks again at once, not waiting
		// for the interval.
		keyless := len(d.public) == 0
		if d.reloaded > before || (!keyless && !d.lastGood.Before(arrived)) {
			d.mu.Unlock()
			return nil, fmt.Errorf("unknown kid")
		}
		// This request starts the next reload, when the interval allows.
		wait := time.Duration(0)
		if !keyless {
			wait = reloadInterval - d.now().Sub(d.lastReload)
		}
		running := make(chan struct{})
		d.reloading = running
		d.reloads++
		n := d.reloads
		d.mu.Unlock()

		err := func() (err error) {
			// Whatever happens (a failed read, a panic), the waiters are
			// released and the next request may reload.
			defer func() {
				d.mu.Lock()
				d.reloading = nil
				if err == nil {
					d.reloaded = n
				}
				d.mu.Unlock()
				close(running)
			}()
			if err = d.sleep(ctx, wait); err == nil {
				err = d.reloadKeys(ctx)
			}
			return err
		}()
		if err != nil {
			return nil, err
		}
	}
}

// sleepFor waits d, or until ctx is done.
func sleepFor(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Directory) cachedKey(kid string) (*rsa.PublicKey, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k, ok := d.public[kid]
	return k, ok
}

// reloadKeys re-reads the public keys from the store.
func (d *Directory) reloadKeys(ctx context.Context) error {
	d.mu.Lock()
	began := d.now()
	d.lastReload = began
	d.mu.Unlock()
	ks, err := d.SigningKeys(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.lastGood = began
	defer d.mu.Unlock()
	for _, sk := range ks {
		d.public[sk.ID] = &sk.Key.PublicKey
	}
	return nil
}

// MintOptions are the claims of a token minted by Mint.
type MintOptions struct {
	Tenant   string        // tid
	Issuer   string        // the authority origin, e.g. http://127.0.0.1:9443
	Audience string        // aud; https://graph.microsoft.com when empty
	Roles    []string      // application permissions (app-only token)
	Scopes   []string      // delegated permissions (user token when non-empty)
	WIDs     []string      // directory roles of the user
	ObjectID string        // oid; random when empty
	AppID    string        // appid/azp
	TTL      time.Duration // lifetime; one hour when zero
}

// Mint signs a token with the newest signing key.
func (d *Directory) Mint(ctx context.Context, o MintOptions) (string, error) {
	key, err := d.SigningKey(ctx)
	if err != nil {
		return "", err
	}
	return MintWith(key, o, d.now())
}

// MintWith signs a token with key at time now.
func MintWith(key auth.SigningKey, o MintOptions, now time.Time) (string, error) {
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	if o.Audience == "" {
		o.Audience = "https://graph.microsoft.com"
	}
	if o.ObjectID == "" {
		o.ObjectID = uuid.NewString()
	}
	if o.AppID == "" {
		o.AppID = auth.CLIAppID
	}
	std := jwtClaims(o, now)
	c := auth.Claims{TenantID: o.Tenant, ObjectID: o.ObjectID, AppID: o.AppID, AZP: o.AppID, Roles: o.Roles,
		WIDs: o.WIDs, Version: "2.0", IDType: "app"}
	if len(o.Scopes) > 0 {
		c.IDType = "user"
		c.Scope = strings.Join(o.Scopes, " ")
		c.Roles = nil
	}
	return auth.Mint(key, std, c)
}

func jwtClaims(o MintOptions, now time.Time) jwt.Claims {
	return jwt.Claims{
		Issuer:    auth.Issuer(o.Issuer, o.Tenant),
		Audience:  jwt.Audience{o.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(o.TTL)),
	}
}
