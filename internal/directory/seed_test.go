package directory

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

const seedJSON = `{
  "tenants": [
    {"apps": [{"clientId": "11111111-1111-1111-1111-111111111111", "displayName": "ci",
               "clientSecret": "default-tenant-secret-123", "roles": ["IdentityProvider.ReadWrite.All"]}]},
    {"id": "2F3C9E2A-7D1B-4C55-9B1E-0A1B2C3D4E5F", "displayName": "Contoso External", "kind": "external", "profile": "current",
     "customRoles": [{"id": "33333333-3333-3333-3333-333333333333", "displayName": "IdP admins",
                      "permissions": ["microsoft.directory/identityProviders/allProperties/allTasks"]}],
     "apps": [{"clientId": "44444444-4444-4444-4444-444444444444", "displayName": "tool",
               "clientSecret": "external-tenant-secret-456", "roles": ["APIConnectors.ReadWrite.All"],
               "scopes": ["IdentityProvider.ReadWrite.All"]}],
     "users": [{"userPrincipalName": "Admin@contoso.test", "password": "correct horse", "roles": ["62E90394-69F5-4237-9190-012177145E10"]}]}
  ],
  "trustedIssuers": [{"issuer": "https://issuer.test/{tenantid}/v2.0", "jwksUri": "https://issuer.test/keys", "audiences": ["api://x"]}]
}`

func writeSeed(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplySeed(t *testing.T) {
	d, _, _ := newDir(t)
	def := bootstrap(t, d)
	s, err := LoadSeed(writeSeed(t, seedJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.TrustedIssuers) != 1 || s.TrustedIssuers[0].Audiences[0] != "api://x" {
		t.Errorf("trusted issuers = %+v", s.TrustedIssuers)
	}
	for round := range 2 { // applying again leaves the same directory
		if err := d.ApplySeed(t.Context(), s); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		a, err := d.App(t.Context(), def.ID, "11111111-1111-1111-1111-111111111111")
		if err != nil || !CheckAppSecret(a, "default-tenant-secret-123") || len(a.Secrets) != 1 {
			t.Fatalf("round %d: default-tenant app = %+v, %v", round, a, err)
		}
		ext, err := d.Tenant(t.Context(), "2f3c9e2a-7d1b-4c55-9b1e-0a1b2c3d4e5f")
		if err != nil || ext.Kind != graph.TenantExternal || ext.Profile != graph.ProfileCurrent || len(ext.CustomRoles) != 1 {
			t.Fatalf("round %d: seeded tenant = %+v, %v", round, ext, err)
		}
		u, err := d.User(t.Context(), ext.ID, "admin@CONTOSO.test")
		if err != nil || !CheckPassword(u, "correct horse") || u.DirectoryRoles[0] != "62e90394-69f5-4237-9190-012177145e10" {
			t.Fatalf("round %d: seeded user = %+v, %v", round, u, err)
		}
		if ts, _ := d.Tenants(t.Context()); len(ts) != 2 {
			t.Fatalf("round %d: %d tenants, want 2", round, len(ts))
		}
	}
	// A changed seed updates what exists: roles, and a new secret is added.
	changed := strings.ReplaceAll(seedJSON, `"roles": ["APIConnectors.ReadWrite.All"]`, `"roles": []`)
	changed = strings.ReplaceAll(changed, "external-tenant-secret-456", "rotated-secret-value-789")
	changed = strings.ReplaceAll(changed, "correct horse", "battery staple")
	s2, err := LoadSeed(writeSeed(t, changed))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ApplySeed(t.Context(), s2); err != nil {
		t.Fatal(err)
	}
	a, _ := d.App(t.Context(), "2f3c9e2a-7d1b-4c55-9b1e-0a1b2c3d4e5f", "44444444-4444-4444-4444-444444444444")
	if len(a.Roles) != 0 || !CheckAppSecret(a, "rotated-secret-value-789") || !CheckAppSecret(a, "external-tenant-secret-456") {
		t.Errorf("updated app = roles %v, secrets %d", a.Roles, len(a.Secrets))
	}
	u, _ := d.User(t.Context(), "2f3c9e2a-7d1b-4c55-9b1e-0a1b2c3d4e5f", "admin@contoso.test")
	if !CheckPassword(u, "battery staple") || CheckPassword(u, "correct horse") {
		t.Error("seeded password was not changed")
	}
}

func TestLoadSeedRejects(t *testing.T) {
	for name, body := range map[string]string{
		"unknown field":       `{"tenants": [{"kindd": "b2c"}]}`,
		"not JSON":            `{`,
		"issuer without keys": `{"trustedIssuers": [{"issuer": "https://x"}]}`,
		"issuer with both":    `{"trustedIssuers": [{"issuer": "https://x", "jwksUri": "https://x/k", "jwksFile": "/k"}]}`,
		"plain http jwks":     `{"trustedIssuers": [{"issuer": "https://x", "jwksUri": "http://example.test/k"}]}`,
	} {
		if _, err := LoadSeed(writeSeed(t, body)); err == nil {
			t.Errorf("%s: LoadSeed accepted it", name)
		}
	}
}

func TestLoadSeedAcceptsLoopbackKeys(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/keys", "http://localhost/keys", "http://[::1]:9/keys", "https://login.example.test/keys"} {
		body := `{"trustedIssuers": [{"issuer": "https://x", "tenants": ["2f3c9e2a-7d1b-4c55-9b1e-0a1b2c3d4e5f"], "jwksUri": "` + u + `"}]}`
		if _, err := LoadSeed(writeSeed(t, body)); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestRemoveAppSecret(t *testing.T) {
	d, _, _ := newDir(t)
	def := bootstrap(t, d)
	a, first, err := d.CreateApp(t.Context(), def.ID, AppSpec{DisplayName: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAppSecret(t.Context(), def.ID, a.ClientID, a.Secrets[0].KeyID); graph.KindOf(err) != graph.KindInvalid {
		t.Errorf("removing the only secret: err = %v, want KindInvalid", err)
	}
	second, err := d.AddAppSecret(t.Context(), def.ID, a.ClientID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAppSecret(t.Context(), def.ID, a.ClientID, a.Secrets[0].KeyID); err != nil {
		t.Fatal(err)
	}
	got, _ := d.App(t.Context(), def.ID, a.ClientID)
	if CheckAppSecret(got, first) || !CheckAppSecret(got, second) {
		t.Error("after revoking the first secret: the first still works or the second does not")
	}
	if err := d.RemoveAppSecret(t.Context(), def.ID, a.ClientID, "no-such-key"); graph.KindOf(err) != graph.KindNotFound {
		t.Errorf("removing an unknown secret: err = %v, want KindNotFound", err)
	}
}

// racingStore plays another replica applying the same seed: each first
// create of a key is made by "the other replica" just before this one's,
// which then meets a conflict.
type racingStore struct {
	store.Store
	mu   sync.Mutex
	seen map[string]bool
	won  int
}

func (s *racingStore) first(tenant string, c store.Collection, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tenant + "/" + string(c) + "/" + store.Key(id)
	if s.seen[k] {
		return false
	}
	s.seen[k] = true
	s.won++
	return true
}

func (s *racingStore) Create(ctx context.Context, r store.Record) (store.Record, error) {
	if s.first(r.Tenant, r.Collection, r.ID) {
		if _, err := s.Store.Create(ctx, r); err != nil {
			return store.Record{}, err
		}
	}
	return s.Store.Create(ctx, r)
}

func (s *racingStore) CreateFunc(ctx context.Context, tenant string, c store.Collection, id string, fn func(store.Tx) ([]byte, error)) (store.Record, error) {
	if s.first(tenant, c, id) {
		if _, err := s.Store.CreateFunc(ctx, tenant, c, id, fn); err != nil {
			return store.Record{}, err
		}
	}
	return s.Store.CreateFunc(ctx, tenant, c, id, fn)
}

// Replicas starting together apply the same seed: one whose create meets
// the other's object goes on to update it, and both start.
func TestApplySeedRacingAnotherReplica(t *testing.T) {
	d, _, st := newDir(t)
	bootstrap(t, d)
	s, err := LoadSeed(writeSeed(t, seedJSON))
	if err != nil {
		t.Fatal(err)
	}
	rs := &racingStore{Store: st, seen: map[string]bool{}}
	racer := New(rs, d.keys, nil)
	if err := racer.ApplySeed(t.Context(), s); err != nil {
		t.Fatalf("applying a seed while another replica creates the same objects: %v", err)
	}
	if rs.won < 3 {
		t.Fatalf("the other replica won %d creates, want at least the tenant, an app and the user", rs.won)
	}
	ext, err := d.Tenant(t.Context(), "2f3c9e2a-7d1b-4c55-9b1e-0a1b2c3d4e5f")
	if err != nil || ext.Kind != graph.TenantExternal || ext.DisplayName != "Contoso External" {
		t.Fatalf("seeded tenant = %+v, %v", ext, err)
	}
	if u, err := d.User(t.Context(), ext.ID, "admin@contoso.test"); err != nil || !CheckPassword(u, "correct horse") {
		t.Fatalf("seeded user = %+v, %v", u, err)
	}
	if a, err := d.App(t.Context(), ext.ID, "44444444-4444-4444-4444-444444444444"); err != nil || !CheckAppSecret(a, "external-tenant-secret-456") {
		t.Fatalf("seeded app = %+v, %v", a, err)
	}
}
