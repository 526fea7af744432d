package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the session advisory lock held while the
// schema is migrated. It is fixed, so that every idgraph process on the
// database contends for the same lock whatever its version.
var migrationLock = lockKey("idgraph schema migrations")

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// Store is the PostgreSQL backend.
type Store struct {
	pool    *pgxpool.Pool
	maxLost int // attempts after lost connections: every pooled one, and a new one
	closed  atomic.Bool
	once    sync.Once
}

var _ store.Store = (*Store)(nil)

// defaultMaxConns is the pool size unless the URL's pool_max_conns sets one.
const defaultMaxConns = 16

// Open connects to the database at dsn, a libpq connection URL such as
// postgres://user:password@host:5432/idgraph?sslmode=verify-full, checks that
// the server makes commits durable and applies pending migrations. URL
// parameters that are not connection settings become session settings:
// search_path=name selects the schema idgraph uses. The pool takes the
// pool_max_conns (and other pool_*) parameters of pgxpool.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: the connection URL is not valid: %s", parseProblem(err))
	}
	params := cfg.ConnConfig.RuntimeParams
	if params == nil {
		params = make(map[string]string)
		cfg.ConnConfig.RuntimeParams = params
	}
	// A 2xx means the write is on disk: no session may trade that for speed,
	// whatever the URL or the role's defaults say.
	params["synchronous_commit"] = "on"
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = "idgraph"
	}
	// Documents, ids and queries are UTF-8 whatever the server's default.
	params["client_encoding"] = "UTF8"
	// A replica that stalls inside a transaction (paused, cut off) must not
	// hold its row locks until TCP notices: the server ends such a session,
	// and a write waiting on a lock gives up (503, retryable) instead of
	// holding a pooled connection indefinitely. The URL may set others.
	for k, v := range map[string]string{"idle_in_transaction_session_timeout": "30s", "lock_timeout": "10s"} {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	// pgxpool's default (the CPU count, at least 4) starves a server whose
	// every request reads its tenant and object: dozens of requests in
	// flight would queue for four connections. Unless the URL says
	// otherwise, take defaultMaxConns (three replicas stay well under
	// PostgreSQL's default max_connections of 100).
	if !strings.Contains(dsn, "pool_max_conns=") {
		cfg.MaxConns = max(cfg.MaxConns, defaultMaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, maxLost: int(cfg.MaxConns) + 1}
	if err := s.checkDurability(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres at %s: %w", endpoint(cfg.ConnConfig), err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres at %s: migrate: %w", endpoint(cfg.ConnConfig), err)
	}
	return s, nil
}

// parseProblem describes why a connection URL was refused without
// repeating the URL, which may hold a password.
func parseProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if inner := errors.Unwrap(pe); inner != nil {
			return inner.Error()
		}
	}
	return "expected postgres://user:password@host:port/database?parameters"
}

// endpoint names the server and database for operators' messages.
func endpoint(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// checkDurability refuses a server that does not make a commit durable
// before acknowledging it.
func (s *Store) checkDurability(ctx context.Context) error {
	var fsync, syncCommit, encoding string
	err := s.pool.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('server_encoding')`).
		Scan(&fsync, &syncCommit, &encoding)
	if err != nil {
		return fmt.Errorf("read the durability settings: %w", err)
	}
	if encoding != "UTF8" {
		// Other encodings cannot hold every string a document may carry,
		// and count characters differently in comparisons.
		return fmt.Errorf("the database's encoding is %s; idgraph needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')", encoding)
	}
	return durable(fsync, syncCommit)
}

// durable judges the server's settings. synchronous_commit is forced on for
// every session, so another value means something between idgraph and the
// server (a connection pooler, say) dropped the setting.
func durable(fsync, syncCommit string) error {
	if fsync != "on" {
		return fmt.Errorf("the server runs with fsync=%s, so a committed write can be lost in a crash; idgraph acknowledges only durable writes: set fsync = on", fsync)
	}
	if syncCommit == "off" {
		return errors.New("sessions run with synchronous_commit=off although idgraph asks for on (does a connection pooler drop startup parameters?); a committed write could be lost in a crash")
	}
	return nil
}

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	seen := make(map[int]string)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: the name must start with a positive version number", base)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version", other, base)
		}
		seen[v] = base
		body, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// latestVersion is the schema version this build creates.
func latestVersion() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the migrations the schema lacks. Replicas starting at the
// same moment queue on one advisory lock, held by one dedicated connection,
// and each finds what the ones before it applied. Each migration runs in a
// transaction with its schema_migrations row, so a crash leaves it either
// applied or not.
func (s *Store) migrate(ctx context.Context) (err error) {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrationLock); uerr != nil {
			// The session may still hold the lock: ending it releases it.
			conn.Conn().Close(uctx)
			if err == nil {
				err = fmt.Errorf("release the migration lock: %w", uerr)
			}
		}
	}()

	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return errors.New("no schema named in search_path exists: create it, or fix search_path in the connection URL")
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create schema_migrations in schema %q: %w", *schema, err)
	}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema_migrations in schema %q: %w", *schema, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("read schema_migrations in schema %q: %w", *schema, err)
	}
	done := make(map[int]bool, len(applied))
	newest := 0
	for _, v := range applied {
		done[int(v)] = true
		newest = max(newest, int(v))
	}
	if latest := ms[len(ms)-1].version; newest > latest {
		return fmt.Errorf("schema %q is at version %d, newer than the version %d this idgraph release knows: run a newer release (or another schema)", *schema, newest, latest)
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version)
			return err
		}); err != nil {
			return fmt.Errorf("migration %s in schema %q: %w", m.name, *schema, err)
		}
	}
	return nil
}

// Close waits for the operations in progress and closes the connections.
// Every write acknowledged before is durable; operations after Close fail
// with a retryable error.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.pool.Close()
	})
	return nil
}

var errClosed = &graph.Error{Kind: graph.KindUnavailable, Message: "The store is shutting down."}

// IntegrityCheck reads every stored row and returns an error describing
// what is wrong, if anything: a document that is not JSON, an id_key that
// is not store.Key of the id, a version below 1, a display_name that does
// not match the document, two rows with one key (which the unique index
// should have prevented: the heap is read without it), or a schema version
// other than this build's.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var version *int32
		if err := tx.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil {
			return err
		}
		if want := latestVersion(); version == nil || int(*version) != want {
			report("schema version %v, want %d", deref(version), want)
		}
		// The checks read the table itself, not its indexes.
		for _, off := range []string{"enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"} {
			if _, err := tx.Exec(ctx, `SELECT set_config($1, 'off', true)`, off); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT seq, tenant_id, collection, id_key, id, version, data FROM objects`)
		if err != nil {
			return err
		}
		var (
			seq, ver              int64
			tenant, coll, key, id string
			data                  []byte
			jsonOK                = true
		)
		_, err = pgx.ForEachRow(rows, []any{&seq, &tenant, &coll, &key, &id, &ver, &data}, func() error {
			if !json.Valid(data) {
				jsonOK = false
				report("row %d (%s %q): the document is not valid JSON", seq, coll, id)
			}
			if key != store.Key(id) {
				report("row %d (%s %q): id_key %q, want %q", seq, coll, id, key, store.Key(id))
			}
			if ver < 1 {
				report("row %d (%s %q): version %d", seq, coll, id, ver)
			}
			if coll == "" {
				report("row %d (id %q): no collection", seq, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		dups, err := tx.Query(ctx, `SELECT tenant_id, collection, id_key, count(*) FROM objects
			GROUP BY tenant_id, collection, id_key HAVING count(*) > 1`)
		if err != nil {
			return err
		}
		var n int64
		if _, err := pgx.ForEachRow(dups, []any{&tenant, &coll, &key, &n}, func() error {
			report("%d rows hold the key (%q, %s, %q)", n, tenant, coll, key)
			return nil
		}); err != nil {
			return err
		}
		if !jsonOK {
			return nil // display_name cannot be recomputed from a broken document
		}
		var stale int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM objects
			WHERE display_name <> coalesce(lower((idgraph_doc(data) ->> 'displayName') COLLATE "C"), '')`).Scan(&stale); err != nil {
			return err
		}
		if stale > 0 {
			report("%d rows have a display_name that does not match their document", stale)
		}
		return nil
	})
	if err != nil {
		return s.fail(fmt.Errorf("integrity check: %w", err))
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}

func deref(p *int32) any {
	if p == nil {
		return "none"
	}
	return *p
}
