package odata

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idgraph/idgraph/internal/graph"
)

func str(v string) Literal  { return Literal{Kind: LitString, Str: v} }
func guid(v string) Literal { return Literal{Kind: LitGUID, Str: v} }

var (
	litTrue  = Literal{Kind: LitBool, Bool: true}
	litFalse = Literal{Kind: LitBool}
	litNull  = Literal{Kind: LitNull}
)

func eq(prop string, v Literal) *Compare { return &Compare{Op: "eq", Prop: prop, Value: v} }
func ne(prop string, v Literal) *Compare { return &Compare{Op: "ne", Prop: prop, Value: v} }
func and(l, r Expr) *Logical             { return &Logical{Op: "and", L: l, R: r} }
func or(l, r Expr) *Logical              { return &Logical{Op: "or", L: l, R: r} }
func not(x Expr) *Not                    { return &Not{X: x} }

const sampleGUID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

func TestParseFilterValid(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
		text string // Format(want)
	}{
		{"displayName eq 'x'", eq("displayName", str("x")), "displayName eq 'x'"},
		{"displayName ne 'x'", ne("displayName", str("x")), "displayName ne 'x'"},
		{"  displayName\t\tEQ   'x'\t", eq("displayName", str("x")), "displayName eq 'x'"},
		{"'x' eq displayName", eq("displayName", str("x")), "displayName eq 'x'"},
		{"null NE clientId", ne("clientId", litNull), "clientId ne null"},
		{"name eq 'O''Brien'", eq("name", str("O'Brien")), "name eq 'O''Brien'"},
		{"name eq ''''", eq("name", str("'")), "name eq ''''"},
		{"name eq ''", eq("name", str("")), "name eq ''"},
		{"name eq 'a and b or not c eq ''d'''", eq("name", str("a and b or not c eq 'd'")), "name eq 'a and b or not c eq ''d'''"},
		{"name eq 'ünïcödé ✓'", eq("name", str("ünïcödé ✓")), "name eq 'ünïcödé ✓'"},
		{"isLanguageCustomizationEnabled eq true", eq("isLanguageCustomizationEnabled", litTrue), "isLanguageCustomizationEnabled eq true"},
		{"isLanguageCustomizationEnabled eq FALSE", eq("isLanguageCustomizationEnabled", litFalse), "isLanguageCustomizationEnabled eq false"},
		{"domainHint eq Null", eq("domainHint", litNull), "domainHint eq null"},
		{"id eq " + sampleGUID, eq("id", guid(sampleGUID)), "id eq " + sampleGUID},
		{"id eq 6BA7B810-9DAD-11D1-80B4-00C04FD430C8", eq("id", guid(sampleGUID)), "id eq " + sampleGUID},
		{sampleGUID + " eq id", eq("id", guid(sampleGUID)), "id eq " + sampleGUID},
		{"id eq '" + sampleGUID + "'", eq("id", str(sampleGUID)), "id eq '" + sampleGUID + "'"},
		{"id in (" + sampleGUID + ",'b')", &In{Prop: "id", Values: []Literal{guid(sampleGUID), str("b")}}, "id in (" + sampleGUID + ", 'b')"},
		{"a/b/c eq 'x'", eq("a/b/c", str("x")), "a/b/c eq 'x'"},
		{"_x1 eq 'x'", eq("_x1", str("x")), "_x1 eq 'x'"},
		{"startswith(displayName,'Con')", &Func{Name: "startswith", Prop: "displayName", Value: str("Con")}, "startswith(displayName, 'Con')"},
		{"EndsWith ( targetUrl , '/api' )", &Func{Name: "endswith", Prop: "targetUrl", Value: str("/api")}, "endswith(targetUrl, '/api')"},
		{"type in ('Google','Facebook')", &In{Prop: "type", Values: []Literal{str("Google"), str("Facebook")}}, "type in ('Google', 'Facebook')"},
		{"type IN('Google')", &In{Prop: "type", Values: []Literal{str("Google")}}, "type in ('Google')"},
		{"x in (null, true, false)", &In{Prop: "x", Values: []Literal{litNull, litTrue, litFalse}}, "x in (null, true, false)"},
		// precedence and associativity
		{"a eq 'x' or b eq 'y' and c eq 'z'",
			or(eq("a", str("x")), and(eq("b", str("y")), eq("c", str("z")))),
			"a eq 'x' or (b eq 'y' and c eq 'z')"},
		{"a eq 'x' and b eq 'y' or c eq 'z'",
			or(and(eq("a", str("x")), eq("b", str("y"))), eq("c", str("z"))),
			"(a eq 'x' and b eq 'y') or c eq 'z'"},
		{"a eq 'x' or b eq 'y' or c eq 'z'",
			or(or(eq("a", str("x")), eq("b", str("y"))), eq("c", str("z"))),
			"(a eq 'x' or b eq 'y') or c eq 'z'"},
		{"a eq 'x' or (b eq 'y' or c eq 'z')",
			or(eq("a", str("x")), or(eq("b", str("y")), eq("c", str("z")))),
			"a eq 'x' or (b eq 'y' or c eq 'z')"},
		{"(a eq 'x' or b eq 'y') and c eq 'z'",
			and(or(eq("a", str("x")), eq("b", str("y"))), eq("c", str("z"))),
			"(a eq 'x' or b eq 'y') and c eq 'z'"},
		{"((((a eq 'x'))))", eq("a", str("x")), "a eq 'x'"},
		{"(a eq 'x')or(b eq 'y')", or(eq("a", str("x")), eq("b", str("y"))), "a eq 'x' or b eq 'y'"},
		{"a eq 'x'and b eq 'y'", and(eq("a", str("x")), eq("b", str("y"))), "a eq 'x' and b eq 'y'"},
		// not
		{"not a eq 'x'", not(eq("a", str("x"))), "not a eq 'x'"},
		{"not(a eq 'x')", not(eq("a", str("x"))), "not a eq 'x'"},
		{"NOT (a eq 'x')", not(eq("a", str("x"))), "not a eq 'x'"},
		{"not not a eq 'x'", not(not(eq("a", str("x")))), "not not a eq 'x'"},
		{"not startswith(a,'x')", not(&Func{Name: "startswith", Prop: "a", Value: str("x")}), "not startswith(a, 'x')"},
		{"not a eq 'x' and b eq 'y'", and(not(eq("a", str("x"))), eq("b", str("y"))), "not a eq 'x' and b eq 'y'"},
		{"not (a eq 'x' or b eq 'y')", not(or(eq("a", str("x")), eq("b", str("y")))), "not (a eq 'x' or b eq 'y')"},
		{"not (a eq 'x' or b eq 'y') and c in ('z')",
			and(not(or(eq("a", str("x")), eq("b", str("y")))), &In{Prop: "c", Values: []Literal{str("z")}}),
			"not (a eq 'x' or b eq 'y') and c in ('z')"},
		// keywords need a boundary: these are properties
		{"notx eq 'a'", eq("notx", str("a")), "notx eq 'a'"},
		{"order eq 'a'", eq("order", str("a")), "order eq 'a'"},
		{"android eq 'a'", eq("android", str("a")), "android eq 'a'"},
		{"nullable eq null", eq("nullable", litNull), "nullable eq null"},
		{"not/x eq 'a'", eq("not/x", str("a")), "not/x eq 'a'"},
		{"gt eq 'a'", eq("gt", str("a")), "gt eq 'a'"},
		{"startswith eq 'a'", eq("startswith", str("a")), "startswith eq 'a'"},
		{"abcdef01 eq 'a'", eq("abcdef01", str("a")), "abcdef01 eq 'a'"},
		{"not notx eq 'a'", not(eq("notx", str("a"))), "not notx eq 'a'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseFilter(%q) = %s, want %s", tt.in, Format(got), Format(tt.want))
			}
			if text := Format(got); text != tt.text {
				t.Errorf("Format = %q, want %q", text, tt.text)
			}
			checkRoundTrip(t, tt.in, got)
		})
	}
}

func TestParseFilterInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want string // the whole message, or its start when it ends with "*"
	}{
		{"", "Invalid filter clause: the filter is empty."},
		{" \t ", "Invalid filter clause: the filter is empty."},
		{"displayName eq", "Invalid filter clause: syntax error at position 14 in 'displayName eq': the filter ends early; a property or a literal is expected."},
		{"displayName", "Invalid filter clause: syntax error at position 11 in 'displayName': the filter ends early; an operator (eq, ne or in) is expected."},
		{"displayName eq 'x", "Invalid filter clause: syntax error at position 15 in 'displayName eq 'x': the string is not terminated."},
		{"name eq 'O'Brien'", "Invalid filter clause: syntax error at position 11 in 'name eq 'O'Brien'': 'and', 'or' or the end of the filter is expected."},
		{"displayName = 'x'", "Invalid filter clause: syntax error at position 12 in 'displayName = 'x'': the character '=' is not expected."},
		{"a eq 'x'\nor b eq 'y'", "Invalid filter clause: syntax error at position 8 in *"},
		{"a eq 'x' b eq 'y'", "Invalid filter clause: syntax error at position 9 in 'a eq 'x' b eq 'y'': 'and', 'or' or the end of the filter is expected."},
		{"a eq 'x' andb eq 'y'", "Invalid filter clause: syntax error at position 9 *"},
		{"a eq 'x')", "Invalid filter clause: syntax error at position 8 in 'a eq 'x')': there is no '(' for this ')'."},
		{"(a eq 'x'", "Invalid filter clause: syntax error at position 9 in '(a eq 'x'': the filter ends early; ')' is expected."},
		{"()", "Invalid filter clause: syntax error at position 1 in '()': a property or a literal is expected."},
		{"a eq 'x' and", "Invalid filter clause: syntax error at position 12 *"},
		{"a eq 'x' or or b eq 'y'", "Invalid filter clause: syntax error at position 12 in *: 'or' is not expected here."},
		{"not", "Invalid filter clause: syntax error at position 3 *"},
		{"not eq 'x'", "Invalid filter clause: syntax error at position 4 in 'not eq 'x'': 'eq' is not expected here."},
		{"and eq 'x'", "Invalid filter clause: syntax error at position 0 in 'and eq 'x'': 'and' is not expected here."},
		{"a/ eq 'x'", "Invalid filter clause: syntax error at position 2 in 'a/ eq 'x'': a property name is expected after '/'."},
		{"a//b eq 'x'", "Invalid filter clause: syntax error at position 2 *"},
		{"@odata.type eq 'x'", "Invalid filter clause: syntax error at position 0 in '@odata.type eq 'x'': the character '@' is not expected."},
		{"a eq 'x' & b eq 'y'", "Invalid filter clause: syntax error at position 9 *"},
		{"a eq \"x\"", "Invalid filter clause: syntax error at position 5 in 'a eq \"x\"': the character '\"' is not expected."},
		{"a eq 'x' \xff", "Invalid filter clause: syntax error at position 9 in *: the character byte 0xFF is not expected."},
		{"a eq 'x' \u00e9", "Invalid filter clause: syntax error at position 9 in *: the character 'é' is not expected."},
		// exactly one property and one literal
		{"a eq b", "Invalid filter clause: the comparison at position 0 needs a property on one side and a literal on the other."},
		{"'a' eq 'b'", "Invalid filter clause: the comparison at position 0 needs a property on one side and a literal on the other."},
		{"true eq null", "Invalid filter clause: the comparison at position 0 needs a property on one side and a literal on the other."},
		{"'x' in a", "Invalid filter clause: the left side of 'in' at position 4 must be a property."},
		{"a in ('x', b)", "Invalid filter clause: the values of 'in' must be literals; 'b' at position 11 is a property."},
		{"a in ()", "Invalid filter clause: syntax error at position 6 in 'a in ()': a property or a literal is expected."},
		{"a in 'x'", "Invalid filter clause: syntax error at position 5 in 'a in 'x'': '(' is expected after 'in'."},
		{"a in ('x' 'y')", "Invalid filter clause: syntax error at position 10 in 'a in ('x' 'y')': ',' or ')' is expected."},
		{"a in ('x',)", "Invalid filter clause: syntax error at position 10 *"},
		{"startswith('x', a)", "Invalid filter clause: startswith at position 0 needs a property as its first argument and a literal as its second."},
		{"startswith(a, b)", "Invalid filter clause: startswith at position 0 needs a property as its first argument and a literal as its second."},
		{"startswith(a)", "Invalid filter clause: syntax error at position 12 in 'startswith(a)': ',' is expected."},
		{"startswith(a, 'x', 'y')", "Invalid filter clause: syntax error at position 17 in *: ')' is expected."},
		{"startswith(a, 'x') eq true", "Invalid filter clause: syntax error at position 19 *"},
		{"a eq startswith(b, 'x')", "Invalid filter clause: syntax error at position 5 in *: 'startswith' cannot be an operand."},
		{"startswith(startswith(a, 'x'), 'y')", "Invalid filter clause: syntax error at position 11 *"},
		// unsupported operators, functions, literals
		{"a gt 'x'", "Invalid filter clause: operator 'gt' is not supported."},
		{"a GE 'x'", "Invalid filter clause: operator 'ge' is not supported."},
		{"a lt 'x'", "Invalid filter clause: operator 'lt' is not supported."},
		{"a le 'x'", "Invalid filter clause: operator 'le' is not supported."},
		{"a has 'x'", "Invalid filter clause: operator 'has' is not supported."},
		{"a add 'x'", "Invalid filter clause: operator 'add' is not supported."},
		{"a eq 'x' mod 2", "Invalid filter clause: operator 'mod' is not supported."},
		{"contains(displayName,'x')", "Invalid filter clause: function 'contains' is not supported."},
		{"toLower(displayName) eq 'x'", "Invalid filter clause: function 'toLower' is not supported."},
		{"startswith(tolower(a), 'x')", "Invalid filter clause: function 'tolower' is not supported."},
		{"identities/any(i: i/issuer eq 'x')", "Invalid filter clause: lambda operator 'any' is not supported."},
		{"identities/ALL(i: i/issuer eq 'x')", "Invalid filter clause: lambda operator 'all' is not supported."},
		{"a/b('x')", "Invalid filter clause: syntax error at position 3 in 'a/b('x')': '(' is not expected after a property."},
		{"a eq 42", "Invalid filter clause: the literal '42' at position 5 is not supported (only 'strings', true, false, null and GUIDs are)."},
		{"a eq -1.5e3", "Invalid filter clause: the literal '-1.5e3' at position 5 is not supported *"},
		{"42 eq a", "Invalid filter clause: the literal '42' at position 0 is not supported *"},
		{"a eq 2024-01-01T00:00:00Z", "Invalid filter clause: the literal '2024-01-01T00:00:00Z' at position 5 is not supported *"},
		{"a in (1)", "Invalid filter clause: the literal '1' at position 6 is not supported *"},
		{"id eq 6ba7b810-9dad-11d1-80b4-00c04fd430c", "Invalid filter clause: the literal '6ba7b810-9dad-11d1-80b4-00c04fd430c' at position 6 *"},
		{"id eq 6ba7b810-9dad-11d1-80b4-00c04fd430c8a", "Invalid filter clause: the literal '6ba7b810-9dad-11d1-80b4-00c04fd430c8a' at position 6 *"},
		{"id eq abcdef01-9dad-11d1-80b4-00c04fd430c", "Invalid filter clause: the comparison at position 0 needs a property on one side and a literal on the other."},
		{"id eq abc-def", "Invalid filter clause: syntax error at position 9 in 'id eq abc-def': the character '-' is not expected."},
		{"id eq {" + sampleGUID + "}", "Invalid filter clause: syntax error at position 6 *"},
		{"id eq guid'" + sampleGUID + "'", "Invalid filter clause: the comparison at position 0 *"},
		{"guid'" + sampleGUID + "' eq id", "Invalid filter clause: syntax error at position 4 *"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %s, want an error", tt.in, Format(got))
			}
			checkInvalid(t, err, "BadRequest", tt.want)
		})
	}
}

// checkInvalid checks that err is a *graph.Error of kind KindInvalid with the
// code and the message; a "*" in want stands for any text.
func checkInvalid(t *testing.T, err error, code, want string) {
	t.Helper()
	ge, ok := err.(*graph.Error)
	if !ok {
		t.Fatalf("error %T %v, want *graph.Error", err, err)
	}
	if ge.Kind != graph.KindInvalid || ge.Code != code {
		t.Errorf("kind %d code %q, want %d %q", ge.Kind, ge.Code, graph.KindInvalid, code)
	}
	if !matchGlob(want, ge.Message) {
		t.Errorf("message %q,\nwant    %q", ge.Message, want)
	}
}

const (
	msgNodes = "The query specified in the URI is not valid. The node count limit of '100' has been exceeded."
	msgDepth = "The query specified in the URI is not valid. The recursion limit of '50' has been exceeded."
)

// inList is "p in ('v1', ..., 'vn')": n+2 nodes.
func inList(n int) string {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprintf("'v%d'", i)
	}
	return "p in (" + strings.Join(vals, ",") + ")"
}

// orChain is n comparisons joined by or: 4n-1 nodes, depth n.
func orChain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("p%d eq 'x'", i)
	}
	return strings.Join(parts, " or ")
}

func TestParseFilterLimits(t *testing.T) {
	if MaxNodes != 100 || MaxDepth != 50 {
		t.Fatalf("limits changed: update the messages of this test")
	}
	ok := []struct{ name, in string }{
		{"in list of 100 nodes", inList(98)},
		{"or chain of 99 nodes", orChain(25)},
		{"not and an or chain: 100 nodes", "not " + orChain(25)},
		{"46 nots, and, 47 nots: 100 nodes", strings.Repeat("not ", 46) + "a eq 'x' and " + strings.Repeat("not ", 47) + "b eq 'y'"},
		{"50 parentheses", strings.Repeat("(", 50) + "a eq 'x'" + strings.Repeat(")", 50)},
		{"49 nots (depth 50)", strings.Repeat("not ", 49) + "a eq 'x'"},
		{"not( nested 25 times", strings.Repeat("not(", 25) + "a eq 'x'" + strings.Repeat(")", 25)},
		{"right-nested or, depth 25", strings.Repeat("a eq 'x' or (", 24) + "a eq 'x'" + strings.Repeat(")", 24)},
		{"8 KiB string", "a eq '" + strings.Repeat("x", 8<<10) + "'"},
		{"8 KiB of blanks", strings.Repeat(" \t", 4<<10) + "a eq 'x'" + strings.Repeat(" ", 8<<10)},
		{"8 KiB of quotes", "a eq '" + strings.Repeat("''", 4<<10) + "'"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			checkRoundTrip(t, tt.in, e)
		})
	}
	bad := []struct{ name, in, want string }{
		{"in list of 101 nodes", inList(99), msgNodes},
		{"or chain of 103 nodes", orChain(26), msgNodes},
		{"2 nots and an or chain: 101 nodes", "not not " + orChain(25), msgNodes},
		{"47 nots, and, 47 nots: 101 nodes", strings.Repeat("not ", 47) + "a eq 'x' and " + strings.Repeat("not ", 47) + "b eq 'y'", msgNodes},
		{"51 parentheses", strings.Repeat("(", 51) + "a eq 'x'" + strings.Repeat(")", 51), msgDepth},
		{"50 nots (depth 51)", strings.Repeat("not ", 50) + "a eq 'x'", msgDepth},
		{"51 nots", strings.Repeat("not ", 51) + "a eq 'x'", msgDepth},
		{"26 not( (nesting 52)", strings.Repeat("not(", 26) + "a eq 'x'" + strings.Repeat(")", 26), msgDepth},
		{"8 KiB of (", strings.Repeat("(", 8<<10), msgDepth},
		{"8 KiB of not", strings.Repeat("not ", 2<<10), msgDepth},
		{"8 KiB of not(", strings.Repeat("not(", 2<<10), msgDepth},
		{"8 KiB in list", inList(2 << 10), msgNodes},
		{"8 KiB or chain", orChain(1 << 9), msgNodes},
		{"8 KiB of startswith(", strings.Repeat("startswith(", 745), "Invalid filter clause: syntax error at position 11 *"},
		{"8 KiB unterminated string", "a eq '" + strings.Repeat("x", 8<<10), "Invalid filter clause: syntax error at position 5 in 'a eq 'xxx*"},
		{"8 KiB of )", strings.Repeat(")", 8<<10), "Invalid filter clause: syntax error at position 0 *"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseFilter(tt.in)
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("took %v", d)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			checkInvalid(t, err, "BadRequest", tt.want)
		})
	}
}

// TestParseFilterEcho checks that a message repeats at most about 100 bytes of
// a long filter, taken around the error.
func TestParseFilterEcho(t *testing.T) {
	long := "a eq '" + strings.Repeat("y", 5000) + "' and b eq"
	_, err := ParseFilter(long)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	want := fmt.Sprintf("Invalid filter clause: syntax error at position %d in '...%s': the filter ends early; a property or a literal is expected.",
		len(long), long[len(long)-100:])
	if msg != want {
		t.Errorf("message\n%q, want\n%q", msg, want)
	}
	_, err = ParseFilter(strings.Repeat("é", 200) + " eq 'x'")
	if err == nil || len(err.Error()) > 250 {
		t.Errorf("error %v", err)
	}
	_, err = ParseFilter("a eq 'x' and " + strings.Repeat("q", 500) + "(b)")
	if want := "Invalid filter clause: function '" + strings.Repeat("q", 100) + "...' is not supported."; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	for _, pos := range []int{0, 1, 49, 50, 51, 150, 199, 200} {
		s := strings.Repeat("ab", 100) // 200 bytes
		ex := excerpt(s, pos)
		if n := len(strings.TrimSuffix(strings.TrimPrefix(ex, "..."), "...")); n != 100 {
			t.Errorf("excerpt(200 bytes, %d) has %d bytes of input: %q", pos, n, ex)
		}
	}
	for _, s := range []string{strings.Repeat("\xaf", 101), strings.Repeat("\xaf", 300), "a" + strings.Repeat("\xaf", 300)} {
		for _, pos := range []int{0, 1, 100, 150, len(s)} {
			if ex := excerpt(s, pos); !utf8.ValidString(ex) || utf8.RuneCountInString(ex) > 106 {
				t.Errorf("excerpt(%d stray bytes, %d) = %q", len(s), pos, ex)
			}
		}
		if c := Clip(s); !utf8.ValidString(c) || utf8.RuneCountInString(c) > 103 {
			t.Errorf("Clip(%d stray bytes) = %q", len(s), c)
		}
	}
	if ex := excerpt(strings.Repeat("é", 100), 101); !strings.HasPrefix(ex, "...é") || !strings.HasSuffix(ex, "é...") {
		t.Errorf("excerpt cuts a character: %q", ex)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		e    Expr
		want string
	}{
		{nil, ""},
		{(*Logical)(nil), ""},
		{not((*Compare)(nil)), "not "},
		{&Logical{Op: "AND", L: eq("a", str("x")), R: &Func{Name: "EndsWith", Prop: "b", Value: guid("ABC")}}, "a eq 'x' and endswith(b, abc)"},
		{not(not(or(eq("a", str("it's")), and(eq("b", litNull), ne("c", litTrue))))),
			"not not (a eq 'it''s' or (b eq null and c ne true))"},
		{and(not(and(eq("a", str("1")), eq("b", str("2")))), or(eq("c", str("3")), eq("d", str("4")))),
			"not (a eq '1' and b eq '2') and (c eq '3' or d eq '4')"},
		{&In{Prop: "p"}, "p in ()"},
	}
	for _, tt := range tests {
		if got := Format(tt.e); got != tt.want {
			t.Errorf("Format = %q, want %q", got, tt.want)
		}
	}
}

// checkRoundTrip checks that the canonical text of e (parsed from in) parses
// to e again and is a fixed point of Format.
func checkRoundTrip(t testing.TB, in string, e Expr) {
	t.Helper()
	text := Format(e)
	again, err := ParseFilter(text)
	if err != nil {
		t.Fatalf("ParseFilter(%q) accepted, but its Format %q fails: %v", in, text, err)
	}
	if !reflect.DeepEqual(again, e) {
		t.Fatalf("ParseFilter(%q) and ParseFilter(Format) = %q differ: %q", in, text, Format(again))
	}
	if text2 := Format(again); text2 != text {
		t.Fatalf("Format is not a fixed point: %q then %q", text, text2)
	}
}

// matchGlob reports whether s matches pattern, in which "*" stands for any
// text.
func matchGlob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
