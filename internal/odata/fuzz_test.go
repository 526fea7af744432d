package odata

import (
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idgraph/idgraph/internal/graph"
)

// maxCall bounds one parse, whatever the input.
const maxCall = 100 * time.Millisecond

// timed runs parse and returns the time it took: the least of up to three
// runs, so that a pause of the machine (the fuzzer's other workers, the
// garbage collector) is not taken for a slow parser.
func timed(parse func()) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		parse()
		best = min(best, time.Since(start))
		if best <= maxCall {
			break
		}
	}
	return best
}

var filterSeeds = []string{
	// valid
	"displayName eq 'x'",
	"'x' eq displayName",
	"name eq 'O''Brien'",
	"id eq 6ba7b810-9dad-11d1-80b4-00c04fd430c8",
	"id in (6BA7B810-9DAD-11D1-80B4-00C04FD430C8, 'b', null, true)",
	"startswith(displayName,'Con') and endswith(targetUrl, '/api')",
	"a eq 'x' or b eq 'y' and c eq 'z'",
	"(a eq 'x' or b eq 'y') and not (c eq 'z' or d ne null)",
	"not(a eq 'x')",
	"not not a/b/c eq false",
	"NOT startswith(a,'')  AND\tb IN ('1','2')",
	"notx eq 'a' and android eq 'b' or order eq 'c'",
	"((((a eq 'x'))))",
	"(a eq 'x')or(b eq 'y')",
	"a eq 'x' or (b eq 'y' or (c eq 'z' or d eq 'w'))",
	"isLanguageCustomizationEnabled eq TRUE",
	"name eq 'ünïcödé \x00 \xff'",
	")!stArtswitth(A,')!",       // once slow under the fuzzer: a pause of the machine, not of the parser
	strings.Repeat("\xaf", 101), // crashed excerpt: a long run of UTF-8 continuation bytes
	"not (a eq 'x' or b eq 'y') and c in ('z')",
	strings.Repeat("not ", 49) + "a eq 'x'",
	strings.Repeat("(", 50) + "a eq 'x'" + strings.Repeat(")", 50),
	inList(98),
	orChain(25),
	// invalid
	"",
	"   ",
	"displayName eq",
	"displayName eq 'x",
	"a eq b",
	"'a' eq 'b'",
	"a gt 'x'",
	"a eq 42",
	"a eq -1.5e3",
	"contains(a,'x')",
	"identities/any(i: i/issuer eq 'x')",
	"a in ()",
	"a in ('x',)",
	"startswith('x', a)",
	"startswith(startswith(a,'x'),'y')",
	"a eq 'x')",
	"(a eq 'x'",
	"a/ eq 'x'",
	"displayName = 'x'",
	"a eq 'x' andb eq 'y'",
	"not",
	"id eq guid'6ba7b810-9dad-11d1-80b4-00c04fd430c8'",
	"id eq 6ba7b810-9dad-11d1-80b4-00c04fd430c8a",
	strings.Repeat("not ", 50) + "a eq 'x'",
	strings.Repeat("(", 51) + "a eq 'x'" + strings.Repeat(")", 51),
	strings.Repeat("(", 8<<10),
	inList(99),
	orChain(26),
}

func FuzzFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e Expr
		var err error
		if d := timed(func() { e, err = ParseFilter(s) }); d > maxCall {
			t.Fatalf("ParseFilter(%q) took %v", s, d)
		}
		if err != nil {
			checkFuzzError(t, err)
			if e != nil {
				t.Fatalf("ParseFilter(%q) returned %s with its error", s, Format(e))
			}
			return
		}
		if e == nil {
			t.Fatalf("ParseFilter(%q) returned neither a tree nor an error", s)
		}
		checkRoundTrip(t, s, e)
	})
}

var querySeeds = []struct {
	raw  string
	beta bool
}{
	{"", false},
	{"$filter=displayName%20eq%20'x'&$top=5&$count=true", false},
	{"filter=displayName+eq+'x'&top=5&count=true&select=id,displayName", true},
	{"$select=displayName,id,DisplayName,*&$orderby=displayName%20desc,id", false},
	{"$orderby=id+ASC,+name++DESC&$skiptoken=abc%2F%3D&$expand=postFederationSignup", false},
	{"$format=application%2Fjson&api-version=2&@p1='x'&=x&&", true},
	{"top=5&$top=6", false},
	{"top=5&$top=6", true},
	{"$top=0", false},
	{"$top=1000", false},
	{"$count=yes", false},
	{"$select=a,,b", false},
	{"$orderby=id,ID", false},
	{"$skiptoken=", false},
	{"$format=xml", false},
	{"$foo=1", false},
	{"$skip=1", false},
	{"skip=1", true},
	{"$filter=%zz", false},
	{"$filter=a+gt+'x'", false},
	{"%24Filter=not(a%20eq%20'x'%20or%20b%20eq%20'y')", false},
}

func FuzzQuery(f *testing.F) {
	for _, s := range querySeeds {
		f.Add(s.raw, s.beta)
	}
	f.Fuzz(func(t *testing.T, raw string, beta bool) {
		var q Query
		var err error
		if d := timed(func() { q, err = ParseQuery(raw, beta) }); d > maxCall {
			t.Fatalf("ParseQuery(%q) took %v", raw, d)
		}
		if err != nil {
			checkFuzzError(t, err)
			if !reflect.DeepEqual(q, Query{}) {
				t.Fatalf("ParseQuery(%q) returned %#v with its error", raw, q)
			}
			return
		}
		if (q.Filter == nil) != (q.FilterText == "") || q.FilterText != Format(q.Filter) {
			t.Fatalf("ParseQuery(%q): FilterText %q does not match the tree %q", raw, q.FilterText, Format(q.Filter))
		}
		if q.Filter != nil {
			checkRoundTrip(t, raw, q.Filter)
		}
		if q.Top < 0 || q.Top > 999 {
			t.Fatalf("ParseQuery(%q): $top %d", raw, q.Top)
		}
		// The query, written back canonically, reads the same.
		again, err := ParseQuery(encodeQuery(q), beta)
		if err != nil {
			t.Fatalf("ParseQuery(%q) accepted, but its canonical form %q fails: %v", raw, encodeQuery(q), err)
		}
		if !reflect.DeepEqual(again, q) {
			t.Fatalf("ParseQuery(%q) = %#v, but its canonical form %q reads %#v", raw, q, encodeQuery(q), again)
		}
	})
}

// encodeQuery writes q back as a raw query, options in the order given.
func encodeQuery(q Query) string {
	var parts []string
	for _, name := range q.Given {
		var v string
		switch name {
		case "$filter":
			v = q.FilterText
		case "$select":
			v = strings.Join(q.Select, ",")
		case "$orderby":
			items := make([]string, len(q.OrderBy))
			for i, o := range q.OrderBy {
				items[i] = o.Prop
				if o.Desc {
					items[i] += " desc"
				}
			}
			v = strings.Join(items, ",")
		case "$top":
			v = strconv.Itoa(q.Top)
		case "$count":
			v = strconv.FormatBool(q.Count)
		case "$skiptoken":
			v = q.SkipToken
		case "$expand":
			v = q.Expand
		case "$format":
			v = "json"
		}
		parts = append(parts, url.QueryEscape(name)+"="+url.QueryEscape(v))
	}
	return strings.Join(parts, "&")
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	ge, ok := err.(*graph.Error)
	if !ok || ge.Kind != graph.KindInvalid || ge.Code != "BadRequest" || ge.Message == "" {
		t.Fatalf("error %T %#v, want a *graph.Error of KindInvalid with code BadRequest", err, err)
	}
	// At most about 100 characters of input, plus the sentence around them.
	if n := utf8.RuneCountInString(ge.Message); n > 300 {
		t.Fatalf("message of %d characters: %q", n, ge.Message)
	}
}
