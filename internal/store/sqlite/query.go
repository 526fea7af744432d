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
	"github.com/idgraph/idgraph/internal/store/sqlq"
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

// dialect is how SQLite writes a cursor's condition.
var dialect = sqlq.Dialect{Seq: "seq", Text: "?", Int: "?"}

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
	where.Add("tenant_id = ? AND collection = ?", tenant, string(c))
	if q.Where != nil {
		where.SQL.WriteString(" AND ")
		if err := where.Cond(q.Where, match); err != nil {
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
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM objects WHERE "+where.SQL.String(), where.Args...).Scan(&out.Count); err != nil {
			return store.Page{}, translate(fmt.Errorf("count %s: %w", c, err))
		}
	}
	// The statement in parameter order: keys selected, condition, cursor,
	// order, limit.
	var page builder
	page.SQL.WriteString("SELECT seq, id, version, data")
	for _, k := range keys {
		page.SQL.WriteString(", ")
		page.Use(k.Field)
	}
	page.Add(" FROM objects WHERE "+where.SQL.String(), where.Args...)
	if q.After != "" {
		var cur cursor
		if err := json.Unmarshal([]byte(q.After), &cur); err != nil || len(cur.Keys) != len(keys) || cur.Seq < 1 {
			return store.Page{}, graph.Errorf(graph.KindInvalid, "The page cursor does not belong to this query.")
		}
		page.SQL.WriteString(" AND ")
		page.After(keys, cur, dialect)
	}
	page.SQL.WriteString(" ORDER BY ")
	for _, k := range keys {
		page.Use(k.Field)
		page.SQL.WriteString(k.Dir() + ", ")
	}
	last := " ASC"
	if len(keys) > 0 && keys[len(keys)-1].Desc {
		last = " DESC"
	}
	page.Add("seq"+last+" LIMIT ?", q.Limit+1)
	query, args := page.SQL.String(), page.Args
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

// member is a name the document paths may use: only this shape reaches
// the path parameter.
var member = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fieldOf returns the expression of a field's value: NULL when the member
// is missing or null (booleans: false).
func fieldOf(f store.Field) (field, error) {
	switch {
	case f.Name == "":
		return field{Expr: "id_key", ByKey: true}, nil
	case !member.MatchString(f.Name):
		return field{}, graph.Errorf(graph.KindInvalid, "'%s' is not a property that can be queried.", f.Name)
	case f.Bool:
		return field{Expr: "coalesce(" + jsonValue + ", 0)", Args: []any{"$." + f.Name}}, nil
	}
	return field{Expr: jsonValue + " COLLATE NOCASE", Args: []any{"$." + f.Name}}, nil
}

// jsonValue reads the document member whose path is its parameter.
const jsonValue = "json_extract(CAST(data AS TEXT), ?)"

// indexed returns the indexed column for a field, if it has one. The
// column reads a missing or null member as "", so it can stand for the
// field only where "" cannot match.
func indexed(f store.Field) (field, bool) {
	if f.Name == "displayName" && !f.Bool {
		return field{Expr: "display_name"}, true
	}
	return field{}, false
}

var (
	always = pred{SQL: "1"}
	never  = pred{SQL: "0"}
)

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
	var vals []any
	for _, v := range m.Values {
		switch {
		case v.Null:
			hasNull = true
		case v.IsBool && v.Bool:
			vals = append(vals, 1)
		case v.IsBool:
			vals = append(vals, 0)
		case x.ByKey:
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
			eq, ne = sqlq.On(x, " IS NULL"), sqlq.On(x, " IS NOT NULL")
		case nonEmpty:
			eq, ne = sqlq.On(col, " = ?", vals[0]), sqlq.On(x, " IS NULL").Or(sqlq.On(x, " <> ?", vals[0]))
		default:
			eq, ne = sqlq.On(x, " = ?", vals[0]), sqlq.On(x, " IS NULL").Or(sqlq.On(x, " <> ?", vals[0]))
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
			// [p, p+0xFF) holds exactly the strings that start with p: 0xFF
			// never occurs in UTF-8 and NOCASE folds only ASCII letters.
			p := vals[0].(string)
			return sqlq.On(col, " >= ?", p).And(sqlq.On(col, " < ?", p+"\xff")),
				sqlq.On(x, " < ?", p).Or(sqlq.On(x, " >= ?", p+"\xff")), nil
		default:
			n := utf8.RuneCountInString(vals[0].(string))
			collate := " COLLATE NOCASE"
			if x.ByKey {
				collate = ""
			}
			tail := pred{SQL: "substr(" + x.Expr + ", -?) = ?" + collate, Args: sqlq.Cat(x.Args, []any{n, vals[0]})}
			long := pred{SQL: "(length(" + x.Expr + ") >= ?)", Args: sqlq.Cat(x.Args, []any{n})}
			return long.And(tail), long.And(tail).Not(), nil
		}
	case store.In:
		var in, notIn pred
		switch {
		case len(vals) == 0:
			in, notIn = never, always
		default:
			list := " (?" + strings.Repeat(", ?", len(vals)-1) + ")"
			in, notIn = sqlq.On(x, " IN"+list, vals...), sqlq.On(x, " NOT IN"+list, vals...)
		}
		// A missing member is null: in the list only when null is.
		if hasNull {
			return in.Or(sqlq.On(x, " IS NULL")), notIn.And(sqlq.On(x, " IS NOT NULL")), nil
		}
		return in, notIn.Or(sqlq.On(x, " IS NULL")), nil
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
		p = sqlq.On(x, " = ?", vals[0])
	case m.Op == store.Ne:
		p = sqlq.On(x, " <> ?", vals[0])
	case m.Op == store.In && len(vals) == 0:
		p = never
	case m.Op == store.In:
		p = sqlq.On(x, " IN (?"+strings.Repeat(", ?", len(vals)-1)+")", vals...)
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
			f.Expr = "coalesce(" + jsonValue + ", '') COLLATE NOCASE"
		}
		out = append(out, orderKey{Field: f, Desc: o.Desc})
	}
	return out, nil
}
