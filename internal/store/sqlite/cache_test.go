package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// TestCacheIsUsed checks that point reads are served from memory once a
// record was read or written, so the cache exists on this platform.
func TestCacheIsUsed(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if s.shm == nil {
		t.Fatal("the wal-index header is not mapped: point reads will always go to SQLite")
	}
	if _, err := s.Create(ctx, store.Record{Tenant: "t", Collection: store.APIConnectors, ID: "a", Data: []byte(`{"n":0}`)}); err != nil {
		t.Fatal(err)
	}
	r, _, ok := s.cache.lookup(keyOf("t", store.APIConnectors, "A"))
	if !ok || r.Version != 1 || string(r.Data) != `{"n":0}` {
		t.Fatalf("after Create: cached %v %+v, want version 1", ok, r)
	}
	if _, err := s.Update(ctx, "t", store.APIConnectors, "a", increment); err != nil {
		t.Fatal(err)
	}
	r, _, ok = s.cache.lookup(keyOf("t", store.APIConnectors, "a"))
	if !ok || r.Version != 2 || counterOf(t, r) != 1 {
		t.Fatalf("after Update: cached %v %+v, want version 2 with n=1", ok, r)
	}
	// A caller may scribble on what it got; the cache keeps its own copy.
	got, err := s.Get(ctx, "t", store.APIConnectors, "a")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got.Data {
		got.Data[i] = 'x'
	}
	if again, _ := s.Get(ctx, "t", store.APIConnectors, "a"); counterOf(t, again) != 1 {
		t.Fatalf("the cached record changed with the caller's copy: %q", again.Data)
	}
	if err := s.Delete(ctx, "t", store.APIConnectors, "a", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.cache.lookup(keyOf("t", store.APIConnectors, "a")); ok {
		t.Fatal("a deleted record is still cached")
	}
	if _, err := s.Get(ctx, "t", store.APIConnectors, "a"); graph.KindOf(err) != graph.KindNotFound {
		t.Fatalf("Get after Delete: %v, want not found", err)
	}
}

// TestCacheSeesOtherProcesses writes through a second store and through a
// raw connection on the same file (as the command line does while the
// server runs) and checks that the first store never answers from a stale
// cache once the other write was acknowledged.
func TestCacheSeesOtherProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idgraph.db")
	a := openAt(t, path)
	b := openAt(t, path)
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx := t.Context()
	for _, id := range []string{"shared", "busy"} {
		if _, err := a.Create(ctx, store.Record{Tenant: "t", Collection: store.Tenants, ID: id, Data: []byte(`{"n":0}`)}); err != nil {
			t.Fatal(err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	raw, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	// Keep the first store's writer and readers busy meanwhile, so that
	// its own commits interleave with the other process's.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var own atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := a.Update(context.Background(), "t", store.Tenants, "busy", increment); err != nil {
					t.Error(err)
					return
				}
				own.Add(1)
				if _, err := a.Get(context.Background(), "t", store.Tenants, "shared"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := 1; i <= 40; i++ {
		var acked int64
		if i%2 == 0 {
			r, err := b.Update(ctx, "t", store.Tenants, "shared", increment)
			if err != nil {
				t.Fatal(err)
			}
			acked = r.Version
		} else {
			// A plain SQL update, as another program would do it.
			// Like any program beside a busy writer, it retries when
			// SQLite answers busy.
			var res sql.Result
			var err error
			for try := 0; try < 100; try++ {
				res, err = raw.ExecContext(ctx, `UPDATE objects SET version = version + 1, data = json_set(data, '$.n', json_extract(data, '$.n') + 1)
					WHERE tenant_id = 't' AND collection = ? AND id_key = 'shared'`, string(store.Tenants))
				if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("raw update touched %d rows", n)
			}
			if err := raw.QueryRowContext(ctx, `SELECT version FROM objects WHERE tenant_id = 't' AND collection = ? AND id_key = 'shared'`,
				string(store.Tenants)).Scan(&acked); err != nil {
				t.Fatal(err)
			}
		}
		got, err := a.Get(ctx, "t", store.Tenants, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != acked || counterOf(t, got) != int(acked-1) {
			t.Fatalf("write %d: the first store read version %d (n=%d) after version %d was acknowledged elsewhere",
				i, got.Version, counterOf(t, got), acked)
		}
		// An update through the first store builds on the other's write.
		if i%10 == 0 {
			r, err := a.Update(ctx, "t", store.Tenants, "shared", increment)
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != acked+1 || counterOf(t, r) != int(acked) {
				t.Fatalf("write %d: update through the first store gave version %d n=%d, want %d n=%d",
					i, r.Version, counterOf(t, r), acked+1, acked)
			}
		}
	}
	close(stop)
	wg.Wait()
	if own.Load() == 0 {
		t.Fatal("the concurrent writes of the first store never ran")
	}
	busy, err := b.Get(ctx, "t", store.Tenants, "busy")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(own.Load()); fmt.Sprint(counterOf(t, busy)) != want {
		t.Fatalf("busy counter = %d, want %s", counterOf(t, busy), want)
	}
}
