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
	ops    chan *writeOp
	closed chan struct{}
	done   chan struct{}
	once   sync.Once
}

var _ store.Store = (*Store)(nil)

type writeOp struct {
	run func(ctx context.Context, tx *sql.Tx) error
	err chan error
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

// commitGroup runs a group of writes in one transaction. Each write has its
// own savepoint, so a failing write is undone alone. If the transaction
// itself is lost (SQLite aborts it on errors such as a full disk), the whole
// group fails and nothing of it is kept: no write is ever reported failed
// while being committed, or committed while reported failed.
func (s *Store) commitGroup(group []*writeOp, errs []error) []error {
	ctx := context.Background()
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
	ok := 0
	for _, op := range group {
		opErr, txErr := runInSavepoint(ctx, tx, op.run)
		if txErr != nil {
			tx.Rollback()
			return fail(translate(fmt.Errorf("transaction aborted: %w", txErr)))
		}
		errs = append(errs, opErr)
		if opErr == nil {
			ok++
		}
	}
	if ok == 0 {
		tx.Rollback()
		return errs
	}
	if err := tx.Commit(); err != nil {
		err = translate(fmt.Errorf("commit: %w", err))
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// runInSavepoint runs one write. opErr is the write's own failure (undone by
// rolling back to its savepoint); txErr means the savepoint could not be
// managed, so the transaction is no longer trustworthy. A panic in the write
// is its own failure, not the writer's.
func runInSavepoint(ctx context.Context, tx *sql.Tx, run func(context.Context, *sql.Tx) error) (opErr, txErr error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
		return nil, err
	}
	if err := runProtected(ctx, tx, run); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO op"); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		if _, rerr := tx.ExecContext(ctx, "RELEASE op"); rerr != nil {
			return nil, rerr
		}
		return translate(err), nil
	}
	if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
		return nil, err
	}
	return nil, nil
}

func runProtected(ctx context.Context, tx *sql.Tx, run func(context.Context, *sql.Tx) error) (err error) {
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
func (s *Store) write(ctx context.Context, run func(ctx context.Context, tx *sql.Tx) error) error {
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

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func get(ctx context.Context, q querier, tenant string, c store.Collection, id string) (store.Record, error) {
	r := store.Record{Tenant: tenant, Collection: c}
	err := q.QueryRowContext(ctx,
		`SELECT id, version, data FROM objects WHERE tenant_id = ? AND collection = ? AND id_key = ?`,
		tenant, string(c), store.Key(id)).Scan(&r.ID, &r.Version, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, store.NotFound(id)
	}
	if err != nil {
		return store.Record{}, translate(fmt.Errorf("get %s: %w", c, err))
	}
	return r, nil
}

func list(ctx context.Context, q querier, tenant string, c store.Collection) ([]store.Record, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT id, version, data FROM objects WHERE tenant_id = ? AND collection = ? ORDER BY seq`,
		tenant, string(c))
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
	return get(ctx, s.rdb, tenant, c, id)
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, tenant string, c store.Collection) ([]store.Record, error) {
	return list(ctx, s.rdb, tenant, c)
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, r store.Record) (store.Record, error) {
	return s.CreateFunc(ctx, r.Tenant, r.Collection, r.ID, func(store.Tx) ([]byte, error) { return r.Data, nil })
}

// CreateFunc implements store.Store.
func (s *Store) CreateFunc(ctx context.Context, tenant string, c store.Collection, id string, fn func(store.Tx) ([]byte, error)) (store.Record, error) {
	r := store.Record{Tenant: tenant, Collection: c, ID: id, Version: 1}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := get(ctx, tx, tenant, c, id); err == nil {
			return store.Conflict(id)
		} else if graph.KindOf(err) != graph.KindNotFound {
			return err
		}
		data, err := fn(txReader{ctx, tx})
		if err != nil {
			return err
		}
		r.Data = data
		res, err := tx.ExecContext(ctx,
			`INSERT INTO objects (tenant_id, collection, id_key, id, version, data) VALUES (?, ?, ?, ?, 1, ?)
			 ON CONFLICT (tenant_id, collection, id_key) DO NOTHING`,
			tenant, string(c), store.Key(id), id, data)
		if err != nil {
			return fmt.Errorf("create %s: %w", c, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.Conflict(id)
		}
		return nil
	})
	if err != nil {
		return store.Record{}, err
	}
	return r, nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, tenant string, c store.Collection, id string, fn func(store.Tx, store.Record) ([]byte, error)) (store.Record, error) {
	var out store.Record
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cur, err := get(ctx, tx, tenant, c, id)
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
		_, err = tx.ExecContext(ctx,
			`UPDATE objects SET version = ?, data = ? WHERE tenant_id = ? AND collection = ? AND id_key = ?`,
			out.Version, data, tenant, string(c), store.Key(id))
		if err != nil {
			return fmt.Errorf("update %s: %w", c, err)
		}
		return nil
	})
	if err != nil {
		return store.Record{}, err
	}
	return out, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, tenant string, c store.Collection, id string, check func(store.Tx, store.Record) error) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cur, err := get(ctx, tx, tenant, c, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(txReader{ctx, tx}, cur); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM objects WHERE tenant_id = ? AND collection = ? AND id_key = ?`,
			tenant, string(c), store.Key(id))
		if err != nil {
			return fmt.Errorf("delete %s: %w", c, err)
		}
		return nil
	})
}

type txReader struct {
	ctx context.Context
	tx  *sql.Tx
}

func (t txReader) Get(tenant string, c store.Collection, id string) (store.Record, error) {
	return get(t.ctx, t.tx, tenant, c, id)
}

func (t txReader) List(tenant string, c store.Collection) ([]store.Record, error) {
	return list(t.ctx, t.tx, tenant, c)
}

// Close stops the writer after the writes already queued and closes the file.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.closed) })
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
