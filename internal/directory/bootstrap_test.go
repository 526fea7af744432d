package directory

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

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
