package postgres

import (
	"testing"

	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/postgres/pgtest"
	"github.com/idgraph/idgraph/internal/store/storetest"
)

// openStore opens a store on dsn; the test closes it when it ends.
func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
