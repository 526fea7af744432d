package sqlite

import (
	"context"
	"database/sql"
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
	// The count and the page read one snapshot.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Page{}, translate(fmt.Errorf("query %s: %w", c, err))
	}
	defer tx.Rollback()
	var out store.Page
	if q.Count {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM objects WHERE "+where.sql.String(), where.args...).Scan(&out.Count); err != nil {
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
		if err := json.Unmarshal([]byte(q.After), &cur); err != nil || len(cur.Keys) != len(keys) || cur.Seq < 1 {
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
	rows, err := tx.QueryContext(ctx, query, args...)
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

// fieldOf returns the expression of a field's value: NULL when the member
// is missing or null (booleans: false).
func fieldOf(f store.Field) (field, error) {
	switch {
	case f.Name == "":
		return field{expr: "id_key", byKey: true}, nil
	case !member.MatchString(f.Name):
		return field{}, graph.Errorf(graph.KindInvalid, "'%s' is not a property that can be queried.", f.Name)
	case f.Bool:
		return field{expr: "coalesce(" + jsonValue + ", 0)", args: []any{"$." + f.Name}}, nil
	}
	return field{expr: jsonValue + " COLLATE NOCASE", args: []any{"$." + f.Name}}, nil
}

// jsonValue reads the document member whose path is its parameter.
const jsonValue = "json_extract(CAST(data AS TEXT), ?)"

// indexed returns the indexed column for a field, if it has one. The
// column reads a missing or null member as "", so it can stand for the
// field only where "" cannot match.
func indexed(f store.Field) (field, bool) {
	if f.Name == "displayName" && !f.Bool {
		return field{expr: "display_name"}, true
	}
	return field{}, false
}

// use writes the field's expression.
func (b *builder) use(f field) {
	b.sql.WriteString(f.expr)
	b.args = append(b.args, f.args...)
}

// pred is a predicate under construction: SQL text and its parameters.
type pred struct {
	sql  string
	args []any
}

func (p pred) and(q pred) pred { return pred{"(" + p.sql + " AND " + q.sql + ")", cat(p.args, q.args)} }
func (p pred) or(q pred) pred  { return pred{"(" + p.sql + " OR " + q.sql + ")", cat(p.args, q.args)} }

func cat(a, b []any) []any { return append(append([]any(nil), a...), b...) }

// on builds "expr <rest>" with the expression's parameters first.
func on(f field, rest string, args ...any) pred {
	return pred{"(" + f.expr + rest + ")", cat(f.args, args)}
}

var (
	always = pred{sql: "1"}
	never  = pred{sql: "0"}
)

// cond writes the condition. Missing members make comparisons unknown, as
// in OData: a record matches where the condition is true, and the negation
// of an unknown comparison is unknown too. So every condition is built as
// two predicates, when it is true and when it is false; Not swaps them. No
// SQL NOT is applied to a comparison that may be unknown.
func (b *builder) cond(c store.Cond) error {
	t, _, err := truth(c)
	if err != nil {
		return err
	}
	b.add(t.sql, t.args...)
	return nil
}

// truth returns when c is true and when it is false.
func truth(c store.Cond) (t, f pred, err error) {
	switch c := c.(type) {
	case *store.And:
		lt, lf, err := truth(c.L)
		if err != nil {
			return pred{}, pred{}, err
		}
		rt, rf, err := truth(c.R)
		if err != nil {
			return pred{}, pred{}, err
		}
		return lt.and(rt), lf.or(rf), nil
	case *store.Or:
		lt, lf, err := truth(c.L)
		if err != nil {
			return pred{}, pred{}, err
		}
		rt, rf, err := truth(c.R)
		if err != nil {
			return pred{}, pred{}, err
		}
		return lt.or(rt), lf.and(rf), nil
	case *store.Not:
		xt, xf, err := truth(c.X)
		return xf, xt, err
	case *store.Match:
		return match(c)
	}
	return pred{}, pred{}, graph.Errorf(graph.KindInvalid, "The filter holds an unknown condition.")
}

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
	var vals []any
	for _, v := range m.Values {
		switch {
		case v.Null:
			hasNull = true
		case v.IsBool && v.Bool:
			vals = append(vals, 1)
		case v.IsBool:
			vals = append(vals, 0)
		case x.byKey:
			vals = append(vals, store.Key(v.Str))
		default:
			vals = append(vals, v.Str)
		}
	}
	if m.Field.Bool {
		return matchBool(m, x, vals)
	}
	// col serves a comparison with a non-empty string through the index.
	col, ok := indexed(m.Field)
	if !ok {
		col = x
	}
	nonEmpty := len(vals) == 1 && vals[0] != ""
	v := m.Values[0]
	switch m.Op {
	case store.Eq, store.Ne:
		var eq, ne pred
		switch {
		case v.Null:
			eq, ne = on(x, " IS NULL"), on(x, " IS NOT NULL")
		case nonEmpty:
			eq, ne = on(col, " = ?", vals[0]), on(x, " IS NULL").or(on(x, " <> ?", vals[0]))
		default:
			eq, ne = on(x, " = ?", vals[0]), on(x, " IS NULL").or(on(x, " <> ?", vals[0]))
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
			return on(x, " IS NOT NULL"), never, nil
		case m.Op == store.Prefix:
			// [p, p+0xFF) holds exactly the strings that start with p: 0xFF
			// never occurs in UTF-8 and NOCASE folds only ASCII letters.
			p := vals[0].(string)
			return on(col, " >= ?", p).and(on(col, " < ?", p+"\xff")),
				on(x, " < ?", p).or(on(x, " >= ?", p+"\xff")), nil
		default:
			n := utf8.RuneCountInString(vals[0].(string))
			collate := " COLLATE NOCASE"
			if x.byKey {
				collate = ""
			}
			tail := pred{"substr(" + x.expr + ", -?) = ?" + collate, cat(x.args, []any{n, vals[0]})}
			long := pred{"(length(" + x.expr + ") >= ?)", cat(x.args, []any{n})}
			return long.and(tail), pred{"(NOT " + long.and(tail).sql + ")", long.and(tail).args}, nil
		}
	case store.In:
		var in, notIn pred
		switch {
		case len(vals) == 0:
			in, notIn = never, always
		default:
			list := " (?" + strings.Repeat(", ?", len(vals)-1) + ")"
			in, notIn = on(x, " IN"+list, vals...), on(x, " NOT IN"+list, vals...)
		}
		// A missing member is null: in the list only when null is.
		if hasNull {
			return in.or(on(x, " IS NULL")), notIn.and(on(x, " IS NOT NULL")), nil
		}
		return in, notIn.or(on(x, " IS NULL")), nil
	}
	return pred{}, pred{}, graph.Errorf(graph.KindInvalid, "The filter holds an unknown comparison.")
}

// matchBool compares a boolean member; a missing one is false, never null,
// so its comparisons are never unknown.
func matchBool(m *store.Match, x field, vals []any) (t, f pred, err error) {
	var p pred
	switch {
	case m.Op == store.Eq && len(vals) == 0:
		p = never
	case m.Op == store.Ne && len(vals) == 0:
		p = always
	case m.Op == store.Eq:
		p = on(x, " = ?", vals[0])
	case m.Op == store.Ne:
		p = on(x, " <> ?", vals[0])
	case m.Op == store.In && len(vals) == 0:
		p = never
	case m.Op == store.In:
		p = on(x, " IN (?"+strings.Repeat(", ?", len(vals)-1)+")", vals...)
	default:
		return pred{}, pred{}, graph.Errorf(graph.KindInvalid, "Property '%s' is a boolean: only eq, ne and in apply.", m.Field.Name)
	}
	return p, pred{"(NOT " + p.sql + ")", p.args}, nil
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
		f, err := fieldOf(o.Field)
		if err != nil {
			return nil, err
		}
		if c, ok := indexed(o.Field); ok {
			f = c
		} else if !f.byKey {
			// A missing member orders as "", so every row has a key.
			f.expr = "coalesce(" + jsonValue + ", '') COLLATE NOCASE"
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
