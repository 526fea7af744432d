package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The statements of the record operations. Every one names its columns:
// a replica running a newer release may add columns while this one runs.
const (
	sqlGet       = `SELECT id, version, data FROM objects WHERE tenant_id = $1 AND collection = $2 AND id_key = $3`
	sqlList      = `SELECT id, version, data FROM objects WHERE tenant_id = $1 AND collection = $2 ORDER BY seq`
	sqlExists    = `SELECT EXISTS (SELECT 1 FROM objects WHERE tenant_id = $1 AND collection = $2 AND id_key = $3)`
	sqlGetShared = sqlGet + ` FOR SHARE`
	sqlListShare = sqlList + ` FOR SHARE`
	sqlLock      = `SELECT seq, id, version, data FROM objects WHERE tenant_id = $1 AND collection = $2 AND id_key = $3 FOR UPDATE`
	sqlInsert    = `INSERT INTO objects (tenant_id, collection, id_key, id, version, data) VALUES ($1, $2, $3, $4, 1, $5)
		ON CONFLICT (tenant_id, collection, id_key) DO NOTHING RETURNING txid_current()`
	sqlUpdate = `UPDATE objects SET version = $2, data = $3 WHERE seq = $1 RETURNING txid_current()`
	sqlDelete = `DELETE FROM objects WHERE seq = $1 RETURNING txid_current()`
)

// maxRetries bounds how often a write that lost a deadlock or a
// serialization conflict runs again.
const maxRetries = 3

// storable reports whether s can be a value of a text column: PostgreSQL
// text holds neither NUL nor invalid UTF-8. No stored key is such a string,
// so a lookup of one finds nothing.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, tenant string, c store.Collection, id string) (store.Record, error) {
	if s.closed.Load() {
		return store.Record{}, errClosed
	}
	if !storable(tenant) || !storable(string(c)) || !storable(store.Key(id)) {
		return store.Record{}, store.NotFound(id)
	}
	var r store.Record
	err := s.read(ctx, func() (err error) {
		r, err = get(ctx, s.pool, sqlGet, tenant, c, id)
		return err
	})
	if err != nil && graph.AsError(err) == nil {
		err = s.fail(err)
	}
	return r, err
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, tenant string, c store.Collection) ([]store.Record, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if !storable(tenant) || !storable(string(c)) {
		return nil, nil
	}
	var rs []store.Record
	err := s.read(ctx, func() (err error) {
		rs, err = list(ctx, s.pool, sqlList, tenant, c)
		return err
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return rs, nil
}

// querier is what reads run on: the pool, or a write's transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// get reads one record; a missing one is store.NotFound, other errors are
// returned as the driver's.
func get(ctx context.Context, q querier, sql, tenant string, c store.Collection, id string) (store.Record, error) {
	r := store.Record{Tenant: tenant, Collection: c}
	err := q.QueryRow(ctx, sql, tenant, string(c), store.Key(id)).Scan(&r.ID, &r.Version, &r.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, store.NotFound(id)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("get %s: %w", c, err)
	}
	return r, nil
}

func list(ctx context.Context, q querier, sql, tenant string, c store.Collection) ([]store.Record, error) {
	rows, err := q.Query(ctx, sql, tenant, string(c))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c, err)
	}
	var out []store.Record
	r := store.Record{Tenant: tenant, Collection: c}
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.Version, &r.Data}, func() error {
		out = append(out, r)
		r.Data = nil // the next row scans into a new slice
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c, err)
	}
	return out, nil
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, r store.Record) (store.Record, error) {
	return s.CreateFunc(ctx, r.Tenant, r.Collection, r.ID, func(store.Tx) ([]byte, error) { return r.Data, nil })
}

// CreateFunc implements store.Store. The unique key decides between
// concurrent creates: the insert of the loser finds the winner's row (once
// the winner commits) and stores nothing.
func (s *Store) CreateFunc(ctx context.Context, tenant string, c store.Collection, id string, fn func(store.Tx) ([]byte, error)) (store.Record, error) {
	if !storable(tenant) || !storable(string(c)) || !storable(id) {
		switch {
		case s.closed.Load():
			return store.Record{}, errClosed
		case !storable(id):
			return store.Record{}, graph.Errorf(graph.KindInvalid, "The id '%s' holds a character that cannot be stored.",
				strings.ToValidUTF8(strings.ReplaceAll(id, "\x00", `\0`), "\uFFFD"))
		}
		return store.Record{}, fmt.Errorf("create %s: the tenant id %q cannot be stored", c, tenant)
	}
	r := store.Record{Tenant: tenant, Collection: c, ID: id, Version: 1}
	err := s.write(ctx, func(w *wtx) error {
		var exists bool
		if err := w.queryRow(sqlExists, tenant, string(c), store.Key(id)).Scan(&exists); err != nil {
			return w.failed(fmt.Errorf("create %s: %w", c, err))
		}
		if exists {
			return store.Conflict(id)
		}
		data, err := fn(w)
		if err != nil {
			return err
		}
		err = w.queryRow(sqlInsert, tenant, string(c), store.Key(id), id, data).Scan(&w.xid)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Conflict(id) // created since the check
		}
		if err != nil {
			return w.failed(fmt.Errorf("create %s: %w", c, err))
		}
		r.Data = data
		return nil
	})
	if err != nil {
		return store.Record{}, err
	}
	return r, nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, tenant string, c store.Collection, id string, fn func(store.Tx, store.Record) ([]byte, error)) (store.Record, error) {
	if !storable(tenant) || !storable(string(c)) || !storable(store.Key(id)) {
		if s.closed.Load() {
			return store.Record{}, errClosed
		}
		return store.Record{}, store.NotFound(id)
	}
	var out store.Record
	err := s.write(ctx, func(w *wtx) error {
		cur, seq, err := w.lock(tenant, c, id)
		if err != nil {
			return err
		}
		data, err := fn(w, cur)
		if err != nil {
			return err
		}
		next := cur
		next.Version++
		next.Data = data
		if err := w.queryRow(sqlUpdate, seq, next.Version, data).Scan(&w.xid); err != nil {
			return w.failed(fmt.Errorf("update %s: %w", c, err))
		}
		out = next
		return nil
	})
	if err != nil {
		return store.Record{}, err
	}
	return out, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, tenant string, c store.Collection, id string, check func(store.Tx, store.Record) error) error {
	if !storable(tenant) || !storable(string(c)) || !storable(store.Key(id)) {
		if s.closed.Load() {
			return errClosed
		}
		return store.NotFound(id)
	}
	return s.write(ctx, func(w *wtx) error {
		cur, seq, err := w.lock(tenant, c, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(w, cur); err != nil {
				return err
			}
		}
		if err := w.queryRow(sqlDelete, seq).Scan(&w.xid); err != nil {
			return w.failed(fmt.Errorf("delete %s: %w", c, err))
		}
		return nil
	})
}

// wtx is one attempt of a write: its transaction, and the store.Tx the
// caller's function reads through.
type wtx struct {
	ctx context.Context
	tx  pgx.Tx
	// dbErr is the first statement that failed. PostgreSQL refuses every
	// statement of the transaction after it, so this, and not what the
	// caller's function made of it, decides the attempt.
	dbErr error
	xid   int64 // the transaction's id, once it changed a row
}

func (w *wtx) queryRow(sql string, args ...any) pgx.Row { return w.tx.QueryRow(w.ctx, sql, args...) }

// failed records a statement's failure and returns it.
func (w *wtx) failed(err error) error {
	if w.dbErr == nil {
		w.dbErr = err
	}
	return err
}

// lock reads the record to change and locks its row until the transaction
// ends; a concurrent write of it waits, then reads the new version.
func (w *wtx) lock(tenant string, c store.Collection, id string) (store.Record, int64, error) {
	r := store.Record{Tenant: tenant, Collection: c}
	var seq int64
	err := w.queryRow(sqlLock, tenant, string(c), store.Key(id)).Scan(&seq, &r.ID, &r.Version, &r.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, 0, store.NotFound(id)
	}
	if err != nil {
		return store.Record{}, 0, w.failed(fmt.Errorf("lock %s: %w", c, err))
	}
	return r, seq, nil
}

// Get implements store.Tx. The row stays share-locked until the write
// commits: it cannot change or go away under the caller's check.
func (w *wtx) Get(tenant string, c store.Collection, id string) (store.Record, error) {
	if !storable(tenant) || !storable(string(c)) || !storable(store.Key(id)) {
		return store.Record{}, store.NotFound(id)
	}
	r, err := get(w.ctx, w.tx, sqlGetShared, tenant, c, id)
	if err != nil && graph.AsError(err) == nil {
		return store.Record{}, translate(w.failed(err))
	}
	return r, err
}

// List implements store.Tx, share-locking the rows listed.
func (w *wtx) List(tenant string, c store.Collection) ([]store.Record, error) {
	if !storable(tenant) || !storable(string(c)) {
		return nil, nil
	}
	rs, err := list(w.ctx, w.tx, sqlListShare, tenant, c)
	if err != nil {
		return nil, translate(w.failed(err))
	}
	return rs, nil
}

// write runs run in a READ COMMITTED transaction and commits it. A write
// that loses a deadlock or a serialization conflict runs again, up to
// maxRetries times; so does one whose connection was lost before COMMIT
// (the server rolled its transaction back), through as many connections
// as the pool may hold dead ones. An error of run that is not the
// database's comes back as it is.
func (s *Store) write(ctx context.Context, run func(w *wtx) error) error {
	conflicts, lost := 0, 0
	for {
		if s.closed.Load() {
			return errClosed
		}
		final, err := s.attempt(ctx, run)
		switch {
		case err == nil || final:
			return err
		case retryable(err):
			if conflicts++; conflicts > maxRetries {
				return &graph.Error{Kind: graph.KindUnavailable,
					Message: "The store is busy: the change kept conflicting with concurrent changes; retry the request.",
					Err:     fmt.Errorf("%d attempts: %w", conflicts, err)}
			}
		case connLost(err) && ctx.Err() == nil:
			if lost++; lost > s.maxLost {
				return s.fail(err)
			}
		default:
			return s.fail(err)
		}
		// The writers that collided start again at different moments.
		pause := time.Duration(rand.Int64N(int64(2*time.Millisecond) << min(conflicts+lost, 4)))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// attempt runs one try of a write. final reports that err is the outcome,
// to be returned as it is: the verdict of the caller's function (or of the
// record's state: not found, conflict), or the outcome of a COMMIT that was
// sent. Otherwise err is the database's, from before the COMMIT: when a
// statement failed, that failure decides the attempt, whatever the
// caller's function made of it, and nothing was changed.
func (s *Store) attempt(ctx context.Context, run func(w *wtx) error) (final bool, err error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	w := &wtx{ctx: ctx, tx: tx}
	runErr := protect(func() error { return run(w) })
	if runErr != nil || w.dbErr != nil {
		rollback(ctx, tx)
		switch {
		case w.dbErr == nil:
			return true, runErr
		case runErr == nil || retryable(w.dbErr) || connLost(w.dbErr):
			return false, w.dbErr
		}
		// The function's reaction to a failed read: its own error if it
		// made one of the read's (translated) error.
		return graph.AsError(runErr) != nil, runErr
	}
	// The outcome of a COMMIT that was sent must be learnt, so the caller's
	// cancellation does not interrupt it.
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return true, translate(s.commitFailed(ctx, w.xid, err))
	}
	return true, nil
}

// read runs a read, again on another connection when the server ended the
// one it ran on (a restart, a failover, an administrator): the pool may
// hold several such connections before it notices.
func (s *Store) read(ctx context.Context, run func() error) error {
	for lost := 0; ; lost++ {
		err := run()
		if err == nil || !connLost(err) || ctx.Err() != nil || lost == s.maxLost || s.closed.Load() {
			return err
		}
	}
}

// protect turns a panic of the caller's function into an error, so that the
// transaction is rolled back and its connection returned to the pool.
func protect(run func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return run()
}

func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// A failed rollback closes the connection, which ends the transaction.
	_ = tx.Rollback(rctx)
}

// commitFailed learns the outcome of a COMMIT that returned an error. An
// error from the server means the transaction was rolled back. Without an
// answer (the connection broke), the transaction may have committed: the
// server, asked on another connection, knows.
func (s *Store) commitFailed(ctx context.Context, xid int64, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) || xid == 0 {
		return fmt.Errorf("commit: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for {
		var status *string
		qerr := s.pool.QueryRow(ctx, `SELECT txid_status($1)`, xid).Scan(&status)
		switch {
		case qerr == nil && status == nil:
			// Too old to be known: cannot happen seconds after the commit.
		case qerr == nil && *status == "committed":
			return nil
		case qerr == nil && *status == "aborted":
			return &graph.Error{Kind: graph.KindUnavailable, Message: "The database connection failed; nothing was changed. Retry the request.", Err: err}
		}
		// "in progress": the server has not yet noticed that the connection
		// is gone; or the server cannot be asked yet.
		select {
		case <-time.After(100 * time.Millisecond):
			continue
		case <-ctx.Done():
		}
		return &graph.Error{Kind: graph.KindUnavailable,
			Message: "The database connection failed while the change was committed; it may or may not have been stored.",
			Err:     fmt.Errorf("commit of transaction %d: %w (last status query: %v)", xid, err, qerr)}
	}
}

// retryable reports whether err is a deadlock or a serialization failure:
// the transaction was rolled back and may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// connLost reports whether err means that the connection is gone, or could
// not be made: the server rolled back the transaction it had open, if any.
func connLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection_exception
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err)
}

// fail is translate, knowing that a closed store explains any failure.
func (s *Store) fail(err error) error {
	if err != nil && s.closed.Load() && graph.AsError(err) == nil {
		return errClosed
	}
	return translate(err)
}

// translate turns driver errors into graph errors where they have a
// meaning: a transient failure of the server or of the connection to it is
// KindUnavailable (503, retry). Errors that are already graph errors, the
// caller's context ending and other failures come back unchanged.
func translate(err error) error {
	if err == nil || graph.AsError(err) != nil {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001", pe.Code == "40P01":
			return &graph.Error{Kind: graph.KindUnavailable, Message: "The store is busy; retry the request.", Err: err}
		case connLost(err),
			pe.Code == "53300", // too_many_connections
			pe.Code == "55P03", // lock_not_available (lock_timeout)
			pe.Code == "57014", // query_canceled (statement_timeout)
			pe.Code == "25006": // read_only_sql_transaction: a standby after a failover
			return &graph.Error{Kind: graph.KindUnavailable, Message: "The database is unavailable; retry the request.", Err: err}
		}
		return err
	}
	if connLost(err) || pgconn.Timeout(err) {
		return &graph.Error{Kind: graph.KindUnavailable, Message: "The database cannot be reached; retry the request.", Err: err}
	}
	return err
}
