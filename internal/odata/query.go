package odata

import (
	"net/url"
	"strings"
)

// Order is one item of $orderby.
type Order struct {
	Prop string // a property path as written
	Desc bool
}

// Query is the parsed system query options of one request.
type Query struct {
	Filter     Expr     // nil without $filter
	FilterText string   // Format(Filter), "" without
	Select     []string // nil without $select; "*" allowed; duplicates (case-insensitive) removed
	OrderBy    []Order
	Top        int // 0 without $top
	Count      bool
	SkipToken  string
	Expand     string   // raw value; "" without (validated by handlers)
	Given      []string // canonical names of the options present, e.g. "$filter", in order of appearance
}

// supportedOptions are the system query options ParseQuery reads, by
// canonical (lower-case) name.
var supportedOptions = map[string]bool{
	"$filter": true, "$select": true, "$orderby": true, "$top": true, "$count": true,
	"$skiptoken": true, "$expand": true, "$format": true,
}

// unsupportedOptions are OData options idgraph knows and refuses.
var unsupportedOptions = map[string]bool{
	"$skip": true, "$search": true, "$apply": true, "$compute": true, "$levels": true,
	"$deltatoken": true, "$index": true, "$schemaversion": true, "$id": true,
}

// ParseQuery parses a raw (still percent-encoded) URL query. beta enables prefix-less names.
//
// Option names are case-insensitive. On v1.0 a name without '$' is a custom
// parameter and is ignored; on beta, a name without '$' that is an option's
// name is that option. Every error is a *graph.Error of kind KindInvalid.
func ParseQuery(rawQuery string, beta bool) (Query, error) {
	var q Query
	seen := map[string]bool{}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return Query{}, badRequest("The query string is not correctly percent-encoded: '%s'.", Clip(part))
		}
		canon := FoldASCII(name)
		switch {
		case strings.HasPrefix(canon, "$"):
		case beta && (supportedOptions["$"+canon] || unsupportedOptions["$"+canon]):
			canon = "$" + canon
		default:
			continue // a custom parameter
		}
		if unsupportedOptions[canon] {
			return Query{}, badRequest("Query option '%s' is not supported for this resource.", canon)
		}
		if !supportedOptions[canon] {
			return Query{}, badRequest("The query parameter '%s' is not supported.", Clip(name))
		}
		if seen[canon] {
			return Query{}, badRequest("Query option '%s' was specified more than once, but it must be specified at most once.", canon)
		}
		seen[canon] = true
		q.Given = append(q.Given, canon)
		if err := q.set(canon, value); err != nil {
			return Query{}, err
		}
	}
	return q, nil
}

// set reads the value of the supported option canon into q.
func (q *Query) set(canon, value string) error {
	switch canon {
	case "$filter":
		e, err := ParseFilter(value)
		if err != nil {
			return err
		}
		q.Filter, q.FilterText = e, Format(e)
	case "$select":
		items, err := parseSelect(value)
		if err != nil {
			return err
		}
		q.Select = items
	case "$orderby":
		items, err := parseOrderBy(value)
		if err != nil {
			return err
		}
		q.OrderBy = items
	case "$top":
		n, ok := parseTop(value)
		if !ok {
			return badRequest("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", Clip(value))
		}
		q.Top = n
	case "$count":
		switch FoldASCII(value) {
		case "true":
			q.Count = true
		case "false":
			q.Count = false
		default:
			return badRequest("'%s' is not a valid count option.", Clip(value))
		}
	case "$skiptoken":
		if value == "" {
			return badRequest("The $skiptoken value is empty.")
		}
		q.SkipToken = value
	case "$expand":
		q.Expand = value
	case "$format":
		if f := FoldASCII(value); f != "json" && f != "application/json" {
			return badRequest("The $format value '%s' is not supported; the only format is 'json'.", Clip(value))
		}
	}
	return nil
}

// parseSelect reads a comma-separated list of property names or "*",
// dropping repeats (case-insensitive).
func parseSelect(v string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	i := 0
	for item := range strings.SplitSeq(v, ",") {
		i++
		item = strings.Trim(item, " \t")
		if item == "" {
			return nil, badRequest("Invalid $select value: item %d is empty.", i)
		}
		if item != "*" && !isName(item) {
			return nil, badRequest("Invalid $select value: item %d ('%s') is not a property name.", i, Clip(item))
		}
		if key := FoldASCII(item); !seen[key] {
			seen[key] = true
			out = append(out, item)
		}
	}
	return out, nil
}

// parseOrderBy reads a comma-separated list of "path [asc|desc]" items.
func parseOrderBy(v string) ([]Order, error) {
	var out []Order
	seen := map[string]bool{}
	i := 0
	for item := range strings.SplitSeq(v, ",") {
		i++
		f := strings.FieldsFunc(item, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) == 0 {
			return nil, badRequest("Invalid $orderby value: item %d is empty.", i)
		}
		o := Order{Prop: f[0]}
		ok := len(f) <= 2 && isPath(f[0])
		if ok && len(f) == 2 {
			switch FoldASCII(f[1]) {
			case "asc":
			case "desc":
				o.Desc = true
			default:
				ok = false
			}
		}
		if !ok {
			return nil, badRequest("Invalid $orderby value: item %d ('%s') is not a property optionally followed by asc or desc.",
				i, Clip(strings.Trim(item, " \t")))
		}
		key := FoldASCII(o.Prop)
		if seen[key] {
			return nil, badRequest("Invalid $orderby value: property '%s' is given more than once.", Clip(o.Prop))
		}
		seen[key] = true
		out = append(out, o)
	}
	return out, nil
}

// parseTop reads a page size: decimal digits only, 1 to 999.
func parseTop(v string) (int, bool) {
	if v == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		if n = n*10 + int(v[i]-'0'); n > 999 {
			return 0, false
		}
	}
	return n, n >= 1
}
