package postgres

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestIndexServesPages checks that the statements Query writes can take
// their order and their range from an index, as SQLite's do: a page then
// costs the same whatever the size of the collection. With sequential
// scans and sorts priced out, the planner shows whether an index path
// exists.
func TestIndexServesPages(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openStore(t, dsn)
	for i := range 50 {
		mustCreate(t, s, tenantA, store.Users, fmt.Sprintf("u%03d", i), fmt.Sprintf(`{"displayName":"Name %d","mail":"m%d"}`, i%7, i))
	}
	conn := rawConn(t, dsn)
	exec(t, conn, `ANALYZE objects`)
	exec(t, conn, `SET enable_seqscan = off`)
	exec(t, conn, `SET enable_sort = off`)
	dn := store.Field{Name: "displayName"}
	for _, tc := range []struct {
		q     store.Query
		index string
	}{
		{store.Query{Limit: 10}, "objects_by_seq"},
		{store.Query{Limit: 10, After: `{"k":[],"s":7}`}, "objects_by_seq"},
		{store.Query{Limit: 10, OrderBy: []store.Order{{Field: dn}}}, "objects_by_display_name"},
		{store.Query{Limit: 10, OrderBy: []store.Order{{Field: dn, Desc: true}}, After: `{"k":["name 3"],"s":5}`}, "objects_by_display_name"},
		{store.Query{Limit: 10, Where: &store.Match{Field: dn, Op: store.Eq, Values: []store.Value{store.String("NAME 3")}}}, "objects_by_display_name"},
		{store.Query{Limit: 10, Where: &store.Match{Field: dn, Op: store.Prefix, Values: []store.Value{store.String("Name 3")}}, OrderBy: []store.Order{{Field: dn}}}, "objects_by_display_name"},
		{store.Query{Limit: 10, Where: &store.Match{Field: store.Field{Name: "mail"}, Op: store.Eq, Values: []store.Value{store.String("m3")}}, OrderBy: []store.Order{{Field: dn}}}, "objects_by_display_name"},
		{store.Query{Limit: 10, Where: &store.Match{Field: store.FieldID, Op: store.Prefix, Values: []store.Value{store.String("U1")}}, OrderBy: []store.Order{{Field: store.FieldID}}}, "objects_key"},
	} {
		st, err := translateQuery(tenantA, store.Users, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(t.Context(), "EXPLAIN "+st.page, st.pageArgs...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", st.page, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("Query(%+v): the plan does not read %s in order:\n%s\n%s", tc.q, tc.index, st.page, plan)
		}
	}
}

func TestSuccessor(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a", "b", true},
		{"abc", "abd", true},
		{"a\u007f", "a\u0080", true},
		{"z\uD7FF", "z\uE000", true},
		{"é", "ê", true},
		{"a\U0010FFFF", "b", true},
		{"a\U0010FFFF\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
	} {
		got, ok := successor(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Every string that starts with p lies in [p, successor(p)), and a
	// string in that range starts with p.
	for _, p := range []string{"a", "ab", "z\uD7FF", "\u00ff", "x\U0010FFFF"} {
		next, _ := successor(p)
		for _, s := range []string{p, p + "\x01", p + "\U0010FFFF\U0010FFFF", p + "zzz"} {
			if !(s >= p && s < next) {
				t.Errorf("%q starts with %q but is outside [%q, %q)", s, p, p, next)
			}
		}
		for _, r := range []rune{0x01, 'a', 0xD7FF, 0xE000, unicode.MaxRune} {
			s := string([]rune(p)[:len([]rune(p))-1]) + string(r)
			if s >= p && s < next && !strings.HasPrefix(s, p) {
				t.Errorf("%q lies in [%q, %q) but does not start with %q", s, p, next, p)
			}
		}
	}
}

func TestNumbered(t *testing.T) {
	got := numbered("a = ?::text AND (b = ? OR c = ANY (?::text[]))")
	if want := "a = $1::text AND (b = $2 OR c = ANY ($3::text[]))"; got != want {
		t.Errorf("numbered = %q, want %q", got, want)
	}
}
