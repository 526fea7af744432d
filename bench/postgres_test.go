package main

import (
	"bytes"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestCheckDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn   string
		where string // "" when refused
	}{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "127.0.0.1:5432/test"},
		{"postgresql://u:secret@localhost/db", "localhost/db"}, // no credentials in what is reported
		{"postgres://[::1]:5433/db", "[::1]:5433/db"},
		{"postgres:///db?host=/var/run/postgresql", "/db"},
		{"postgres://db.example.com/test", ""},
		{"postgres://127.0.0.1/test?host=10.0.0.5", ""}, // the host parameter wins over the URL's
		{"postgres://127.0.0.1,127.0.0.2/test", ""},
		{"host=127.0.0.1 dbname=test", ""},
		{"mysql://127.0.0.1/test", ""},
	} {
		where, err := checkDSN(tc.dsn)
		if tc.where == "" {
			if err == nil {
				t.Errorf("checkDSN(%q) = %q, want an error", tc.dsn, where)
			}
			continue
		}
		if err != nil || where != tc.where {
			t.Errorf("checkDSN(%q) = %q, %v, want %q", tc.dsn, where, err, tc.where)
		}
	}
}

func TestSchemaDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want url.Values
	}{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
			url.Values{"sslmode": {"disable"}, "search_path": {"idgraph_bench_x"}}},
		// A search_path in the given URL is replaced, not added to.
		{"postgres://127.0.0.1/test?search_path=public&application_name=a",
			url.Values{"application_name": {"a"}, "search_path": {"idgraph_bench_x"}}},
	} {
		got, err := schemaDSN(tc.dsn, "idgraph_bench_x")
		if err != nil {
			t.Fatalf("schemaDSN(%q): %v", tc.dsn, err)
		}
		u, _ := url.Parse(got)
		orig, _ := url.Parse(tc.dsn)
		if u.Host != orig.Host || u.Path != orig.Path || u.User.String() != orig.User.String() || u.Query().Encode() != tc.want.Encode() {
			t.Errorf("schemaDSN(%q) = %q, want its parameters %s", tc.dsn, got, tc.want.Encode())
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil || cfg.RuntimeParams["search_path"] != "idgraph_bench_x" {
			t.Errorf("schemaDSN(%q) = %q: the driver reads search_path %q (%v)", tc.dsn, got, cfg.RuntimeParams["search_path"], err)
		}
	}
}

func TestSchemaNames(t *testing.T) {
	base, err := schemaBase(bytes.NewReader([]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}))
	if err != nil || base != "idgraph_bench_deadbeef0001" {
		t.Errorf("schemaBase = %q, %v, want idgraph_bench_deadbeef0001", base, err)
	}
	if _, err := schemaBase(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("schemaBase with too few random bytes: no error")
	}
	p := &pgServer{base: base}
	// Names must need no quoting and fit PostgreSQL's 63 bytes.
	valid := regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	for _, n := range []int{1, 3, maxReplicas} {
		if s := p.schemaName(n); !valid.MatchString(s) || !strings.HasPrefix(s, base) {
			t.Errorf("schemaName(%d) = %q", n, s)
		}
	}
	if p.schemaName(1) == p.schemaName(3) {
		t.Error("two replica counts share a schema")
	}
}

func TestScrubEnv(t *testing.T) {
	env := []string{"PATH=/bin", "IDGRAPH_STORE=postgres://x", "IDGRAPH_SECRET_KEY=k", "IDGRAPH_STORE_X=y", "HOME=/h"}
	got := scrubEnv(env)
	if want := []string{"PATH=/bin", "IDGRAPH_STORE_X=y", "HOME=/h"}; !slices.Equal(got, want) {
		t.Errorf("scrubEnv(%q) = %q, want %q", env, got, want)
	}
	if len(env) != 5 {
		t.Errorf("scrubEnv changed its argument: %q", env)
	}
}

func TestCounts(t *testing.T) {
	if got, err := counts(" 1, 16,64", 1024); err != nil || !slices.Equal(got, []int{1, 16, 64}) {
		t.Errorf("counts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,,3", "x", "17"} {
		if got, err := counts(bad, maxReplicas); err == nil {
			t.Errorf("counts(%q) = %v, want an error", bad, got)
		}
	}
}

// TestSchemaLifecycle creates and drops a schema on the test database
// (IDGRAPH_TEST_POSTGRES, by default the database test on 127.0.0.1:5432).
// It skips when no server answers, unless IDGRAPH_REQUIRE_POSTGRES is set.
func TestSchemaLifecycle(t *testing.T) {
	dsn := os.Getenv("IDGRAPH_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	pg, err := connectPostgres(t.Context(), dsn)
	if err != nil {
		if os.Getenv("IDGRAPH_REQUIRE_POSTGRES") != "" {
			t.Fatal(err)
		}
		t.Skipf("no PostgreSQL: %v", err)
	}
	if !strings.HasPrefix(pg.About, "PostgreSQL ") {
		t.Errorf("About = %q", pg.About)
	}
	schema := pg.schemaName(1)
	sdsn, drop, err := pg.createSchema(t.Context(), schema)
	if err != nil {
		t.Fatal(err)
	}
	dropped := false
	defer func() {
		if !dropped {
			drop()
		}
	}()
	// A table made through the schema's DSN lands in the schema.
	conn, err := pgx.Connect(t.Context(), sdsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), "CREATE TABLE bench_probe (id int)")
	conn.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := pg.tables(t.Context(), schema); err != nil || n != 1 {
		t.Errorf("%d tables in %s (%v), want 1", n, schema, err)
	}
	drop()
	dropped = true
	var exists bool
	conn, err = pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil || exists {
		t.Errorf("the schema %s is still there after the drop (%v)", schema, err)
	}
}
