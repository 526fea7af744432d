package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// Store is the SQLite backend.
type Store struct {
	path   string
	rdb    *sql.DB // readers
	wdb    *sql.DB // the single writer connection
	r      stmts   // prepared on the readers
	w      stmts   // prepared on the writer connection
	shm    *shmHeader
	cache  *cache
	ops    chan *writeOp
	closed chan struct{}
	done   chan struct{}
	once   sync.Once
}

var _ store.Store = (*Store)(nil)

type writeOp struct {
	run func(ctx context.Context, tx *wtx) error
	err chan error
}

// stmts are the statements of the hot paths, prepared once: SQLite spends
// more time compiling a statement than running one of these.
type stmts struct {
	get, list, insert, update, delete *sql.Stmt // get also reads the row's seq
	stamp, swap                       *sql.Stmt
	savepoint, release, rollbackTo    *sql.Stmt
}

// prepare prepares the statements on db: all of them for the writer, the
// reads for the readers.
func prepare(ctx context.Context, db *sql.DB, writer bool) (stmts, error) {
	var st stmts
	for _, p := range []struct {
		dst  **sql.Stmt
		read bool
		sql  string
	}{
		{&st.get, true, `SELECT seq, id, version, data FROM objects WHERE tenant_id = ? AND collection = ? AND id_key = ?`},
		{&st.list, true, `SELECT id, version, data FROM objects WHERE tenant_id = ? AND collection = ? ORDER BY seq`},
		{&st.stamp, false, `SELECT seq, version FROM objects WHERE tenant_id = ? AND collection = ? AND id_key = ?`},
		{&st.swap, false, `UPDATE objects SET version = ?, data = ? WHERE seq = ? AND version = ?`},
		{&st.insert, false, `INSERT INTO objects (tenant_id, collection, id_key, id, version, data) VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (tenant_id, collection, id_key) DO NOTHING`},
		{&st.update, false, `UPDATE objects SET version = ?, data = ? WHERE tenant_id = ? AND collection = ? AND id_key = ?`},
		{&st.delete, false, `DELETE FROM objects WHERE tenant_id = ? AND collection = ? AND id_key = ?`},
		{&st.savepoint, false, `SAVEPOINT op`},
		{&st.release, false, `RELEASE op`},
		{&st.rollbackTo, false, `ROLLBACK TO op`},
	} {
		if !writer && !p.read {
			continue
		}
		stmt, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return st, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.dst = stmt
	}
	return st, nil
}

// wtx is the transaction of a write group with its prepared statements,
// bound to the transaction on first use.
type wtx struct {
	tx      *sql.Tx
	st      *stmts
	bound   map[*sql.Stmt]*sql.Stmt
	changes []change // the writes done so far, for the cache
	dirty   bool     // the current write changed rows, or may have
}

func (w *wtx) stmt(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	if b, ok := w.bound[s]; ok {
		return b
	}
	b := w.tx.StmtContext(ctx, s)
	w.bound[s] = b
	return b
}

// exec runs a statement. Any statement but the savepoint ones that
// changes rows, or fails (and so may have), marks the current write dirty.
func (w *wtx) exec(ctx context.Context, s *sql.Stmt, args ...any) (sql.Result, error) {
	res, err := w.stmt(ctx, s).ExecContext(ctx, args...)
	if s == w.st.savepoint || s == w.st.release || s == w.st.rollbackTo {
		return res, err
	}
	if err != nil {
		w.dirty = true
		return res, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		w.dirty = true
	}
	return res, nil
}

// Open opens (creating if needed) the database file at path, applies pending
// migrations and verifies the durability settings.
func Open(ctx context.Context, path string) (*Store, error) {
	// The file holds sealed secrets and password hashes: only its owner may
	// read it. SQLite gives the -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	// The path is escaped: SQLite reads the name as a URI, where '?', '#'
	// and '%' would otherwise change which file opens.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	wdb, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	rdb, err := sql.Open("sqlite", base)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	s := &Store{path: path, rdb: rdb, wdb: wdb, ops: make(chan *writeOp, maxGroup),
		closed: make(chan struct{}), done: make(chan struct{})}
	if err := s.checkDurability(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if s.r, err = prepare(ctx, rdb, false); err == nil {
		s.w, err = prepare(ctx, wdb, true)
	}
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	// SQLite names the wal-index after the database path with symbolic
	// links resolved.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		s.shm = mapShm(real)
	}
	s.cache = newCache(s.shm)
	go s.writer()
	return s, nil
}

func (s *Store) closeDBs() {
	s.rdb.Close()
	s.wdb.Close()
}

// checkDurability reads back the settings a 2xx relies on. SQLite silently
// ignores a journal mode it cannot apply, so this is the only proof.
func (s *Store) checkDurability(ctx context.Context) error {
	var mode string
	var sync int
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if !strings.EqualFold(mode, "wal") || sync != 2 {
		return fmt.Errorf("sqlite durability: journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		// Each migration runs in one transaction with its bookkeeping row, so a
		// crash leaves it either applied or not.
		tx, err := s.wdb.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// writer runs every write. It takes the writes waiting now (up to maxGroup),
// runs each in a savepoint of one transaction and commits once. When the
// store closes it still runs the writes already queued.
func (s *Store) writer() {
	defer close(s.done)
	group := make([]*writeOp, 0, maxGroup)
	errs := make([]error, 0, maxGroup)
	for {
		var first *writeOp
		closing := false
		select {
		case first = <-s.ops:
		case <-s.closed:
			closing = true
		}
		group = group[:0]
		if first != nil {
			group = append(group, first)
		}
	drain:
		for len(group) < maxGroup {
			select {
			case op := <-s.ops:
				group = append(group, op)
			default:
				break drain
			}
		}
		if len(group) == 0 {
			return // closing, and nothing left
		}
		errs = s.commitGroup(group, errs[:0])
		for i, op := range group {
			op.err <- errs[i]
		}
		if closing && len(group) < maxGroup {
			return
		}
	}
}

// commitGroup runs a group of writes in one transaction and commits once.
// Each write changes at most one row, with its last statement, so a write
// that fails before that statement has nothing to undo: the group runs
// without savepoints. Only when a write fails after changing a row, or
// with an error that is not its own verdict (a driver error, a panic),
// is the transaction rolled back and the group run again the careful way
// (commitGroupSavepoints). Every write's function may run more than once.
func (s *Store) commitGroup(group []*writeOp, errs []error) []error {
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return s.commitGroupSavepoints(group, errs)
	}
	pre := s.cache.begin()
	w := &wtx{tx: tx, st: &s.w, bound: make(map[*sql.Stmt]*sql.Stmt, 8)}
	ok := 0
	for _, op := range group {
		w.dirty = false
		err := runProtected(ctx, w, op.run)
		if err != nil && (w.dirty || graph.AsError(err) == nil) {
			s.abort(w, pre)
			return s.commitGroupSavepoints(group, errs)
		}
		errs = append(errs, err)
		if err == nil {
			ok++
		}
	}
	return s.finish(w, pre, ok, errs)
}

// commitGroupSavepoints runs a group of writes in one transaction. Each
// write has its own savepoint, so a failing write is undone alone. If the
// transaction itself is lost (SQLite aborts it on errors such as a full
// disk), the whole group fails and nothing of it is kept: no write is ever
// reported failed while being committed, or committed while reported
// failed.
func (s *Store) commitGroupSavepoints(group []*writeOp, errs []error) []error {
	ctx := context.Background()
	errs = errs[:0]
	fail := func(err error) []error {
		errs = errs[:0]
		for range group {
			errs = append(errs, err)
		}
		return errs
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fail(translate(fmt.Errorf("begin: %w", err)))
	}
	pre := s.cache.begin()
	w := &wtx{tx: tx, st: &s.w, bound: make(map[*sql.Stmt]*sql.Stmt, 8)}
	ok := 0
	for _, op := range group {
		opErr, txErr := runInSavepoint(ctx, w, op.run)
		if txErr != nil {
			s.abort(w, pre)
			return fail(translate(fmt.Errorf("transaction aborted: %w", txErr)))
		}
		errs = append(errs, opErr)
		if opErr == nil {
			ok++
		}
	}
	return s.finish(w, pre, ok, errs)
}

// finish ends a group's transaction: rolled back when no write succeeded,
// else committed; a failed commit fails the writes that had succeeded.
func (s *Store) finish(w *wtx, pre *walState, ok int, errs []error) []error {
	if ok == 0 {
		s.abort(w, pre)
		return errs
	}
	if err := w.tx.Commit(); err != nil {
		s.cache.end(pre, false, nil)
		err = translate(fmt.Errorf("commit: %w", err))
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	s.cache.end(pre, true, w.changes)
	return errs
}

// abort rolls a group's transaction back.
func (s *Store) abort(w *wtx, pre *walState) {
	w.tx.Rollback()
	s.cache.end(pre, false, nil)
}

// runInSavepoint runs one write. opErr is the write's own failure (undone by
// rolling back to its savepoint); txErr means the savepoint could not be
// managed, so the transaction is no longer trustworthy. A panic in the write
// is its own failure, not the writer's.
func runInSavepoint(ctx context.Context, w *wtx, run func(context.Context, *wtx) error) (opErr, txErr error) {
	if _, err := w.exec(ctx, w.st.savepoint); err != nil {
		return nil, err
	}
	done := len(w.changes)
	if err := runProtected(ctx, w, run); err != nil {
		w.changes = w.changes[:done]
		if _, rerr := w.exec(ctx, w.st.rollbackTo); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		if _, rerr := w.exec(ctx, w.st.release); rerr != nil {
			return nil, rerr
		}
		return translate(err), nil
	}
	if _, err := w.exec(ctx, w.st.release); err != nil {
		return nil, err
	}
	return nil, nil
}

func runProtected(ctx context.Context, tx *wtx, run func(context.Context, *wtx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return run(ctx, tx)
}

// write queues run and waits until its group has committed.
// The write runs with a context of its own: it shares a transaction with
// others, so one caller's cancellation must not interrupt it.
func (s *Store) write(ctx context.Context, run func(ctx context.Context, tx *wtx) error) error {
	op := &writeOp{run: run, err: make(chan error, 1)}
	select {
	case <-s.closed:
		return errClosed
	default:
	}
	select {
	case s.ops <- op:
	case <-s.closed:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the write may commit; wait for its outcome even if the
	// caller's context ends, so an outcome is never misreported.
	select {
	case err := <-op.err:
		return err
	case <-s.done:
		select {
		case err := <-op.err:
			return err
		default:
			return errClosed
		}
	}
}

var errClosed = &graph.Error{Kind: graph.KindUnavailable, Message: "The store is shutting down."}

// translate turns driver errors into graph errors where they have a meaning.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if graph.AsError(err) != nil {
		return err
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED:
			return &graph.Error{Kind: graph.KindUnavailable, Message: "The store is busy; retry the request.", Err: err}
		}
	}
	return err
}

func list(ctx context.Context, stmt *sql.Stmt, tenant string, c store.Collection) ([]store.Record, error) {
	rows, err := stmt.QueryContext(ctx, tenant, string(c))
	if err != nil {
		return nil, translate(fmt.Errorf("list %s: %w", c, err))
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		r := store.Record{Tenant: tenant, Collection: c}
		if err := rows.Scan(&r.ID, &r.Version, &r.Data); err != nil {
			return nil, translate(fmt.Errorf("list %s: %w", c, err))
		}
		out = append(out, r)
	}
	return out, translate(rows.Err())
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, tenant string, c store.Collection, id string) (store.Record, error) {
	r, _, err := s.getStamped(ctx, tenant, c, id)
	return r, err
}

// getStamped reads a record and its seq, from the cache when it can.
func (s *Store) getStamped(ctx context.Context, tenant string, c store.Collection, id string) (store.Record, int64, error) {
	k := keyOf(tenant, c, id)
	if r, seq, ok := s.cache.lookup(k); ok {
		return r, seq, nil
	}
	token, fillable := s.cache.current()
	r, seq, err := get(ctx, s.r.get, tenant, c, id)
	if err == nil && fillable {
		s.cache.fill(token, k, r, seq)
	}
	return r, seq, err
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, tenant string, c store.Collection) ([]store.Record, error) {
	return list(ctx, s.r.list, tenant, c)
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, r store.Record) (store.Record, error) {
	return s.CreateFunc(ctx, r.Tenant, r.Collection, r.ID, func(store.Tx) ([]byte, error) { return r.Data, nil })
}

// CreateFunc implements store.Store.
func (s *Store) CreateFunc(ctx context.Context, tenant string, c store.Collection, id string, fn func(store.Tx) ([]byte, error)) (store.Record, error) {
	r := store.Record{Tenant: tenant, Collection: c, ID: id, Version: 1}
	insert := func(ctx context.Context, tx *wtx, data []byte) error {
		res, err := tx.exec(ctx, tx.st.insert, tenant, string(c), store.Key(id), id, data)
		if err != nil {
			return fmt.Errorf("create %s: %w", c, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.Conflict(id)
		}
		r.Data = data
		seq, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("create %s: %w", c, err)
		}
		tx.changes = append(tx.changes, change{key: keyOf(tenant, c, id), rec: r, seq: seq})
		return nil
	}
	locked := func(ctx context.Context, tx *wtx) error {
		if _, _, err := get(ctx, tx.stmt(ctx, tx.st.get), tenant, c, id); err == nil {
			return store.Conflict(id)
		} else if graph.KindOf(err) != graph.KindNotFound {
			return err
		}
		data, err := fn(txReader{ctx, tx})
		if err != nil {
			return err
		}
		return insert(ctx, tx, data)
	}
	// The document is computed before the write is queued, so that the
	// single writer only checks and stores (see optimistic); but an id
	// already taken is a conflict before fn runs.
	_, _, err := s.getStamped(ctx, tenant, c, id)
	if err == nil {
		return store.Record{}, store.Conflict(id)
	}
	// Another read error (a closed store, say) is left to the writer.
	if graph.KindOf(err) == graph.KindNotFound {
		if data, reads, ok := s.optimistic(ctx, fn); ok {
			err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
				valid, err := reads.valid(ctx, tx)
				if err != nil {
					return err
				}
				if !valid {
					return locked(ctx, tx)
				}
				return insert(ctx, tx, data)
			})
			if err != nil {
				return store.Record{}, err
			}
			return r, nil
		}
	}
	if err := s.write(ctx, locked); err != nil {
		return store.Record{}, err
	}
	return r, nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, tenant string, c store.Collection, id string, fn func(store.Tx, store.Record) ([]byte, error)) (store.Record, error) {
	var out store.Record
	locked := func(ctx context.Context, tx *wtx) error {
		cur, seq, err := get(ctx, tx.stmt(ctx, tx.st.get), tenant, c, id)
		if err != nil {
			return err
		}
		data, err := fn(txReader{ctx, tx}, cur)
		if err != nil {
			return err
		}
		out = cur
		out.Version = cur.Version + 1
		out.Data = data
		_, err = tx.exec(ctx, tx.st.update, out.Version, data, tenant, string(c), store.Key(id))
		if err != nil {
			return fmt.Errorf("update %s: %w", c, err)
		}
		tx.changes = append(tx.changes, change{key: keyOf(tenant, c, id), rec: out, seq: seq})
		return nil
	}
	cur, seq, err := s.getStamped(ctx, tenant, c, id)
	if err == nil {
		data, reads, ok := s.optimistic(ctx, func(tx store.Tx) ([]byte, error) { return fn(tx, cur) })
		if ok {
			err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
				valid, err := reads.valid(ctx, tx)
				if err != nil {
					return err
				}
				if valid {
					// Compare and swap: the row is still the one read, at the
					// version read (seq is never reused, so a deleted and
					// re-created object does not pass for the old one).
					res, err := tx.exec(ctx, tx.st.swap, cur.Version+1, data, seq, cur.Version)
					if err != nil {
						return fmt.Errorf("update %s: %w", c, err)
					}
					if n, _ := res.RowsAffected(); n == 1 {
						out = cur
						out.Version = cur.Version + 1
						out.Data = data
						tx.changes = append(tx.changes, change{key: keyOf(tenant, c, id), rec: out, seq: seq})
						return nil
					}
				}
				return locked(ctx, tx)
			})
			if err != nil {
				return store.Record{}, err
			}
			return out, nil
		}
	}
	if err := s.write(ctx, locked); err != nil {
		return store.Record{}, err
	}
	return out, nil
}

// optimistic runs fn outside the writer, on the readers, remembering what
// it read. The writer then only has to check that those records are
// unchanged (readSet.valid) and store the result: the decoding, merging,
// sealing and encoding of many concurrent writes run in parallel instead
// of one after the other inside the shared transaction. ok is false when
// the result cannot be trusted that way: fn failed (its error may come
// from a stale read, so the caller runs fn again inside the writer, which
// decides) or listed a collection (a list cannot be checked cheaply).
func (s *Store) optimistic(ctx context.Context, fn func(store.Tx) ([]byte, error)) (data []byte, reads *readSet, ok bool) {
	reads = &readSet{ctx: ctx, s: s}
	data, err := runReader(reads, fn)
	if err != nil || reads.unsure {
		return nil, nil, false
	}
	return data, reads, true
}

func runReader(tx store.Tx, fn func(store.Tx) ([]byte, error)) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return fn(tx)
}

// readSet is a store.Tx on the readers that records the identity (seq)
// and version of every record read, or its absence.
type readSet struct {
	ctx    context.Context
	s      *Store
	reads  []stamp
	unsure bool // a read that cannot be checked later: a list, or an error
}

type stamp struct {
	tenant  string
	c       store.Collection
	id      string
	seq     int64 // 0: the record did not exist
	version int64
}

func (r *readSet) Get(tenant string, c store.Collection, id string) (store.Record, error) {
	rec, seq, err := r.s.getStamped(r.ctx, tenant, c, id)
	switch {
	case err == nil:
		r.reads = append(r.reads, stamp{tenant, c, id, seq, rec.Version})
	case graph.KindOf(err) == graph.KindNotFound:
		r.reads = append(r.reads, stamp{tenant: tenant, c: c, id: id})
	default:
		r.unsure = true
	}
	return rec, err
}

func (r *readSet) List(tenant string, c store.Collection) ([]store.Record, error) {
	r.unsure = true
	return list(r.ctx, r.s.r.list, tenant, c)
}

// valid reports whether every record read is, inside the write
// transaction, still the same record at the same version (or still absent).
func (r *readSet) valid(ctx context.Context, tx *wtx) (bool, error) {
	for _, st := range r.reads {
		var seq, version int64
		err := tx.stmt(ctx, tx.st.stamp).QueryRowContext(ctx, st.tenant, string(st.c), store.Key(st.id)).Scan(&seq, &version)
		if errors.Is(err, sql.ErrNoRows) {
			seq, version = 0, 0
		} else if err != nil {
			return false, translate(fmt.Errorf("check %s: %w", st.c, err))
		}
		if seq != st.seq || version != st.version {
			return false, nil
		}
	}
	return true, nil
}

func get(ctx context.Context, stmt *sql.Stmt, tenant string, c store.Collection, id string) (store.Record, int64, error) {
	r := store.Record{Tenant: tenant, Collection: c}
	var seq int64
	err := stmt.QueryRowContext(ctx, tenant, string(c), store.Key(id)).Scan(&seq, &r.ID, &r.Version, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, 0, store.NotFound(id)
	}
	if err != nil {
		return store.Record{}, 0, translate(fmt.Errorf("get %s: %w", c, err))
	}
	return r, seq, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, tenant string, c store.Collection, id string, check func(store.Tx, store.Record) error) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx) error {
		cur, _, err := get(ctx, tx.stmt(ctx, tx.st.get), tenant, c, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(txReader{ctx, tx}, cur); err != nil {
				return err
			}
		}
		_, err = tx.exec(ctx, tx.st.delete, tenant, string(c), store.Key(id))
		if err != nil {
			return fmt.Errorf("delete %s: %w", c, err)
		}
		tx.changes = append(tx.changes, change{key: keyOf(tenant, c, id), deleted: true})
		return nil
	})
}

type txReader struct {
	ctx context.Context
	tx  *wtx
}

func (t txReader) Get(tenant string, c store.Collection, id string) (store.Record, error) {
	r, _, err := get(t.ctx, t.tx.stmt(t.ctx, t.tx.st.get), tenant, c, id)
	return r, err
}

func (t txReader) List(tenant string, c store.Collection) ([]store.Record, error) {
	return list(t.ctx, t.tx.stmt(t.ctx, t.tx.st.list), tenant, c)
}

// Close stops the writer after the writes already queued and closes the file.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.closed) })
	s.cache.close()
	<-s.done
	// Writes queued after the writer stopped fail rather than hang.
	for {
		select {
		case op := <-s.ops:
			op.err <- errClosed
			continue
		default:
		}
		break
	}
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// IntegrityCheck runs SQLite's integrity check and returns an error unless
// the database file is sound.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	var res string
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("integrity_check: %s", res)
	}
	return nil
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }
