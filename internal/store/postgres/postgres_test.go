package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	tenantA = "3f2a1c7e-0000-4000-8000-00000000000a"
	tenantB = "3f2a1c7e-0000-4000-8000-00000000000b"
)

// rawConn connects to dsn directly, for what the store does not offer:
// inspecting and damaging its tables.
func rawConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func mustCreate(t *testing.T, s *Store, tenant string, c store.Collection, id, data string) store.Record {
	t.Helper()
	r, err := s.Create(t.Context(), store.Record{Tenant: tenant, Collection: c, ID: id, Data: []byte(data)})
	if err != nil {
		t.Fatalf("Create(%q, %s, %q): %v", tenant, c, id, err)
	}
	return r
}

func increment(_ store.Tx, cur store.Record) ([]byte, error) {
	var v struct{ N int }
	if err := json.Unmarshal(cur.Data, &v); err != nil {
		return nil, err
	}
	v.N++
	return json.Marshal(v)
}

func counterOf(t *testing.T, r store.Record) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
	return v.N
}

// TestMigrationsOnceUnderConcurrentOpens starts several replicas at the same
// moment on an empty schema: each opens, and each migration is applied once.
func TestMigrationsOnceUnderConcurrentOpens(t *testing.T) {
	dsn := pgtest.DSN(t)
	const replicas = 8
	stores := make([]*Store, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		t.FailNow()
	}

	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := rawConn(t, dsn).Query(t.Context(), `SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	type applied struct {
		Version int32
		Count   int64
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[applied])
	if err != nil {
		t.Fatal(err)
	}
	var want []applied
	for _, m := range ms {
		want = append(want, applied{int32(m.version), 1})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_migrations holds (version, rows) %v, want %v", got, want)
	}

	// Every replica works on the one schema.
	for i, s := range stores {
		mustCreate(t, s, tenantA, store.APIConnectors, fmt.Sprintf("replica-%d", i), `{}`)
	}
	rs, err := stores[0].List(t.Context(), tenantA, store.APIConnectors)
	if err != nil || len(rs) != replicas {
		t.Errorf("List after one create per replica: %d records, %v; want %d", len(rs), err, replicas)
	}
}

// TestNewerSchemaRefused: a release must not write to a schema that a newer
// release has changed in ways it does not know.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.Close()
	newer := latestVersion() + 1
	exec(t, rawConn(t, dsn), `INSERT INTO schema_migrations (version) VALUES ($1)`, newer)

	_, err = Open(t.Context(), dsn)
	if err == nil {
		t.Fatal("Open of a schema at a newer version: got nil error")
	}
	for _, want := range []string{fmt.Sprint(newer), "newer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open of a schema at a newer version: error %q does not mention %q", err, want)
		}
	}
}

// TestMissingSchema: the schema search_path names must exist; Open says so.
func TestMissingSchema(t *testing.T) {
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "no_such_schema_for_idgraph")
	u.RawQuery = q.Encode()
	_, err = Open(t.Context(), u.String())
	if err == nil || !strings.Contains(err.Error(), "search_path") {
		t.Errorf("Open with a search_path naming no schema: error %v, want one that mentions search_path", err)
	}
}

// TestReplicasShareOneDatabase runs two stores, each with its own pool, on
// one schema, as two idgraph replicas: each sees the other's writes at
// once, and concurrent updates of one record through both lose nothing.
func TestReplicasShareOneDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := t.Context()
	c := store.IdentityProviders

	created := mustCreate(t, a, tenantA, c, "Shared-IdP", `{"n":0}`)
	got, err := b.Get(ctx, tenantA, c, "shared-idp")
	if err != nil || got.Version != 1 || string(got.Data) != string(created.Data) {
		t.Fatalf("Get through the other replica: %+v, %v", got, err)
	}
	if _, err := b.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "SHARED-IDP", Data: []byte(`{}`)}); graph.KindOf(err) != graph.KindConflict {
		t.Errorf("Create of the same id through the other replica: error %v, want a conflict", err)
	}

	const workers, each = 8, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := make(map[int64]bool)
	start := make(chan struct{})
	for w := range workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			for i := range each {
				r, err := s.Update(ctx, tenantA, c, "shared-idp", increment)
				if err != nil {
					t.Errorf("worker %d, update %d: %v", w, i, err)
					return
				}
				if n := counterOf(t, r); int64(n) != r.Version-1 {
					t.Errorf("worker %d: version %d carries n=%d, want %d", w, r.Version, n, r.Version-1)
				}
				mu.Lock()
				if seen[r.Version] {
					t.Errorf("worker %d: version %d returned twice", w, r.Version)
				}
				seen[r.Version] = true
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	for name, s := range map[string]*Store{"a": a, "b": b} {
		r, err := s.Get(ctx, tenantA, c, "Shared-IdP")
		if err != nil {
			t.Fatalf("Get through %s: %v", name, err)
		}
		if n := counterOf(t, r); n != workers*each || r.Version != workers*each+1 {
			t.Errorf("through %s after %d updates: n=%d version=%d, want n=%d version=%d", name, workers*each, n, r.Version, workers*each, workers*each+1)
		}
	}

	// A delete through one replica is seen by the other's next write.
	if err := a.Delete(ctx, tenantA, c, "shared-idp", nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Update(ctx, tenantA, c, "shared-idp", increment); graph.KindOf(err) != graph.KindNotFound {
		t.Errorf("Update through the other replica after Delete: error %v, want not found", err)
	}
}

// TestReferenceCheckAcrossReplicas: a delete whose check finds no reference
// and a concurrent update that adds one cannot both succeed, whichever
// replica runs which: the update's read of the referenced record holds it.
func TestReferenceCheckAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := t.Context()
	conn, idp := store.APIConnectors, store.IdentityProviders
	errInUse := errors.New("connector in use")
	for round := range 10 {
		connID := fmt.Sprintf("Conn-%d", round)
		idpID := fmt.Sprintf("IdP-%d", round)
		mustCreate(t, a, tenantA, conn, connID, `{}`)
		mustCreate(t, a, tenantA, idp, idpID, `{"connector":""}`)
		var updErr, delErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			_, updErr = a.Update(ctx, tenantA, idp, idpID, func(tx store.Tx, _ store.Record) ([]byte, error) {
				if _, err := tx.Get(tenantA, conn, connID); err != nil {
					return nil, err
				}
				return []byte(`{"connector":"` + connID + `"}`), nil
			})
		})
		wg.Go(func() {
			<-start
			delErr = b.Delete(ctx, tenantA, conn, connID, func(tx store.Tx, cur store.Record) error {
				rs, err := tx.List(tenantA, idp)
				if err != nil {
					return err
				}
				for _, r := range rs {
					if strings.Contains(string(r.Data), `"`+cur.ID+`"`) {
						return errInUse
					}
				}
				return nil
			})
		})
		close(start)
		wg.Wait()
		switch {
		case updErr == nil && delErr == nil:
			t.Errorf("round %d: the update added a reference to the connector and the delete removed it: both succeeded", round)
		case updErr == nil && !errors.Is(delErr, errInUse):
			t.Errorf("round %d: update succeeded, delete failed with %v, want %v", round, delErr, errInUse)
		case delErr == nil && graph.KindOf(updErr) != graph.KindNotFound:
			t.Errorf("round %d: delete succeeded, update failed with %v, want not found", round, updErr)
		}
	}
}

// TestDeadlockRetried makes two updates deadlock for certain: each locks its
// record, then reads the other's. The server aborts one; it runs again and
// both succeed.
func TestDeadlockRetried(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx := t.Context()
	c := store.APIConnectors
	mustCreate(t, s, tenantA, c, "x", `{"n":0}`)
	mustCreate(t, s, tenantA, c, "y", `{"n":0}`)

	var runs atomic.Int32
	var bothLocked sync.WaitGroup
	bothLocked.Add(2)
	update := func(id, other string) error {
		first := true
		_, err := s.Update(ctx, tenantA, c, id, func(tx store.Tx, cur store.Record) ([]byte, error) {
			runs.Add(1)
			if first {
				first = false
				bothLocked.Done()
				bothLocked.Wait()
			}
			if _, err := tx.Get(tenantA, c, other); err != nil {
				return nil, err
			}
			return increment(tx, cur)
		})
		return err
	}
	var errX, errY error
	var wg sync.WaitGroup
	wg.Go(func() { errX = update("x", "y") })
	wg.Go(func() { errY = update("y", "x") })
	wg.Wait()
	if errX != nil || errY != nil {
		t.Fatalf("deadlocked updates: %v, %v; want both to succeed after a retry", errX, errY)
	}
	if n := runs.Load(); n != 3 {
		t.Errorf("the update functions ran %d times, want 3 (one deadlock victim run again)", n)
	}
	for _, id := range []string{"x", "y"} {
		r, err := s.Get(ctx, tenantA, c, id)
		if err != nil || r.Version != 2 || counterOf(t, r) != 1 {
			t.Errorf("Get(%s) = %s version %d, %v; want n=1 version 2", id, r.Data, r.Version, err)
		}
	}
}

// serializationFailure raises the error PostgreSQL reports when it aborts a
// transaction in favour of a concurrent one.
const serializationFailure = `DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`

func TestRetriesBounded(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx := t.Context()

	runs := 0
	err := s.write(ctx, func(w *wtx) error {
		runs++
		_, err := w.tx.Exec(w.ctx, serializationFailure)
		return w.failed(err)
	})
	if graph.KindOf(err) != graph.KindUnavailable {
		t.Errorf("a write that always conflicts: error %v, want kind %d", err, graph.KindUnavailable)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "40001" {
		t.Errorf("a write that always conflicts: error %v does not wrap the server's", err)
	}
	if runs != maxRetries+1 {
		t.Errorf("a write that always conflicts ran %d times, want %d", runs, maxRetries+1)
	}

	// The function sees the failure through its store.Tx and may swallow
	// it: the failure still decides.
	runs = 0
	err = s.write(ctx, func(w *wtx) error {
		runs++
		if runs <= 2 {
			_, err := w.tx.Exec(w.ctx, serializationFailure)
			w.failed(err) // as a read through the store.Tx records it
		}
		_, err := w.tx.Exec(w.ctx, `SELECT 1`)
		return err
	})
	if err != nil || runs != 3 {
		t.Errorf("a write that conflicts twice: error %v after %d runs, want success after 3", err, runs)
	}

	// Errors of the write function itself are never retried.
	runs = 0
	mine := errors.New("refused")
	err = s.write(ctx, func(w *wtx) error { runs++; return mine })
	if !errors.Is(err, mine) || runs != 1 {
		t.Errorf("a refusing write: error %v after %d runs, want %v after 1", err, runs, mine)
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40001"}, true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{fmt.Errorf("lock: %w", &pgconn.PgError{Code: "40P01"}), true},
		{translate(&pgconn.PgError{Code: "40P01"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "57P01"}, false},
		{errors.New("40001"), false},
		{store.Conflict("x"), false},
		{nil, false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestTranslate(t *testing.T) {
	mine := errors.New("mine")
	for _, tc := range []struct {
		err  error
		want graph.Kind
	}{
		{&pgconn.PgError{Code: "40P01"}, graph.KindUnavailable},
		{&pgconn.PgError{Code: "57P01"}, graph.KindUnavailable},
		{&pgconn.PgError{Code: "08006"}, graph.KindUnavailable},
		{fmt.Errorf("get: %w", io.ErrUnexpectedEOF), graph.KindUnavailable},
		{&pgconn.PgError{Code: "22P02"}, graph.KindInternal},
		{store.NotFound("x"), graph.KindNotFound},
		{mine, graph.KindInternal},
		{context.Canceled, graph.KindInternal},
	} {
		if got := graph.KindOf(translate(tc.err)); got != tc.want {
			t.Errorf("translate(%v) is of kind %d, want %d", tc.err, got, tc.want)
		}
	}
	if err := translate(mine); err != mine {
		t.Errorf("translate(%v) = %v, want it unchanged", mine, err)
	}
	if err := translate(fmt.Errorf("begin: %w", context.Canceled)); !errors.Is(err, context.Canceled) {
		t.Errorf("translate of a canceled context = %v, want context.Canceled", err)
	}
}

// TestCommitOutcome: when the connection fails during COMMIT, the server
// tells whether the transaction committed.
func TestCommitOutcome(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx := t.Context()
	for _, commit := range []bool{true, false} {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var xid int64
		if err := tx.QueryRow(ctx, sqlInsert, tenantA, "c", fmt.Sprint(commit), "x", `{}`).Scan(&xid); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		lost := fmt.Errorf("commit: %w", io.ErrUnexpectedEOF)
		got := s.commitFailed(ctx, xid, lost)
		switch {
		case commit && got != nil:
			t.Errorf("a committed transaction whose COMMIT answer was lost: error %v, want nil", got)
		case !commit && graph.KindOf(got) != graph.KindUnavailable:
			t.Errorf("a rolled back transaction whose COMMIT answer was lost: error %v, want kind %d", got, graph.KindUnavailable)
		}
	}
	// An answer from the server is the outcome.
	refused := &pgconn.PgError{Code: "23505"}
	if err := s.commitFailed(ctx, 1, refused); !errors.Is(err, refused) {
		t.Errorf("a COMMIT the server refused: error %v, want %v", err, refused)
	}
}

func TestIntegrityCheck(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openStore(t, dsn)
	ctx := t.Context()
	mustCreate(t, s, tenantA, store.APIConnectors, "Good", `{"displayName":"Fine"}`)
	mustCreate(t, s, tenantB, store.Users, "user@example.com", `{"displayName":"x\u0000"}`)
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatalf("IntegrityCheck of a sound table: %v", err)
	}
	conn := rawConn(t, dsn)
	for _, tc := range []struct {
		what, damage, repair, want string
	}{
		{"an id_key that is not the id's key",
			`UPDATE objects SET id_key = 'bad' WHERE id = 'Good'`,
			`UPDATE objects SET id_key = 'good' WHERE id = 'Good'`, "id_key"},
		{"two rows with one key",
			`ALTER TABLE objects DROP CONSTRAINT objects_key;
			 INSERT INTO objects (tenant_id, collection, id_key, id, version, data)
			 SELECT tenant_id, collection, id_key, id, 1, data FROM objects WHERE id = 'Good'`,
			`DELETE FROM objects WHERE seq = (SELECT max(seq) FROM objects WHERE id = 'Good');
			 ALTER TABLE objects ADD CONSTRAINT objects_key UNIQUE (tenant_id, collection, id_key)`, "rows hold the key"},
		{"a document that is not JSON",
			`ALTER TABLE objects ALTER COLUMN display_name DROP EXPRESSION;
			 UPDATE objects SET data = '{"displayName":' WHERE id = 'Good'`,
			"", "not valid JSON"},
	} {
		exec(t, conn, tc.damage)
		err := s.IntegrityCheck(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("IntegrityCheck with %s: error %v, want one that mentions %q", tc.what, err, tc.want)
		}
		if tc.repair != "" {
			exec(t, conn, tc.repair)
			if err := s.IntegrityCheck(ctx); err != nil {
				t.Fatalf("IntegrityCheck after repairing %s: %v", tc.what, err)
			}
		}
	}
}

func TestDurabilitySettings(t *testing.T) {
	for _, tc := range []struct {
		fsync, syncCommit string
		ok                bool
	}{
		{"on", "on", true},
		{"on", "remote_apply", true},
		{"on", "local", true},
		{"off", "on", false},
		{"on", "off", false},
	} {
		if err := durable(tc.fsync, tc.syncCommit); (err == nil) != tc.ok {
			t.Errorf("durable(fsync=%s, synchronous_commit=%s) = %v, want ok %v", tc.fsync, tc.syncCommit, err, tc.ok)
		}
	}

	// A URL asking for synchronous_commit=off does not get it, on any of the
	// pool's connections.
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	s := openStore(t, u.String())
	ctx := t.Context()
	var conns []interface{ Release() }
	for i := range 4 {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		var setting string
		if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&setting); err != nil {
			t.Fatal(err)
		}
		if setting != "on" {
			t.Errorf("connection %d: synchronous_commit=%s, want on", i, setting)
		}
	}
	for _, c := range conns {
		c.Release()
	}
}

// TestDocumentsWithNUL: documents may hold U+0000 in their strings (as the
// escape \u0000), which jsonb cannot: they are stored and read back byte
// for byte, and queries over them work.
func TestDocumentsWithNUL(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx := t.Context()
	c := store.Users
	encode := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	docs := map[string]string{
		"nul":       encode(map[string]string{"displayName": "a\x00b", "note": "n\x00", "\x00key": "v"}),
		"escaped":   `{"displayName":"a\\u0000b","note":"\\u0000","x":"\\\\\\u0000"}`,
		"plain":     `{"displayName":"ab","note":"n"}`,
		"backslash": `{"displayName":"\\","note":"\u0000\u0000\u0000"}`,
	}
	ids := []string{"nul", "escaped", "plain", "backslash"}
	for _, id := range ids {
		mustCreate(t, s, tenantA, c, id, docs[id])
	}
	for _, id := range ids {
		r, err := s.Get(ctx, tenantA, c, id)
		if err != nil || string(r.Data) != docs[id] {
			t.Errorf("Get(%s) = %q, %v; want %q", id, r.Data, err, docs[id])
		}
	}
	str := store.String
	dn, note := store.Field{Name: "displayName"}, store.Field{Name: "note"}
	for _, tc := range []struct {
		cond store.Cond
		want []string
	}{
		{&store.Match{Field: dn, Op: store.Eq, Values: []store.Value{str("A\x00B")}}, []string{"nul"}},
		{&store.Match{Field: dn, Op: store.Eq, Values: []store.Value{str(`A\u0000B`)}}, []string{"escaped"}},
		{&store.Match{Field: dn, Op: store.Prefix, Values: []store.Value{str("a")}}, []string{"nul", "escaped", "plain"}},
		{&store.Match{Field: note, Op: store.Eq, Values: []store.Value{str("n\x00")}}, []string{"nul"}},
		{&store.Match{Field: note, Op: store.Eq, Values: []store.Value{str(`\u0000`)}}, []string{"escaped"}},
		{&store.Match{Field: note, Op: store.Suffix, Values: []store.Value{str("\x00\x00")}}, []string{"backslash"}},
		{&store.Match{Field: dn, Op: store.Eq, Values: []store.Value{str(`\`)}}, []string{"backslash"}},
		{&store.Not{X: &store.Match{Field: note, Op: store.Prefix, Values: []store.Value{str("n")}}}, []string{"escaped", "backslash"}},
	} {
		for _, order := range [][]store.Order{nil, {{Field: dn}}, {{Field: note, Desc: true}}} {
			p, err := s.Query(ctx, tenantA, c, store.Query{Where: tc.cond, OrderBy: order, Limit: 10, Count: true})
			if err != nil {
				t.Errorf("Query(%#v): %v", tc.cond, err)
				continue
			}
			var got []string
			for _, r := range p.Records {
				got = append(got, r.ID)
			}
			if order == nil && fmt.Sprint(got) != fmt.Sprint(tc.want) || len(got) != len(tc.want) || p.Count != int64(len(tc.want)) {
				t.Errorf("Query(%#v) order %v = %v (count %d), want %v", tc.cond, order, got, p.Count, tc.want)
			}
		}
	}
}

// TestUnstorableStrings: PostgreSQL text holds neither NUL nor invalid UTF-8.
// Ids, tenants and literals holding them are answered, never a server error.
func TestUnstorableStrings(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx := t.Context()
	c := store.APIConnectors
	mustCreate(t, s, tenantA, c, "Conn", `{"displayName":"x"}`)
	for _, id := range []string{"a\x00b", "\xff", "conn\x00"} {
		if _, err := s.Get(ctx, tenantA, c, id); graph.KindOf(err) != graph.KindNotFound {
			t.Errorf("Get(%q): error %v, want not found", id, err)
		}
		if _, err := s.Update(ctx, tenantA, c, id, increment); graph.KindOf(err) != graph.KindNotFound {
			t.Errorf("Update(%q): error %v, want not found", id, err)
		}
		if err := s.Delete(ctx, tenantA, c, id, nil); graph.KindOf(err) != graph.KindNotFound {
			t.Errorf("Delete(%q): error %v, want not found", id, err)
		}
		if _, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: id, Data: []byte(`{}`)}); graph.KindOf(err) != graph.KindInvalid {
			t.Errorf("Create(%q): error %v, want kind %d", id, err, graph.KindInvalid)
		}
	}
	if _, err := s.Get(ctx, "\xff", c, "conn"); graph.KindOf(err) != graph.KindNotFound {
		t.Errorf("Get in tenant \\xff: error %v, want not found", err)
	}
	if rs, err := s.List(ctx, "a\x00", c); err != nil || len(rs) != 0 {
		t.Errorf("List in tenant a\\x00: %v, %v; want nothing", rs, err)
	}
	if p, err := s.Query(ctx, "\xff", c, store.Query{Limit: 10, Count: true}); err != nil || len(p.Records) != 0 || p.Count != 0 {
		t.Errorf("Query in tenant \\xff: %+v, %v; want nothing", p, err)
	}
	for _, v := range []string{"\xff", "x\x00", "\x00"} {
		for _, f := range []store.Field{{Name: "displayName"}, {Name: "other"}, store.FieldID} {
			for _, op := range []store.Op{store.Eq, store.Ne, store.Prefix, store.Suffix, store.In} {
				q := store.Query{Where: &store.Match{Field: f, Op: op, Values: []store.Value{store.String(v)}}, Limit: 10, Count: true}
				if _, err := s.Query(ctx, tenantA, c, q); err != nil {
					t.Errorf("Query(%q %d %q): %v", f.Name, op, v, err)
				}
			}
		}
	}
	after := `{"k":["x\u0000"],"s":1}`
	q := store.Query{OrderBy: []store.Order{{Field: store.Field{Name: "displayName"}}}, Limit: 10, After: after}
	if _, err := s.Query(ctx, tenantA, c, q); graph.KindOf(err) != graph.KindInvalid {
		t.Errorf("Query after a cursor holding NUL: error %v, want kind %d", err, graph.KindInvalid)
	}
}

func TestClosedStore(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx := t.Context()
	c := store.APIConnectors
	mustCreate(t, s, tenantA, c, "conn", `{"n":0}`)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := s.Get(ctx, tenantA, c, "conn")
	check := func(what string, err error) {
		t.Helper()
		if graph.KindOf(err) != graph.KindUnavailable {
			t.Errorf("%s after Close: error %v, want kind %d", what, err, graph.KindUnavailable)
		}
	}
	check("Get", err)
	_, err = s.List(ctx, tenantA, c)
	check("List", err)
	_, err = s.Query(ctx, tenantA, c, store.Query{Limit: 1})
	check("Query", err)
	_, err = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "new", Data: []byte(`{}`)})
	check("Create", err)
	_, err = s.Update(ctx, tenantA, c, "conn", increment)
	check("Update", err)
	check("Delete", s.Delete(ctx, tenantA, c, "conn", nil))
	check("IntegrityCheck", s.IntegrityCheck(ctx))
}

// TestCloseWaitsForWrites closes the store while writes run: what each
// reports is what is stored.
func TestCloseWaitsForWrites(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openStore(t, dsn)
	ctx := t.Context()
	c := store.APIConnectors
	const writers = 16
	errs := make([]error, writers)
	var closing sync.Once
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.CreateFunc(ctx, tenantA, c, fmt.Sprint("w", i), func(store.Tx) ([]byte, error) {
				closing.Do(func() { go s.Close() })
				return []byte(`{}`), nil
			})
		})
	}
	wg.Wait()

	s2 := openStore(t, dsn)
	for i, werr := range errs {
		_, err := s2.Get(ctx, tenantA, c, fmt.Sprint("w", i))
		switch {
		case werr == nil && err != nil:
			t.Errorf("writer %d succeeded but its record is missing: %v", i, err)
		case werr != nil && err == nil:
			t.Errorf("writer %d failed (%v) but its record is stored", i, werr)
		case werr != nil && graph.KindOf(werr) != graph.KindUnavailable:
			t.Errorf("writer %d: error %v, want kind %d", i, werr, graph.KindUnavailable)
		}
	}
}

// TestCanceledContext: a write whose context is done before it starts
// changes nothing and says so; one that was committed says that.
func TestCanceledContext(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c := store.APIConnectors
	_, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "x", Data: []byte(`{}`)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a canceled context: error %v, want context.Canceled", err)
	}
	if _, gerr := s.Get(t.Context(), tenantA, c, "x"); graph.KindOf(gerr) != graph.KindNotFound {
		t.Errorf("Get after a Create with a canceled context: %v, want not found", gerr)
	}

	// Canceled while the write function runs: the transaction is rolled back.
	ctx, cancel = context.WithCancel(t.Context())
	_, err = s.CreateFunc(ctx, tenantA, c, "y", func(store.Tx) ([]byte, error) {
		cancel()
		return []byte(`{}`), nil
	})
	_, gerr := s.Get(t.Context(), tenantA, c, "y")
	if (err == nil) != (gerr == nil) {
		t.Errorf("Create canceled during its function: error %v, but Get: %v", err, gerr)
	}
	// The pool is still usable.
	mustCreate(t, s, tenantA, c, "z", `{}`)
}

// TestLostConnections: connections the server ends (a restart, a failover,
// an administrator) turn into retryable errors, never into wrong answers,
// and the store recovers.
func TestLostConnections(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	app := "idgraph-test-" + strings.TrimPrefix(u.Query().Get("search_path"), "test_")
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	s := openStore(t, u.String())
	ctx := t.Context()
	c := store.APIConnectors
	mustCreate(t, s, tenantA, c, "conn", `{"n":0}`)
	admin := rawConn(t, dsn)
	acked := 0
	for round := range 5 {
		// Busy connections in the pool, then all of them ended.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { s.Get(ctx, tenantA, c, "conn") })
		}
		wg.Wait()
		exec(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app)
		_, err := s.Get(ctx, tenantA, c, "conn")
		if err != nil && graph.KindOf(err) != graph.KindUnavailable {
			t.Errorf("round %d: Get on ended connections: error %v, want nil or kind %d", round, err, graph.KindUnavailable)
		}
		_, err = s.Update(ctx, tenantA, c, "conn", increment)
		if err == nil {
			acked++
		} else if graph.KindOf(err) != graph.KindUnavailable {
			t.Errorf("round %d: Update on ended connections: error %v, want nil or kind %d", round, err, graph.KindUnavailable)
		}
	}
	// Failed updates changed nothing.
	r, err := s.Get(ctx, tenantA, c, "conn")
	if err != nil {
		t.Fatalf("Get after the connections came back: %v", err)
	}
	if n := counterOf(t, r); n != acked || r.Version != int64(acked)+1 {
		t.Errorf("after %d acknowledged updates: n=%d version=%d", acked, n, r.Version)
	}
}

func TestUnreachableServer(t *testing.T) {
	_, err := Open(t.Context(), "postgres://idgraph:s3cret-pass@127.0.0.1:1/idgraph?sslmode=disable&connect_timeout=5")
	if err == nil {
		t.Fatal("Open of a server that does not listen: got nil error")
	}
	if strings.Contains(err.Error(), "s3cret-pass") {
		t.Errorf("Open error %q shows the password", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open error %q does not say which server", err)
	}
	_, err = Open(t.Context(), "postgres://idgraph:s3cret-pass@127.0.0.1:bad/idgraph")
	if err == nil || strings.Contains(err.Error(), "s3cret-pass") {
		t.Errorf("Open of a malformed URL: error %q, want one that does not show the password", err)
	}
}

// TestSessionSettings: every session waits at most lock_timeout for a row
// lock and is ended when idle in a transaction, unless the URL says
// otherwise, and speaks UTF-8.
func TestSessionSettings(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("lock_timeout", "3s")
	u.RawQuery = q.Encode()
	for _, tc := range []struct {
		dsn                  string
		lock, idle, encoding string
	}{
		{dsn, "10s", "30s", "UTF8"},
		{u.String(), "3s", "30s", "UTF8"},
	} {
		s := openStore(t, tc.dsn)
		var lock, idle, encoding string
		err := s.pool.QueryRow(t.Context(), `SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout'), current_setting('client_encoding')`).
			Scan(&lock, &idle, &encoding)
		if err != nil {
			t.Fatal(err)
		}
		if lock != tc.lock || idle != tc.idle || encoding != tc.encoding {
			t.Errorf("lock_timeout=%s idle_in_transaction_session_timeout=%s client_encoding=%s, want %s %s %s",
				lock, idle, encoding, tc.lock, tc.idle, tc.encoding)
		}
	}
}

// TestNonUTF8DatabaseRefused: a database in another encoding cannot hold
// every document and compares characters differently: Open refuses it.
func TestNonUTF8DatabaseRefused(t *testing.T) {
	base := pgtest.DSN(t)
	admin := rawConn(t, base)
	name := fmt.Sprintf("idgraph_latin1_%d", time.Now().UnixNano())
	exec(t, admin, `CREATE DATABASE `+name+` ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`)
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	s, err := Open(t.Context(), u.String())
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a LATIN1 database")
	}
	if !strings.Contains(err.Error(), "UTF8") {
		t.Errorf("Open: %v, want a refusal naming the encoding", err)
	}
}
