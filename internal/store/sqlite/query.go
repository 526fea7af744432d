package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// Query implements store.Store. The condition and the order become one
// SELECT whose values are all parameters; the order is a keyset, so the page
// after a cursor starts where the index says, never by skipping rows.
func (s *Store) Query(ctx context.Context, tenant string, c store.Collection, q store.Query) (store.Page, error) {
	if q.Limit <= 0 {
		return store.Page{}, graph.Errorf(graph.KindInvalid, "The page size must be positive.")
	}
	keys, err := orderKeys(q.OrderBy)
	if err != nil {
		return store.Page{}, err
	}
	var where builder
	where.add("tenant_id = ? AND collection = ?", tenant, string(c))
	if q.Where != nil {
		where.sql.WriteString(" AND ")
		if err := where.cond(q.Where); err != nil {
			return store.Page{}, err
		}
	}
	var out store.Page
	if q.Count {
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM objects WHERE "+where.sql.String(), where.args...).Scan(&out.Count); err != nil {
			return store.Page{}, translate(fmt.Errorf("count %s: %w", c, err))
		}
	}
	// The statement in parameter order: keys selected, condition, cursor,
	// order, limit.
	var page builder
	page.sql.WriteString("SELECT seq, id, version, data")
	for _, k := range keys {
		page.sql.WriteString(", ")
		page.use(k.field)
	}
	page.add(" FROM objects WHERE "+where.sql.String(), where.args...)
	if q.After != "" {
		var cur cursor
		if err := json.Unmarshal([]byte(q.After), &cur); err != nil || len(cur.Keys) != len(keys) {
			return store.Page{}, graph.Errorf(graph.KindInvalid, "The page cursor does not belong to this query.")
		}
		page.sql.WriteString(" AND ")
		page.after(keys, cur)
	}
	page.sql.WriteString(" ORDER BY ")
	for _, k := range keys {
		page.use(k.field)
		page.sql.WriteString(k.dir() + ", ")
	}
	last := " ASC"
	if len(keys) > 0 && keys[len(keys)-1].desc {
		last = " DESC"
	}
	page.add("seq"+last+" LIMIT ?", q.Limit+1)
	query, args := page.sql.String(), page.args
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return store.Page{}, translate(fmt.Errorf("query %s: %w", c, err))
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
		vals := make([]string, len(keys))
		dest := []any{&lastCur.Seq, &r.ID, &r.Version, &r.Data}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return store.Page{}, translate(fmt.Errorf("query %s: %w", c, err))
		}
		lastCur.Keys = vals
		out.Records = append(out.Records, r)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, translate(fmt.Errorf("query %s: %w", c, err))
	}
	return out, nil
}

// cursor is the position after the last record of a page: its order keys
// and its creation sequence.
type cursor struct {
	Keys []string `json:"k"`
	Seq  int64    `json:"s"`
}

// builder accumulates a WHERE clause and its parameters.
type builder struct {
	sql  strings.Builder
	args []any
}

func (b *builder) add(sql string, args ...any) {
	b.sql.WriteString(sql)
	b.args = append(b.args, args...)
}

// member is a name the document paths may use: only this shape reaches
// the path parameter.
var member = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// field is the SQL expression of a stored field, with the parameters the
// expression itself holds (the document path), repeated at every use.
type field struct {
	expr  string
	args  []any
	byKey bool // the id: values are compared in their Key form
}

func fieldOf(f store.Field, nullTest bool) (field, error) {
	switch {
	case f.Name == "":
		return field{expr: "id_key", byKey: true}, nil
	case !member.MatchString(f.Name):
		return field{}, graph.Errorf(graph.KindInvalid, "'%s' is not a property that can be queried.", f.Name)
	case f.Bool:
		return field{expr: "coalesce(json_extract(CAST(data AS TEXT), ?), 0)", args: []any{"$." + f.Name}}, nil
	case f.Name == "displayName" && !nullTest:
		// displayName has a column and an index of its own; the column
		// reads a missing name as "", so null tests read the document.
		return field{expr: "display_name"}, nil
	}
	return field{expr: "json_extract(CAST(data AS TEXT), ?) COLLATE NOCASE", args: []any{"$." + f.Name}}, nil
}

// use writes the field's expression.
func (b *builder) use(f field) {
	b.sql.WriteString(f.expr)
	b.args = append(b.args, f.args...)
}

func (b *builder) cond(c store.Cond) error {
	switch c := c.(type) {
	case *store.And:
		return b.pair(c.L, " AND ", c.R)
	case *store.Or:
		return b.pair(c.L, " OR ", c.R)
	case *store.Not:
		b.sql.WriteString("NOT (")
		if err := b.cond(c.X); err != nil {
			return err
		}
		b.sql.WriteString(")")
		return nil
	case *store.Match:
		return b.match(c)
	}
	return graph.Errorf(graph.KindInvalid, "The filter holds an unknown condition.")
}

func (b *builder) pair(l store.Cond, op string, r store.Cond) error {
	b.sql.WriteString("(")
	if err := b.cond(l); err != nil {
		return err
	}
	b.sql.WriteString(op)
	if err := b.cond(r); err != nil {
		return err
	}
	b.sql.WriteString(")")
	return nil
}

func (b *builder) match(m *store.Match) error {
	if len(m.Values) == 0 || (m.Op != store.In && len(m.Values) != 1) {
		return graph.Errorf(graph.KindInvalid, "A comparison needs one value (in: at least one).")
	}
	nullTest := false
	for _, v := range m.Values {
		if v.Null {
			nullTest = true
		} else if v.IsBool != m.Field.Bool {
			return graph.Errorf(graph.KindInvalid, "A literal does not match the type of property '%s'.", m.Field.Name)
		}
	}
	f, err := fieldOf(m.Field, nullTest)
	if err != nil {
		return err
	}
	var vals []any
	for _, v := range m.Values {
		switch {
		case v.Null:
		case v.IsBool && v.Bool:
			vals = append(vals, 1)
		case v.IsBool:
			vals = append(vals, 0)
		case f.byKey:
			vals = append(vals, store.Key(v.Str))
		default:
			vals = append(vals, v.Str)
		}
	}
	if m.Field.Bool {
		return b.matchBool(m, f, vals)
	}
	v := m.Values[0]
	b.sql.WriteString("(")
	defer b.sql.WriteString(")")
	switch m.Op {
	case store.Eq, store.Ne:
		switch {
		case v.Null && m.Op == store.Eq:
			b.use(f)
			b.sql.WriteString(" IS NULL")
		case v.Null:
			b.use(f)
			b.sql.WriteString(" IS NOT NULL")
		case m.Op == store.Eq:
			b.use(f)
			b.add(" = ?", vals[0])
		default: // null ne 'x' holds, as in OData
			b.use(f)
			b.sql.WriteString(" IS NULL OR ")
			b.use(f)
			b.add(" <> ?", vals[0])
		}
	case store.Prefix, store.Suffix:
		switch {
		case v.Null:
			b.sql.WriteString("NULL")
		case v.Str == "":
			b.use(f)
			b.sql.WriteString(" IS NOT NULL")
		case m.Op == store.Prefix:
			// [p, p+0xFF) holds exactly the strings that start with p: 0xFF
			// never occurs in UTF-8 and NOCASE folds only ASCII letters. An
			// index on the field serves the range.
			b.use(f)
			b.add(" >= ? AND ", vals[0])
			b.use(f)
			b.add(" < ?", vals[0].(string)+"\xff")
		default:
			n := utf8.RuneCountInString(vals[0].(string))
			b.sql.WriteString("length(")
			b.use(f)
			b.add(") >= ? AND substr(", n)
			b.use(f)
			b.add(", -?) = ?", n, vals[0])
			if !f.byKey {
				b.sql.WriteString(" COLLATE NOCASE")
			}
		}
	case store.In:
		parts := 0
		if len(vals) > 0 {
			b.use(f)
			b.add(" IN (?"+strings.Repeat(", ?", len(vals)-1)+")", vals...)
			parts++
		}
		if nullTest {
			if parts > 0 {
				b.sql.WriteString(" OR ")
			}
			// display_name is never null: test the document.
			nf, _ := fieldOf(m.Field, true)
			b.use(nf)
			b.sql.WriteString(" IS NULL")
		}
	default:
		return graph.Errorf(graph.KindInvalid, "The filter holds an unknown comparison.")
	}
	return nil
}

// matchBool compares a boolean member; a missing one is false, never null.
func (b *builder) matchBool(m *store.Match, f field, vals []any) error {
	switch {
	case m.Op == store.Eq && len(vals) == 0:
		b.sql.WriteString("(0)")
	case m.Op == store.Ne && len(vals) == 0:
		b.sql.WriteString("(1)")
	case m.Op == store.Eq:
		b.sql.WriteString("(")
		b.use(f)
		b.add(" = ?)", vals[0])
	case m.Op == store.Ne:
		b.sql.WriteString("(")
		b.use(f)
		b.add(" <> ?)", vals[0])
	case m.Op == store.In && len(vals) == 0:
		b.sql.WriteString("(0)")
	case m.Op == store.In:
		b.sql.WriteString("(")
		b.use(f)
		b.add(" IN (?"+strings.Repeat(", ?", len(vals)-1)+"))", vals...)
	default:
		return graph.Errorf(graph.KindInvalid, "Property '%s' is a boolean: only eq, ne and in apply.", m.Field.Name)
	}
	return nil
}

// orderKey is one key of a page's order.
type orderKey struct {
	field
	desc bool
}

func (k orderKey) dir() string {
	if k.desc {
		return " DESC"
	}
	return " ASC"
}

func orderKeys(os []store.Order) ([]orderKey, error) {
	out := make([]orderKey, 0, len(os))
	for _, o := range os {
		if o.Field.Bool {
			return nil, graph.Errorf(graph.KindInvalid, "Ordering by a boolean property is not supported.")
		}
		f, err := fieldOf(o.Field, false)
		if err != nil {
			return nil, err
		}
		if f.expr != "id_key" && f.expr != "display_name" {
			// A missing member orders as "", so every row has a key.
			f.expr = "coalesce(" + strings.TrimSuffix(f.expr, " COLLATE NOCASE") + ", '') COLLATE NOCASE"
		}
		out = append(out, orderKey{f, o.Desc})
	}
	return out, nil
}

// after writes the condition "comes after cur in this order". With one
// direction throughout it is a row-value comparison, which the index of
// the order serves directly.
func (b *builder) after(keys []orderKey, cur cursor) {
	desc := len(keys) > 0 && keys[len(keys)-1].desc
	uniform := true
	for _, k := range keys {
		uniform = uniform && k.desc == desc
	}
	op := " > "
	if desc {
		op = " < "
	}
	if uniform {
		b.sql.WriteString("(")
		for _, k := range keys {
			b.use(k.field)
			b.sql.WriteString(", ")
		}
		b.sql.WriteString("seq)" + op + "(")
		for _, v := range cur.Keys {
			b.add("?, ", v)
		}
		b.add("?)", cur.Seq)
		return
	}
	// Mixed directions: (k1 beyond v1) OR (k1 = v1 AND k2 beyond v2) OR ...
	b.sql.WriteString("(")
	for i := 0; i <= len(keys); i++ {
		if i > 0 {
			b.sql.WriteString(" OR ")
		}
		b.sql.WriteString("(")
		for j := 0; j < i; j++ {
			b.use(keys[j].field)
			b.add(" = ? AND ", cur.Keys[j])
		}
		if i < len(keys) {
			kop := " > ?"
			if keys[i].desc {
				kop = " < ?"
			}
			b.use(keys[i].field)
			b.add(kop, cur.Keys[i])
		} else {
			b.add("seq"+op+"?", cur.Seq)
		}
		b.sql.WriteString(")")
	}
	b.sql.WriteString(")")
}
