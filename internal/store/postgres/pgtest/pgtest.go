// Package pgtest gives tests of any package a PostgreSQL database of their
// own: a fresh, empty schema in the test database, dropped when the test
// ends.
//
// The test database is the one the environment variable
// IDGRAPH_TEST_POSTGRES names (a postgres:// URL), by default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. When it cannot
// be reached the tests that need it are skipped, or fail when
// IDGRAPH_REQUIRE_POSTGRES=1 (as CI sets it, so that a missing database
// cannot pass for a green run).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment variables pgtest reads.
const (
	EnvURL     = "IDGRAPH_TEST_POSTGRES"
	EnvRequire = "IDGRAPH_REQUIRE_POSTGRES"
)

// DefaultURL is the test database when EnvURL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// unreachable remembers, by base URL, the error of a test database that
// could not be reached.
var unreachable sync.Map

// DSN creates an empty schema in the test database and returns the
// connection URL that selects it (search_path). The schema and everything
// in it is dropped when the test and its subtests end, after the cleanups
// registered later (a store opened on it is closed first).
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		base = DefaultURL
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		// The parser's message may quote the URL, password included.
		detail := "expected postgres://user:password@host:port/database?parameters"
		var ue *url.Error
		if errors.As(err, &ue) {
			detail = ue.Err.Error()
		}
		t.Fatalf("%s is not a PostgreSQL connection URL: %s", EnvURL, detail)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conn *pgx.Conn
	if prev, ok := unreachable.Load(base); ok {
		err = prev.(error) // not waiting for a connect timeout in every test
	} else if conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		unreachable.Store(base, err)
	}
	if err != nil {
		where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("PostgreSQL is not reachable at %s (%s=1 requires it): %v", where, EnvRequire, err)
		}
		t.Skipf("PostgreSQL is not reachable at %s, so this test is skipped: %v\n"+
			"Set %s to the URL of a test database (default %s) to run it; %s=1 makes this a failure.",
			where, err, EnvURL, DefaultURL, EnvRequire)
	}
	defer conn.Close(context.Background())

	var b [8]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	quoted := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+quoted); err != nil {
		t.Fatalf("create the test schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("drop the test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+quoted+" CASCADE"); err != nil {
			t.Errorf("drop the test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// withSearchPath adds the search_path parameter to a connection string,
// in its URL or its keyword/value form.
func withSearchPath(base, schema string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		if u, err := url.Parse(base); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return base + " search_path=" + schema
}
