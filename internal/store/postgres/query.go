package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/sqlq"
	"github.com/jackc/pgx/v5"
)

// The translation's pieces come from sqlq, shared with the other SQL
// backend; the names here are short for them.
type (
	builder  = sqlq.Builder
	field    = sqlq.Field
	pred     = sqlq.Pred
	orderKey = sqlq.OrderKey
	cursor   = sqlq.Cursor
)

// dialect is how PostgreSQL writes a cursor's condition.
var dialect = sqlq.Dialect{Seq: "o.seq", Text: "?::text", Int: "?::bigint"}

// Query implements store.Store. The condition and the order become one
// SELECT whose values are all parameters; the order is a keyset, so the page
// after a cursor starts where the index says, never by skipping rows.
//
// Strings compare as SQLite's NOCASE does, which the contract's order is:
// ASCII letters folded to lower case, then bytes compared. lower() under
// COLLATE "C" folds exactly the ASCII letters, and "C" compares bytes; the
// literals are folded the same way here, in Go.
func (s *Store) Query(ctx context.Context, tenant string, c store.Collection, q store.Query) (store.Page, error) {
	if s.closed.Load() {
		return store.Page{}, errClosed
	}
	st, err := translateQuery(tenant, c, q)
	if err != nil {
		return store.Page{}, err
	}
	if !storable(tenant) || !storable(string(c)) {
		return store.Page{}, nil // no record has such a tenant
	}
	run := func(db querier) (store.Page, error) {
		var out store.Page
		if q.Count {
			if err := db.QueryRow(ctx, st.count, st.countArgs...).Scan(&out.Count); err != nil {
				return store.Page{}, fmt.Errorf("count %s: %w", c, err)
			}
		}
		rows, err := db.Query(ctx, st.page, st.pageArgs...)
		if err != nil {
			return store.Page{}, fmt.Errorf("query %s: %w", c, err)
		}
		defer rows.Close()
		var lastCur cursor
		for rows.Next() {
			if len(out.Records) == q.Limit {
				b, err := json.Marshal(lastCur)
				if err != nil {
					return store.Page{}, err
				}
				out.Next = string(b)
				break
			}
			r := store.Record{Tenant: tenant, Collection: c}
			vals := make([]string, st.keys)
			dest := []any{&lastCur.Seq, &r.ID, &r.Version, &r.Data}
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return store.Page{}, fmt.Errorf("query %s: %w", c, err)
			}
			lastCur.Keys = vals
			out.Records = append(out.Records, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return store.Page{}, fmt.Errorf("query %s: %w", c, err)
		}
		return out, nil
	}
	var out store.Page
	err = s.read(ctx, func() (err error) {
		if !q.Count {
			out, err = run(s.pool)
			return err
		}
		// The count and the page read one snapshot.
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var err error
			out, err = run(tx)
			return err
		})
	})
	if err != nil {
		return store.Page{}, s.fail(err)
	}
	return out, nil
}

// statements is a Query in SQL: the page's SELECT, which selects seq, id,
// version, data and then the keys of the order, and the count's.
type statements struct {
	page, count         string
	pageArgs, countArgs []any
	keys                int
}

// translateQuery writes the statements of q, or returns an error of
// KindInvalid for a query that cannot be answered.
func translateQuery(tenant string, c store.Collection, q store.Query) (statements, error) {
	if q.Limit <= 0 {
		return statements{}, graph.Errorf(graph.KindInvalid, "The page size must be positive.")
	}
	keys, err := orderKeys(q.OrderBy)
	if err != nil {
		return statements{}, err
	}
	var where builder
	where.Add("o.tenant_id = ?::text AND o.collection = ?::text", tenant, string(c))
	if q.Where != nil {
		where.SQL.WriteString(" AND ")
		if err := where.Cond(q.Where, match); err != nil {
			return statements{}, err
		}
	}
	var after *cursor
	if q.After != "" {
		after = new(cursor)
		if err := json.Unmarshal([]byte(q.After), after); err != nil || len(after.Keys) != len(keys) || after.Seq < 1 || !allStorable(after.Keys) {
			return statements{}, graph.Errorf(graph.KindInvalid, "The page cursor does not belong to this query.")
		}
	}

	// The page in parameter order: keys selected, condition, cursor,
	// limit. The order refers to the keys selected by position.
	var page builder
	page.SQL.WriteString("SELECT o.seq, o.id, o.version, o.data")
	for _, k := range keys {
		page.SQL.WriteString(", ")
		page.Use(k.Field)
	}
	whereDoc := strings.Contains(where.SQL.String(), doc)
	page.Add(from(whereDoc || strings.Contains(page.SQL.String(), doc))+" WHERE "+where.SQL.String(), where.Args...)
	if after != nil {
		page.SQL.WriteString(" AND ")
		page.After(keys, *after, dialect)
	}
	page.SQL.WriteString(" ORDER BY ")
	for i, k := range keys {
		page.SQL.WriteString(strconv.Itoa(5+i) + k.Dir() + ", ")
	}
	last := " ASC"
	if len(keys) > 0 && keys[len(keys)-1].Desc {
		last = " DESC"
	}
	limit := int64(q.Limit)
	if limit < math.MaxInt64 {
		limit++ // one more row tells whether a next page exists
	}
	page.Add("1"+last+" LIMIT ?::bigint", limit)
	return statements{
		page:      numbered(page.SQL.String()),
		pageArgs:  page.Args,
		count:     numbered("SELECT count(*)" + from(whereDoc) + " WHERE " + where.SQL.String()),
		countArgs: where.Args,
		keys:      len(keys),
	}, nil
}

func allStorable(ss []string) bool {
	for _, s := range ss {
		if !storable(s) {
			return false
		}
	}
	return true
}

// doc is the document of the row, as jsonb (see from).
const doc = "d.doc"

// from is the FROM clause of a statement, joining the document where the
// statement reads it. The document is parsed once per row: OFFSET 0 keeps
// the planner from copying the call into every place that uses it.
func from(usesDoc bool) string {
	if usesDoc {
		return " FROM objects o CROSS JOIN LATERAL (SELECT idgraph_doc(o.data) AS doc OFFSET 0) d"
	}
	return " FROM objects o"
}

// numbered turns the builder's ? placeholders into PostgreSQL's $1, $2, ...
// in the order of the text, which is the order of the arguments. The
// statements built here hold no other question mark (no jsonb ? operator,
// no literal holding one).
func numbered(sql string) string {
	var b strings.Builder
	n := 0
	for {
		i := strings.IndexByte(sql, '?')
		if i < 0 {
			b.WriteString(sql)
			return b.String()
		}
		n++
		b.WriteString(sql[:i])
		b.WriteString("$" + strconv.Itoa(n))
		sql = sql[i+1:]
	}
}

// member is a name the document paths may use: only this shape reaches
// the member parameter.
var member = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fieldOf returns the expression of a field's value: NULL when the member
// is missing or null (booleans: false).
func fieldOf(f store.Field) (field, error) {
	switch {
	case f.Name == "":
		return field{Expr: "o.id_key", ByKey: true}, nil
	case !member.MatchString(f.Name):
		return field{}, graph.Errorf(graph.KindInvalid, "'%s' is not a property that can be queried.", f.Name)
	case f.Bool:
		return field{Expr: "coalesce((" + doc + " -> ?::text) = 'true'::jsonb, false)", Args: []any{f.Name}}, nil
	}
	return field{Expr: `lower((` + doc + ` ->> ?::text) COLLATE "C")`, Args: []any{f.Name}}, nil
}

// indexed returns the indexed column for a field, if it has one. The
// column reads a missing or null member as "", so it can stand for the
// field only where "" cannot match.
func indexed(f store.Field) (field, bool) {
	if f.Name == "displayName" && !f.Bool {
		return field{Expr: "o.display_name"}, true
	}
	return field{}, false
}

var (
	always = pred{SQL: "TRUE"}
	never  = pred{SQL: "FALSE"}
)

// literal makes a string literal comparable with the stored text: folded
// as the field is (store.Key for the id, ASCII letters otherwise), with the
// characters PostgreSQL text cannot hold read as U+FFFD, as idgraph_doc
// reads a \u0000 of a document.
func literal(s string, byKey bool) string {
	if byKey {
		s = store.Key(s)
	} else {
		s = store.FoldASCII(s)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// match writes one comparison as the pair of predicates sqlq.Truth
// combines: when it is true and when it is false.
func match(m *store.Match) (t, f pred, err error) {
	if len(m.Values) == 0 || (m.Op != store.In && len(m.Values) != 1) {
		return pred{}, pred{}, graph.Errorf(graph.KindInvalid, "A comparison needs one value (in: at least one).")
	}
	for _, v := range m.Values {
		if !v.Null && v.IsBool != m.Field.Bool {
			return pred{}, pred{}, graph.Errorf(graph.KindInvalid, "A literal does not match the type of property '%s'.", m.Field.Name)
		}
	}
	x, err := fieldOf(m.Field)
	if err != nil {
		return pred{}, pred{}, err
	}
	hasNull := false
	var strs []string
	var bools []bool
	for _, v := range m.Values {
		switch {
		case v.Null:
			hasNull = true
		case v.IsBool:
			bools = append(bools, v.Bool)
		default:
			strs = append(strs, literal(v.Str, x.ByKey))
		}
	}
	if m.Field.Bool {
		return matchBool(m, x, bools)
	}
	// col serves a comparison with a non-empty string through the index.
	col, ok := indexed(m.Field)
	if !ok {
		col = x
	}
	nonEmpty := len(strs) == 1 && strs[0] != ""
	v := m.Values[0]
	switch m.Op {
	case store.Eq, store.Ne:
		var eq, ne pred
		switch {
		case v.Null:
			eq, ne = sqlq.On(x, " IS NULL"), sqlq.On(x, " IS NOT NULL")
		case nonEmpty:
			eq, ne = sqlq.On(col, " = ?::text", strs[0]), sqlq.On(x, " IS NULL").Or(sqlq.On(x, " <> ?::text", strs[0]))
		default:
			eq, ne = sqlq.On(x, " = ?::text", strs[0]), sqlq.On(x, " IS NULL").Or(sqlq.On(x, " <> ?::text", strs[0]))
		}
		if m.Op == store.Eq {
			return eq, ne, nil
		}
		return ne, eq, nil
	case store.Prefix, store.Suffix:
		switch {
		case v.Null:
			return never, never, nil
		case !nonEmpty: // every present string starts and ends with ""
			return sqlq.On(x, " IS NOT NULL"), never, nil
		case m.Op == store.Prefix:
			p := strs[0]
			// NOT of starts_with is unknown where the member is missing.
			return prefix(col, ok || x.ByKey, p), pred{SQL: "(NOT starts_with(" + x.Expr + ", ?::text))", Args: sqlq.Cat(x.Args, []any{p})}, nil
		default:
			// right() counts characters, as the literal's runes.
			n := utf8.RuneCountInString(strs[0])
			tail := pred{SQL: "(right(" + x.Expr + ", ?::integer) = ?::text)", Args: sqlq.Cat(x.Args, []any{n, strs[0]})}
			other := pred{SQL: "(right(" + x.Expr + ", ?::integer) <> ?::text)", Args: sqlq.Cat(x.Args, []any{n, strs[0]})}
			return tail, other, nil
		}
	case store.In:
		var in, notIn pred
		switch {
		case len(strs) == 0:
			in, notIn = never, always
		default:
			in, notIn = sqlq.On(x, " = ANY (?::text[])", strs), sqlq.On(x, " <> ALL (?::text[])", strs)
		}
		// A missing member is null: in the list only when null is.
		if hasNull {
			return in.Or(sqlq.On(x, " IS NULL")), notIn.And(sqlq.On(x, " IS NOT NULL")), nil
		}
		return in, notIn.Or(sqlq.On(x, " IS NULL")), nil
	}
	return pred{}, pred{}, graph.Errorf(graph.KindInvalid, "The filter holds an unknown comparison.")
}

// prefix is "col starts with p" for a non-empty p. On an indexed column it
// is the range [p, successor of p), which the index serves: under "C" the
// strings that start with p are exactly those from p up to, excluding, p
// with its last character replaced by the next one.
func prefix(col field, isIndexed bool, p string) pred {
	if isIndexed {
		if next, ok := successor(p); ok {
			return sqlq.On(col, " >= ?::text", p).And(sqlq.On(col, " < ?::text", next))
		}
		return sqlq.On(col, " >= ?::text", p) // nothing sorts after p but its extensions
	}
	return pred{SQL: "starts_with(" + col.Expr + ", ?::text)", Args: sqlq.Cat(col.Args, []any{p})}
}

// successor returns the least string greater than every string that starts
// with p, in code point order (UTF-8 byte order): p without its trailing
// U+10FFFF characters, with its last character incremented. ok is false
// when p holds only U+10FFFF.
func successor(p string) (next string, ok bool) {
	rs := []rune(p)
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i] + 1
		if r == 0xD800 { // surrogates are no characters of UTF-8 text
			r = 0xE000
		}
		if r <= unicode.MaxRune {
			rs[i] = r
			return string(rs[:i+1]), true
		}
	}
	return "", false
}

// matchBool compares a boolean member; a missing one is false, never null,
// so its comparisons are never unknown.
func matchBool(m *store.Match, x field, vals []bool) (t, f pred, err error) {
	var p pred
	switch {
	case m.Op == store.Eq && len(vals) == 0:
		p = never
	case m.Op == store.Ne && len(vals) == 0:
		p = always
	case m.Op == store.Eq:
		p = sqlq.On(x, " = ?::boolean", vals[0])
	case m.Op == store.Ne:
		p = sqlq.On(x, " <> ?::boolean", vals[0])
	case m.Op == store.In && len(vals) == 0:
		p = never
	case m.Op == store.In:
		p = sqlq.On(x, " = ANY (?::boolean[])", vals)
	default:
		return pred{}, pred{}, graph.Errorf(graph.KindInvalid, "Property '%s' is a boolean: only eq, ne and in apply.", m.Field.Name)
	}
	return p, p.Not(), nil
}

func orderKeys(os []store.Order) ([]orderKey, error) {
	out := make([]orderKey, 0, len(os))
	for _, o := range os {
		if o.Field.Bool {
			return nil, graph.Errorf(graph.KindInvalid, "Ordering by a boolean property is not supported.")
		}
		f, err := fieldOf(o.Field)
		if err != nil {
			return nil, err
		}
		if c, ok := indexed(o.Field); ok {
			f = c
		} else if !f.ByKey {
			// A missing member orders as "", so every row has a key.
			f.Expr = `coalesce(` + f.Expr + `, '')`
		}
		out = append(out, orderKey{Field: f, Desc: o.Desc})
	}
	return out, nil
}
