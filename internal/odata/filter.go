package odata

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/idgraph/internal/graph"
)

// ParseFilter parses a $filter value (already percent-decoded).
//
// Keywords and function names are case-insensitive; property names keep the
// case they were written in. A comparison written literal-first is returned
// property-first. Error positions are 0-based byte offsets into s.
//
// Besides MaxNodes, two depth limits apply, both MaxDepth: the height of the
// tree (a comparison, function call or in is 1; a Not or Logical is one more
// than its deepest operand), and, while reading, the nesting of parentheses
// and "not" (checked on entry, so a long run of '(' is rejected early).
// Format never nests deeper than the tree is high, so the canonical text of
// every accepted filter is accepted too.
func ParseFilter(s string) (Expr, error) {
	if strings.Trim(s, " \t") == "" {
		return nil, filterError("the filter is empty.")
	}
	p := &parser{src: s}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, _, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		detail := "'and', 'or' or the end of the filter is expected"
		if p.tok.kind == tokRParen {
			detail = "there is no '(' for this ')'"
		}
		return nil, p.unexpected(p.tok, detail)
	}
	return e, nil
}

// Format prints e in canonical form: lower-case keywords, single spaces,
// string literals in single quotes with each quote inside doubled,
// parentheses around every Logical operand that is itself a Logical and
// around Not's operand when it is a Logical. Format(nil) is "".
func Format(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *Logical:
		if e == nil {
			return
		}
		writeOperand(b, e.L)
		b.WriteByte(' ')
		b.WriteString(FoldASCII(e.Op))
		b.WriteByte(' ')
		writeOperand(b, e.R)
	case *Not:
		if e == nil {
			return
		}
		b.WriteString("not ")
		writeOperand(b, e.X)
	case *Compare:
		if e == nil {
			return
		}
		b.WriteString(e.Prop)
		b.WriteByte(' ')
		b.WriteString(FoldASCII(e.Op))
		b.WriteByte(' ')
		writeLiteral(b, e.Value)
	case *Func:
		if e == nil {
			return
		}
		b.WriteString(FoldASCII(e.Name))
		b.WriteByte('(')
		b.WriteString(e.Prop)
		b.WriteString(", ")
		writeLiteral(b, e.Value)
		b.WriteByte(')')
	case *In:
		if e == nil {
			return
		}
		b.WriteString(e.Prop)
		b.WriteString(" in (")
		for i, v := range e.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			writeLiteral(b, v)
		}
		b.WriteByte(')')
	}
}

// writeOperand writes an operand of a Logical or Not, in parentheses when it
// is itself a Logical.
func writeOperand(b *strings.Builder, e Expr) {
	if _, ok := e.(*Logical); ok {
		b.WriteByte('(')
		writeExpr(b, e)
		b.WriteByte(')')
		return
	}
	writeExpr(b, e)
}

func writeLiteral(b *strings.Builder, l Literal) {
	switch l.Kind {
	case LitString:
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(l.Str, "'", "''"))
		b.WriteByte('\'')
	case LitBool:
		if l.Bool {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case LitGUID:
		b.WriteString(FoldASCII(l.Str))
	default:
		b.WriteString("null")
	}
}

type tokKind int

const (
	tokEOF    tokKind = iota
	tokLParen         // (
	tokRParen         // )
	tokComma          // ,
	tokWord           // a name, or a property path when path is set
	tokString         // a quoted string; text is its unescaped value
	tokGUID           // an unquoted GUID; text is lower-cased
	tokNumber         // a number or date, which $filter does not support
)

type token struct {
	kind tokKind
	pos  int // byte offset of the token's first character
	text string
	path bool // a tokWord with '/' in it
}

// parser reads a filter with one token of lookahead (tok).
type parser struct {
	src   string
	pos   int // where the lexer continues
	tok   token
	nodes int // nodes created so far
	nest  int // open parentheses and "not"s on the way to the current token
}

// operand is one side of a comparison or an argument of a function: a
// property path or a literal.
type operand struct {
	pos    int
	isProp bool
	prop   string
	lit    Literal
}

// reserved are the words that cannot name a property: they are operators.
var reserved = map[string]bool{"and": true, "or": true, "not": true, "eq": true, "ne": true, "in": true}

// unsupportedOps are OData operators this $filter does not implement.
var unsupportedOps = map[string]bool{
	"gt": true, "ge": true, "lt": true, "le": true, "has": true,
	"add": true, "sub": true, "mul": true, "div": true, "divby": true, "mod": true,
}

func (p *parser) parseOr() (Expr, int, error) {
	l, dl, err := p.parseAnd()
	if err != nil {
		return nil, 0, err
	}
	for p.isKeyword("or") {
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		r, dr, err := p.parseAnd()
		if err != nil {
			return nil, 0, err
		}
		if l, dl, err = p.join("or", l, dl, r, dr); err != nil {
			return nil, 0, err
		}
	}
	return l, dl, nil
}

func (p *parser) parseAnd() (Expr, int, error) {
	l, dl, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	for p.isKeyword("and") {
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		r, dr, err := p.parseUnary()
		if err != nil {
			return nil, 0, err
		}
		if l, dl, err = p.join("and", l, dl, r, dr); err != nil {
			return nil, 0, err
		}
	}
	return l, dl, nil
}

func (p *parser) join(op string, l Expr, dl int, r Expr, dr int) (Expr, int, error) {
	if err := p.addNodes(1); err != nil {
		return nil, 0, err
	}
	d := 1 + max(dl, dr)
	if d > MaxDepth {
		return nil, 0, errDepth()
	}
	return &Logical{Op: op, L: l, R: r}, d, nil
}

func (p *parser) parseUnary() (Expr, int, error) {
	if !p.isKeyword("not") {
		return p.parsePrimary()
	}
	if err := p.enter(); err != nil {
		return nil, 0, err
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	x, d, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	p.nest--
	if err := p.addNodes(1); err != nil {
		return nil, 0, err
	}
	if d+1 > MaxDepth {
		return nil, 0, errDepth()
	}
	return &Not{X: x}, d + 1, nil
}

func (p *parser) parsePrimary() (Expr, int, error) {
	var left operand
	switch t := p.tok; t.kind {
	case tokLParen:
		if err := p.enter(); err != nil {
			return nil, 0, err
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		e, d, err := p.parseOr()
		if err != nil {
			return nil, 0, err
		}
		if p.tok.kind != tokRParen {
			return nil, 0, p.unexpected(p.tok, "')' is expected")
		}
		p.nest--
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		return e, d, nil
	case tokWord:
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		if p.tok.kind == tokLParen {
			return p.parseCall(t)
		}
		var err error
		if left, err = p.wordOperand(t); err != nil {
			return nil, 0, err
		}
	default:
		var err error
		if left, err = p.parseOperand(); err != nil {
			return nil, 0, err
		}
	}
	return p.parseComparison(left)
}

// parseCall parses a function call whose name w has been read; p.tok is '('.
func (p *parser) parseCall(w token) (Expr, int, error) {
	if err := p.callError(w); err != nil {
		return nil, 0, err
	}
	name := FoldASCII(w.text)
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	a, err := p.parseOperand()
	if err != nil {
		return nil, 0, err
	}
	if p.tok.kind != tokComma {
		return nil, 0, p.unexpected(p.tok, "',' is expected")
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	b, err := p.parseOperand()
	if err != nil {
		return nil, 0, err
	}
	if p.tok.kind != tokRParen {
		return nil, 0, p.unexpected(p.tok, "')' is expected")
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	if !a.isProp || b.isProp {
		return nil, 0, filterError("%s at position %d needs a property as its first argument and a literal as its second.", name, w.pos)
	}
	if err := p.addNodes(3); err != nil {
		return nil, 0, err
	}
	return &Func{Name: name, Prop: a.prop, Value: b.lit}, 1, nil
}

// callError is the error for calling w (p.tok is the '(' after it), or nil
// when w is a supported function.
func (p *parser) callError(w token) error {
	name := FoldASCII(w.text)
	if w.path {
		if last := name[strings.LastIndexByte(name, '/')+1:]; last == "any" || last == "all" {
			return filterError("lambda operator '%s' is not supported.", last)
		}
		return p.syntaxError(p.tok.pos, "'(' is not expected after a property")
	}
	switch {
	case name == "startswith" || name == "endswith":
		return nil
	case reserved[name]:
		return p.syntaxError(w.pos, fmt.Sprintf("'%s' is not expected here", name))
	}
	return filterError("function '%s' is not supported.", Clip(w.text))
}

// parseComparison parses the rest of a comparison or in whose left operand
// has been read.
func (p *parser) parseComparison(left operand) (Expr, int, error) {
	t := p.tok
	op := ""
	if t.kind == tokWord && !t.path {
		op = FoldASCII(t.text)
	}
	switch op {
	case "eq", "ne":
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		right, err := p.parseOperand()
		if err != nil {
			return nil, 0, err
		}
		if left.isProp == right.isProp {
			return nil, 0, filterError("the comparison at position %d needs a property on one side and a literal on the other.", left.pos)
		}
		if right.isProp {
			left, right = right, left
		}
		if err := p.addNodes(3); err != nil {
			return nil, 0, err
		}
		return &Compare{Op: op, Prop: left.prop, Value: right.lit}, 1, nil
	case "in":
		if !left.isProp {
			return nil, 0, filterError("the left side of 'in' at position %d must be a property.", t.pos)
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		if p.tok.kind != tokLParen {
			return nil, 0, p.unexpected(p.tok, "'(' is expected after 'in'")
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		if err := p.addNodes(2); err != nil {
			return nil, 0, err
		}
		var values []Literal
		for {
			v, err := p.parseOperand()
			if err != nil {
				return nil, 0, err
			}
			if v.isProp {
				return nil, 0, filterError("the values of 'in' must be literals; '%s' at position %d is a property.", Clip(v.prop), v.pos)
			}
			if err := p.addNodes(1); err != nil {
				return nil, 0, err
			}
			values = append(values, v.lit)
			if p.tok.kind == tokRParen {
				break
			}
			if p.tok.kind != tokComma {
				return nil, 0, p.unexpected(p.tok, "',' or ')' is expected")
			}
			if err := p.advance(); err != nil {
				return nil, 0, err
			}
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		return &In{Prop: left.prop, Values: values}, 1, nil
	}
	return nil, 0, p.unexpected(t, "an operator (eq, ne or in) is expected")
}

// parseOperand reads a property path or a literal.
func (p *parser) parseOperand() (operand, error) {
	t := p.tok
	switch t.kind {
	case tokString:
		return operand{pos: t.pos, lit: Literal{Kind: LitString, Str: t.text}}, p.advance()
	case tokGUID:
		return operand{pos: t.pos, lit: Literal{Kind: LitGUID, Str: t.text}}, p.advance()
	case tokWord:
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		if p.tok.kind == tokLParen {
			if err := p.callError(t); err != nil {
				return operand{}, err
			}
			// startswith or endswith: a condition, not an operand
			return operand{}, p.syntaxError(t.pos, fmt.Sprintf("'%s' cannot be an operand", FoldASCII(t.text)))
		}
		return p.wordOperand(t)
	}
	return operand{}, p.unexpected(t, "a property or a literal is expected")
}

// wordOperand turns a word that is not a function name into an operand.
func (p *parser) wordOperand(t token) (operand, error) {
	if !t.path {
		switch w := FoldASCII(t.text); w {
		case "true", "false":
			return operand{pos: t.pos, lit: Literal{Kind: LitBool, Bool: w == "true"}}, nil
		case "null":
			return operand{pos: t.pos, lit: Literal{Kind: LitNull}}, nil
		default:
			if reserved[w] {
				return operand{}, p.syntaxError(t.pos, fmt.Sprintf("'%s' is not expected here", w))
			}
		}
	}
	return operand{pos: t.pos, isProp: true, prop: t.text}, nil
}

// isKeyword reports whether the current token is the keyword kw.
func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tokWord && !p.tok.path && len(p.tok.text) == len(kw) && FoldASCII(p.tok.text) == kw
}

// enter records one more level of parentheses or "not".
func (p *parser) enter() error {
	p.nest++
	if p.nest > MaxDepth {
		return errDepth()
	}
	return nil
}

func (p *parser) addNodes(n int) error {
	p.nodes += n
	if p.nodes > MaxNodes {
		return errNodes()
	}
	return nil
}

// advance reads the next token into p.tok.
func (p *parser) advance() error {
	s, i := p.src, p.pos
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i == len(s) {
		p.tok, p.pos = token{kind: tokEOF, pos: i}, i
		return nil
	}
	c := s[i]
	j := i + 1
	t := token{pos: i}
	switch {
	case c == '(':
		t.kind = tokLParen
	case c == ')':
		t.kind = tokRParen
	case c == ',':
		t.kind = tokComma
	case c == '\'':
		var b strings.Builder
		for {
			k := strings.IndexByte(s[j:], '\'')
			if k < 0 {
				return p.syntaxError(i, "the string is not terminated")
			}
			b.WriteString(s[j : j+k])
			j += k + 1
			if j < len(s) && s[j] == '\'' {
				b.WriteByte('\'')
				j++
				continue
			}
			break
		}
		t.kind, t.text = tokString, b.String()
	case isGUIDAt(s, i):
		j = i + 36
		t.kind, t.text = tokGUID, FoldASCII(s[i:j])
	case isNameStart(c):
		j = scanName(s, i)
		for j < len(s) && s[j] == '/' {
			if j+1 == len(s) || !isNameStart(s[j+1]) {
				return p.syntaxError(j+1, "a property name is expected after '/'")
			}
			j = scanName(s, j+1)
			t.path = true
		}
		t.kind, t.text = tokWord, s[i:j]
	case isDigit(c) || (c == '-' || c == '.') && j < len(s) && isDigit(s[j]):
		for j < len(s) && isNumberChar(s[j]) {
			j++
		}
		t.kind, t.text = tokNumber, s[i:j]
	default:
		return p.syntaxError(i, "the character "+describeChar(s, i)+" is not expected")
	}
	p.tok, p.pos = t, j
	return nil
}

// unexpected is the error for token t where something else was expected.
func (p *parser) unexpected(t token, expected string) error {
	switch t.kind {
	case tokNumber:
		return filterError("the literal '%s' at position %d is not supported (only 'strings', true, false, null and GUIDs are).", Clip(t.text), t.pos)
	case tokWord:
		if w := FoldASCII(t.text); !t.path && unsupportedOps[w] {
			return filterError("operator '%s' is not supported.", w)
		}
	case tokEOF:
		expected = "the filter ends early; " + expected
	}
	return p.syntaxError(t.pos, expected)
}

func (p *parser) syntaxError(pos int, detail string) error {
	return filterError("syntax error at position %d in '%s': %s.", pos, excerpt(p.src, pos), detail)
}

func filterError(format string, args ...any) error {
	return badRequest("Invalid filter clause: "+format, args...)
}

func errNodes() error {
	return badRequest("The query specified in the URI is not valid. The node count limit of '%d' has been exceeded.", MaxNodes)
}

func errDepth() error {
	return badRequest("The query specified in the URI is not valid. The recursion limit of '%d' has been exceeded.", MaxDepth)
}

func badRequest(format string, args ...any) *graph.Error {
	return &graph.Error{Kind: graph.KindInvalid, Code: "BadRequest", Message: fmt.Sprintf(format, args...)}
}

// isGUIDAt reports whether an unquoted GUID (8-4-4-4-12 hex digits) starts at
// s[i] and ends at a token boundary.
func isGUIDAt(s string, i int) bool {
	const n = 36
	if len(s)-i < n {
		return false
	}
	for k := range n {
		c := s[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	if e := i + n; e < len(s) && (isNameChar(s[e]) || s[e] == '-') {
		return false
	}
	return true
}

// scanName returns the end of the name that starts at s[i].
func scanName(s string, i int) int {
	i++
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	return i
}

// isName reports whether s is a name: [A-Za-z_][A-Za-z0-9_]*.
func isName(s string) bool {
	return s != "" && isNameStart(s[0]) && scanName(s, 0) == len(s)
}

// isPath reports whether s is a property path: names separated by '/'.
func isPath(s string) bool {
	for name := range strings.SplitSeq(s, "/") {
		if !isName(name) {
			return false
		}
	}
	return true
}

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameChar(c byte) bool { return isNameStart(c) || isDigit(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isNumberChar(c byte) bool { return isNameChar(c) || c == '.' || c == ':' || c == '+' || c == '-' }

// FoldASCII lower-cases the ASCII letters of s; other bytes stay as they
// are, so no Unicode folding can make a keyword of a non-ASCII word. It is
// also how $filter compares strings: ignoring ASCII case only.
func FoldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// describeChar names the character at s[i] for an error message.
func describeChar(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && size <= 1:
		return fmt.Sprintf("byte 0x%02X", s[i])
	case unicode.IsPrint(r) && r != '\'':
		return fmt.Sprintf("'%c'", r)
	default:
		return fmt.Sprintf("U+%04X", r)
	}
}

// maxEcho bounds how much of the caller's input one message repeats.
const maxEcho = 100

// Clip shortens s to at most 100 bytes (on a character boundary, invalid
// UTF-8 replaced) for an error message, marking a cut with "...". Every
// message that repeats a caller's input goes through it.
func Clip(s string) string {
	if len(s) <= maxEcho {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	end := runeBoundary(s, maxEcho, -1)
	return strings.ToValidUTF8(s[:end], "\uFFFD") + "..."
}

// excerpt is s for an error message about position pos: all of it when it is
// short, else at most maxEcho bytes around pos, cuts marked with "...".
func excerpt(s string, pos int) string {
	if len(s) <= maxEcho {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	start := max(0, min(pos-maxEcho/2, len(s)-maxEcho))
	end := runeBoundary(s, start+maxEcho, -1)
	start = runeBoundary(s, start, +1)
	out := strings.ToValidUTF8(s[start:end], "\uFFFD")
	if start > 0 {
		out = "..." + out
	}
	if end < len(s) {
		out += "..."
	}
	return out
}

// runeBoundary moves i (0 < i < len(s)) by dir, at most utf8.UTFMax-1 bytes,
// until it does not split a character. In invalid UTF-8 it may stop inside a
// run of stray bytes, which ToValidUTF8 then replaces.
func runeBoundary(s string, i, dir int) int {
	for range utf8.UTFMax - 1 {
		if i <= 0 || i >= len(s) || utf8.RuneStart(s[i]) {
			break
		}
		i += dir
	}
	return i
}
