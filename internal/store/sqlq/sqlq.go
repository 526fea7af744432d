// Package sqlq holds what the SQL backends share in translating a
// store.Query: SQL text built with ? placeholders and its arguments in
// order, predicates built in true/false pairs so that OData's unknown
// comparisons stay unknown under Not, order keys, and the keyset condition
// of a page cursor. Each backend supplies its dialect: how a field reads,
// how a comparison is written (Truth's match), the placeholders of the
// cursor's values and the name of the creation sequence.
package sqlq

import (
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// Builder accumulates SQL with ? placeholders and their arguments, in order.
type Builder struct {
	SQL  strings.Builder
	Args []any
}

// Add writes sql and appends its arguments.
func (b *Builder) Add(sql string, args ...any) {
	b.SQL.WriteString(sql)
	b.Args = append(b.Args, args...)
}

// Use writes the field's expression with its parameters.
func (b *Builder) Use(f Field) { b.Add(f.Expr, f.Args...) }

// Field is the SQL expression of a stored field, with the parameters the
// expression itself holds (a document path or member name), repeated at
// every use.
type Field struct {
	Expr  string
	Args  []any
	ByKey bool // the id: values are compared in their store.Key form
}

// Pred is a predicate under construction: SQL text and its parameters.
type Pred struct {
	SQL  string
	Args []any
}

// And is "p AND q".
func (p Pred) And(q Pred) Pred { return Pred{"(" + p.SQL + " AND " + q.SQL + ")", Cat(p.Args, q.Args)} }

// Or is "p OR q".
func (p Pred) Or(q Pred) Pred { return Pred{"(" + p.SQL + " OR " + q.SQL + ")", Cat(p.Args, q.Args)} }

// Not is "NOT p": only for a p that is never unknown.
func (p Pred) Not() Pred { return Pred{"(NOT " + p.SQL + ")", p.Args} }

// Cat returns a new slice holding a then b.
func Cat(a, b []any) []any { return append(append([]any(nil), a...), b...) }

// On builds "expr <rest>" with the expression's parameters first.
func On(f Field, rest string, args ...any) Pred {
	return Pred{"(" + f.Expr + rest + ")", Cat(f.Args, args)}
}

// Truth returns when c is true and when it is false. Missing members make
// comparisons unknown, as in OData: a record matches where the condition
// is true, and the negation of an unknown comparison is unknown too. So
// every condition is built as two predicates, and Not swaps them; no SQL
// NOT is applied to a comparison that may be unknown. match writes one
// comparison's pair in the backend's dialect.
func Truth(c store.Cond, match func(*store.Match) (t, f Pred, err error)) (t, f Pred, err error) {
	switch c := c.(type) {
	case *store.And:
		if c == nil {
			break
		}
		lt, lf, err := Truth(c.L, match)
		if err != nil {
			return Pred{}, Pred{}, err
		}
		rt, rf, err := Truth(c.R, match)
		if err != nil {
			return Pred{}, Pred{}, err
		}
		return lt.And(rt), lf.Or(rf), nil
	case *store.Or:
		if c == nil {
			break
		}
		lt, lf, err := Truth(c.L, match)
		if err != nil {
			return Pred{}, Pred{}, err
		}
		rt, rf, err := Truth(c.R, match)
		if err != nil {
			return Pred{}, Pred{}, err
		}
		return lt.Or(rt), lf.And(rf), nil
	case *store.Not:
		if c == nil {
			break
		}
		xt, xf, err := Truth(c.X, match)
		return xf, xt, err
	case *store.Match:
		if c == nil {
			break
		}
		return match(c)
	}
	return Pred{}, Pred{}, graph.Errorf(graph.KindInvalid, "The filter holds an unknown condition.")
}

// OrderKey is one key of a page's order.
type OrderKey struct {
	Field
	Desc bool
}

// Dir is the key's direction in an ORDER BY.
func (k OrderKey) Dir() string {
	if k.Desc {
		return " DESC"
	}
	return " ASC"
}

// Cursor is the position after the last record of a page: its order keys
// and its creation sequence.
type Cursor struct {
	Keys []string `json:"k"`
	Seq  int64    `json:"s"`
}

// Dialect is how the cursor condition names the creation sequence and
// writes the placeholders of the cursor's values.
type Dialect struct {
	Seq       string // the sequence column, e.g. "seq"
	Text, Int string // placeholders of a key (text) and of the sequence, e.g. "?"
}

// After writes the condition "comes after cur in this order". With one
// direction throughout it is a row-value comparison, which the index of
// the order serves directly.
func (b *Builder) After(keys []OrderKey, cur Cursor, d Dialect) {
	desc := len(keys) > 0 && keys[len(keys)-1].Desc
	uniform := true
	for _, k := range keys {
		uniform = uniform && k.Desc == desc
	}
	op := " > "
	if desc {
		op = " < "
	}
	if uniform {
		b.SQL.WriteString("(")
		for _, k := range keys {
			b.Use(k.Field)
			b.SQL.WriteString(", ")
		}
		b.SQL.WriteString(d.Seq + ")" + op + "(")
		for _, v := range cur.Keys {
			b.Add(d.Text+", ", v)
		}
		b.Add(d.Int+")", cur.Seq)
		return
	}
	// Mixed directions: (k1 beyond v1) OR (k1 = v1 AND k2 beyond v2) OR ...
	b.SQL.WriteString("(")
	for i := 0; i <= len(keys); i++ {
		if i > 0 {
			b.SQL.WriteString(" OR ")
		}
		b.SQL.WriteString("(")
		for j := 0; j < i; j++ {
			b.Use(keys[j].Field)
			b.Add(" = "+d.Text+" AND ", cur.Keys[j])
		}
		if i < len(keys) {
			kop := " > "
			if keys[i].Desc {
				kop = " < "
			}
			b.Use(keys[i].Field)
			b.Add(kop+d.Text, cur.Keys[i])
		} else {
			b.Add(d.Seq+op+d.Int, cur.Seq)
		}
		b.SQL.WriteString(")")
	}
	b.SQL.WriteString(")")
}

// Cond writes when c is true (see Truth).
func (b *Builder) Cond(c store.Cond, match func(*store.Match) (t, f Pred, err error)) error {
	t, _, err := Truth(c, match)
	if err != nil {
		return err
	}
	b.Add(t.SQL, t.Args...)
	return nil
}
