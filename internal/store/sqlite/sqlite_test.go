package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/storetest"
)

const (
	tenantA = "5b0c8f1e-0000-4000-8000-00000000000a"
	tenantB = "5b0c8f1e-0000-4000-8000-00000000000b"
)

// openAt opens the store at path; the caller closes it.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

// openTemp opens a store on a new file and closes it when the test ends.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s := openAt(t, filepath.Join(t.TempDir(), "idgraph.db"))
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "idgraph.db"))
	})
}

type counter struct {
	N int `json:"n"`
}

func increment(_ store.Tx, cur store.Record) ([]byte, error) {
	var c counter
	if err := json.Unmarshal(cur.Data, &c); err != nil {
		return nil, err
	}
	c.N++
	return json.Marshal(c)
}

func counterOf(t *testing.T, r store.Record) int {
	t.Helper()
	var c counter
	if err := json.Unmarshal(r.Data, &c); err != nil {
		t.Errorf("decode %s %q: %v", r.ID, r.Data, err)
		return -1
	}
	return c.N
}

func show(r store.Record) string {
	return fmt.Sprintf("{Tenant:%q Collection:%q ID:%q Version:%d Data:%s}", r.Tenant, r.Collection, r.ID, r.Version, r.Data)
}

func sameRecord(a, b store.Record) bool {
	return a.Tenant == b.Tenant && a.Collection == b.Collection && a.ID == b.ID &&
		a.Version == b.Version && bytes.Equal(a.Data, b.Data)
}

func checkRecords(t *testing.T, what string, got, want []store.Record) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameRecord(got[i], want[i])
	}
	if ok {
		return
	}
	var g, w []string
	for _, r := range got {
		g = append(g, show(r))
	}
	for _, r := range want {
		w = append(w, show(r))
	}
	t.Errorf("%s =\n\t%s\nwant\n\t%s", what, strings.Join(g, "\n\t"), strings.Join(w, "\n\t"))
}

func listAll(t *testing.T, s store.Store, tenant string, c store.Collection) []store.Record {
	t.Helper()
	rs, err := s.List(t.Context(), tenant, c)
	if err != nil {
		t.Fatalf("List(%q, %s): %v", tenant, c, err)
	}
	return rs
}

// waitFor fails the test if wg does not finish within d.
func waitFor(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// TestReopenKeepsAcknowledgedWrites checks that every write acknowledged
// before Close is in the file when it is opened again, and nothing else.
func TestReopenKeepsAcknowledgedWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "idgraph.db")
	s := openAt(t, path)
	c := store.IdentityProviders
	if _, err := s.Create(ctx, store.Record{Tenant: store.Global, Collection: store.Meta, ID: "Counter", Data: []byte(`{"n":0}`)}); err != nil {
		t.Fatalf("Create counter: %v", err)
	}

	// Each worker owns its records, so the final state follows from the
	// writes it saw acknowledged.
	const workers, perWorker = 8, 12
	var mu sync.Mutex
	want := make(map[string]store.Record) // by tenant and id; absent when deleted
	key := func(tenant, id string) string { return tenant + "/" + store.Key(id) }
	var wg sync.WaitGroup
	for w := range workers {
		tenant := tenantA
		if w%2 == 1 {
			tenant = tenantB
		}
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("Worker%d-Rec%d", w, i)
				r, err := s.Create(ctx, store.Record{Tenant: tenant, Collection: c, ID: id, Data: []byte(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))})
				if err != nil {
					t.Errorf("Create %s: %v", id, err)
					return
				}
				switch i % 3 {
				case 1:
					for u := range 2 {
						r, err = s.Update(ctx, tenant, c, strings.ToLower(id), func(store.Tx, store.Record) ([]byte, error) {
							return []byte(fmt.Sprintf(`{"w":%d,"i":%d,"u":%d}`, w, i, u)), nil
						})
						if err != nil {
							t.Errorf("Update %s: %v", id, err)
							return
						}
					}
				case 2:
					if err := s.Delete(ctx, tenant, c, id, nil); err != nil {
						t.Errorf("Delete %s: %v", id, err)
						return
					}
				}
				mu.Lock()
				if i%3 == 2 {
					delete(want, key(tenant, id))
				} else {
					want[key(tenant, id)] = r
				}
				mu.Unlock()
				if _, err := s.Update(ctx, store.Global, store.Meta, "counter", increment); err != nil {
					t.Errorf("Update counter: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	before := map[string][]store.Record{
		tenantA: listAll(t, s, tenantA, c),
		tenantB: listAll(t, s, tenantB, c),
	}
	if n := len(before[tenantA]) + len(before[tenantB]); n != len(want) {
		t.Errorf("before Close: %d records listed, want %d", n, len(want))
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	t.Cleanup(func() { s.Close() })
	for _, tenant := range []string{tenantA, tenantB} {
		after := listAll(t, s, tenant, c)
		checkRecords(t, "List after reopen", after, before[tenant])
		for _, r := range after {
			w, ok := want[key(tenant, r.ID)]
			if !ok {
				t.Errorf("after reopen: %s is present, want it deleted", show(r))
				continue
			}
			if !sameRecord(r, w) {
				t.Errorf("after reopen: %s, want %s", show(r), show(w))
			}
		}
	}
	for k, w := range want {
		if _, err := s.Get(ctx, w.Tenant, c, w.ID); err != nil {
			t.Errorf("after reopen: Get %s: %v", k, err)
		}
	}
	cnt, err := s.Get(ctx, store.Global, store.Meta, "COUNTER")
	if err != nil {
		t.Fatalf("after reopen: Get counter: %v", err)
	}
	if n := counterOf(t, cnt); n != workers*perWorker || cnt.Version != workers*perWorker+1 {
		t.Errorf("after reopen: counter n=%d version=%d, want n=%d version=%d", n, cnt.Version, workers*perWorker, workers*perWorker+1)
	}

	// The reopened store carries on: versions continue, new records come last.
	r, err := s.Update(ctx, store.Global, store.Meta, "counter", increment)
	if err != nil {
		t.Fatalf("Update after reopen: %v", err)
	}
	if r.Version != workers*perWorker+2 {
		t.Errorf("Update after reopen: version %d, want %d", r.Version, workers*perWorker+2)
	}
	last, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "After-Reopen", Data: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Create after reopen: %v", err)
	}
	checkRecords(t, "List after a Create following reopen", listAll(t, s, tenantA, c), append(before[tenantA], last))
}

func TestDurabilityPragmas(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	if _, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: store.APIConnectors, ID: "c", Data: []byte(`{}`)}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := os.Stat(s.Path() + "-wal"); err != nil {
		t.Errorf("after a write the write-ahead log is missing: %v", err)
	}

	// Hold several reader connections at once so that each is a distinct one:
	// the settings are per connection.
	check := func(name string, db *sql.DB, n int) {
		t.Helper()
		var conns []*sql.Conn
		for i := range n {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatalf("%s connection %d: %v", name, i, err)
			}
			conns = append(conns, conn)
		}
		for i, conn := range conns {
			var mode string
			var syncMode int
			if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatalf("%s connection %d: journal_mode: %v", name, i, err)
			}
			if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
				t.Fatalf("%s connection %d: synchronous: %v", name, i, err)
			}
			if !strings.EqualFold(mode, "wal") || syncMode != 2 {
				t.Errorf("%s connection %d: journal_mode=%s synchronous=%d, want wal and 2", name, i, mode, syncMode)
			}
		}
		for _, conn := range conns {
			conn.Close()
		}
	}
	check("writer", s.wdb, 1)
	check("reader", s.rdb, 3)

	// The open-time check refuses weaker settings.
	for _, pragmas := range [][]string{
		{"journal_mode(WAL)", "synchronous(NORMAL)"},
		{"journal_mode(DELETE)", "synchronous(FULL)"},
		{"journal_mode(MEMORY)", "synchronous(OFF)"},
	} {
		q := url.Values{}
		for _, p := range pragmas {
			q.Add("_pragma", p)
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "weak.db")+"?"+q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		if err := (&Store{wdb: db}).checkDurability(ctx); err == nil {
			t.Errorf("checkDurability with %v: got nil, want an error", pragmas)
		}
		db.Close()
	}
}

func TestIntegrityCheckAfterConcurrentLoad(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "idgraph.db")
	s := openAt(t, path)
	c := store.APIConnectors
	if _, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "shared", Data: []byte(`{"n":0}`)}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// Documents big enough to need overflow pages.
	pad := strings.Repeat("p", 3000)
	const workers, ops = 16, 40
	var increments atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				id := fmt.Sprintf("w%d-%d", w, i/4)
				var err error
				switch i % 4 {
				case 0:
					_, err = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: id, Data: []byte(`{"pad":"` + pad + `"}`)})
				case 1:
					_, err = s.Update(ctx, tenantA, c, id, func(store.Tx, store.Record) ([]byte, error) {
						return []byte(`{"pad":"` + pad + pad + `"}`), nil
					})
				case 2:
					if _, err = s.Update(ctx, tenantA, c, "shared", increment); err == nil {
						increments.Add(1)
					}
					if _, lerr := s.List(ctx, tenantA, c); lerr != nil {
						t.Errorf("List: %v", lerr)
					}
				case 3:
					if w%2 == 0 {
						err = s.Delete(ctx, tenantA, c, id, nil)
					} else {
						// A refused delete rolls back its savepoint.
						s.Delete(ctx, tenantA, c, id, func(store.Tx, store.Record) error { return fmt.Errorf("refused") })
					}
				}
				if err != nil {
					t.Errorf("worker %d op %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck after the load: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	t.Cleanup(func() { s.Close() })
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck after reopen: %v", err)
	}
	shared, err := s.Get(ctx, tenantA, c, "shared")
	if err != nil {
		t.Fatalf("Get shared: %v", err)
	}
	if n := counterOf(t, shared); int64(n) != increments.Load() {
		t.Errorf("shared counter = %d, want %d", n, increments.Load())
	}
	// Odd workers' records survived; even workers' were deleted.
	if got, want := len(listAll(t, s, tenantA, c)), 1+workers/2*ops/4; got != want {
		t.Errorf("List has %d records, want %d", got, want)
	}
}

// TestCloseWithQueuedWrites closes the store while many writes are waiting
// for the writer: Close and every write must return, and every write reported
// successful must be in the file when it is opened again, every failed one
// must not.
func TestCloseWithQueuedWrites(t *testing.T) {
	c := store.IdentityProviders
	for round := range 3 {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "idgraph.db")
		s := openAt(t, path)

		const writers = 64
		counterID := func(w int) string { return fmt.Sprintf("counter-%d", w) }
		var setup sync.WaitGroup
		for w := range writers {
			setup.Go(func() {
				if _, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: store.Meta, ID: counterID(w), Data: []byte(`{"n":0}`)}); err != nil {
					t.Errorf("Create %s: %v", counterID(w), err)
				}
			})
		}
		setup.Wait()
		if t.Failed() {
			t.FailNow()
		}

		type outcome struct {
			id   string
			data []byte
			err  error
		}
		creates := make([][]outcome, writers)
		acked := make([]int, writers)       // acknowledged counter value
		updateErr := make([]error, writers) // the counter update that failed
		var succeeded atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				for i := 0; ; i++ {
					o := outcome{id: fmt.Sprintf("w%d-%d", w, i), data: []byte(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))}
					_, o.err = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: o.id, Data: o.data})
					creates[w] = append(creates[w], o)
					if o.err != nil {
						return
					}
					succeeded.Add(1)
					r, err := s.Update(ctx, tenantA, store.Meta, counterID(w), increment)
					if err != nil {
						updateErr[w] = err
						return
					}
					acked[w] = counterOf(t, r)
				}
			})
		}
		close(start)
		deadline := time.Now().Add(10 * time.Second)
		for succeeded.Load() < 100 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: only %d writes succeeded in 10s", round, succeeded.Load())
			}
			time.Sleep(time.Millisecond)
		}

		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("round %d: Close: %v", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Close did not return within 10s with writes queued", round)
		}
		waitFor(t, &wg, 10*time.Second, fmt.Sprintf("round %d: writes queued at Close", round))

		// Writes after Close fail at once.
		var late sync.WaitGroup
		late.Go(func() {
			_, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "late", Data: []byte(`{}`)})
			if graph.KindOf(err) != graph.KindUnavailable {
				t.Errorf("round %d: Create after Close: error %v, want kind %d", round, err, graph.KindUnavailable)
			}
			_, err = s.Update(ctx, tenantA, store.Meta, counterID(0), increment)
			if graph.KindOf(err) != graph.KindUnavailable {
				t.Errorf("round %d: Update after Close: error %v, want kind %d", round, err, graph.KindUnavailable)
			}
			err = s.Delete(ctx, tenantA, store.Meta, counterID(0), nil)
			if graph.KindOf(err) != graph.KindUnavailable {
				t.Errorf("round %d: Delete after Close: error %v, want kind %d", round, err, graph.KindUnavailable)
			}
		})
		waitFor(t, &late, 5*time.Second, fmt.Sprintf("round %d: writes after Close", round))

		// Every write ended, and ended only with the store's shutdown error.
		var failed int
		for w := range writers {
			for _, o := range creates[w] {
				if o.err != nil {
					failed++
					if graph.KindOf(o.err) != graph.KindUnavailable {
						t.Errorf("round %d: Create %s during Close: error %v, want kind %d", round, o.id, o.err, graph.KindUnavailable)
					}
				}
			}
			if err := updateErr[w]; err != nil {
				failed++
				if graph.KindOf(err) != graph.KindUnavailable {
					t.Errorf("round %d: Update %s during Close: error %v, want kind %d", round, counterID(w), err, graph.KindUnavailable)
				}
			}
		}
		if failed != writers {
			t.Errorf("round %d: %d writers saw a failure, want all %d", round, failed, writers)
		}

		s = openAt(t, path)
		var present int
		for w := range writers {
			for _, o := range creates[w] {
				r, err := s.Get(ctx, tenantA, c, o.id)
				switch {
				case o.err == nil && err != nil:
					t.Errorf("round %d: %s was acknowledged but is missing after reopen: %v", round, o.id, err)
				case o.err == nil:
					present++
					if r.Version != 1 || !bytes.Equal(r.Data, o.data) {
						t.Errorf("round %d: after reopen %s, want version 1 and data %s", round, show(r), o.data)
					}
				case err == nil:
					t.Errorf("round %d: Create %s failed with %v but the record is present after reopen: %s", round, o.id, o.err, show(r))
				default:
					if graph.KindOf(err) != graph.KindNotFound {
						t.Errorf("round %d: Get %s after reopen: %v", round, o.id, err)
					}
				}
			}
			r, err := s.Get(ctx, tenantA, store.Meta, counterID(w))
			if err != nil {
				t.Errorf("round %d: Get %s after reopen: %v", round, counterID(w), err)
				continue
			}
			if n := counterOf(t, r); n != acked[w] || r.Version != int64(acked[w])+1 {
				t.Errorf("round %d: after reopen %s has n=%d version=%d, want n=%d version=%d (the acknowledged updates)", round, counterID(w), n, r.Version, acked[w], acked[w]+1)
			}
		}
		if got := len(listAll(t, s, tenantA, c)); got != present {
			t.Errorf("round %d: after reopen List has %d records, want the %d acknowledged", round, got, present)
		}
		if err := s.IntegrityCheck(ctx); err != nil {
			t.Errorf("round %d: IntegrityCheck after reopen: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("round %d: Close after reopen: %v", round, err)
		}
	}
}

// Writes run with a context of their own: a caller whose context is already
// done either gets its context's error with nothing written, or the outcome.
func TestCanceledContextNeverMisreports(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: store.APIConnectors, ID: "x", Data: []byte(`{"v":1}`)})
	r, gerr := s.Get(t.Context(), tenantA, store.APIConnectors, "x")
	switch {
	case err == nil && gerr != nil:
		t.Errorf("Create with a canceled context succeeded but Get: %v", gerr)
	case err != nil && gerr == nil:
		t.Errorf("Create with a canceled context failed (%v) but the record is present: %s", err, show(r))
	}
}

// TestCloseWhileWriterBusy queues writes behind a write that holds the writer,
// then closes the store: whether the writer still runs them or Close turns
// them away, each caller must learn the true outcome.
func TestCloseWhileWriterBusy(t *testing.T) {
	c := store.APIConnectors
	var committed, refused int
	for round := range 8 {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "idgraph.db")
		s := openAt(t, path)

		running, release := make(chan struct{}), make(chan struct{})
		blocker := make(chan error, 1)
		go func() {
			blocker <- s.write(context.Background(), func(context.Context, *wtx) error {
				close(running)
				<-release
				return nil
			})
		}()
		<-running

		const queued = 32
		errs := make([]error, queued)
		id := func(i int) string { return fmt.Sprintf("queued-%d", i) }
		var wg sync.WaitGroup
		for i := range queued {
			wg.Go(func() {
				_, errs[i] = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: id(i), Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
			})
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(s.ops) < queued {
			if time.Now().After(deadline) {
				close(release)
				t.Fatalf("round %d: %d writes queued after 10s, want %d", round, len(s.ops), queued)
			}
			time.Sleep(100 * time.Microsecond)
		}

		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		<-s.closed
		close(release)
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("round %d: Close: %v", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Close did not return within 10s", round)
		}
		waitFor(t, &wg, 10*time.Second, fmt.Sprintf("round %d: queued writes", round))
		if err := <-blocker; err != nil {
			t.Errorf("round %d: the write holding the writer: %v", round, err)
		}

		s = openAt(t, path)
		for i, werr := range errs {
			r, err := s.Get(ctx, tenantA, c, id(i))
			switch {
			case werr == nil && err != nil:
				t.Errorf("round %d: Create %s succeeded but after reopen Get: %v", round, id(i), err)
			case werr == nil:
				committed++
			case err == nil:
				t.Errorf("round %d: Create %s failed with %v but after reopen it is present: %s", round, id(i), werr, show(r))
			default:
				refused++
				if graph.KindOf(werr) != graph.KindUnavailable {
					t.Errorf("round %d: Create %s: error %v, want kind %d", round, id(i), werr, graph.KindUnavailable)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("round %d: Close after reopen: %v", round, err)
		}
	}
	t.Logf("queued writes: %d committed, %d refused by Close", committed, refused)
}
