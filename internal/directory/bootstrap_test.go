package directory

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// A first start that stopped after writing the default-tenant pointer but
// before the tenant is completed by the next start, with the same id, and no
// stray tenant appears.
func TestBootstrapCompletesInterruptedFirstStart(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idgraph.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := secret.New(bytes.Repeat([]byte{3}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	const id = "0b6f3b0e-58c4-4d55-9a4d-2f1f0a7e5c11"
	if _, err := store.CreateAs(ctx, st, store.Global, store.Meta, metaDefaultTenant, defaultTenant{ID: id}); err != nil {
		t.Fatal(err)
	}
	d := New(st, keys, nil)
	tenant, err := d.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tenant.ID != id || tenant.Kind != graph.TenantB2C {
		t.Errorf("Bootstrap = %+v, want tenant %s of kind b2c", tenant, id)
	}
	ts, err := d.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 {
		t.Errorf("%d tenants after bootstrap, want 1: %+v", len(ts), ts)
	}
}

// Every tenant has the built-in identity providers of its kind: a new tenant
// gets them with the tenant, and a tenant stored without them (a creation cut
// short, or data from before they existed) gets them at the next Bootstrap,
// once.
func TestBuiltInProviders(t *testing.T) {
	ctx := t.Context()
	d, _, st := newDir(t)
	bootstrap(t, d)
	ids := func(tenant string) []string {
		t.Helper()
		ps, err := store.ListAs[graph.IdentityProvider](ctx, st, tenant, store.IdentityProviders)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			if p.Value.ODataType != graph.TypeBuiltInIdentityProvider {
				t.Errorf("tenant %s holds a %s at start", tenant, p.Value.ODataType)
			}
			out = append(out, p.Value.ID)
		}
		return out
	}
	want := map[graph.TenantKind][]string{
		graph.TenantB2C:       nil,
		graph.TenantWorkforce: {"MSASignup-OAUTH"},
		graph.TenantExternal:  {"AADSignup-OAUTH", "EmailOtpSignup-OAUTH", "EmailPassword-OAUTH"},
	}
	tenants := map[graph.TenantKind]string{}
	for kind, w := range want {
		tn, err := d.CreateTenant(ctx, graph.Tenant{ID: uuid.NewString(), DisplayName: "t", Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		tenants[kind] = tn.ID
		if got := ids(tn.ID); !slices.Equal(got, w) {
			t.Errorf("new %s tenant has built-ins %v, want %v", kind, got, w)
		}
	}
	// A workforce tenant stored directly, without its built-ins.
	bare := graph.Tenant{ID: uuid.NewString(), DisplayName: "bare", Kind: graph.TenantWorkforce}
	if _, err := store.CreateAs(ctx, st, store.Global, store.Tenants, bare.ID, bare); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		bootstrap(t, d)
		if got := ids(bare.ID); !slices.Equal(got, want[graph.TenantWorkforce]) {
			t.Errorf("after Bootstrap the bare tenant has %v, want %v", got, want[graph.TenantWorkforce])
		}
		for kind, id := range tenants {
			if got := ids(id); !slices.Equal(got, want[kind]) {
				t.Errorf("after Bootstrap the %s tenant has %v, want %v", kind, got, want[kind])
			}
		}
	}
}
