package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is the PostgreSQL server -postgres names. The benchmark only
// ever works in schemas of its own there: each replica count gets a new
// schema, which idgraph is pointed at through search_path and which is
// dropped, with everything in it, when that count is measured.
type pgServer struct {
	dsn  string // as given, for creating and dropping the schemas
	base string // prefix of this run's schema names
	// About is the server's version, address and durability settings, for
	// the report.
	About string
}

// connectPostgres checks that dsn names a PostgreSQL server on this
// machine and that it answers, and picks this run's schema names.
func connectPostgres(ctx context.Context, dsn string) (*pgServer, error) {
	where, err := checkDSN(dsn)
	if err != nil {
		return nil, err
	}
	base, err := schemaBase(rand.Reader)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("-postgres: %w", err)
	}
	defer conn.Close(ctx)
	var version, fsync, syncCommit string
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')`).
		Scan(&version, &fsync, &syncCommit); err != nil {
		return nil, fmt.Errorf("-postgres: %w", err)
	}
	v, _, _ := strings.Cut(version, " ")
	return &pgServer{dsn: dsn, base: base,
		About: fmt.Sprintf("PostgreSQL %s at %s (fsync %s, synchronous_commit %s)", v, where, fsync, syncCommit)}, nil
}

// checkDSN accepts a postgres:// URL whose server is on loopback (or a
// Unix socket), and returns where it points: host:port/database, without
// credentials.
func checkDSN(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return "", fmt.Errorf("-postgres: want a postgres:// URL")
	}
	if strings.Contains(u.Host, ",") {
		return "", fmt.Errorf("-postgres: name one server, not %s", u.Host)
	}
	hosts := []string{u.Hostname()}
	if h := u.Query().Get("host"); h != "" {
		hosts = append(hosts, h)
	}
	for _, h := range hosts {
		if !localHost(h) {
			return "", fmt.Errorf("-postgres: the server %s is not on loopback; the benchmark uses this machine only", h)
		}
	}
	return u.Host + u.Path, nil
}

// localHost reports whether a PostgreSQL host is this machine: empty (the
// client's default, a local socket), a socket directory, localhost or a
// loopback address.
func localHost(h string) bool {
	if h == "" || strings.HasPrefix(h, "/") || strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// schemaBase is a new prefix for schema names: idgraph_bench_ and twelve
// random hex digits, so that runs side by side never share a schema.
func schemaBase(random io.Reader) (string, error) {
	b := make([]byte, 6)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", err
	}
	return "idgraph_bench_" + hex.EncodeToString(b), nil
}

// schemaName is the schema measured with n replicas.
func (p *pgServer) schemaName(replicas int) string {
	return fmt.Sprintf("%s_r%d", p.base, replicas)
}

// schemaDSN is dsn with search_path set to schema alone, so that everything
// idgraph creates and reads is in it.
func schemaDSN(dsn, schema string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// exec runs one statement on a connection of its own.
func (p *pgServer) exec(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, p.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// createSchema creates the schema and returns the DSN that points at it,
// and the function that drops it. The drop runs even when ctx is done (an
// interrupt), within 30 s.
func (p *pgServer) createSchema(ctx context.Context, schema string) (string, func(), error) {
	dsn, err := schemaDSN(p.dsn, schema)
	if err != nil {
		return "", nil, err
	}
	if err := p.exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := p.exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			log.Printf("could not drop the schema %s (drop it by hand): %v", schema, err)
			return
		}
		log.Printf("dropped the schema %s", schema)
	}
	return dsn, drop, nil
}

// tables counts the tables in schema: none after idgraph has started on it
// would mean that idgraph did not use search_path.
func (p *pgServer) tables(ctx context.Context, schema string) (int, error) {
	conn, err := pgx.Connect(ctx, p.dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n)
	return n, err
}

// newSecretKey is a random key for the replicas to share (base64, as
// IDGRAPH_SECRET_KEY takes it).
func newSecretKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// replicaSet is idgraph on one PostgreSQL schema: the servers, and the
// command line of the first (through which the data is seeded).
type replicaSet struct {
	servers []*server
	cli     cli
}

func (rs *replicaSet) urls() []string {
	var us []string
	for _, s := range rs.servers {
		us = append(us, s.url)
	}
	return us
}

// stop stops every replica.
func (rs *replicaSet) stop() {
	for _, s := range rs.servers {
		s.stop()
	}
}

// startReplicas starts n servers on the store dsn names, each with its own
// data directory under dir and the same secret key. The first starts
// alone, so that it alone creates the tables.
func startReplicas(ctx context.Context, bin, dir, dsn string, n int) (*replicaSet, error) {
	key, err := newSecretKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env := []string{"IDGRAPH_STORE=" + dsn, "IDGRAPH_SECRET_KEY=" + key}
	rs := &replicaSet{}
	for i := range n {
		c := cli{bin: bin, dataDir: filepath.Join(dir, fmt.Sprintf("replica-%d", i)), env: env}
		s, err := startIdgraph(ctx, c, filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)))
		if err != nil {
			rs.stop()
			return nil, fmt.Errorf("replica %d of %d: %w", i+1, n, err)
		}
		if i == 0 {
			rs.cli = c
		}
		rs.servers = append(rs.servers, s)
	}
	return rs, nil
}
