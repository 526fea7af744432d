package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// tenantC never holds a record.
const tenantC = "3f2a1c7e-0000-4000-8000-00000000000c"

// The fields the Query checks use.
var (
	fDisplayName = store.Field{Name: "displayName"}
	fTargetURL   = store.Field{Name: "targetUrl"}
	fClientID    = store.Field{Name: "clientId"}
	fTag         = store.Field{Name: "tag"}
	fFlag        = store.Field{Name: "flag", Bool: true}
)

// ---- Query utilities ----

// errPanicked stands for the result of a Query that panicked.
var errPanicked = errors.New("storetest: Query panicked")

// query runs s.Query and turns a panic into a test error.
func query(t *testing.T, s store.Store, tenant string, c store.Collection, q store.Query) (p store.Page, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Query(%q, %s, %s) panicked: %v", tenant, c, describeQuery(q), r)
			p, err = store.Page{}, errPanicked
		}
	}()
	return s.Query(t.Context(), tenant, c, q)
}

func match(f store.Field, op store.Op, vs ...store.Value) store.Cond {
	return &store.Match{Field: f, Op: op, Values: vs}
}

func and(l, r store.Cond) store.Cond { return &store.And{L: l, R: r} }
func or(l, r store.Cond) store.Cond  { return &store.Or{L: l, R: r} }
func not(x store.Cond) store.Cond    { return &store.Not{X: x} }

// describe renders a condition for failure messages, close to $filter.
func describe(c store.Cond) string {
	switch c := c.(type) {
	case nil:
		return "<nil>"
	case *store.And:
		return "(" + describe(c.L) + " and " + describe(c.R) + ")"
	case *store.Or:
		return "(" + describe(c.L) + " or " + describe(c.R) + ")"
	case *store.Not:
		return "not " + describe(c.X)
	case *store.Match:
		if c == nil {
			return "<nil match>"
		}
		var vs []string
		for _, v := range c.Values {
			switch {
			case v.Null:
				vs = append(vs, "null")
			case v.IsBool:
				vs = append(vs, fmt.Sprint(v.Bool))
			default:
				vs = append(vs, fmt.Sprintf("%q", v.Str))
			}
		}
		name := fmt.Sprintf("%q", c.Field.Name)
		if c.Field.Name == "" {
			name = "<id>"
		}
		if c.Field.Bool {
			name += "(bool)"
		}
		op := map[store.Op]string{store.Eq: "eq", store.Ne: "ne", store.Prefix: "startswith", store.Suffix: "endswith", store.In: "in"}[c.Op]
		if op == "" {
			op = fmt.Sprintf("op%d", c.Op)
		}
		return fmt.Sprintf("%s %s %s", name, op, strings.Join(vs, ","))
	}
	return fmt.Sprintf("%T", c)
}

func describeOrder(os []store.Order) string {
	var parts []string
	for _, o := range os {
		name := o.Field.Name
		if name == "" {
			name = "<id>"
		}
		if o.Desc {
			name += " desc"
		}
		parts = append(parts, name)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func describeQuery(q store.Query) string {
	return fmt.Sprintf("where %s orderby %s limit %d after %.60q count %v", describe(q.Where), describeOrder(q.OrderBy), q.Limit, q.After, q.Count)
}

func ids(rs []store.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// checkFilter queries c with cond in one page and expects want, in creation
// order, and Count = len(want).
func checkFilter(t *testing.T, s store.Store, tenant string, c store.Collection, what string, cond store.Cond, want []store.Record) {
	t.Helper()
	q := store.Query{Where: cond, Limit: 1000, Count: true}
	p, err := query(t, s, tenant, c, q)
	if err != nil {
		t.Errorf("%s: Query(%s): %v", what, describe(cond), err)
		return
	}
	if firstDifference(p.Records, want) >= 0 {
		t.Errorf("%s: Query(%s) = %v, want %v%s", what, describe(cond), ids(p.Records), ids(want), difference(p.Records, want))
	}
	if p.Count != int64(len(want)) {
		t.Errorf("%s: Query(%s) Count = %d, want %d", what, describe(cond), p.Count, len(want))
	}
	if p.Next != "" {
		t.Errorf("%s: Query(%s) with every match in one page: Next = %q, want \"\"", what, describe(cond), p.Next)
	}
}

// difference lists the records only one of got and want holds, and those
// both hold that differ.
func difference(got, want []store.Record) string {
	var b strings.Builder
	inWant := make(map[string]store.Record)
	for _, r := range want {
		inWant[r.ID] = r
	}
	inGot := make(map[string]bool)
	for _, r := range got {
		inGot[r.ID] = true
		w, ok := inWant[r.ID]
		switch {
		case !ok:
			fmt.Fprintf(&b, "\n\tunexpected %s", show(r))
		case !sameRecord(r, w):
			fmt.Fprintf(&b, "\n\tgot  %s\n\twant %s", show(r), show(w))
		}
	}
	for _, r := range want {
		if !inGot[r.ID] {
			fmt.Fprintf(&b, "\n\tmissing %s", show(r))
		}
	}
	return b.String()
}

// wantInvalid expects q to fail with an error of KindInvalid.
func wantInvalid(t *testing.T, s store.Store, tenant string, c store.Collection, what string, q store.Query) {
	t.Helper()
	p, err := query(t, s, tenant, c, q)
	if err == nil {
		t.Errorf("%s: Query(%s) returned %d records (%v), want an error of kind %d", what, describeQuery(q), len(p.Records), ids(p.Records), graph.KindInvalid)
		return
	}
	wantKind(t, fmt.Sprintf("%s: Query(%s)", what, describeQuery(q)), err, graph.KindInvalid)
}

// pageAll follows q's pages to the end. It checks that every page but the
// last is full, that the last is not empty (unless nothing matches) and, with
// q.Count, that every page counts wantCount records.
func pageAll(t *testing.T, s store.Store, tenant string, c store.Collection, q store.Query, wantCount int) (all []store.Record, sizes []int) {
	t.Helper()
	for n := 0; ; n++ {
		if n > wantCount/q.Limit+2 {
			t.Errorf("Query(%s): still a Next after %d pages of %d for %d records", describeQuery(q), n, q.Limit, wantCount)
			return all, sizes
		}
		p, err := query(t, s, tenant, c, q)
		if err != nil {
			t.Errorf("Query(%s), page %d: %v", describeQuery(q), n+1, err)
			return all, sizes
		}
		if q.Count && p.Count != int64(wantCount) {
			t.Errorf("Query(%s), page %d: Count = %d, want %d", describeQuery(q), n+1, p.Count, wantCount)
		}
		if len(p.Records) > q.Limit {
			t.Errorf("Query(%s), page %d: %d records, more than the limit", describeQuery(q), n+1, len(p.Records))
		}
		all = append(all, p.Records...)
		sizes = append(sizes, len(p.Records))
		if p.Next == "" {
			break
		}
		if len(p.Records) < q.Limit {
			t.Errorf("Query(%s), page %d: %d records and a Next, want a full page of %d", describeQuery(q), n+1, len(p.Records), q.Limit)
		}
		q.After = p.Next
	}
	if last := sizes[len(sizes)-1]; last == 0 && len(sizes) > 1 {
		t.Errorf("Query(%s): the last page is empty, want the page before it to have no Next", describeQuery(q))
	}
	return all, sizes
}

// checkOrder compares the records of a paged query with want, reporting the
// first difference.
func checkOrder(t *testing.T, what string, got, want []store.Record) {
	t.Helper()
	if i := firstDifference(got, want); i >= 0 {
		t.Errorf("%s: %d records, want %d; first difference at %d:\n\tgot  %s\n\twant %s\ngot ids  %v\nwant ids %v",
			what, len(got), len(want), i, showAt(got, i), showAt(want, i), ids(got), ids(want))
	}
}

func firstDifference(got, want []store.Record) int {
	for i := 0; i < len(got) || i < len(want); i++ {
		if i >= len(got) || i >= len(want) || !sameRecord(got[i], want[i]) {
			return i
		}
	}
	return -1
}

func showAt(rs []store.Record, i int) string {
	if i < len(rs) {
		return show(rs[i])
	}
	return "(none)"
}

// docString reads a string member of a document ("" when missing).
func docString(t *testing.T, r store.Record, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Data, &m); err != nil {
		t.Fatalf("decode %s: %v", show(r), err)
	}
	v, _ := m[name].(string)
	return v
}

// ordered returns rs (in creation order) sorted by os, ASCII case ignored;
// records equal in every key keep creation order, or its reverse with
// tiesDesc.
func ordered(t *testing.T, rs []store.Record, os []store.Order, tiesDesc bool) []store.Record {
	t.Helper()
	type keyed struct {
		r    store.Record
		seq  int
		keys []string
	}
	ks := make([]keyed, len(rs))
	for i, r := range rs {
		ks[i] = keyed{r: r, seq: i}
		for _, o := range os {
			if o.Field.Name == "" {
				ks[i].keys = append(ks[i].keys, store.Key(r.ID))
			} else {
				ks[i].keys = append(ks[i].keys, store.FoldASCII(docString(t, r, o.Field.Name)))
			}
		}
	}
	sort.Slice(ks, func(a, b int) bool {
		for i, o := range os {
			if c := strings.Compare(ks[a].keys[i], ks[b].keys[i]); c != 0 {
				return (c < 0) != o.Desc
			}
		}
		return (ks[a].seq < ks[b].seq) != tiesDesc
	})
	out := make([]store.Record, len(ks))
	for i, k := range ks {
		out[i] = k.r
	}
	return out
}

// ---- QueryFilter ----

func testQueryFilter(t *testing.T, s store.Store) {
	t.Run("Strings", func(t *testing.T) { filterStrings(t, s) })
	t.Run("IDsBoolsCombinations", func(t *testing.T) { filterIDsBools(t, s) })
	t.Run("Errors", func(t *testing.T) { filterErrors(t, s) })
}

// The values of filterStrings that are no strings.
const (
	missing = "\x00missing" // the member is absent
	null    = "\x00null"    // the member is JSON null
)

// filterStrings matches string members. Every document holds the same value
// in displayName, which backends may store apart, and in targetUrl, an
// ordinary member, so that both answer every case alike.
func filterStrings(t *testing.T, s store.Store) {
	c := store.APIConnectors
	values := []string{
		"ABC", "abc", "Abc Def", "Ärger", "ärger", "50% off", "50x off", "a_b", "axb",
		`back\slash`, `it's "quoted"`, "Zoë 🚀", "", missing, null,
	}
	var all []store.Record
	byValue := make(map[string]store.Record)
	for i, v := range values {
		doc := map[string]any{"displayName": v, "targetUrl": v, "flag": i%2 == 0}
		switch v {
		case missing:
			doc = map[string]any{"other": "x"}
		case null:
			doc = map[string]any{"displayName": nil, "targetUrl": nil}
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		r := mustCreate(t, s, tenantA, c, fmt.Sprintf("Str-%02d", i), data)
		byValue[v] = r
		all = append(all, r)
	}
	// vals names the documents holding vs; allBut every document but
	// those, presentBut every document with the member but those.
	vals := func(vs ...string) []string { return vs }
	allBut := func(vs ...string) []string {
		var out []string
		for _, v := range values {
			if !contains(vs, v) {
				out = append(out, v)
			}
		}
		return out
	}
	presentBut := func(vs ...string) []string { return allBut(append(vs, missing, null)...) }
	none := []string{}

	for _, f := range []store.Field{fDisplayName, fTargetURL} {
		eq := func(v string) store.Cond { return match(f, store.Eq, store.String(v)) }
		ne := func(v string) store.Cond { return match(f, store.Ne, store.String(v)) }
		pre := func(v string) store.Cond { return match(f, store.Prefix, store.String(v)) }
		suf := func(v string) store.Cond { return match(f, store.Suffix, store.String(v)) }
		in := func(vs ...store.Value) store.Cond { return match(f, store.In, vs...) }
		str := store.String
		cases := []struct {
			cond store.Cond
			want []string
		}{
			// eq and ne: ASCII case is ignored, other letters compare exactly.
			{eq("abc"), vals("ABC", "abc")},
			{eq("ABC"), vals("ABC", "abc")},
			{eq("aBc"), vals("ABC", "abc")},
			{eq("ab"), none},
			{eq("ÄRGER"), vals("Ärger")},
			{eq("äRGER"), vals("ärger")},
			{eq("ärger"), vals("ärger")},
			{eq("ZOË 🚀"), none},
			{eq("zoë 🚀"), vals("Zoë 🚀")},
			{eq(`IT'S "QUOTED"`), vals(`it's "quoted"`)},
			{eq(`it''s "quoted"`), none},
			{eq(`BACK\SLASH`), vals(`back\slash`)},
			{eq("50% OFF"), vals("50% off")},
			{eq("50_ off"), none},
			{eq("a%"), none},
			{eq(""), vals("")},
			{match(f, store.Eq, store.Null), vals(missing, null)},
			{match(f, store.Ne, store.Null), presentBut()},
			{ne("abc"), allBut("ABC", "abc")},
			{ne("ÄRGER"), allBut("Ärger")},
			{ne("ärger"), allBut("ärger")},
			{ne(""), allBut("")},
			// startswith and endswith: "" matches every present value;
			// % _ \ and quotes are plain characters.
			{pre(""), presentBut()},
			{suf(""), presentBut()},
			{pre("ab"), vals("ABC", "abc", "Abc Def")},
			{pre("AB"), vals("ABC", "abc", "Abc Def")},
			{pre("abc"), vals("ABC", "abc", "Abc Def")},
			{pre("abc def"), vals("Abc Def")},
			{pre("Abc Def "), none},
			{pre("50%"), vals("50% off")},
			{pre("50_"), none},
			{pre("a_"), vals("a_b")},
			{pre("a%"), none},
			{pre("%"), none},
			{pre("_"), none},
			{pre(`back\`), vals(`back\slash`)},
			{pre(`back\\`), none},
			{pre(`it's "`), vals(`it's "quoted"`)},
			{pre(`it''s`), none},
			{pre(`IT'S "QUOTED"`), vals(`it's "quoted"`)},
			{pre("Zoë"), vals("Zoë 🚀")},
			{pre("zOë"), vals("Zoë 🚀")},
			{pre("ZOË"), none},
			{pre("Zoë 🚀"), vals("Zoë 🚀")},
			{pre("Zoë 🚀!"), none},
			{pre("Ä"), vals("Ärger")},
			{pre("ä"), vals("ärger")},
			{suf("abc"), vals("ABC", "abc")},
			{suf("BC"), vals("ABC", "abc")},
			{suf("xabc"), none},
			{suf("C DEF"), vals("Abc Def")},
			{suf(" OFF"), vals("50% off", "50x off")},
			{suf("% off"), vals("50% off")},
			{suf("_ off"), none},
			{suf("_b"), vals("a_b")},
			{suf("%"), none},
			{suf(`\slash`), vals(`back\slash`)},
			{suf(`\\slash`), none},
			{suf(`"quoted"`), vals(`it's "quoted"`)},
			{suf(`'S "QUOTED"`), vals(`it's "quoted"`)},
			{suf("🚀"), vals("Zoë 🚀")},
			{suf("ë 🚀"), vals("Zoë 🚀")},
			{suf("Ë 🚀"), none},
			{suf("RGER"), vals("Ärger", "ärger")},
			{suf("Ärger"), vals("Ärger")},
			{suf("ärger!"), none},
			// in, also with null.
			{in(str("abc"), str("a_b")), vals("ABC", "abc", "a_b")},
			{in(str("ÄRGER"), str("nothing")), vals("Ärger")},
			{in(str("50% OFF")), vals("50% off")},
			{in(store.Null, str("abc")), vals("ABC", "abc", missing, null)},
			{in(store.Null), vals(missing, null)},
			{in(str(""), str("nothing")), vals("")},
			// not: as in OData, eq, ne and in are never unknown (null eq 'x'
			// is false); startswith and endswith of a missing member are
			// unknown, and so is their negation.
			{not(eq("abc")), allBut("ABC", "abc")},
			{not(ne("abc")), vals("ABC", "abc")},
			{not(eq("")), allBut("")},
			{not(match(f, store.Eq, store.Null)), presentBut()},
			{not(match(f, store.Ne, store.Null)), vals(missing, null)},
			{not(pre("ab")), presentBut("ABC", "abc", "Abc Def")},
			{not(suf(" off")), presentBut("50% off", "50x off")},
			{not(suf("")), none},
			{not(pre("")), none},
			{not(in(str("abc"))), allBut("ABC", "abc")},
			{not(in(store.Null, str("abc"))), presentBut("ABC", "abc")},
			{not(not(eq("abc"))), vals("ABC", "abc")},
			// and, or.
			{or(eq("abc"), pre("50")), vals("ABC", "abc", "50% off", "50x off")},
			{or(match(f, store.Eq, store.Null), eq("abc")), vals("ABC", "abc", missing, null)},
			{and(pre("a"), suf("b")), vals("a_b", "axb")},
			{and(pre("50"), not(suf("x off"))), vals("50% off")},
			{and(ne("abc"), match(f, store.Ne, store.Null)), presentBut("ABC", "abc")},
			{not(or(eq("abc"), match(f, store.Eq, store.Null))), presentBut("ABC", "abc")},
			// unknown and true is unknown, unknown and false is false.
			{not(and(eq("abc"), match(f, store.Eq, store.Null))), allBut()},
			{not(and(pre("a"), match(f, store.Ne, store.Null))), allBut("ABC", "abc", "Abc Def", "a_b", "axb")},
			{or(not(eq("abc")), match(f, store.Eq, store.Null)), allBut("ABC", "abc")},
		}
		for _, tc := range cases {
			var want []store.Record
			for _, v := range tc.want {
				r, ok := byValue[v]
				if !ok {
					t.Fatalf("case %s: no document holds %q (a bug in the suite)", describe(tc.cond), v)
				}
				want = append(want, r)
			}
			sortByCreation(want, all)
			checkFilter(t, s, tenantA, c, f.Name, tc.cond, want)
		}
	}
	checkFilter(t, s, tenantA, c, "no condition", nil, all)
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// sortByCreation puts rs in the order of all.
func sortByCreation(rs, all []store.Record) {
	pos := make(map[string]int, len(all))
	for i, r := range all {
		pos[r.ID] = i
	}
	sort.SliceStable(rs, func(a, b int) bool { return pos[rs[a].ID] < pos[rs[b].ID] })
}

// filterIDsBools matches the id, boolean members and conditions over several
// members.
func filterIDsBools(t *testing.T, s store.Store) {
	c := store.IdentityProviders
	docs := []struct{ id, doc string }{
		{"Google-OAUTH", `{"displayName":"Google","clientId":"g-1","flag":true}`},
		{"Amazon-OAUTH", `{"displayName":"Amazon","clientId":"a-1","flag":false}`},
		{"Ärger-IdP", `{"displayName":"Ärger","clientId":"ä-1"}`},
		{"Facebook-OAUTH", `{"displayName":"Facebook","flag":true}`},
		{"B2X_1_Flow", `{"displayName":"Flow","clientId":"G-1"}`},
	}
	var all []store.Record
	byID := make(map[string]store.Record)
	for _, d := range docs {
		r := mustCreate(t, s, tenantA, c, d.id, []byte(d.doc))
		all = append(all, r)
		byID[d.id] = r
	}
	// Something in another collection and tenant that every condition
	// below would match.
	mustCreate(t, s, tenantB, c, "Google-OAUTH", []byte(docs[0].doc))
	mustCreate(t, s, tenantA, store.APIConnectors, "Facebook-OAUTH", []byte(docs[3].doc))

	str, bv := store.String, store.Bool
	id := func(op store.Op, vs ...store.Value) store.Cond { return match(store.FieldID, op, vs...) }
	flag := func(op store.Op, vs ...store.Value) store.Cond { return match(fFlag, op, vs...) }
	client := func(op store.Op, vs ...store.Value) store.Cond { return match(fClientID, op, vs...) }
	const (
		g, a, ae, f, b2x = "Google-OAUTH", "Amazon-OAUTH", "Ärger-IdP", "Facebook-OAUTH", "B2X_1_Flow"
	)
	cases := []struct {
		cond store.Cond
		want []string
	}{
		// The id compares as store.Key: any case, not only ASCII.
		{id(store.Eq, str("google-oauth")), []string{g}},
		{id(store.Eq, str("GOOGLE-OAUTH")), []string{g}},
		{id(store.Eq, str("ärger-idp")), []string{ae}},
		{id(store.Eq, str("ÄRGER-IDP")), []string{ae}},
		{id(store.Eq, str("Ärger")), nil},
		{match(store.Field{Name: ""}, store.Eq, str("AMAZON-oauth")), []string{a}},
		{id(store.Ne, str("amazon-OAUTH")), []string{g, ae, f, b2x}},
		{id(store.Eq, store.Null), nil},
		{id(store.Ne, store.Null), []string{g, a, ae, f, b2x}},
		{id(store.Prefix, str("")), []string{g, a, ae, f, b2x}},
		{id(store.Prefix, str("AM")), []string{a}},
		{id(store.Prefix, str("b2x_1_")), []string{b2x}},
		{id(store.Prefix, str("b2x%")), nil},
		{id(store.Prefix, str("Ä")), []string{ae}},
		{id(store.Prefix, str("b2x_1_flow")), []string{b2x}},
		{id(store.Suffix, str("-OAuth")), []string{g, a, f}},
		{id(store.Suffix, str("-IDP")), []string{ae}},
		{id(store.Suffix, str("ÄRGER-IDP")), []string{ae}},
		{id(store.Suffix, str("_flow")), []string{b2x}},
		{id(store.In, str("AMAZON-OAUTH"), str("facebook-oauth"), str("nope")), []string{a, f}},
		{id(store.In, store.Null, str("google-oauth")), []string{g}},
		{not(id(store.Eq, str("google-oauth"))), []string{a, ae, f, b2x}},
		// A missing boolean is false.
		{flag(store.Eq, bv(true)), []string{g, f}},
		{flag(store.Eq, bv(false)), []string{a, ae, b2x}},
		{flag(store.Ne, bv(true)), []string{a, ae, b2x}},
		{flag(store.Ne, bv(false)), []string{g, f}},
		{flag(store.In, bv(true)), []string{g, f}},
		{flag(store.In, bv(false)), []string{a, ae, b2x}},
		{flag(store.In, bv(true), bv(false)), []string{g, a, ae, f, b2x}},
		{not(flag(store.Eq, bv(true))), []string{a, ae, b2x}},
		{not(flag(store.Ne, bv(false))), []string{a, ae, b2x}},
		// Another string member, missing in one document.
		{client(store.Eq, str("G-1")), []string{g, b2x}},
		{client(store.Eq, store.Null), []string{f}},
		{client(store.Ne, str("g-1")), []string{a, ae, f}},
		{not(client(store.Eq, str("g-1"))), []string{a, ae, f}},
		{client(store.Prefix, str("A")), []string{a}},
		{client(store.Prefix, str("Ä")), nil},
		{not(client(store.Prefix, str("a"))), []string{g, ae, b2x}},
		{match(fDisplayName, store.Prefix, str("f")), []string{f, b2x}},
		// Several members.
		{and(flag(store.Eq, bv(true)), client(store.Eq, store.Null)), []string{f}},
		{or(flag(store.Eq, bv(false)), match(fDisplayName, store.Prefix, str("G"))), []string{g, a, ae, b2x}},
		{and(not(flag(store.Eq, bv(true))), not(client(store.Prefix, str("a")))), []string{ae, b2x}},
		{or(id(store.Eq, str("facebook-oauth")), client(store.Eq, str("a-1"))), []string{a, f}},
		{and(id(store.Suffix, str("-oauth")), flag(store.Ne, bv(true))), []string{a}},
		{not(or(client(store.Eq, str("g-1")), flag(store.Eq, bv(true)))), []string{a, ae}},
		// unknown and true is unknown; unknown and false is false.
		{not(and(client(store.Eq, str("x")), flag(store.Eq, bv(true)))), []string{g, a, ae, f, b2x}},
		{not(and(client(store.Eq, str("x")), flag(store.Eq, bv(false)))), []string{g, a, ae, f, b2x}},
		{or(not(client(store.Eq, str("g-1"))), flag(store.Eq, bv(true))), []string{g, a, ae, f}},
		{and(match(fDisplayName, store.Ne, str("google")), or(id(store.Prefix, str("a")), id(store.Prefix, str("f")))), []string{a, f}},
	}
	for _, tc := range cases {
		var want []store.Record
		for _, id := range tc.want {
			r, ok := byID[id]
			if !ok {
				t.Fatalf("case %s: no record %q (a bug in the suite)", describe(tc.cond), id)
			}
			want = append(want, r)
		}
		sortByCreation(want, all)
		checkFilter(t, s, tenantA, c, "ids and booleans", tc.cond, want)
	}

	// Conditions as deep and as wide as $filter allows (50 levels, 100
	// nodes).
	deep := flag(store.Eq, bv(true))
	for range 24 {
		deep = not(not(deep))
	}
	checkFilter(t, s, tenantA, c, "48 nots", deep, []store.Record{byID[g], byID[f]})
	deep = id(store.Ne, str("nothing"))
	for i := range 48 {
		if i%2 == 0 {
			deep = and(deep, client(store.Ne, str(fmt.Sprintf("x%d", i))))
		} else {
			deep = or(match(fDisplayName, store.Eq, str(fmt.Sprintf("y%d", i))), deep)
		}
	}
	checkFilter(t, s, tenantA, c, "48 nested and/or", deep, all)
	wide := []store.Value{str("ÄRGER-IDP")}
	for i := range 98 {
		wide = append(wide, str(fmt.Sprintf("id-%d", i)))
	}
	checkFilter(t, s, tenantA, c, "in with 99 values", id(store.In, wide...), []store.Record{byID[ae]})

	// Updates show in the next query; a record keeps its place.
	up, err := s.Update(t.Context(), tenantA, c, "facebook-oauth", func(store.Tx, store.Record) ([]byte, error) {
		return []byte(`{"displayName":"Meta","clientId":"m-1","flag":false}`), nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	all[3] = up
	checkFilter(t, s, tenantA, c, "after an Update", flag(store.Eq, bv(true)), []store.Record{byID[g]})
	checkFilter(t, s, tenantA, c, "after an Update", match(fDisplayName, store.Eq, str("meta")), []store.Record{up})
	checkFilter(t, s, tenantA, c, "after an Update", match(fDisplayName, store.Eq, str("facebook")), nil)
	checkFilter(t, s, tenantA, c, "after an Update", client(store.Eq, str("M-1")), []store.Record{up})
	checkFilter(t, s, tenantA, c, "after an Update", nil, all)
}

// queryCase is a query and what it stands for.
type queryCase struct {
	what string
	q    store.Query
}

// filterErrors: conditions that cannot be answered are errors of
// KindInvalid, and no condition makes a backend panic.
func filterErrors(t *testing.T, s store.Store) {
	c := store.APIConnectors
	mustCreate(t, s, tenantA, c, "Conn-1", []byte(`{"displayName":"a.b","targetUrl":"x'y","a":{"b":"c"},"flag":true}`))
	mustCreate(t, s, tenantA, c, "Conn-2", []byte(`{"displayName":"Other","x'y":"v","a.b":"v","":"v"}`))

	str, bv := store.String, store.Bool
	ok := match(fDisplayName, store.Eq, str("a.b"))
	invalid := []queryCase{
		{"string literal on a boolean", store.Query{Where: match(fFlag, store.Eq, str("true"))}},
		{"string literal on a boolean (ne)", store.Query{Where: match(fFlag, store.Ne, str(""))}},
		{"string literal in a boolean in", store.Query{Where: match(fFlag, store.In, bv(true), str("x"))}},
		{"boolean literal on displayName", store.Query{Where: match(fDisplayName, store.Eq, bv(true))}},
		{"boolean literal on a string", store.Query{Where: match(fTargetURL, store.Eq, bv(false))}},
		{"boolean literal in a string in", store.Query{Where: match(fTargetURL, store.In, str("a"), bv(false))}},
		{"boolean literal on the id", store.Query{Where: match(store.FieldID, store.Eq, bv(true))}},
		{"boolean literal in startswith", store.Query{Where: match(fTargetURL, store.Prefix, bv(true))}},
		{"type mismatch under not", store.Query{Where: not(match(fFlag, store.Eq, str("true")))}},
		{"type mismatch on the right of or", store.Query{Where: or(ok, match(fFlag, store.Eq, str("true")))}},
		{"type mismatch on the left of and", store.Query{Where: and(match(fDisplayName, store.Ne, bv(false)), ok)}},
		{"unknown comparison", store.Query{Where: match(fDisplayName, store.Op(99), str("x"))}},
		{"nil condition under and", store.Query{Where: and(ok, nil)}},
		{"nil condition under or", store.Query{Where: or(nil, ok)}},
		{"nil condition under not", store.Query{Where: not(nil)}},
	}
	for _, name := range []string{"a.b", "x'y", `x"y`, "a b", "$.a", "a[0]", "a)", "a;--", "a\x00b"} {
		for _, isBool := range []bool{false, true} {
			f := store.Field{Name: name, Bool: isBool}
			lit := str("v")
			if isBool {
				lit = bv(true)
			}
			what := fmt.Sprintf("field name %q (bool %v)", name, isBool)
			invalid = append(invalid,
				queryCase{what + " eq", store.Query{Where: match(f, store.Eq, lit)}},
				queryCase{what + " eq null", store.Query{Where: match(f, store.Eq, store.Null)}},
				queryCase{what + " ne", store.Query{Where: match(f, store.Ne, lit)}},
				queryCase{what + " in", store.Query{Where: match(f, store.In, lit, store.Null)}},
				queryCase{what + " under not and or", store.Query{Where: or(ok, not(and(ok, match(f, store.Eq, lit))))}},
			)
			if !isBool {
				invalid = append(invalid,
					queryCase{what + " startswith", store.Query{Where: match(f, store.Prefix, lit)}},
					queryCase{what + " endswith", store.Query{Where: match(f, store.Suffix, lit)}},
					queryCase{what + " in orderby", store.Query{OrderBy: []store.Order{{Field: fDisplayName}, {Field: f, Desc: true}}}},
				)
			}
		}
	}
	for _, tc := range invalid {
		tc.q.Limit = 10
		wantInvalid(t, s, tenantA, c, tc.what, tc.q)
		// Still invalid when the query counts too.
		tc.q.Count = true
		wantInvalid(t, s, tenantA, c, tc.what+" (count)", tc.q)
	}

	// The name "" is the id, not a member named "".
	checkFilter(t, s, tenantA, c, `field ""`, match(store.Field{Name: ""}, store.Eq, str("CONN-2")), []store.Record{mustGet(t, s, tenantA, c, "Conn-2")})

	// Shapes the contract leaves open: a backend may refuse them (with
	// KindInvalid) or answer them, but must not panic.
	for _, tc := range []queryCase{
		{"eq without a value", store.Query{Where: match(fDisplayName, store.Eq)}},
		{"eq with two values", store.Query{Where: match(fDisplayName, store.Eq, str("a.b"), str("Other"))}},
		{"in without values", store.Query{Where: match(fDisplayName, store.In)}},
		{"startswith null", store.Query{Where: match(fDisplayName, store.Prefix, store.Null)}},
		{"endswith null", store.Query{Where: match(fTargetURL, store.Suffix, store.Null)}},
		{"startswith on a boolean", store.Query{Where: match(fFlag, store.Prefix, bv(true))}},
		{"boolean eq null", store.Query{Where: match(fFlag, store.Eq, store.Null)}},
		{"boolean in null", store.Query{Where: match(fFlag, store.In, store.Null, bv(true))}},
		{"order by a boolean", store.Query{OrderBy: []store.Order{{Field: fFlag}}}},
		{"order by the id twice", store.Query{OrderBy: []store.Order{{Field: store.FieldID}, {Field: store.FieldID, Desc: true}}}},
	} {
		tc.q.Limit = 10
		if _, err := query(t, s, tenantA, c, tc.q); err != nil && !errors.Is(err, errPanicked) {
			wantKind(t, fmt.Sprintf("%s: Query(%s)", tc.what, describeQuery(tc.q)), err, graph.KindInvalid)
		}
	}
}

// ---- QueryPaging ----

func testQueryPaging(t *testing.T, s store.Store) {
	c := store.APIConnectors
	words := []string{"alpha", "Bravo", "CHARLIE", "delta", "Echo"}
	tags := []string{"t0", "T1", "t2", "T0", "t1", "T2"}
	spellings := []string{"conn", "CONN", "Conn"}
	var all, flagged []store.Record
	for i := range 250 {
		// Names repeat in several spellings (ties under ASCII case); ids
		// are not in creation order.
		word := words[(i*3)%len(words)]
		if i%2 == 1 {
			word = strings.ToUpper(word)
		}
		doc := map[string]any{
			"displayName": fmt.Sprintf("%s%d", word, (i/7)%10),
			"targetUrl":   fmt.Sprintf("https://example.com/%d", i),
			"tag":         tags[i%len(tags)],
		}
		if i%4 == 0 {
			doc["flag"] = true
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		r := mustCreate(t, s, tenantA, c, fmt.Sprintf("%s%03d", spellings[i%3], (i*97)%250), data)
		all = append(all, r)
		if i%4 == 0 {
			flagged = append(flagged, r)
		}
	}
	// Other tenants and collections hold records the pages must skip.
	for i := range 20 {
		mustCreate(t, s, tenantB, c, fmt.Sprintf("conn%03d", i), []byte(`{"displayName":"alpha0","tag":"t0","flag":true}`))
		mustCreate(t, s, tenantA, store.IdentityProviders, fmt.Sprintf("conn%03d", i), []byte(`{"displayName":"alpha0","tag":"t0","flag":true}`))
	}

	t.Run("CreationOrder", func(t *testing.T) {
		got, sizes := pageAll(t, s, tenantA, c, store.Query{Limit: 100, Count: true}, len(all))
		if fmt.Sprint(sizes) != "[100 100 50]" {
			t.Errorf("page sizes %v, want [100 100 50]", sizes)
		}
		checkOrder(t, "pages in creation order", got, all)

		got, sizes = pageAll(t, s, tenantA, c, store.Query{Limit: 50}, len(all))
		if fmt.Sprint(sizes) != "[50 50 50 50 50]" {
			t.Errorf("page sizes %v with limit 50, want [50 50 50 50 50] (the fifth page has no Next)", sizes)
		}
		checkOrder(t, "pages of 50 in creation order", got, all)

		got, sizes = pageAll(t, s, tenantA, c, store.Query{Limit: 1000, Count: true}, len(all))
		if fmt.Sprint(sizes) != "[250]" {
			t.Errorf("page sizes %v with limit 1000, want [250]", sizes)
		}
		checkOrder(t, "one page of everything", got, all)

		got, _ = pageAll(t, s, tenantA, c, store.Query{Where: match(fFlag, store.Eq, store.Bool(true)), Limit: 9, Count: true}, len(flagged))
		checkOrder(t, "pages of 9 of the flagged records", got, flagged)

		got, _ = pageAll(t, s, tenantA, c, store.Query{Where: match(fDisplayName, store.Eq, store.String("nothing")), Limit: 10, Count: true}, 0)
		checkOrder(t, "pages of a filter matching nothing", got, nil)

		got, sizes = pageAll(t, s, tenantA, c, store.Query{Limit: math.MaxInt, Count: true}, len(all))
		if fmt.Sprint(sizes) != "[250]" {
			t.Errorf("page sizes %v with the largest limit, want [250]", sizes)
		}
		checkOrder(t, "one page with the largest limit", got, all)
	})

	t.Run("Orders", func(t *testing.T) {
		dn, id, tag := fDisplayName, store.FieldID, fTag
		for _, tc := range []struct {
			order []store.Order
			where store.Cond
			limit int
		}{
			{order: []store.Order{{Field: dn}}, limit: 100},
			{order: []store.Order{{Field: dn}}, limit: 3},
			{order: []store.Order{{Field: dn, Desc: true}}, limit: 100},
			{order: []store.Order{{Field: dn, Desc: true}}, limit: 4},
			{order: []store.Order{{Field: id}}, limit: 100},
			{order: []store.Order{{Field: id, Desc: true}}, limit: 7},
			{order: []store.Order{{Field: tag}}, limit: 11},
			{order: []store.Order{{Field: tag, Desc: true}}, limit: 100},
			{order: []store.Order{{Field: dn}, {Field: tag}}, limit: 6},
			{order: []store.Order{{Field: dn, Desc: true}, {Field: tag, Desc: true}}, limit: 6},
			{order: []store.Order{{Field: dn}, {Field: tag}}, where: match(fFlag, store.Eq, store.Bool(true)), limit: 5},
			{order: []store.Order{{Field: dn, Desc: true}}, where: match(dn, store.Prefix, store.String("b")), limit: 8},
			{order: []store.Order{{Field: dn, Desc: true}}, where: or(match(tag, store.Eq, store.String("t1")), match(dn, store.Suffix, store.String("3"))), limit: 8},
		} {
			src := all
			if tc.where != nil {
				src = filterRecords(t, all, tc.where)
			}
			desc := true
			for _, o := range tc.order {
				desc = desc && o.Desc
			}
			q := store.Query{Where: tc.where, OrderBy: tc.order, Limit: tc.limit, Count: true}
			got, _ := pageAll(t, s, tenantA, c, q, len(src))
			checkOrder(t, fmt.Sprintf("Query(%s)", describeQuery(q)), got, ordered(t, src, tc.order, desc))
		}

		// Mixed directions: ties may follow creation order or its reverse.
		for _, tc := range []struct {
			order []store.Order
			limit int
		}{
			{[]store.Order{{Field: tag}, {Field: dn, Desc: true}}, 9},
			{[]store.Order{{Field: tag, Desc: true}, {Field: dn}}, 100},
			{[]store.Order{{Field: dn, Desc: true}, {Field: id}}, 13},
			{[]store.Order{{Field: dn}, {Field: tag, Desc: true}, {Field: fTargetURL}}, 10},
		} {
			q := store.Query{OrderBy: tc.order, Limit: tc.limit, Count: true}
			got, _ := pageAll(t, s, tenantA, c, q, len(all))
			asc, desc := ordered(t, all, tc.order, false), ordered(t, all, tc.order, true)
			if firstDifference(got, asc) >= 0 && firstDifference(got, desc) >= 0 {
				checkOrder(t, fmt.Sprintf("Query(%s), ties in creation order", describeQuery(q)), got, asc)
				checkOrder(t, fmt.Sprintf("Query(%s), ties in reverse creation order", describeQuery(q)), got, desc)
			}
		}
	})

	t.Run("MissingKeys", func(t *testing.T) { pagingMissingKeys(t, s) })

	t.Run("Cursors", func(t *testing.T) {
		dn := []store.Order{{Field: fDisplayName}}
		for _, q := range []store.Query{{Limit: 10}, {OrderBy: dn, Limit: 10}, {Where: match(fFlag, store.Eq, store.Bool(true)), Limit: 10}} {
			for _, after := range []string{"x", "garbage", "{", "[]", "null", "{}", "\x00\xff\xfe", `"a"`, "-1", strings.Repeat("A", 10000)} {
				q.After = after
				wantInvalid(t, s, tenantA, c, "a garbage cursor", q)
			}
		}
		wantInvalid(t, s, tenantA, c, "limit 0", store.Query{})
		wantInvalid(t, s, tenantA, c, "limit 0 with a count", store.Query{Count: true, OrderBy: dn})
		wantInvalid(t, s, tenantA, c, "limit -1", store.Query{Limit: -1})

		// A cursor of another query is refused or answered with a correct
		// page: a run of the query's own order.
		id, tag := []store.Order{{Field: store.FieldID}}, []store.Order{{Field: fTag}}
		dnDesc := []store.Order{{Field: fDisplayName, Desc: true}}
		idDesc := []store.Order{{Field: store.FieldID, Desc: true}}
		dnTag := []store.Order{{Field: fDisplayName}, {Field: fTag}}
		flag := match(fFlag, store.Eq, store.Bool(true))
		for _, tc := range []struct {
			from, to store.Query
		}{
			{store.Query{OrderBy: dn}, store.Query{}},
			{store.Query{}, store.Query{OrderBy: dn}},
			{store.Query{OrderBy: dn}, store.Query{OrderBy: id}},
			{store.Query{OrderBy: dn}, store.Query{OrderBy: dnDesc}},
			{store.Query{OrderBy: dnDesc}, store.Query{OrderBy: dn}},
			{store.Query{OrderBy: dn}, store.Query{OrderBy: dnTag}},
			{store.Query{OrderBy: dnTag}, store.Query{OrderBy: dn}},
			{store.Query{OrderBy: id}, store.Query{OrderBy: idDesc}},
			{store.Query{OrderBy: tag}, store.Query{OrderBy: id}},
			{store.Query{OrderBy: id}, store.Query{OrderBy: tag}},
			{store.Query{Where: flag}, store.Query{}},
			{store.Query{Where: flag, OrderBy: dn}, store.Query{OrderBy: dn}},
		} {
			for _, skip := range []int{1, 3} {
				from := tc.from
				from.Limit = 10
				var next string
				for range skip {
					p, err := query(t, s, tenantA, c, from)
					if err != nil {
						t.Fatalf("Query(%s): %v", describeQuery(from), err)
					}
					next, from.After = p.Next, p.Next
				}
				to := tc.to
				to.Limit, to.After = 10, next
				p, err := query(t, s, tenantA, c, to)
				if err != nil {
					if !errors.Is(err, errPanicked) {
						wantKind(t, fmt.Sprintf("Query(%s) with the cursor of Query(%s)", describeQuery(to), describeQuery(from)), err, graph.KindInvalid)
					}
					continue
				}
				src := all
				if to.Where != nil {
					src = filterRecords(t, all, to.Where)
				}
				desc := len(to.OrderBy) > 0 && to.OrderBy[0].Desc
				checkRun(t, fmt.Sprintf("Query(%s) with the cursor of Query(%s)", describeQuery(to), describeQuery(from)), p.Records, ordered(t, src, to.OrderBy, desc), to.Limit)
			}
		}
	})

	t.Run("WritesBetweenPages", func(t *testing.T) {
		for i, tc := range []struct {
			c     store.Collection
			order []store.Order
		}{
			{store.Users, nil},
			{store.Apps, []store.Order{{Field: fDisplayName}}},
			{store.UserFlows, []store.Order{{Field: fDisplayName, Desc: true}}},
			{store.Users, []store.Order{{Field: store.FieldID}}},
		} {
			tenant := []string{tenantA, tenantA, tenantA, tenantB}[i]
			pagesWithWrites(t, s, tenant, tc.c, tc.order)
		}
	})
}

// pagingMissingKeys orders by members some documents lack or hold as null.
// Where those documents come is the backend's choice, but each comes exactly
// once, and the others keep their order.
func pagingMissingKeys(t *testing.T, s store.Store) {
	c := store.Apps
	var all, named []store.Record
	for i := range 40 {
		var doc string
		switch i % 4 {
		case 0:
			doc = `{"other":1}`
		case 1:
			doc = `{"displayName":null,"note":null}`
		default:
			doc = fmt.Sprintf(`{"displayName":"%c%d","note":"n%d"}`, 'a'+rune(i%3), i%5, i%7)
		}
		r := mustCreate(t, s, tenantC, c, fmt.Sprintf("App-%02d", i), []byte(doc))
		all = append(all, r)
		if i%4 >= 2 {
			named = append(named, r)
		}
	}
	for _, order := range [][]store.Order{
		{{Field: fDisplayName}},
		{{Field: fDisplayName, Desc: true}},
		{{Field: store.Field{Name: "note"}}},
		{{Field: store.Field{Name: "note"}, Desc: true}},
		{{Field: fDisplayName}, {Field: store.Field{Name: "note"}, Desc: true}},
	} {
		q := store.Query{OrderBy: order, Limit: 3, Count: true}
		got, _ := pageAll(t, s, tenantC, c, q, len(all))
		seen := make(map[string]int)
		var gotNamed []store.Record
		for _, r := range got {
			seen[r.ID]++
			if docString(t, r, "displayName") != "" {
				gotNamed = append(gotNamed, r)
			}
		}
		for _, r := range all {
			if seen[r.ID] != 1 {
				t.Errorf("Query(%s): %s returned %d times, want once", describeQuery(q), r.ID, seen[r.ID])
			}
		}
		desc := true
		for _, o := range order {
			desc = desc && o.Desc
		}
		want, wantOther := ordered(t, named, order, desc), ordered(t, named, order, !desc)
		if firstDifference(gotNamed, want) >= 0 && (len(order) == 1 || firstDifference(gotNamed, wantOther) >= 0) {
			checkOrder(t, fmt.Sprintf("Query(%s), the records that hold the keys", describeQuery(q)), gotNamed, want)
		}
	}
}

// filterRecords evaluates a condition of the subset the paging checks use
// (eq and startswith/endswith on present string members, eq on booleans,
// or) in Go.
func filterRecords(t *testing.T, rs []store.Record, cond store.Cond) []store.Record {
	t.Helper()
	var holds func(r store.Record, c store.Cond) bool
	holds = func(r store.Record, c store.Cond) bool {
		switch c := c.(type) {
		case *store.Or:
			return holds(r, c.L) || holds(r, c.R)
		case *store.Match:
			var m map[string]any
			if err := json.Unmarshal(r.Data, &m); err != nil {
				t.Fatalf("decode %s: %v", show(r), err)
			}
			v := c.Values[0]
			if c.Field.Bool {
				b, _ := m[c.Field.Name].(bool)
				return c.Op == store.Eq && b == v.Bool
			}
			got, want := store.FoldASCII(m[c.Field.Name].(string)), store.FoldASCII(v.Str)
			switch c.Op {
			case store.Eq:
				return got == want
			case store.Prefix:
				return strings.HasPrefix(got, want)
			case store.Suffix:
				return strings.HasSuffix(got, want)
			}
		}
		t.Fatalf("filterRecords cannot evaluate %s (a bug in the suite)", describe(c))
		return false
	}
	var out []store.Record
	for _, r := range rs {
		if holds(r, cond) {
			out = append(out, r)
		}
	}
	return out
}

// checkRun expects got to be distinct records that follow each other in
// full, at most limit of them.
func checkRun(t *testing.T, what string, got, full []store.Record, limit int) {
	t.Helper()
	if len(got) > limit {
		t.Errorf("%s: %d records, more than the limit %d", what, len(got), limit)
	}
	if len(got) == 0 {
		return
	}
	start := -1
	for i, r := range full {
		if r.ID == got[0].ID {
			start = i
		}
	}
	if start < 0 {
		t.Errorf("%s: returned %s, which does not match the query", what, show(got[0]))
		return
	}
	end := min(start+len(got), len(full))
	if firstDifference(got, full[start:end]) >= 0 {
		t.Errorf("%s: records %v are not a run of the query's order (from %d: %v)", what, ids(got), start, ids(full[start:end]))
	}
}

// pagesWithWrites pages through a collection of 30 records, 7 at a time,
// creating and deleting records between the pages: no record comes twice,
// every record that stays is returned once, a record deleted before its
// page never comes, and every page counts the records of its moment.
func pagesWithWrites(t *testing.T, s store.Store, tenant string, c store.Collection, order []store.Order) {
	t.Helper()
	type state struct {
		initial, deleted, seen bool
	}
	recs := make(map[string]*state) // by store.Key
	create := func(id, name string) {
		t.Helper()
		mustCreate(t, s, tenant, c, id, []byte(fmt.Sprintf(`{"displayName":%q}`, name)))
		recs[store.Key(id)] = &state{}
	}
	del := func(id string) {
		t.Helper()
		if err := s.Delete(t.Context(), tenant, c, id, nil); err != nil {
			t.Fatalf("Delete(%q): %v", id, err)
		}
		recs[store.Key(id)].deleted = true
	}
	live := func() int {
		n := 0
		for _, st := range recs {
			if !st.deleted {
				n++
			}
		}
		return n
	}
	var initial []string
	for i := range 30 {
		id := fmt.Sprintf("Rec-%02d", (i*7)%30)
		create(id, fmt.Sprintf("name%d", i%10))
		recs[store.Key(id)].initial = true
		initial = append(initial, id)
	}
	q := store.Query{OrderBy: order, Limit: 7, Count: true}
	what := fmt.Sprintf("%s of tenant %s paged by %s with writes between the pages", c, tenant, describeOrder(order))
	for page := 1; ; page++ {
		if page > 20 {
			t.Errorf("%s: still a Next after 20 pages", what)
			return
		}
		p, err := query(t, s, tenant, c, q)
		if err != nil {
			t.Errorf("%s: page %d: %v", what, page, err)
			return
		}
		if p.Count != int64(live()) {
			t.Errorf("%s: page %d: Count = %d, want %d", what, page, p.Count, live())
		}
		for _, r := range p.Records {
			st, ok := recs[store.Key(r.ID)]
			switch {
			case !ok:
				t.Errorf("%s: page %d returned unknown record %s", what, page, show(r))
			case st.seen:
				t.Errorf("%s: page %d returned %q again", what, page, r.ID)
			case st.deleted:
				t.Errorf("%s: page %d returned %q, deleted before", what, page, r.ID)
			}
			if ok {
				st.seen = true
			}
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
		if len(p.Records) == 0 {
			t.Errorf("%s: page %d is empty but has a Next", what, page)
			continue
		}
		// The writes: the record the cursor stands on and one seen before
		// go, so do two not seen yet; three new records come, one sorting
		// first, one last, one equal to the cursor's record.
		lastRec := p.Records[len(p.Records)-1]
		lastName := docString(t, lastRec, "displayName")
		del(lastRec.ID)
		if first := p.Records[0]; first.ID != lastRec.ID {
			del(first.ID)
		}
		gone := 0
		for _, id := range initial {
			if st := recs[store.Key(id)]; !st.seen && !st.deleted && gone < 2 {
				del(id)
				gone++
			}
		}
		create(fmt.Sprintf("New-%02d-a", page), "aaa")
		create(fmt.Sprintf("New-%02d-z", page), "zzz")
		create(fmt.Sprintf("New-%02d-t", page), lastName)
	}
	for _, id := range initial {
		if st := recs[store.Key(id)]; !st.deleted && !st.seen {
			t.Errorf("%s: %q was never deleted and never returned", what, id)
		}
	}
}

// ---- QueryIsolation ----

func testQueryIsolation(t *testing.T, s store.Store) {
	conn, idp := store.APIConnectors, store.IdentityProviders
	type scope struct {
		tenant string
		c      store.Collection
	}
	data := map[scope][]struct{ id, doc string }{
		{tenantA, conn}: {
			{"Conn-1", `{"displayName":"Mine","targetUrl":"https://a.example","flag":true}`},
			{"Conn-2", `{"displayName":"Also mine","targetUrl":"https://a2.example"}`},
		},
		{tenantB, conn}: {
			{"Conn-1", `{"displayName":"Theirs","targetUrl":"https://b.example","flag":false}`},
			{"Conn-3", `{"displayName":"Mine","targetUrl":"https://b3.example","flag":true}`},
			{"B-only", `{}`},
		},
		{tenantA, idp}: {
			{"Conn-1", `{"displayName":"Other collection","flag":true}`},
			{"Idp-1", `{"displayName":"Mine"}`},
		},
		{store.Global, conn}: {
			{"Conn-4", `{"displayName":"Mine","flag":true}`},
		},
	}
	created := make(map[scope][]store.Record)
	// Interleave the scopes so that creation order mixes them.
	for i := range 3 {
		for _, sc := range []scope{{tenantA, conn}, {tenantB, conn}, {tenantA, idp}, {store.Global, conn}} {
			if i < len(data[sc]) {
				d := data[sc][i]
				created[sc] = append(created[sc], mustCreate(t, s, sc.tenant, sc.c, d.id, []byte(d.doc)))
			}
		}
	}

	str, bv := store.String, store.Bool
	id := func(op store.Op, v string) store.Cond { return match(store.FieldID, op, str(v)) }
	dn := func(op store.Op, v string) store.Cond { return match(fDisplayName, op, str(v)) }
	conds := []store.Cond{
		nil,
		dn(store.Eq, "Mine"),
		dn(store.Eq, "Theirs"),
		dn(store.Eq, "Other collection"),
		id(store.Eq, "conn-3"),
		id(store.Eq, "b-only"),
		or(id(store.Eq, "b-only"), not(id(store.Eq, "conn-1"))),
		or(dn(store.Eq, "Theirs"), id(store.Eq, "Conn-4")),
		not(dn(store.Eq, "nothing")),
		not(and(dn(store.Eq, "Mine"), id(store.Eq, "conn-1"))),
		match(fDisplayName, store.Ne, store.Null),
		match(fDisplayName, store.Eq, store.Null),
		dn(store.Prefix, ""),
		match(fFlag, store.Eq, bv(false)),
		or(match(fFlag, store.Eq, bv(true)), match(fFlag, store.Eq, bv(false))),
		match(store.FieldID, store.In, str("conn-1"), str("conn-2"), str("conn-3"), str("conn-4"), str("b-only"), str("idp-1")),
		not(match(fTargetURL, store.Prefix, str("https://b"))),
		match(fTargetURL, store.Ne, str("https://a.example")),
	}
	// Each scope, and scopes that hold nothing, only ever answer with their
	// own records.
	scopes := []scope{{tenantA, conn}, {tenantB, conn}, {tenantA, idp}, {store.Global, conn}, {tenantB, idp}, {tenantC, conn}, {store.Global, idp}, {tenantA, store.Users}}
	for _, sc := range scopes {
		mine := make(map[string]store.Record)
		for _, r := range created[sc] {
			mine[store.Key(r.ID)] = r
		}
		for _, cond := range conds {
			for _, limit := range []int{1, 100} {
				q := store.Query{Where: cond, Limit: limit, Count: true}
				what := fmt.Sprintf("tenant %q, %s: Query(%s)", sc.tenant, sc.c, describeQuery(q))
				var got []store.Record
				var count int64 = -1
				for page := 0; page < 10; page++ {
					p, err := query(t, s, sc.tenant, sc.c, q)
					if err != nil {
						t.Errorf("%s: %v", what, err)
						break
					}
					if count >= 0 && p.Count != count {
						t.Errorf("%s: Count %d on one page, %d on another", what, count, p.Count)
					}
					count = p.Count
					got = append(got, p.Records...)
					if p.Next == "" {
						break
					}
					q.After = p.Next
				}
				for _, r := range got {
					if w, ok := mine[store.Key(r.ID)]; !ok || !sameRecord(r, w) {
						t.Errorf("%s: returned %s, which is not a record of this tenant and collection", what, show(r))
					}
				}
				if count >= 0 && count != int64(len(got)) {
					t.Errorf("%s: Count = %d, but the pages hold %d records", what, count, len(got))
				}
			}
		}
	}

	// The exact answers in tenant A's apiConnectors.
	a := created[scope{tenantA, conn}]
	for _, tc := range []struct {
		cond store.Cond
		want []store.Record
	}{
		{nil, a},
		{dn(store.Eq, "Mine"), a[:1]},
		{dn(store.Eq, "Theirs"), nil},
		{id(store.Eq, "conn-3"), nil},
		{or(id(store.Eq, "b-only"), not(id(store.Eq, "conn-1"))), a[1:]},
		{or(dn(store.Eq, "Theirs"), id(store.Eq, "Conn-4")), nil},
		{match(fFlag, store.Eq, bv(false)), a[1:]},
		{not(match(fTargetURL, store.Prefix, str("https://b"))), a},
	} {
		checkFilter(t, s, tenantA, conn, "tenant A's apiConnectors", tc.cond, tc.want)
	}
	b := created[scope{tenantB, conn}]
	checkFilter(t, s, tenantB, conn, "tenant B's apiConnectors", dn(store.Eq, "Mine"), b[1:2])
	checkFilter(t, s, tenantB, conn, "tenant B's apiConnectors", not(match(fFlag, store.Eq, bv(true))), []store.Record{b[0], b[2]})

	// A cursor of another tenant's or collection's query never brings
	// their records in.
	for _, order := range [][]store.Order{nil, {{Field: fDisplayName}}, {{Field: store.FieldID, Desc: true}}} {
		for _, from := range []scope{{tenantB, conn}, {tenantA, idp}} {
			p, err := query(t, s, from.tenant, from.c, store.Query{OrderBy: order, Limit: 1})
			if err != nil || p.Next == "" {
				t.Fatalf("first page of tenant %q, %s: %v (Next %q)", from.tenant, from.c, err, p.Next)
			}
			q := store.Query{OrderBy: order, Limit: 10, After: p.Next}
			got, err := query(t, s, tenantA, conn, q)
			if err != nil {
				if !errors.Is(err, errPanicked) {
					wantKind(t, fmt.Sprintf("tenant A with the cursor of tenant %q, %s", from.tenant, from.c), err, graph.KindInvalid)
				}
				continue
			}
			for _, r := range got.Records {
				found := false
				for _, w := range a {
					found = found || sameRecord(r, w)
				}
				if !found {
					t.Errorf("tenant A with the cursor of tenant %q, %s, order %s: returned %s", from.tenant, from.c, describeOrder(order), show(r))
				}
			}
		}
	}
}
