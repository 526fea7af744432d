package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idgraph/idgraph/internal/auth"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// clock is a fake time source shared by directories and verifiers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts List calls on the signing keys (store reloads).
type countingStore struct {
	store.Store
	keyLists atomic.Int64
}

func (s *countingStore) List(ctx context.Context, tenant string, c store.Collection) ([]store.Record, error) {
	if c == store.SigningKeys {
		s.keyLists.Add(1)
	}
	return s.Store.List(ctx, tenant, c)
}

func keyring(t *testing.T, b byte) *secret.Keyring {
	t.Helper()
	k, err := secret.New(bytes.Repeat([]byte{b}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openStore(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "idgraph.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newDir(t *testing.T) (*Directory, *clock, store.Store) {
	t.Helper()
	st := openStore(t, t.TempDir())
	clk := newClock()
	return New(st, keyring(t, 1), clk.now), clk, st
}

func bootstrap(t *testing.T, d *Directory) graph.Tenant {
	t.Helper()
	tn, err := d.Bootstrap(t.Context())
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	return tn
}

func keyIDs(t *testing.T, d *Directory) []string {
	t.Helper()
	ks, err := d.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}

func verifier(d *Directory, clk *clock) *auth.Verifier {
	return &auth.Verifier{Keys: d.PublicKey, Now: clk.now}
}

const issuer = "http://127.0.0.1:9443"

func mint(t *testing.T, d *Directory, o MintOptions) string {
	t.Helper()
	if o.Issuer == "" {
		o.Issuer = issuer
	}
	tok, err := d.Mint(t.Context(), o)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	sig, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return sig.Signatures[0].Header.KeyID
}

func TestBootstrapOnce(t *testing.T) {
	dataDir := t.TempDir()
	st := openStore(t, dataDir)
	clk := newClock()
	d := New(st, keyring(t, 1), clk.now)
	tn := bootstrap(t, d)

	if !graph.IsGUID(tn.ID) || tn.ID != strings.ToLower(tn.ID) {
		t.Errorf("default tenant id %q is not a lower-case GUID", tn.ID)
	}
	if tn.Kind != graph.TenantB2C {
		t.Errorf("default tenant kind %q, want b2c", tn.Kind)
	}
	ts, err := d.Tenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].ID != tn.ID {
		t.Fatalf("tenants after Bootstrap: %+v", ts)
	}
	// The signing key is made on first use, once.
	if keys := keyIDs(t, d); len(keys) != 0 {
		t.Fatalf("signing keys after Bootstrap: %q, want none until one is needed", keys)
	}
	if _, err := d.SigningKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	keys := keyIDs(t, d)
	if len(keys) != 1 {
		t.Fatalf("signing keys after the first SigningKey: %q", keys)
	}
	if def, err := d.DefaultTenant(t.Context()); err != nil || def.ID != tn.ID {
		t.Errorf("DefaultTenant = %+v, %v", def, err)
	}

	// Again on the same Directory, and on a fresh one (a restart).
	for i, again := range []*Directory{d, New(st, keyring(t, 1), clk.now)} {
		clk.advance(time.Minute)
		tn2 := bootstrap(t, again)
		if tn2.ID != tn.ID || tn2.Kind != tn.Kind {
			t.Errorf("Bootstrap #%d returned %+v, want %+v", i+2, tn2, tn)
		}
		if ts, _ := again.Tenants(t.Context()); len(ts) != 1 {
			t.Errorf("Bootstrap #%d: %d tenants", i+2, len(ts))
		}
		if got := keyIDs(t, again); !slices.Equal(got, keys) {
			t.Errorf("Bootstrap #%d: signing keys %q, want %q", i+2, got, keys)
		}
		if k, err := again.SigningKey(t.Context()); err != nil || k.ID != keys[0] {
			t.Errorf("Bootstrap #%d: SigningKey = %q, %v", i+2, k.ID, err)
		}
	}

	// And after the store is closed and reopened.
	st.Close()
	st2 := openStore(t, dataDir)
	d3 := New(st2, keyring(t, 1), clk.now)
	if tn3 := bootstrap(t, d3); tn3.ID != tn.ID {
		t.Errorf("Bootstrap after reopen: tenant %s, want %s", tn3.ID, tn.ID)
	}
	if got := keyIDs(t, d3); !slices.Equal(got, keys) {
		t.Errorf("after reopen: signing keys %q, want %q", got, keys)
	}
}

func TestBootstrapConcurrent(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tn, err := New(st, keyring(t, 1), clk.now).Bootstrap(t.Context())
			ids[i], errs[i] = tn.ID, err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Bootstrap %d: %v", i, errs[i])
		} else if ids[i] != ids[0] {
			t.Errorf("Bootstrap %d: tenant %s, another got %s", i, ids[i], ids[0])
		}
	}
	d := New(st, keyring(t, 1), clk.now)
	if ts, _ := d.Tenants(t.Context()); len(ts) != 1 {
		t.Errorf("%d concurrent Bootstraps left %d tenants", n, len(ts))
	}
	// Concurrent first starts may each create a key; SigningKey must still
	// agree for everyone.
	if _, err := d.SigningKey(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestBootstrapRefusesOtherSecretKey(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	d := New(st, keyring(t, 1), clk.now)
	tn := bootstrap(t, d)
	keys := keyIDs(t, d)

	other := New(st, keyring(t, 2), clk.now)
	if _, err := other.Bootstrap(t.Context()); err == nil {
		t.Fatal("Bootstrap with another secret key succeeded")
	} else if strings.Contains(err.Error(), fmt.Sprintf("%x", bytes.Repeat([]byte{2}, secret.KeySize))) {
		t.Errorf("error reveals the key: %v", err)
	}
	// Nothing was written by the refused Bootstrap.
	if got := keyIDs(t, d); !slices.Equal(got, keys) {
		t.Errorf("signing keys after refused Bootstrap: %q, want %q", got, keys)
	}
	if ts, _ := d.Tenants(t.Context()); len(ts) != 1 || ts[0].ID != tn.ID {
		t.Errorf("tenants after refused Bootstrap: %+v", ts)
	}
	// The right key still works.
	if tn2 := bootstrap(t, New(st, keyring(t, 1), clk.now)); tn2.ID != tn.ID {
		t.Errorf("Bootstrap with the right key: %s, want %s", tn2.ID, tn.ID)
	}
}

func TestRotateKey(t *testing.T) {
	d, clk, _ := newDir(t)
	tn := bootstrap(t, d)
	k1, err := d.SigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	old := mint(t, d, MintOptions{Tenant: tn.ID, Roles: []string{auth.IdentityProviderReadAll}})
	if kidOf(t, old) != k1.ID {
		t.Fatalf("token kid %q, want %q", kidOf(t, old), k1.ID)
	}

	clk.advance(time.Second)
	k2, err := d.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID == k1.ID || k2.Key.Equal(k1.Key) {
		t.Fatal("RotateKey returned the old key")
	}
	if want, _ := auth.KeyID(&k2.Key.PublicKey); k2.ID != want {
		t.Errorf("kid %q is not the key's thumbprint %q", k2.ID, want)
	}
	if cur, err := d.SigningKey(t.Context()); err != nil || cur.ID != k2.ID {
		t.Errorf("SigningKey = %q, %v; want the newest %q", cur.ID, err, k2.ID)
	}
	if got := keyIDs(t, d); !slices.Equal(got, []string{k1.ID, k2.ID}) {
		t.Errorf("SigningKeys = %q, want oldest first [%s %s]", got, k1.ID, k2.ID)
	}
	fresh := mint(t, d, MintOptions{Tenant: tn.ID, Roles: []string{auth.IdentityProviderReadAll}})
	if kidOf(t, fresh) != k2.ID {
		t.Errorf("new token kid %q, want %q", kidOf(t, fresh), k2.ID)
	}
	v := verifier(d, clk)
	for name, tok := range map[string]string{"old key": old, "new key": fresh} {
		if p, err := v.Verify(t.Context(), tok); err != nil || p.TenantID != tn.ID {
			t.Errorf("%s: Verify = %+v, %v", name, p, err)
		}
	}

	// A rotation within the same instant still makes the rotated key the newest.
	k3, err := d.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := d.SigningKey(t.Context()); cur.ID != k3.ID {
		t.Errorf("SigningKey after a same-instant rotation = %q, want %q", cur.ID, k3.ID)
	}

	// Another instance (empty cache) verifies all of them from the store.
	d2 := New(d.store, keyring(t, 1), clk.now)
	v2 := verifier(d2, clk)
	for name, tok := range map[string]string{"old key": old, "new key": fresh} {
		if _, err := v2.Verify(t.Context(), tok); err != nil {
			t.Errorf("fresh instance, %s: %v", name, err)
		}
	}
}

// A key rotated by another Directory on the same store becomes verifiable
// through the first one once the reload interval has passed.
func TestPublicKeyReloadsKeyRotatedElsewhere(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	a := New(st, keyring(t, 1), clk.now)
	tn := bootstrap(t, a)
	b := New(st, keyring(t, 1), clk.now)
	if _, err := a.SigningKey(t.Context()); err != nil { // a knows a key: reloads are rate-limited
		t.Fatal(err)
	}

	// a reloads now (an unknown kid), so its next reload is rate-limited.
	if _, err := a.PublicKey(t.Context(), "no-such-kid"); err == nil {
		t.Fatal("unknown kid resolved")
	}
	kb, err := b.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, b, MintOptions{Tenant: tn.ID, Roles: []string{auth.APIConnectorsReadWriteAll}})
	if kidOf(t, tok) != kb.ID {
		t.Fatalf("b minted with %q, want %q", kidOf(t, tok), kb.ID)
	}
	va := verifier(a, clk)
	// Within the interval the token waits for the next reload, which finds
	// the new key: it is not refused.
	var waited time.Duration
	a.sleep = func(_ context.Context, d time.Duration) error { waited += d; clk.advance(d); return nil }
	clk.advance(reloadInterval / 2)
	p, err := va.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("a kid rotated in elsewhere, within the reload interval: %v", err)
	}
	if waited != reloadInterval/2 {
		t.Errorf("waited %v for the reload, want the rest of the interval, %v", waited, reloadInterval/2)
	}
	if p.TenantID != tn.ID || !slices.Equal(p.Roles, []string{auth.APIConnectorsReadWriteAll}) {
		t.Errorf("principal %+v", p)
	}
	if k, err := a.PublicKey(t.Context(), kb.ID); err != nil || !k.Equal(&kb.Key.PublicKey) {
		t.Errorf("a.PublicKey(%s) = %v, %v", kb.ID, k, err)
	}

	// A directory that never reloaded finds a rotated key at once.
	c := New(st, keyring(t, 1), clk.now)
	kb2, err := b.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if k, err := c.PublicKey(t.Context(), kb2.ID); err != nil || !k.Equal(&kb2.Key.PublicKey) {
		t.Errorf("first lookup on a fresh directory: %v, %v", k, err)
	}
}

// A flood of unknown kids costs at most one store read per reload interval,
// and known kids keep resolving meanwhile.
func TestPublicKeyUnknownKidFlood(t *testing.T) {
	st := &countingStore{Store: openStore(t, t.TempDir())}
	clk := newClock()
	d := New(st, keyring(t, 1), clk.now)
	d.sleep = func(_ context.Context, w time.Duration) error { clk.advance(w); return nil }
	bootstrap(t, d)
	known, err := d.SigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	flood := func(n int, concurrent bool) {
		t.Helper()
		var wg sync.WaitGroup
		var accepted atomic.Int64
		for i := range n {
			kid := fmt.Sprintf("random-kid-%d-%d", clk.now().UnixNano(), i)
			f := func() {
				if k, err := d.PublicKey(t.Context(), kid); err == nil || k != nil {
					accepted.Add(1)
				}
			}
			if concurrent {
				wg.Add(1)
				go func() { defer wg.Done(); f() }()
			} else {
				f()
			}
		}
		wg.Wait()
		if accepted.Load() != 0 {
			t.Errorf("%d unknown kids resolved", accepted.Load())
		}
		if k, err := d.PublicKey(t.Context(), known.ID); err != nil || !k.Equal(&known.Key.PublicKey) {
			t.Errorf("known kid during the flood: %v", err)
		}
	}

	// Bootstrap loaded the keys; move past that reload's interval.
	clk.advance(reloadInterval)
	st.keyLists.Store(0)
	flood(1000, false)
	// Exactly one: the first unknown kid does reload (the counter works);
	// the other 999 arrive no later than that reload began, so it answers
	// them too.
	if n := st.keyLists.Load(); n != 1 {
		t.Errorf("1000 unknown kids: %d store reloads, want 1", n)
	}
	// Arrivals after that reload share the next one, at the end of the
	// interval, however many there are.
	for _, step := range []time.Duration{reloadInterval - time.Millisecond, time.Millisecond} {
		base := st.keyLists.Load()
		start := clk.now()
		clk.advance(step)
		flood(1000, true)
		if n := st.keyLists.Load() - base; n != 1 {
			t.Errorf("1000 concurrent unknown kids %v later: %d store reloads, want 1", step, n)
		}
		if gap := clk.now().Sub(start); gap < reloadInterval {
			t.Errorf("reloads %v apart, want at least %v", gap, reloadInterval)
		}
	}
}

func TestCreateTenantValidation(t *testing.T) {
	d, _, _ := newDir(t)
	bad := []struct {
		name string
		t    graph.Tenant
	}{
		{"not a GUID", graph.Tenant{ID: "contoso", DisplayName: "x"}},
		{"empty id", graph.Tenant{DisplayName: "x"}},
		{"GUID in braces", graph.Tenant{ID: "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}"}},
		{"MSA tenant", graph.Tenant{ID: graph.MSATenantID}},
		{"MSA tenant upper case", graph.Tenant{ID: strings.ToUpper(graph.MSATenantID)}},
		{"bad kind", graph.Tenant{ID: "3f2504e0-4f89-41d3-9a0c-0305e82c3302", Kind: "consumer"}},
		{"bad profile", graph.Tenant{ID: "3f2504e0-4f89-41d3-9a0c-0305e82c3303", Profile: "legacy"}},
		{"custom role id not a GUID", graph.Tenant{ID: "3f2504e0-4f89-41d3-9a0c-0305e82c3304",
			CustomRoles: []graph.CustomRole{{ID: "idp-admins", Permissions: []string{auth.ActionIdentityProviders}}}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := d.CreateTenant(t.Context(), tc.t); graph.KindOf(err) != graph.KindInvalid {
				t.Errorf("CreateTenant(%+v) = %v, want KindInvalid", tc.t, err)
			}
		})
	}
	if ts, _ := d.Tenants(t.Context()); len(ts) != 0 {
		t.Errorf("invalid tenants were stored: %+v", ts)
	}

	const id = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
	tn, err := d.CreateTenant(t.Context(), graph.Tenant{ID: id, DisplayName: "Contoso"})
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID != strings.ToLower(id) || tn.Kind != graph.TenantB2C {
		t.Errorf("created %+v, want lower-case id and kind b2c", tn)
	}
	if got, err := d.Tenant(t.Context(), strings.ToLower(id)); err != nil || got.ID != tn.ID || got.DisplayName != "Contoso" {
		t.Errorf("Tenant = %+v, %v", got, err)
	}
	for _, dup := range []string{id, strings.ToLower(id)} {
		if _, err := d.CreateTenant(t.Context(), graph.Tenant{ID: dup, Kind: graph.TenantWorkforce}); graph.KindOf(err) != graph.KindConflict {
			t.Errorf("duplicate %s: %v, want KindConflict", dup, err)
		}
	}
	if got, _ := d.Tenant(t.Context(), tn.ID); got.Kind != graph.TenantB2C {
		t.Errorf("duplicate create changed the tenant: %+v", got)
	}
	for _, k := range []graph.TenantKind{graph.TenantWorkforce, graph.TenantExternal} {
		id := "3f2504e0-4f89-41d3-9a0c-0305e82c33" + map[graph.TenantKind]string{graph.TenantWorkforce: "10", graph.TenantExternal: "11"}[k]
		if got, err := d.CreateTenant(t.Context(), graph.Tenant{ID: id, Kind: k, Profile: graph.ProfileCurrent}); err != nil || got.Kind != k {
			t.Errorf("kind %s: %+v, %v", k, got, err)
		}
	}
	if _, err := d.Tenant(t.Context(), "3f2504e0-4f89-41d3-9a0c-0305e82c3399"); graph.KindOf(err) != graph.KindNotFound {
		t.Errorf("missing tenant: %v, want KindNotFound", err)
	}
}

func TestUpdateTenantCustomRoles(t *testing.T) {
	d, _, _ := newDir(t)
	tn := bootstrap(t, d)
	role := graph.CustomRole{ID: "c0ffee00-0000-4000-8000-000000000001", DisplayName: "IdP admins",
		Permissions: []string{auth.ActionIdentityProviders}}

	got, err := d.UpdateTenant(t.Context(), tn.ID, func(x *graph.Tenant) error {
		x.CustomRoles = append(x.CustomRoles, role)
		x.ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301" // ignored: the id is fixed
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tn.ID || len(got.CustomRoles) != 1 || got.CustomRoles[0].ID != role.ID {
		t.Errorf("UpdateTenant returned %+v", got)
	}
	stored, err := d.Tenant(t.Context(), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.CustomRoles) != 1 || !slices.Equal(stored.CustomRoles[0].Permissions, role.Permissions) ||
		stored.CustomRoles[0].DisplayName != role.DisplayName {
		t.Errorf("stored tenant %+v", stored)
	}
	if _, err := d.Tenant(t.Context(), "3f2504e0-4f89-41d3-9a0c-0305e82c3301"); graph.KindOf(err) != graph.KindNotFound {
		t.Errorf("UpdateTenant created or renamed a tenant: %v", err)
	}

	// A second role is added beside the first.
	role2 := graph.CustomRole{ID: "c0ffee00-0000-4000-8000-000000000002", Permissions: []string{auth.ActionB2CUserFlow}}
	if got, err := d.UpdateTenant(t.Context(), tn.ID, func(x *graph.Tenant) error {
		x.CustomRoles = append(x.CustomRoles, role2)
		return nil
	}); err != nil || len(got.CustomRoles) != 2 {
		t.Errorf("second role: %+v, %v", got, err)
	}

	// Invalid updates change nothing.
	if _, err := d.UpdateTenant(t.Context(), tn.ID, func(x *graph.Tenant) error {
		x.CustomRoles = append(x.CustomRoles, graph.CustomRole{ID: "not-a-guid"})
		return nil
	}); graph.KindOf(err) != graph.KindInvalid {
		t.Errorf("invalid role id: %v, want KindInvalid", err)
	}
	if _, err := d.UpdateTenant(t.Context(), tn.ID, func(x *graph.Tenant) error {
		x.Kind = "bogus"
		return nil
	}); graph.KindOf(err) != graph.KindInvalid {
		t.Errorf("invalid kind: %v, want KindInvalid", err)
	}
	sentinel := errors.New("stop")
	if _, err := d.UpdateTenant(t.Context(), tn.ID, func(x *graph.Tenant) error {
		x.CustomRoles = nil
		return sentinel
	}); !errors.Is(err, sentinel) {
		t.Errorf("fn error: %v, want it returned", err)
	}
	if stored, _ := d.Tenant(t.Context(), tn.ID); len(stored.CustomRoles) != 2 || stored.Kind != graph.TenantB2C {
		t.Errorf("failed updates changed the tenant: %+v", stored)
	}
	if _, err := d.UpdateTenant(t.Context(), "3f2504e0-4f89-41d3-9a0c-0305e82c3399", func(*graph.Tenant) error { return nil }); graph.KindOf(err) != graph.KindNotFound {
		t.Errorf("missing tenant: %v, want KindNotFound", err)
	}
}

func TestMintVerifies(t *testing.T) {
	d, clk, _ := newDir(t)
	tn := bootstrap(t, d)
	v := verifier(d, clk)

	cases := []struct {
		name string
		o    MintOptions
		want graph.Principal
	}{
		{"app token with roles",
			MintOptions{Tenant: tn.ID, Roles: []string{auth.IdentityProviderReadWriteAll, auth.APIConnectorsReadWriteAll}, AppID: "11111111-2222-4333-8444-555555555555", ObjectID: "oid-1"},
			graph.Principal{TenantID: tn.ID, ObjectID: "oid-1", AppID: "11111111-2222-4333-8444-555555555555",
				Roles: []string{auth.IdentityProviderReadWriteAll, auth.APIConnectorsReadWriteAll}}},
		{"user token with scp and wids",
			MintOptions{Tenant: tn.ID, Scopes: []string{auth.IdentityProviderReadAll, auth.APIConnectorsReadWriteAll},
				WIDs: []string{auth.RoleGlobalAdministrator, "c0ffee00-0000-4000-8000-000000000001"}, ObjectID: "oid-2"},
			graph.Principal{TenantID: tn.ID, ObjectID: "oid-2", AppID: auth.CLIAppID, Delegated: true,
				Scopes:         []string{auth.IdentityProviderReadAll, auth.APIConnectorsReadWriteAll},
				DirectoryRoles: []string{auth.RoleGlobalAdministrator, "c0ffee00-0000-4000-8000-000000000001"}}},
		{"roles and scopes: a user token",
			MintOptions{Tenant: tn.ID, Roles: []string{auth.IdentityProviderReadWriteAll}, Scopes: []string{auth.IdentityProviderReadAll}, ObjectID: "oid-3"},
			graph.Principal{TenantID: tn.ID, ObjectID: "oid-3", AppID: auth.CLIAppID, Delegated: true,
				Scopes: []string{auth.IdentityProviderReadAll}}},
		{"upper-case tenant, Graph app id audience, issuer with slash",
			MintOptions{Tenant: strings.ToUpper(tn.ID), Issuer: issuer + "/", Audience: auth.GraphAppID, Roles: []string{"R"}, ObjectID: "oid-4"},
			graph.Principal{TenantID: tn.ID, ObjectID: "oid-4", AppID: auth.CLIAppID, Roles: []string{"R"}}},
		{"other tenant",
			MintOptions{Tenant: "3f2504e0-4f89-41d3-9a0c-0305e82c3301", Issuer: "https://idgraph.example", Roles: []string{"R"}, ObjectID: "oid-5"},
			graph.Principal{TenantID: "3f2504e0-4f89-41d3-9a0c-0305e82c3301", ObjectID: "oid-5", AppID: auth.CLIAppID, Roles: []string{"R"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), mint(t, d, tc.o))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.TenantID != tc.want.TenantID || p.ObjectID != tc.want.ObjectID || p.AppID != tc.want.AppID ||
				p.Delegated != tc.want.Delegated || !slices.Equal(p.Roles, tc.want.Roles) ||
				!slices.Equal(p.Scopes, tc.want.Scopes) || !slices.Equal(p.DirectoryRoles, tc.want.DirectoryRoles) {
				t.Errorf("principal\n got %+v\nwant %+v", p, tc.want)
			}
		})
	}

	// A random object id when none is asked for.
	p1, _ := v.Verify(t.Context(), mint(t, d, MintOptions{Tenant: tn.ID, Roles: []string{"R"}}))
	p2, _ := v.Verify(t.Context(), mint(t, d, MintOptions{Tenant: tn.ID, Roles: []string{"R"}}))
	if !graph.IsGUID(p1.ObjectID) || p1.ObjectID == p2.ObjectID {
		t.Errorf("object ids %q, %q: want distinct random GUIDs", p1.ObjectID, p2.ObjectID)
	}

	// Lifetime: one hour by default, TTL otherwise, with the 300 s leeway.
	def := mint(t, d, MintOptions{Tenant: tn.ID, Roles: []string{"R"}})
	short := mint(t, d, MintOptions{Tenant: tn.ID, Roles: []string{"R"}, TTL: time.Minute})
	clk.advance(time.Minute + 299*time.Second)
	if _, err := v.Verify(t.Context(), short); err != nil {
		t.Errorf("TTL token 299 s after expiry: %v", err)
	}
	clk.advance(2 * time.Second)
	if _, err := v.Verify(t.Context(), short); graph.KindOf(err) != graph.KindUnauthenticated {
		t.Errorf("TTL token 301 s after expiry: %v, want 401", err)
	}
	if _, err := v.Verify(t.Context(), def); err != nil {
		t.Errorf("default-lifetime token after 6 min: %v", err)
	}
	clk.advance(time.Hour - 6*time.Minute - time.Second + 301*time.Second)
	if _, err := v.Verify(t.Context(), def); graph.KindOf(err) != graph.KindUnauthenticated {
		t.Errorf("default-lifetime token 301 s after its hour: %v, want 401", err)
	}

	// A token minted by a directory with another store does not verify.
	other, _, _ := newDir(t)
	bootstrap(t, other)
	otherKey, err := other.SigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(reloadInterval)
	foreign, err := MintWith(otherKey, MintOptions{Tenant: tn.ID, Issuer: issuer, Roles: []string{"R"}}, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	// The same claims signed by this deployment's key do verify.
	if _, err := v.Verify(t.Context(), mint(t, d, MintOptions{Tenant: tn.ID, Roles: []string{"R"}})); err != nil {
		t.Fatalf("control token: %v", err)
	}
	if _, err := v.Verify(t.Context(), foreign); graph.KindOf(err) != graph.KindUnauthenticated {
		t.Errorf("token of another deployment: %v, want 401", err)
	}
}

// Requests that arrive while a reload is in progress wait for it: a token
// signed by a key another process just rotated in is accepted by every one of
// a burst of concurrent requests, not only by the first.
func TestPublicKeyConcurrentReloadWaiters(t *testing.T) {
	d, _, st := newDir(t)
	bootstrap(t, d)
	other := New(st, d.keys, nil)
	k, err := other.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.lastReload = time.Time{} // the interval has passed
	d.mu.Unlock()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := d.PublicKey(t.Context(), k.ID); err != nil || !got.Equal(&k.Key.PublicKey) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 64 concurrent lookups of a newly rotated key failed", n)
	}
}

// A directory without any signing key (a new data directory) picks up the
// first key another process makes at once, without waiting for the reload
// interval: the command line mints a token right after the server starts.
func TestFirstKeyMadeElsewhereVerifiesAtOnce(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	server := New(st, keyring(t, 1), clk.now)
	tn := bootstrap(t, server)
	if _, err := server.PublicKey(t.Context(), "no-such-kid"); err == nil {
		t.Fatal("unknown kid resolved")
	}
	cli := New(st, keyring(t, 1), clk.now)
	tok := mint(t, cli, MintOptions{Tenant: tn.ID, Roles: []string{auth.APIConnectorsReadWriteAll}})
	if _, err := verifier(server, clk).Verify(t.Context(), tok); err != nil {
		t.Fatalf("a token signed with the first key, made by another process: %v", err)
	}
	if keys := keyIDs(t, server); len(keys) != 1 {
		t.Fatalf("signing keys: %q, want exactly the one made on first use", keys)
	}
}

// failingKeyList fails the next list of signing keys when fail is set.
type failingKeyList struct {
	store.Store
	fail atomic.Bool
}

func (s *failingKeyList) List(ctx context.Context, tenant string, c store.Collection) ([]store.Record, error) {
	if c == store.SigningKeys && s.fail.CompareAndSwap(true, false) {
		return nil, errors.New("the database went away")
	}
	return s.Store.List(ctx, tenant, c)
}

// A reload that fails answers nothing about the kid: the next request for
// it reloads again (in its turn) and finds the key, instead of being told
// the kid is unknown because a reload was attempted.
func TestPublicKeyAfterAFailedReload(t *testing.T) {
	st := &failingKeyList{Store: openStore(t, t.TempDir())}
	clk := newClock()
	d := New(st, keyring(t, 1), clk.now)
	d.sleep = func(_ context.Context, w time.Duration) error { clk.advance(w); return nil }
	bootstrap(t, d)
	if _, err := d.SigningKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.advance(reloadInterval)
	other := New(st.Store, keyring(t, 1), clk.now)
	k, err := other.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	if _, err := d.PublicKey(t.Context(), k.ID); err == nil || !strings.Contains(err.Error(), "went away") {
		t.Fatalf("lookup during the failing reload: %v, want the store's error", err)
	}
	got, err := d.PublicKey(t.Context(), k.ID)
	if err != nil || !got.Equal(&k.Key.PublicKey) {
		t.Fatalf("lookup after the failed reload: %v, %v; want the rotated key", got, err)
	}
}
