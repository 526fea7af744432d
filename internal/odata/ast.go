package odata

// Expr is a node of a parsed $filter expression: *Logical, *Not, *Compare,
// *Func or *In. Property operands are always on the left: a comparison
// written literal-first ('x' eq displayName) is parsed as displayName eq 'x'.
type Expr interface{ expr() }

// Logical is "L and R" or "L or R".
type Logical struct {
	Op   string // "and" or "or"
	L, R Expr
}

// Not is "not X" (also written "not(X)").
type Not struct{ X Expr }

// Compare is "Prop eq Value" or "Prop ne Value".
type Compare struct {
	Op    string // "eq" or "ne"
	Prop  string // a property path: names separated by '/'
	Value Literal
}

// Func is a boolean function call: startswith(Prop, Value) or
// endswith(Prop, Value).
type Func struct {
	Name  string // "startswith" or "endswith"
	Prop  string
	Value Literal
}

// In is "Prop in (V1, V2, ...)", with at least one value.
type In struct {
	Prop   string
	Values []Literal
}

func (*Logical) expr() {}
func (*Not) expr()     {}
func (*Compare) expr() {}
func (*Func) expr()    {}
func (*In) expr()      {}

// LitKind is the kind of a literal.
type LitKind int

// The literal kinds of $filter.
const (
	LitNull   LitKind = iota // null
	LitString                // 'text', with '' standing for one quote
	LitBool                  // true or false
	LitGUID                  // an unquoted GUID such as 6ba7b810-9dad-11d1-80b4-00c04fd430c8
)

// Literal is a literal operand. Str holds the text of a string (unescaped)
// or of a GUID (as written, lower-cased); Bool the value of a boolean.
type Literal struct {
	Kind LitKind
	Str  string
	Bool bool
}

// Limits of $filter (decision D8): a longer or deeper expression is
// answered with 400 before any of it is evaluated.
const (
	// MaxNodes bounds the nodes of one expression. Every operator, function
	// call, property reference and literal counts as one node.
	MaxNodes = 100
	// MaxDepth bounds the nesting of parentheses and operators.
	MaxDepth = 50
)
