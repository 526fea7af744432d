package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// The tests of this file check group commit: every write is queued to the
// single writer, which runs the writes waiting together in one transaction
// (one savepoint each), and Update and CreateFunc compute their document
// before they queue (optimistic) and are re-run inside the transaction when
// what they read has changed. No test here measures time: deadlines only turn
// a hang into a failure.

// groupDeadline bounds every wait of these tests.
const groupDeadline = 60 * time.Second

// heldGroup keeps the single writer busy so that the writes queued behind it
// are taken as one group, in a known order, when it lets go. add waits until
// each write is in s.ops before the next one starts, and two probes, queued
// first and last, prove that the group ran in one transaction.
type heldGroup struct {
	t       *testing.T
	s       *Store
	release chan struct{}
	once    sync.Once
	holder  chan error
	wg      sync.WaitGroup
	queued  int
	mu      sync.Mutex
	txs     []*sql.Tx // the transactions the probes ran in
}

// holdWriter starts a write that holds the writer until commit (or the end of
// the test).
func holdWriter(t *testing.T, s *Store) *heldGroup {
	t.Helper()
	g := &heldGroup{t: t, s: s, release: make(chan struct{}), holder: make(chan error, 1)}
	t.Cleanup(g.let) // runs before the store's own cleanup: Close never waits for a held writer
	running := make(chan struct{})
	go func() {
		g.holder <- s.write(context.Background(), func(context.Context, *wtx) error {
			close(running)
			<-g.release
			return nil
		})
	}()
	select {
	case <-running:
	case <-time.After(groupDeadline):
		t.Fatalf("the write holding the writer did not start within %v", groupDeadline)
	}
	if n := len(s.ops); n != 0 {
		g.let()
		t.Fatalf("%d writes queued before the group started, want 0", n)
	}
	g.probe()
	return g
}

func (g *heldGroup) let() { g.once.Do(func() { close(g.release) }) }

// add runs f, which must queue exactly one write, on a goroutine of its own
// and waits until that write is queued behind the ones added before.
func (g *heldGroup) add(what string, f func()) {
	g.t.Helper()
	done := make(chan struct{})
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(done)
		f()
	}()
	want := g.queued + 1
	deadline := time.Now().Add(groupDeadline)
	for len(g.s.ops) < want {
		select {
		case <-done:
			g.let()
			g.t.Fatalf("%s returned without queueing a write behind the held writer", what)
		default:
		}
		if time.Now().After(deadline) {
			g.let()
			g.t.Fatalf("%s: %d writes queued after %v, want %d", what, len(g.s.ops), groupDeadline, want)
		}
		time.Sleep(50 * time.Microsecond)
	}
	if n := len(g.s.ops); n != want {
		g.let()
		g.t.Fatalf("%s: %d writes queued, want %d", what, n, want)
	}
	g.queued = want
}

// probe queues a write that only records the transaction it runs in.
func (g *heldGroup) probe() {
	g.t.Helper()
	g.add("probe", func() {
		g.s.write(context.Background(), func(_ context.Context, w *wtx) error {
			g.mu.Lock()
			g.txs = append(g.txs, w.tx)
			g.mu.Unlock()
			return nil
		})
	})
}

// commit lets the writer go and waits for every write of the group; it fails
// the test unless all of them ran in one transaction.
func (g *heldGroup) commit() {
	g.t.Helper()
	g.probe()
	if g.queued > maxGroup {
		g.let()
		g.t.Fatalf("%d writes queued, more than one group (%d)", g.queued, maxGroup)
	}
	g.let()
	waitFor(g.t, &g.wg, groupDeadline, "the writes of the group")
	select {
	case err := <-g.holder:
		if err != nil {
			g.t.Fatalf("the write holding the writer: %v", err)
		}
	case <-time.After(groupDeadline):
		g.t.Fatalf("the write holding the writer did not return within %v", groupDeadline)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// The writer may run a group twice (first without savepoints; again
	// with them when a write failed after changing a row). The run that
	// counts is the last: its first and last probe must share a transaction.
	if n := len(g.txs); n < 2 || n > 3 || g.txs[n-2] == nil || g.txs[n-2] != g.txs[n-1] {
		g.t.Fatalf("the queued writes did not run in one transaction (probes saw %v)", g.txs)
	}
}

// gate blocks the first run of a fn (after it has read what it reads) until
// the test opens it; later runs pass.
type gate struct {
	reached, open chan struct{}
	openOnce      sync.Once
	runs          atomic.Int32
}

func newGate(t *testing.T) *gate {
	g := &gate{reached: make(chan struct{}), open: make(chan struct{})}
	t.Cleanup(g.let)
	return g
}

func (g *gate) pass() {
	if g.runs.Add(1) == 1 {
		close(g.reached)
		<-g.open
	}
}

func (g *gate) let() { g.openOnce.Do(func() { close(g.open) }) }

func (g *gate) waitReached(t *testing.T) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(groupDeadline):
		g.let()
		t.Fatalf("the fn did not run within %v", groupDeadline)
	}
}

type writeResult struct {
	rec store.Record
	err error
}

// await waits for the result of a write running on another goroutine.
func await(t *testing.T, ch <-chan writeResult, what string) writeResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(groupDeadline):
		t.Fatalf("%s did not return within %v", what, groupDeadline)
		return writeResult{}
	}
}

func mustCreate(t *testing.T, s *Store, c store.Collection, id string, v any) store.Record {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Create(t.Context(), store.Record{Tenant: tenantA, Collection: c, ID: id, Data: data})
	if err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
	return r
}

func mustGet(t *testing.T, s *Store, c store.Collection, id string) store.Record {
	t.Helper()
	r, err := s.Get(t.Context(), tenantA, c, id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return r
}

func wantAbsent(t *testing.T, s *Store, c store.Collection, id string) {
	t.Helper()
	if r, err := s.Get(t.Context(), tenantA, c, id); err == nil {
		t.Errorf("%s is present, want it absent: %s", id, show(r))
	} else if graph.KindOf(err) != graph.KindNotFound {
		t.Errorf("Get %s: %v, want an error of kind NotFound", id, err)
	}
}

func decodeAs[T any](t *testing.T, r store.Record) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("decode %s: %v", show(r), err)
	}
	return v
}

func wantKind(t *testing.T, what string, err error, k graph.Kind) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s succeeded, want an error of kind %d", what, k)
	case graph.KindOf(err) != k:
		t.Errorf("%s: error %v of kind %d, want kind %d", what, err, graph.KindOf(err), k)
	}
}

// TestGroupEachWriteGetsItsOwnOutcome queues, in one group, writes that
// succeed and writes that fail for every reason a write can fail, some of
// them on records the same group changed before. Each caller must get its own
// outcome, and the file must hold exactly the successful writes, before and
// after a reopen.
func TestGroupEachWriteGetsItsOwnOutcome(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "idgraph.db")
	s := openAt(t, path)
	c := store.APIConnectors
	for _, id := range []string{"r1", "r2", "r3", "gone"} {
		mustCreate(t, s, c, id, counter{})
	}

	const success graph.Kind = -1
	type outcome struct {
		name string
		want graph.Kind // success, or the kind of the error
		writeResult
	}
	var outcomes []*outcome
	g := holdWriter(t, s)
	queue := func(name string, want graph.Kind, f func() (store.Record, error)) *outcome {
		t.Helper()
		o := &outcome{name: name, want: want}
		outcomes = append(outcomes, o)
		g.add(name, func() { o.rec, o.err = f() })
		return o
	}
	update := func(id string, fn func(store.Tx, store.Record) ([]byte, error)) func() (store.Record, error) {
		return func() (store.Record, error) { return s.Update(ctx, tenantA, c, id, fn) }
	}
	create := func(id, data string) func() (store.Record, error) {
		return func() (store.Record, error) {
			return s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: id, Data: []byte(data)})
		}
	}
	remove := func(id string) func() (store.Record, error) {
		return func() (store.Record, error) { return store.Record{}, s.Delete(ctx, tenantA, c, id, nil) }
	}
	refuse := func(store.Tx, store.Record) ([]byte, error) {
		return nil, graph.Errorf(graph.KindInvalid, "refused by fn")
	}

	r1a := queue("update r1", success, update("r1", increment))
	queue("update r2 refused by its fn", graph.KindInvalid, update("r2", refuse))
	queue("update of a missing id", graph.KindNotFound, update("missing", increment))
	dup := queue("create dup", success, create("dup", `{"first":true}`))
	// Computed while dup was absent: the conflict shows only inside the group.
	queue("create dup again", graph.KindConflict, create("DUP", `{"second":true}`))
	r3 := queue("update r3", success, update("r3", increment))
	queue("delete gone", success, remove("gone"))
	// Computed while gone was present: its compare-and-swap must fail.
	queue("update gone after its delete", graph.KindNotFound, update("gone", increment))
	fresh := queue("create fresh", success, create("fresh", `{"fresh":true}`))
	// Computed from r1 at version 1, which the group has moved on.
	r1b := queue("update r1 again", success, update("r1", increment))
	queue("delete of a missing id", graph.KindNotFound, remove("missing"))
	// A write that changes a row and then fails must leave nothing behind.
	queue("a write failing after it wrote", graph.KindInvalid, func() (store.Record, error) {
		return store.Record{}, s.write(ctx, func(ctx context.Context, tx *wtx) error {
			if _, err := tx.exec(ctx, tx.st.update, 99, []byte(`{"n":999}`), tenantA, string(c), store.Key("r3")); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, tx.st.delete, tenantA, string(c), store.Key("r1")); err != nil {
				return err
			}
			return graph.Errorf(graph.KindInvalid, "refused after writing")
		})
	})
	queue("create refused by its fn", graph.KindForbidden, func() (store.Record, error) {
		return s.CreateFunc(ctx, tenantA, c, "never", func(store.Tx) ([]byte, error) {
			return nil, graph.Errorf(graph.KindForbidden, "refused by fn")
		})
	})
	r2 := queue("update r2", success, update("r2", increment))
	g.commit()

	for _, o := range outcomes {
		if o.want == success {
			if o.err != nil {
				t.Errorf("%s: %v, want success", o.name, o.err)
			}
			continue
		}
		wantKind(t, o.name, o.err, o.want)
	}
	rec := func(id string, version int64, data string) store.Record {
		return store.Record{Tenant: tenantA, Collection: c, ID: id, Version: version, Data: []byte(data)}
	}
	for _, x := range []struct {
		o    *outcome
		want store.Record
	}{
		{r1a, rec("r1", 2, `{"n":1}`)},
		{r1b, rec("r1", 3, `{"n":2}`)},
		{r2, rec("r2", 2, `{"n":1}`)},
		{r3, rec("r3", 2, `{"n":1}`)},
		{dup, rec("dup", 1, `{"first":true}`)},
		{fresh, rec("fresh", 1, `{"fresh":true}`)},
	} {
		if x.o.err == nil && !sameRecord(x.o.rec, x.want) {
			t.Errorf("%s returned %s, want %s", x.o.name, show(x.o.rec), show(x.want))
		}
	}
	want := []store.Record{rec("r1", 3, `{"n":2}`), rec("r2", 2, `{"n":1}`), rec("r3", 2, `{"n":1}`),
		rec("dup", 1, `{"first":true}`), rec("fresh", 1, `{"fresh":true}`)}
	checkRecords(t, "List after the group", listAll(t, s, tenantA, c), want)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	t.Cleanup(func() { s.Close() })
	checkRecords(t, "List after reopen", listAll(t, s, tenantA, c), want)
	for _, id := range []string{"gone", "missing", "never"} {
		wantAbsent(t, s, c, id)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck after reopen: %v", err)
	}
}

// TestGroupConcurrentUpdatesLoseNothing checks that increments of a few hot
// records, which make compare-and-swap fail and the write run again inside
// the transaction, lose nothing: no two callers are acknowledged the same
// version, every acknowledged document is its predecessor plus one, and the
// counters equal the acknowledged updates, also after a reopen.
func TestGroupConcurrentUpdatesLoseNothing(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "idgraph.db")
	s := openAt(t, path)
	c := store.Meta
	const hot = 4
	hotID := func(i int) string { return fmt.Sprintf("hot-%d", i) }
	for i := range hot {
		mustCreate(t, s, c, hotID(i), counter{})
	}
	var calls atomic.Int64
	counted := func(tx store.Tx, cur store.Record) ([]byte, error) {
		calls.Add(1)
		return increment(tx, cur)
	}
	acked := make([][]store.Record, hot) // by record

	// Both paths, deterministically: three increments computed from version 1
	// in one group. The first swaps; the other two must run again inside the
	// transaction.
	g := holdWriter(t, s)
	var same [3]writeResult
	for i := range same {
		g.add(fmt.Sprintf("increment %d", i), func() {
			same[i].rec, same[i].err = s.Update(ctx, tenantA, c, hotID(0), counted)
		})
	}
	g.commit()
	for i, r := range same {
		if r.err != nil {
			t.Fatalf("increment %d in one group: %v", i, r.err)
		}
		if r.rec.Version != int64(i)+2 || counterOf(t, r.rec) != i+1 {
			t.Errorf("increment %d in one group returned %s, want version %d and n=%d", i, show(r.rec), i+2, i+1)
		}
		acked[0] = append(acked[0], r.rec)
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("fn ran %d times for three increments of one version in one group, want 5 (three optimistic runs, two reruns in the transaction)", n)
	}

	// Free concurrency.
	calls.Store(0)
	const workers, perWorker = 32, 24
	results := make([][]store.Record, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				id := hotID((w + i) % hot)
				r, err := s.Update(ctx, tenantA, c, id, counted)
				if err != nil {
					t.Errorf("worker %d: Update %s: %v", w, id, err)
					continue
				}
				results[w] = append(results[w], r)
			}
		})
	}
	waitFor(t, &wg, 10*groupDeadline, "the concurrent updates")
	for _, rs := range results {
		for _, r := range rs {
			var i int
			if _, err := fmt.Sscanf(r.ID, "hot-%d", &i); err != nil || i < 0 || i >= hot {
				t.Fatalf("Update returned a record of another id: %s", show(r))
			}
			acked[i] = append(acked[i], r)
		}
	}
	t.Logf("%d concurrent updates, fn ran %d times", workers*perWorker, calls.Load())

	check := func(when string) {
		t.Helper()
		for i := range hot {
			seen := map[int64]bool{}
			for _, r := range acked[i] {
				if seen[r.Version] {
					t.Errorf("%s: version %d acknowledged twice", hotID(i), r.Version)
				}
				seen[r.Version] = true
				if n := counterOf(t, r); int64(n) != r.Version-1 {
					t.Errorf("%s: acknowledged version %d holds n=%d, want %d: it was computed from a stale version", hotID(i), r.Version, n, r.Version-1)
				}
			}
			n := len(acked[i])
			for v := int64(2); v <= int64(n)+1; v++ {
				if !seen[v] {
					t.Errorf("%s: version %d was not acknowledged (%d updates acknowledged)", hotID(i), v, n)
				}
			}
			r := mustGet(t, s, c, hotID(i))
			if got := counterOf(t, r); got != n || r.Version != int64(n)+1 {
				t.Errorf("%s: %s holds n=%d version=%d, want n=%d version=%d (the acknowledged updates)", when, hotID(i), got, r.Version, n, n+1)
			}
		}
	}
	check("before Close")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openAt(t, path)
	t.Cleanup(func() { s.Close() })
	check("after reopen")
}

type seqDoc struct {
	Seq  int `json:"seq"`
	Prev int `json:"prev"`
}

// TestGroupPerObjectOrdering runs one goroutine per record, each updating
// its record in sequence, while readers load the same records. The versions
// returned to each writer must strictly increase, each update must have seen
// the previous acknowledged one, readers must never see a record go back or
// a document that does not belong to its version, and the stored document
// must be the last acknowledged one, also after a reopen.
func TestGroupPerObjectOrdering(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "idgraph.db")
	s := openAt(t, path)
	c := store.Apps
	const objects, updates, readers = 8, 30, 4
	objID := func(k int) string { return fmt.Sprintf("obj-%d", k) }
	last := make([]store.Record, objects)
	for k := range objects {
		last[k] = mustCreate(t, s, c, objID(k), seqDoc{Seq: 0, Prev: -1})
	}

	// consistent checks a record read by a reader: its document is the one
	// written as its version, and the reader never sees an older version
	// than it saw before.
	consistent := func(r store.Record, seen map[string]int64) {
		var d seqDoc
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Errorf("reader: decode %s: %v", show(r), err)
			return
		}
		if int64(d.Seq) != r.Version-1 || d.Prev != d.Seq-1 {
			t.Errorf("reader: %s: the document does not belong to its version", show(r))
		}
		if r.Version < seen[r.ID] {
			t.Errorf("reader: %s went back from version %d to %d", r.ID, seen[r.ID], r.Version)
		}
		seen[r.ID] = r.Version
	}
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	for range readers {
		rwg.Go(func() {
			seen := map[string]int64{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k := range objects {
					r, err := s.Get(ctx, tenantA, c, objID(k))
					if err != nil {
						t.Errorf("reader: Get %s: %v", objID(k), err)
						return
					}
					consistent(r, seen)
				}
				rs, err := s.List(ctx, tenantA, c)
				if err != nil {
					t.Errorf("reader: List: %v", err)
					return
				}
				for _, r := range rs {
					consistent(r, seen)
				}
			}
		})
	}

	var wg sync.WaitGroup
	for k := range objects {
		wg.Go(func() {
			for i := 1; i <= updates; i++ {
				r, err := s.Update(ctx, tenantA, c, objID(k), func(_ store.Tx, cur store.Record) ([]byte, error) {
					var d seqDoc
					if err := json.Unmarshal(cur.Data, &d); err != nil {
						return nil, err
					}
					return json.Marshal(seqDoc{Seq: i, Prev: d.Seq})
				})
				if err != nil {
					t.Errorf("Update %s #%d: %v", objID(k), i, err)
					return
				}
				if r.Version <= last[k].Version || r.Version != int64(i)+1 {
					t.Errorf("Update %s #%d returned version %d after version %d, want %d", objID(k), i, r.Version, last[k].Version, i+1)
				}
				var d seqDoc
				if err := json.Unmarshal(r.Data, &d); err != nil || d.Seq != i || d.Prev != i-1 {
					t.Errorf("Update %s #%d returned %s, want seq %d built on seq %d", objID(k), i, show(r), i, i-1)
				}
				last[k] = r
			}
		})
	}
	waitFor(t, &wg, 10*groupDeadline, "the writers")
	close(stop)
	waitFor(t, &rwg, groupDeadline, "the readers")

	check := func(when string) {
		t.Helper()
		for k := range objects {
			if r := mustGet(t, s, c, objID(k)); !sameRecord(r, last[k]) {
				t.Errorf("%s: stored %s, want the last acknowledged %s", when, show(r), show(last[k]))
			}
		}
	}
	check("before Close")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openAt(t, path)
	t.Cleanup(func() { s.Close() })
	check("after reopen")
}

// valueDoc is the source record B: a value unique to each write, and the
// version of A the write read (the free race only).
type valueDoc struct {
	V    string `json:"v"`
	AVer int64  `json:"aver,omitempty"`
}

// copyDoc is a record holding a copy of B's value and B's version.
type copyDoc struct {
	Copied string `json:"copied"`
	BVer   int64  `json:"bver,omitempty"`
}

const (
	absentMark   = "<absent>"
	notFoundMark = "<notfound>"
)

// copier makes fns that copy record from's value, read through the Tx, and
// remembers what each run saw. A missing from fails with KindNotFound unless
// absentOK, which copies absentMark.
type copier struct {
	c        store.Collection
	from     string
	absentOK bool
	gate     *gate // if set, the first run waits there after reading
	mu       sync.Mutex
	seen     []string
}

func (cp *copier) doc(tx store.Tx) ([]byte, error) {
	b, err := tx.Get(tenantA, cp.c, cp.from)
	var d copyDoc
	switch {
	case err == nil:
		var v valueDoc
		if err := json.Unmarshal(b.Data, &v); err != nil {
			return nil, err
		}
		d = copyDoc{Copied: v.V, BVer: b.Version}
	case cp.absentOK && graph.KindOf(err) == graph.KindNotFound:
		d = copyDoc{Copied: absentMark}
	default:
		cp.saw(notFoundMark)
		return nil, err
	}
	cp.saw(d.Copied)
	if cp.gate != nil {
		cp.gate.pass()
	}
	return json.Marshal(d)
}

func (cp *copier) update(tx store.Tx, _ store.Record) ([]byte, error) { return cp.doc(tx) }

func (cp *copier) saw(v string) {
	cp.mu.Lock()
	cp.seen = append(cp.seen, v)
	cp.mu.Unlock()
}

func (cp *copier) runs() []string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return slices.Clone(cp.seen)
}

func setValue(v string) func(store.Tx, store.Record) ([]byte, error) {
	return func(store.Tx, store.Record) ([]byte, error) { return json.Marshal(valueDoc{V: v}) }
}

// TestGroupReadSetValidation checks that a write computed from records it
// read through the Tx is never stored once one of those records has changed
// before it: it is computed again from what the transaction sees.
func TestGroupReadSetValidation(t *testing.T) {
	c := store.IdentityProviders

	t.Run("source updated earlier in the group", func(t *testing.T) {
		ctx := t.Context()
		s := openTemp(t)
		mustCreate(t, s, c, "b", valueDoc{V: "x1"})
		mustCreate(t, s, c, "a", copyDoc{})
		toA := &copier{c: c, from: "b"}
		toNew := &copier{c: c, from: "b"}
		var b, a, created writeResult
		g := holdWriter(t, s)
		g.add("update b to x2", func() { b.rec, b.err = s.Update(ctx, tenantA, c, "b", setValue("x2")) })
		g.add("a copies b", func() { a.rec, a.err = s.Update(ctx, tenantA, c, "a", toA.update) })
		g.add("new copies b", func() { created.rec, created.err = s.CreateFunc(ctx, tenantA, c, "new", toNew.doc) })
		// Both copies were computed before the group ran, from x1.
		for name, cp := range map[string]*copier{"a": toA, "new": toNew} {
			if got := cp.runs(); !slices.Equal(got, []string{"x1"}) {
				t.Fatalf("before the group the copy into %s saw %q, want [x1]", name, got)
			}
		}
		g.commit()
		if b.err != nil || a.err != nil || created.err != nil {
			t.Fatalf("update b: %v; a copies b: %v; new copies b: %v", b.err, a.err, created.err)
		}
		want := store.Record{Tenant: tenantA, Collection: c, ID: "a", Version: 2, Data: []byte(`{"copied":"x2","bver":2}`)}
		if !sameRecord(a.rec, want) {
			t.Errorf("a copies b returned %s, want %s (the stale copy of x1 must not be stored)", show(a.rec), show(want))
		}
		if r := mustGet(t, s, c, "a"); !sameRecord(r, want) {
			t.Errorf("a is %s, want %s", show(r), show(want))
		}
		wantNew := store.Record{Tenant: tenantA, Collection: c, ID: "new", Version: 1, Data: []byte(`{"copied":"x2","bver":2}`)}
		if !sameRecord(created.rec, wantNew) {
			t.Errorf("new copies b returned %s, want %s", show(created.rec), show(wantNew))
		}
		if r := mustGet(t, s, c, "new"); !sameRecord(r, wantNew) {
			t.Errorf("new is %s, want %s", show(r), show(wantNew))
		}
		for name, cp := range map[string]*copier{"a": toA, "new": toNew} {
			if got := cp.runs(); !slices.Equal(got, []string{"x1", "x2"}) {
				t.Errorf("the copy into %s saw %q, want [x1 x2]", name, got)
			}
		}
	})

	t.Run("source deleted earlier in the group", func(t *testing.T) {
		ctx := t.Context()
		s := openTemp(t)
		mustCreate(t, s, c, "b", valueDoc{V: "x1"})
		before := mustCreate(t, s, c, "a", copyDoc{})
		toA := &copier{c: c, from: "b"}
		toNew := &copier{c: c, from: "b"}
		var del, a, created, neighbour writeResult
		g := holdWriter(t, s)
		g.add("delete b", func() { del.err = s.Delete(ctx, tenantA, c, "b", nil) })
		g.add("a copies b", func() { a.rec, a.err = s.Update(ctx, tenantA, c, "a", toA.update) })
		g.add("new copies b", func() { created.rec, created.err = s.CreateFunc(ctx, tenantA, c, "new", toNew.doc) })
		g.add("a neighbour", func() {
			neighbour.rec, neighbour.err = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "other", Data: []byte(`{}`)})
		})
		g.commit()
		if del.err != nil || neighbour.err != nil {
			t.Fatalf("delete b: %v; neighbour: %v", del.err, neighbour.err)
		}
		wantKind(t, "a copies a b deleted before it in the group", a.err, graph.KindNotFound)
		wantKind(t, "new copies a b deleted before it in the group", created.err, graph.KindNotFound)
		if r := mustGet(t, s, c, "a"); !sameRecord(r, before) {
			t.Errorf("a is %s, want it unchanged: %s", show(r), show(before))
		}
		wantAbsent(t, s, c, "new")
		wantAbsent(t, s, c, "b")
		mustGet(t, s, c, "other")
		if got := toA.runs(); !slices.Equal(got, []string{"x1", notFoundMark}) {
			t.Errorf("the copy into a saw %q, want [x1 %s]", got, notFoundMark)
		}
	})

	t.Run("source created earlier in the group", func(t *testing.T) {
		ctx := t.Context()
		s := openTemp(t)
		mustCreate(t, s, c, "a", copyDoc{})
		toA := &copier{c: c, from: "b", absentOK: true}
		var b, a writeResult
		g := holdWriter(t, s)
		g.add("create b", func() {
			b.rec, b.err = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "b", Data: []byte(`{"v":"y1"}`)})
		})
		g.add("a copies b", func() { a.rec, a.err = s.Update(ctx, tenantA, c, "a", toA.update) })
		g.commit()
		if b.err != nil || a.err != nil {
			t.Fatalf("create b: %v; a copies b: %v", b.err, a.err)
		}
		// The copy was computed while b was absent: its absence was read and
		// must be checked too.
		if d := decodeAs[copyDoc](t, mustGet(t, s, c, "a")); d.Copied != "y1" {
			t.Errorf("a copied %q, want y1 (b was created before the copy in the group)", d.Copied)
		}
		if got := toA.runs(); !slices.Equal(got, []string{absentMark, "y1"}) {
			t.Errorf("the copy into a saw %q, want [%s y1]", got, absentMark)
		}
	})

	t.Run("source deleted and re-created at the same version while the copy was computed", func(t *testing.T) {
		ctx := t.Context()
		s := openTemp(t)
		mustCreate(t, s, c, "b", valueDoc{V: "y1"})
		mustCreate(t, s, c, "a", copyDoc{})
		toA := &copier{c: c, from: "b", gate: newGate(t)}
		done := make(chan writeResult, 1)
		go func() {
			r, err := s.Update(ctx, tenantA, c, "a", toA.update)
			done <- writeResult{r, err}
		}()
		toA.gate.waitReached(t)
		_, seq1, err := get(ctx, s.r.get, tenantA, c, "b")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, tenantA, c, "b", nil); err != nil {
			t.Fatalf("Delete b: %v", err)
		}
		mustCreate(t, s, c, "b", valueDoc{V: "y2"})
		b2, seq2, err := get(ctx, s.r.get, tenantA, c, "b")
		if err != nil {
			t.Fatal(err)
		}
		if b2.Version != 1 || seq2 == seq1 {
			t.Fatalf("re-created b has version %d and seq %d (was %d), want version 1 and a new seq", b2.Version, seq2, seq1)
		}
		toA.gate.let()
		a := await(t, done, "a copies b")
		if a.err != nil {
			t.Fatalf("a copies b: %v", a.err)
		}
		want := store.Record{Tenant: tenantA, Collection: c, ID: "a", Version: 2, Data: []byte(`{"copied":"y2","bver":1}`)}
		if !sameRecord(a.rec, want) {
			t.Errorf("a copies b returned %s, want %s (y1 belongs to a b that no longer exists)", show(a.rec), show(want))
		}
		if r := mustGet(t, s, c, "a"); !sameRecord(r, want) {
			t.Errorf("a is %s, want %s", show(r), show(want))
		}
		if got := toA.runs(); !slices.Equal(got, []string{"y1", "y2"}) {
			t.Errorf("the copy into a saw %q, want [y1 y2]", got)
		}
	})

	t.Run("record deleted and re-created at the same version while its update was computed", func(t *testing.T) {
		ctx := t.Context()
		s := openTemp(t)
		mustCreate(t, s, c, "a", counter{N: 0})
		gt := newGate(t)
		done := make(chan writeResult, 1)
		go func() {
			r, err := s.Update(ctx, tenantA, c, "a", func(tx store.Tx, cur store.Record) ([]byte, error) {
				data, err := increment(tx, cur)
				gt.pass()
				return data, err
			})
			done <- writeResult{r, err}
		}()
		gt.waitReached(t)
		if err := s.Delete(ctx, tenantA, c, "a", nil); err != nil {
			t.Fatalf("Delete a: %v", err)
		}
		mustCreate(t, s, c, "a", counter{N: 100})
		gt.let()
		a := await(t, done, "update a")
		if a.err != nil {
			t.Fatalf("update a: %v", a.err)
		}
		want := store.Record{Tenant: tenantA, Collection: c, ID: "a", Version: 2, Data: []byte(`{"n":101}`)}
		if !sameRecord(a.rec, want) {
			t.Errorf("update a returned %s, want %s (n=1 was computed from the deleted a)", show(a.rec), show(want))
		}
		if r := mustGet(t, s, c, "a"); !sameRecord(r, want) {
			t.Errorf("a is %s, want %s", show(r), show(want))
		}
		if n := gt.runs.Load(); n != 2 {
			t.Errorf("fn ran %d times, want 2", n)
		}
	})

	t.Run("free race is serializable", func(t *testing.T) {
		testCopyRaceSerializable(t, c)
	})
}

// testCopyRaceSerializable races copiers of B into A against one goroutine
// that updates, deletes and re-creates B. Every write of B records the
// version of A it read, every copy the value (unique per write of B) and
// version of B it read. The precedence graph of these reads (a write comes
// after the version it read and before the next one) must be acyclic:
// otherwise some write was stored from a read that was stale when it
// committed.
func testCopyRaceSerializable(t *testing.T, c store.Collection) {
	ctx := t.Context()
	s := openTemp(t)
	mustCreate(t, s, c, "a", copyDoc{})

	// B's history, written by one goroutine, one acknowledged write after
	// another: state j is the one its j-th write left.
	type bState struct {
		token   string // "" when B is absent
		version int64
		aRead   int64 // the version of A the write read
	}
	var history []bState
	readA := func(tx store.Tx) (int64, error) {
		a, err := tx.Get(tenantA, c, "a")
		return a.Version, err
	}
	// record runs on the goroutine writing B: it must not stop the test.
	record := func(r store.Record) bool {
		var v valueDoc
		if err := json.Unmarshal(r.Data, &v); err != nil {
			t.Errorf("decode %s: %v", show(r), err)
			return false
		}
		history = append(history, bState{token: v.V, version: r.Version, aRead: v.AVer})
		return true
	}
	createB := func(token string) (store.Record, error) {
		return s.CreateFunc(ctx, tenantA, c, "b", func(tx store.Tx) ([]byte, error) {
			av, err := readA(tx)
			if err != nil {
				return nil, err
			}
			return json.Marshal(valueDoc{V: token, AVer: av})
		})
	}
	r, err := createB("b0")
	if err != nil {
		t.Fatalf("create b: %v", err)
	}
	if !record(r) {
		t.FailNow()
	}

	const bWrites, copiers, copies = 60, 8, 25
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= bWrites; i++ {
			token := fmt.Sprintf("b%d", i)
			switch i % 5 {
			case 3:
				var aRead int64
				err := s.Delete(ctx, tenantA, c, "b", func(tx store.Tx, _ store.Record) error {
					av, err := readA(tx)
					aRead = av
					return err
				})
				if err != nil {
					t.Errorf("delete b: %v", err)
					return
				}
				history = append(history, bState{aRead: aRead})
			case 4:
				r, err := createB(token)
				if err != nil {
					t.Errorf("create b: %v", err)
					return
				}
				if !record(r) {
					return
				}
			default:
				r, err := s.Update(ctx, tenantA, c, "b", func(tx store.Tx, _ store.Record) ([]byte, error) {
					av, err := readA(tx)
					if err != nil {
						return nil, err
					}
					return json.Marshal(valueDoc{V: token, AVer: av})
				})
				if err != nil {
					t.Errorf("update b: %v", err)
					return
				}
				if !record(r) {
					return
				}
			}
		}
	})
	acks := make([][]store.Record, copiers)
	var notFound atomic.Int64
	for w := range copiers {
		cp := &copier{c: c, from: "b"}
		wg.Go(func() {
			for range copies {
				r, err := s.Update(ctx, tenantA, c, "a", cp.update)
				if graph.KindOf(err) == graph.KindNotFound {
					notFound.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("copier %d: %v", w, err)
					return
				}
				if n := len(acks[w]); n > 0 && r.Version <= acks[w][n-1].Version {
					t.Errorf("copier %d: version %d acknowledged after version %d", w, r.Version, acks[w][n-1].Version)
				}
				acks[w] = append(acks[w], r)
			}
		})
	}
	waitFor(t, &wg, 10*groupDeadline, "the race")
	if t.Failed() {
		t.FailNow()
	}

	// A's versions: 1 is the initial document, every other one an
	// acknowledged copy.
	aVersions := map[int64]store.Record{}
	var top int64 = 1
	for _, rs := range acks {
		for _, r := range rs {
			if _, dup := aVersions[r.Version]; dup || r.Version < 2 {
				t.Errorf("a: version %d acknowledged twice or out of range", r.Version)
			}
			aVersions[r.Version] = r
			top = max(top, r.Version)
		}
	}
	for v := int64(2); v <= top; v++ {
		if _, ok := aVersions[v]; !ok {
			t.Errorf("a: version %d exists but no copy was acknowledged with it", v)
		}
	}
	if stored := mustGet(t, s, c, "a"); stored.Version != top || (top > 1 && !sameRecord(stored, aVersions[top])) {
		t.Errorf("a is %s, want the last acknowledged copy (version %d)", show(stored), top)
	}
	stateOf := map[string]int{}
	for j, h := range history {
		if h.token != "" {
			stateOf[h.token] = j
		}
		if h.aRead < 1 || h.aRead > top {
			t.Errorf("write %d of b read a at version %d, which never existed", j, h.aRead)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Nodes: a's versions 1..top, then b's states 0..len(history)-1.
	nodes := int(top) + len(history)
	aNode := func(v int64) int { return int(v - 1) }
	bNode := func(j int) int { return int(top) + j }
	name := func(n int) string {
		if n < int(top) {
			return fmt.Sprintf("a@v%d", n+1)
		}
		h := history[n-int(top)]
		if h.token == "" {
			return fmt.Sprintf("b#%d(deleted)", n-int(top))
		}
		return fmt.Sprintf("b#%d(%s)", n-int(top), h.token)
	}
	edges := make([][]int, nodes)
	indeg := make([]int, nodes)
	edge := func(from, to int) {
		edges[from] = append(edges[from], to)
		indeg[to]++
	}
	for v := int64(1); v < top; v++ {
		edge(aNode(v), aNode(v+1))
	}
	for j := 0; j+1 < len(history); j++ {
		edge(bNode(j), bNode(j+1))
	}
	for v := int64(2); v <= top; v++ {
		d := decodeAs[copyDoc](t, aVersions[v])
		j, ok := stateOf[d.Copied]
		if !ok {
			t.Errorf("a@v%d copied %q, a value b never had", v, d.Copied)
			continue
		}
		if d.BVer != history[j].version {
			t.Errorf("a@v%d copied %q with b's version %d, but b had version %d with that value", v, d.Copied, d.BVer, history[j].version)
		}
		edge(bNode(j), aNode(v))
		if j+1 < len(history) {
			edge(aNode(v), bNode(j+1))
		}
	}
	for j, h := range history {
		edge(aNode(h.aRead), bNode(j))
		if h.aRead < top {
			edge(bNode(j), aNode(h.aRead+1))
		}
	}
	var queue []int
	for n := range nodes {
		if indeg[n] == 0 {
			queue = append(queue, n)
		}
	}
	ordered := 0
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		ordered++
		for _, m := range edges[n] {
			if indeg[m]--; indeg[m] == 0 {
				queue = append(queue, m)
			}
		}
	}
	if ordered != nodes {
		var cyclic []string
		for n := range nodes {
			if indeg[n] > 0 && len(cyclic) < 20 {
				cyclic = append(cyclic, name(n))
			}
		}
		t.Errorf("the writes are not serializable: no commit order explains what they read; writes on a cycle include %s", strings.Join(cyclic, ", "))
	}
	t.Logf("%d states of b, %d acknowledged copies into a, %d copies refused (b absent)", len(history), top-1, notFound.Load())
}

// TestGroupPanickingFn checks that a fn that panics, in the optimistic run,
// in the rerun inside the transaction, or both, fails its own write only:
// its neighbours in the group are stored, and the store carries on.
func TestGroupPanickingFn(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "idgraph.db")
	s := openAt(t, path)
	c := store.UserFlows
	for _, id := range []string{"p1", "p2", "p3", "p4", "p5"} {
		mustCreate(t, s, c, id, counter{})
	}
	before := listAll(t, s, tenantA, c)
	panics := func(store.Tx, store.Record) ([]byte, error) { panic("boom") }
	var p3Runs atomic.Int32
	var p1a, p2, pnew, p3, p4, p5a, p5b, p5c, pfresh, p1b writeResult
	g := holdWriter(t, s)
	g.add("update p1", func() { p1a.rec, p1a.err = s.Update(ctx, tenantA, c, "p1", increment) })
	g.add("update p2 panicking", func() { p2.rec, p2.err = s.Update(ctx, tenantA, c, "p2", panics) })
	g.add("create panicking", func() {
		pnew.rec, pnew.err = s.CreateFunc(ctx, tenantA, c, "pnew", func(store.Tx) ([]byte, error) {
			var none []string
			return []byte(none[len(c)]), nil // a runtime panic: index out of range
		})
	})
	// Panics in its optimistic run only: the rerun in the transaction decides.
	g.add("update p3 panicking once", func() {
		p3.rec, p3.err = s.Update(ctx, tenantA, c, "p3", func(tx store.Tx, cur store.Record) ([]byte, error) {
			if p3Runs.Add(1) == 1 {
				panic("first run")
			}
			return increment(tx, cur)
		})
	})
	g.add("delete p4 with a panicking check", func() {
		p4.err = s.Delete(ctx, tenantA, c, "p4", func(store.Tx, store.Record) error { panic("check") })
	})
	g.add("update p5", func() { p5a.rec, p5a.err = s.Update(ctx, tenantA, c, "p5", increment) })
	// Its optimistic run (on version 1) succeeds; the rerun in the
	// transaction, on version 2, panics.
	g.add("update p5 panicking in the transaction", func() {
		p5b.rec, p5b.err = s.Update(ctx, tenantA, c, "p5", func(tx store.Tx, cur store.Record) ([]byte, error) {
			if cur.Version > 1 {
				panic("in the transaction")
			}
			return increment(tx, cur)
		})
	})
	g.add("update p5 again", func() { p5c.rec, p5c.err = s.Update(ctx, tenantA, c, "p5", increment) })
	g.add("create fresh", func() {
		pfresh.rec, pfresh.err = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "fresh", Data: []byte(`{}`)})
	})
	g.add("update p1 again", func() { p1b.rec, p1b.err = s.Update(ctx, tenantA, c, "p1", increment) })
	g.commit()

	for name, r := range map[string]writeResult{"update p2": p2, "create pnew": pnew, "delete p4": p4, "update p5 in the transaction": p5b} {
		if r.err == nil {
			t.Errorf("%s with a panicking fn succeeded", name)
			continue
		}
		if !strings.Contains(r.err.Error(), "panicked") || graph.KindOf(r.err) != graph.KindInternal {
			t.Errorf("%s with a panicking fn: error %v of kind %d, want a panic reported as kind Internal", name, r.err, graph.KindOf(r.err))
		}
	}
	for name, r := range map[string]writeResult{"update p1": p1a, "update p1 again": p1b, "update p3": p3,
		"update p5": p5a, "update p5 again": p5c, "create fresh": pfresh} {
		if r.err != nil {
			t.Errorf("%s next to panicking writes: %v", name, r.err)
		}
	}
	if n := p3Runs.Load(); n != 2 {
		t.Errorf("p3's fn ran %d times, want 2 (the panicking optimistic run, then the run in the transaction)", n)
	}
	rec := func(id string, version int64, data string) store.Record {
		return store.Record{Tenant: tenantA, Collection: c, ID: id, Version: version, Data: []byte(data)}
	}
	want := []store.Record{rec("p1", 3, `{"n":2}`), before[1], rec("p3", 2, `{"n":1}`), before[3],
		rec("p5", 3, `{"n":2}`), rec("fresh", 1, `{}`)}
	checkRecords(t, "List after the group", listAll(t, s, tenantA, c), want)
	wantAbsent(t, s, c, "pnew")

	// Outside a held group too, and the store carries on.
	if _, err := s.Update(ctx, tenantA, c, "p2", panics); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("update with a panicking fn: %v, want a panic reported", err)
	}
	after, err := s.Update(ctx, tenantA, c, "p2", increment)
	if err != nil {
		t.Fatalf("update after the panics: %v", err)
	}
	want[1] = after
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openAt(t, path)
	t.Cleanup(func() { s.Close() })
	checkRecords(t, "List after reopen", listAll(t, s, tenantA, c), want)
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck after reopen: %v", err)
	}
}
