package sqlite

// Regression tests: a write's reported value across a re-run group, and
// the record cache after wal-index recovery, after Close and through a
// symbolic link.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// store.UpdateAs returns a Value computed by a run of fn that was rolled
// back, while the committed document is the one computed optimistically.
//
// Group (one transaction): Z0 updates z; A updates x with a fn that reads z
// (so A's optimistic result is invalid and A runs locked); B is
// store.UpdateAs on x (its CAS fails behind A, so its fn runs locked and
// sets UpdateAs's captured `next`); C fails with a plain error, so the group
// is rolled back and re-run with savepoints. Between the two runs the world
// changes for A (in production: another process commits between
// tx.Rollback() and the re-run's BEGIN; here C flips a flag A's fn reads,
// which is not a side effect of A's fn). In the re-run A fails, so x is
// back at version 1 when B runs, B's compare-and-swap of its *optimistic*
// document succeeds — but `next` still holds the value from B's locked,
// rolled-back run.
func TestUpdateAsReportsTheStoredRun(t *testing.T) {
	s := openTemp(t)
	c := store.APIConnectors
	mustCreate(t, s, c, "x", counter{N: 0})
	mustCreate(t, s, c, "z", counter{N: 0})
	mustCreate(t, s, c, "w", counter{N: 0})

	var aBlocked atomic.Bool
	var deleteChecks atomic.Int32
	g := holdWriter(t, s)

	// Z0: bumps z (optimistic CAS, succeeds in both runs).
	g.add("Z0", func() {
		if _, err := s.Update(context.Background(), tenantA, c, "z", increment); err != nil {
			t.Errorf("Z0: %v", err)
		}
	})
	// A: reads z, then increments x unless "blocked".
	aErr := make(chan error, 1)
	g.add("A", func() {
		_, err := s.Update(context.Background(), tenantA, c, "x", func(tx store.Tx, cur store.Record) ([]byte, error) {
			if _, err := tx.Get(tenantA, c, "z"); err != nil {
				return nil, err
			}
			if aBlocked.Load() {
				return nil, graph.Errorf(graph.KindInvalid, "precondition no longer holds")
			}
			return increment(tx, cur)
		})
		aErr <- err
	})
	// B: UpdateAs on x.
	type bOut struct {
		v   store.Versioned[counter]
		err error
	}
	bCh := make(chan bOut, 1)
	g.add("B", func() {
		v, err := store.UpdateAs(context.Background(), s, tenantA, c, "x", func(_ store.Tx, cur store.Versioned[counter]) (counter, error) {
			return counter{N: cur.Value.N + 1}, nil
		})
		bCh <- bOut{v, err}
	})
	// D: a Delete whose check refuses with a graph error (no change):
	// counts how often the check runs.
	g.add("D", func() {
		err := s.Delete(context.Background(), tenantA, c, "w", func(store.Tx, store.Record) error {
			deleteChecks.Add(1)
			return graph.Errorf(graph.KindInvalid, "refused")
		})
		if graph.KindOf(err) != graph.KindInvalid {
			t.Errorf("D: %v", err)
		}
	})
	// C: fails with a plain error -> whole group rolled back and re-run.
	g.add("C", func() {
		err := s.write(context.Background(), func(context.Context, *wtx) error {
			aBlocked.Store(true)
			return errors.New("plain failure")
		})
		if err == nil {
			t.Errorf("C succeeded")
		}
	})
	g.commit()

	if err := <-aErr; graph.KindOf(err) != graph.KindInvalid {
		t.Fatalf("A: %v, want the invalid verdict of the re-run", err)
	}
	b := <-bCh
	if b.err != nil {
		t.Fatalf("B: %v", b.err)
	}
	stored := mustGet(t, s, c, "x")
	var committed counter
	decodeInto(t, stored.Data, &committed)
	t.Logf("B returned version %d value n=%d; stored version %d %s", b.v.Version, b.v.Value.N, stored.Version, stored.Data)
	if b.v.Version != stored.Version || b.v.Value.N != committed.N {
		t.Errorf("UpdateAs acknowledged version %d with value n=%d, but version %d holds n=%d (the value came from a rolled-back run)",
			b.v.Version, b.v.Value.N, stored.Version, committed.N)
	}
	if n := deleteChecks.Load(); n < 1 || n > 2 {
		t.Errorf("Delete's check ran %d times for one Delete, want once per run of the group", n)
	}
}

func decodeInto(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	raw, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return raw
}

func rawBump(t *testing.T, raw *sql.DB, id string) {
	t.Helper()
	res, err := raw.Exec(`UPDATE objects SET version = version + 1, data = json_set(data, '$.n', json_extract(data, '$.n') + 1)
		WHERE tenant_id = ? AND collection = ? AND id_key = ?`, tenantA, string(store.APIConnectors), id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("raw update touched %d rows", n)
	}
}

func rawVersion(t *testing.T, raw *sql.DB, id string) int64 {
	t.Helper()
	var v int64
	if err := raw.QueryRow(`SELECT version FROM objects WHERE tenant_id = ? AND collection = ? AND id_key = ?`,
		tenantA, string(store.APIConnectors), id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// WAL-index recovery resets iChange to 0 (walIndexRecover memsets the
// header). The state that triggers recovery is left by a process killed
// between the two header copies' writes in walIndexWriteHdr; it is
// simulated here by making copy 2's iChange differ. Once other-process
// commits bring the counter back to the cache's `known`, the cache answers
// again with entries older than acknowledged commits.
func TestCacheAfterWALIndexRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idgraph.db")
	a := openAt(t, path)
	t.Cleanup(func() { a.Close() })
	ctx := t.Context()
	c := store.APIConnectors
	if _, err := a.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "x", Data: []byte(`{"n":0}`)}); err != nil {
		t.Fatal(err)
	}
	if r, _, ok := a.cache.lookup(keyOf(tenantA, c, "x")); !ok || r.Version != 1 {
		t.Fatalf("x not cached at version 1")
	}
	known := a.cache.known.Load()
	if known == nil {
		t.Fatal("the cache does not know the database's state")
	}
	raw := rawDB(t, path)
	rawBump(t, raw, "x") // another process's acknowledged commit: version 2

	// Simulate a writer killed after writing header copy 2 but before copy 1.
	f, err := os.OpenFile(path+"-shm", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	p := (*uint32)(unsafe.Pointer(&mem[shmHeaderSize+shmChangeOffset]))
	*p = *p + 1

	// The next access runs recovery, which restarts the change counter
	// from 0; other commits bring it back to the value the cache knew.
	_ = rawVersion(t, raw, "x")
	st, ok := a.shm.state()
	for i := 0; i < 100000 && (!ok || st[0] < known[0]); i++ {
		rawBump(t, raw, "x")
		st, ok = a.shm.state()
	}
	if !ok || st[0] != known[0] {
		t.Fatalf("the change counter did not come back to %d (it is %d)", known[0], st[0])
	}
	acked := rawVersion(t, raw, "x")
	got, err := a.Get(ctx, tenantA, c, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != acked {
		t.Errorf("Get returned version %d (%s) after version %d was committed and acknowledged by another process", got.Version, got.Data, acked)
	}
}

// a closed Store answers point reads from its cache. If it was the last
// connection, SQLite unlinked the -shm at close, the mapping is of a dead
// file and the counter never moves again: after another process commits,
// Get on the closed store returns the old version with a nil error.
func TestClosedStoreDoesNotAnswerFromCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idgraph.db")
	ctx := t.Context()
	c := store.APIConnectors
	a := openAt(t, path)
	if _, err := a.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "x", Data: []byte(`{"n":0}`)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := openAt(t, path)
	t.Cleanup(func() { b.Close() })
	if _, err := b.Update(ctx, tenantA, c, "x", increment); err != nil {
		t.Fatal(err)
	}
	got, err := a.Get(ctx, tenantA, c, "x")
	if err == nil {
		t.Errorf("Get on the closed store: version %d %s, nil error (committed elsewhere: version 2)", got.Version, got.Data)
	}
}

// the -shm SQLite uses is named after the database path with symbolic
// links resolved; mapShm opens path+"-shm" literally. Through a symlink the
// cache is off (no file), or maps a leftover file and is never invalidated.
func TestCacheThroughSymlinkedPath(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.db")
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	// A leftover -shm beside the link (say from when link.db was a regular
	// file and a process crashed): a copy of a live one.
	seed := openAt(t, real)
	if _, err := seed.Create(t.Context(), store.Record{Tenant: tenantA, Collection: store.APIConnectors, ID: "x", Data: []byte(`{"n":0}`)}); err != nil {
		t.Fatal(err)
	}
	shm, err := os.ReadFile(real + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link+"-shm", shm, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, link)
	t.Cleanup(func() { s.Close(); seed.Close() })
	if s.shm == nil {
		t.Fatal("no mapping")
	}
	ctx := t.Context()
	if _, err := s.Get(ctx, tenantA, store.APIConnectors, "x"); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, real)
	rawBump(t, raw, "x")
	got, err := s.Get(ctx, tenantA, store.APIConnectors, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Errorf("through a symlinked path: Get returned version %d after version 2 was committed elsewhere", got.Version)
	}
}
