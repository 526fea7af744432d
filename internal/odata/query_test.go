package odata

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseQueryValid(t *testing.T) {
	tests := []struct {
		raw  string
		beta bool
		want Query
	}{
		{"", false, Query{}},
		{"&&", true, Query{}},
		{"$filter=displayName%20eq%20'x'", false, Query{
			Filter: eq("displayName", str("x")), FilterText: "displayName eq 'x'", Given: []string{"$filter"}}},
		{"$filter=displayName+eq+'a+b%2Bc%20d'", false, Query{
			Filter: eq("displayName", str("a b+c d")), FilterText: "displayName eq 'a b+c d'", Given: []string{"$filter"}}},
		{"$Filter=startswith(displayName,'A')", false, Query{
			Filter: &Func{Name: "startswith", Prop: "displayName", Value: str("A")}, FilterText: "startswith(displayName, 'A')",
			Given: []string{"$filter"}}},
		{"%24filter=not(a%20eq%20'x'%20or%20b%20eq%20'y')", false, Query{
			Filter:     not(or(eq("a", str("x")), eq("b", str("y")))),
			FilterText: "not (a eq 'x' or b eq 'y')", Given: []string{"$filter"}}},
		{"$TOP=5", false, Query{Top: 5, Given: []string{"$top"}}},
		{"$top=1", false, Query{Top: 1, Given: []string{"$top"}}},
		{"$top=999", false, Query{Top: 999, Given: []string{"$top"}}},
		{"$top=007", false, Query{Top: 7, Given: []string{"$top"}}},
		{"$count=true", false, Query{Count: true, Given: []string{"$count"}}},
		{"$count=TRUE", false, Query{Count: true, Given: []string{"$count"}}},
		{"$count=false", false, Query{Given: []string{"$count"}}},
		{"$select=displayName,id,DisplayName,%20targetUrl+,ID", false, Query{
			Select: []string{"displayName", "id", "targetUrl"}, Given: []string{"$select"}}},
		{"$select=*", false, Query{Select: []string{"*"}, Given: []string{"$select"}}},
		{"$orderby=displayName%20desc,id", false, Query{
			OrderBy: []Order{{Prop: "displayName", Desc: true}, {Prop: "id"}}, Given: []string{"$orderby"}}},
		{"$orderBy=id+ASC,+name++DESC", false, Query{
			OrderBy: []Order{{Prop: "id"}, {Prop: "name", Desc: true}}, Given: []string{"$orderby"}}},
		{"$orderby=a/b", false, Query{OrderBy: []Order{{Prop: "a/b"}}, Given: []string{"$orderby"}}},
		{"$skiptoken=abc%2Fdef%3D%3D", false, Query{SkipToken: "abc/def==", Given: []string{"$skiptoken"}}},
		{"$skipToken=x", false, Query{SkipToken: "x", Given: []string{"$skiptoken"}}},
		{"$expand=postFederationSignup,postAttributeCollection", false, Query{
			Expand: "postFederationSignup,postAttributeCollection", Given: []string{"$expand"}}},
		{"$expand=", false, Query{Given: []string{"$expand"}}},
		{"$format=json", false, Query{Given: []string{"$format"}}},
		{"$format=application%2FJSON", false, Query{Given: []string{"$format"}}},
		{"$top=5&$filter=id+eq+'x'&$select=id&$count=true", false, Query{
			Top: 5, Filter: eq("id", str("x")), FilterText: "id eq 'x'", Select: []string{"id"}, Count: true,
			Given: []string{"$top", "$filter", "$select", "$count"}}},
		// beta: the '$' is optional
		{"top=5&filter=id+eq+'x'&Select=id&count=true&orderby=id&skiptoken=t&expand=e&format=json", true, Query{
			Top: 5, Filter: eq("id", str("x")), FilterText: "id eq 'x'", Select: []string{"id"}, Count: true,
			OrderBy: []Order{{Prop: "id"}}, SkipToken: "t", Expand: "e",
			Given: []string{"$top", "$filter", "$select", "$count", "$orderby", "$skiptoken", "$expand", "$format"}}},
		// v1.0: names without '$' are custom parameters, ignored, even invalid ones
		{"top=5&filter=nonsense&skip=1&search=x&count=maybe", false, Query{}},
		{"top=5&$top=6", false, Query{Top: 6, Given: []string{"$top"}}},
		// custom parameters are ignored on both versions
		{"api-version=2&foo=bar&@p1='x'&=x&$top=2", false, Query{Top: 2, Given: []string{"$top"}}},
		{"api-version=2&foo=bar&@p1='x'&=x&$top=2", true, Query{Top: 2, Given: []string{"$top"}}},
		{"foo=1&foo=2", true, Query{}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseQuery(tt.raw, tt.beta)
			if err != nil {
				t.Fatalf("ParseQuery(%q, %v): %v", tt.raw, tt.beta, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseQuery(%q, %v) =\n%#v, want\n%#v", tt.raw, tt.beta, got, tt.want)
			}
		})
	}
}

func TestParseQueryInvalid(t *testing.T) {
	long := strings.Repeat("7", 500)
	tests := []struct {
		raw  string
		beta bool
		want string
	}{
		// duplicates, also across the two spellings on beta
		{"$top=5&$top=6", false, "Query option '$top' was specified more than once, but it must be specified at most once."},
		{"$top=5&$TOP=5", false, "Query option '$top' was specified more than once, but it must be specified at most once."},
		{"$top=5&top=6", true, "Query option '$top' was specified more than once, but it must be specified at most once."},
		{"filter=a+eq+'x'&%24Filter=a+eq+'x'", true, "Query option '$filter' was specified more than once, but it must be specified at most once."},
		{"$select=id&$select=id", false, "Query option '$select' was specified more than once, but it must be specified at most once."},
		{"$expand=&$expand=", false, "Query option '$expand' was specified more than once, but it must be specified at most once."},
		// unknown and unsupported options
		{"$foo=1", false, "The query parameter '$foo' is not supported."},
		{"$Foo=1", true, "The query parameter '$Foo' is not supported."},
		{"$=1", false, "The query parameter '$' is not supported."},
		{"$filter%20=a", false, "The query parameter '$filter ' is not supported."},
		{"$" + long + "=1", false, "The query parameter '$" + long[:99] + "...' is not supported."},
		{"$skip=1", false, "Query option '$skip' is not supported for this resource."},
		{"$SKIP=1", false, "Query option '$skip' is not supported for this resource."},
		{"skip=1", true, "Query option '$skip' is not supported for this resource."},
		{"$search=x", false, "Query option '$search' is not supported for this resource."},
		{"$apply=x", false, "Query option '$apply' is not supported for this resource."},
		{"$compute=x", false, "Query option '$compute' is not supported for this resource."},
		{"$levels=2", false, "Query option '$levels' is not supported for this resource."},
		{"$deltatoken=x", false, "Query option '$deltatoken' is not supported for this resource."},
		{"$index=1", false, "Query option '$index' is not supported for this resource."},
		{"$schemaversion=1", false, "Query option '$schemaversion' is not supported for this resource."},
		{"$id=x", false, "Query option '$id' is not supported for this resource."},
		// $top
		{"$top=0", false, "Invalid page size specified: '0'. Must be between 1 and 999 inclusive."},
		{"$top=1000", false, "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."},
		{"$top=-1", false, "Invalid page size specified: '-1'. Must be between 1 and 999 inclusive."},
		{"$top=%2B5", false, "Invalid page size specified: '+5'. Must be between 1 and 999 inclusive."},
		{"$top=+5", false, "Invalid page size specified: ' 5'. Must be between 1 and 999 inclusive."},
		{"$top=5.0", false, "Invalid page size specified: '5.0'. Must be between 1 and 999 inclusive."},
		{"$top=abc", false, "Invalid page size specified: 'abc'. Must be between 1 and 999 inclusive."},
		{"$top=", false, "Invalid page size specified: ''. Must be between 1 and 999 inclusive."},
		{"$top", false, "Invalid page size specified: ''. Must be between 1 and 999 inclusive."},
		{"$top=" + long, false, "Invalid page size specified: '" + long[:100] + "...'. Must be between 1 and 999 inclusive."},
		// $count
		{"$count=yes", false, "'yes' is not a valid count option."},
		{"$count=1", false, "'1' is not a valid count option."},
		{"$count", false, "'' is not a valid count option."},
		{"count=maybe", true, "'maybe' is not a valid count option."},
		// $select
		{"$select=", false, "Invalid $select value: item 1 is empty."},
		{"$select=id,,displayName", false, "Invalid $select value: item 2 is empty."},
		{"$select=id,", false, "Invalid $select value: item 2 is empty."},
		{"$select=id,a/b", false, "Invalid $select value: item 2 ('a/b') is not a property name."},
		{"$select=display+Name", false, "Invalid $select value: item 1 ('display Name') is not a property name."},
		{"$select=@odata.type", false, "Invalid $select value: item 1 ('@odata.type') is not a property name."},
		// $orderby
		{"$orderby=", false, "Invalid $orderby value: item 1 is empty."},
		{"$orderby=id,+", false, "Invalid $orderby value: item 2 is empty."},
		{"$orderby=id+up", false, "Invalid $orderby value: item 1 ('id up') is not a property optionally followed by asc or desc."},
		{"$orderby=id,name+desc+asc", false, "Invalid $orderby value: item 2 ('name desc asc') is not a property optionally followed by asc or desc."},
		{"$orderby=a/", false, "Invalid $orderby value: item 1 ('a/') is not a property optionally followed by asc or desc."},
		{"$orderby=desc+id", false, "Invalid $orderby value: item 1 ('desc id') is not a property optionally followed by asc or desc."},
		{"$orderby=id,ID+desc", false, "Invalid $orderby value: property 'ID' is given more than once."},
		// $skiptoken, $format
		{"$skiptoken=", false, "The $skiptoken value is empty."},
		{"skiptoken", true, "The $skiptoken value is empty."},
		{"$format=xml", false, "The $format value 'xml' is not supported; the only format is 'json'."},
		{"$format=application/xml", false, "The $format value 'application/xml' is not supported; the only format is 'json'."},
		{"$format=", false, "The $format value '' is not supported; the only format is 'json'."},
		// percent-encoding, in any pair (custom ones too)
		{"$filter=%zz", false, "The query string is not correctly percent-encoded: '$filter=%zz'."},
		{"%zz=1", false, "The query string is not correctly percent-encoded: '%zz=1'."},
		{"foo=%", false, "The query string is not correctly percent-encoded: 'foo=%'."},
		{"$top=5&foo=%4", true, "The query string is not correctly percent-encoded: 'foo=%4'."},
		{"foo=%zz" + long, false, "The query string is not correctly percent-encoded: 'foo=%zz" + long[:93] + "...'."},
		// $filter errors come from ParseFilter
		{"$filter=", false, "Invalid filter clause: the filter is empty."},
		{"$filter=a+gt+'x'", false, "Invalid filter clause: operator 'gt' is not supported."},
		{"filter=a%20eq", true, "Invalid filter clause: syntax error at position 4 in 'a eq': the filter ends early; a property or a literal is expected."},
		// the first error wins
		{"$top=0&$foo=1", false, "Invalid page size specified: '0'. Must be between 1 and 999 inclusive."},
		{"$foo=1&$top=0", false, "The query parameter '$foo' is not supported."},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseQuery(tt.raw, tt.beta)
			if err == nil {
				t.Fatalf("ParseQuery(%q, %v) = %#v, want an error", tt.raw, tt.beta, got)
			}
			checkInvalid(t, err, "BadRequest", tt.want)
			if !reflect.DeepEqual(got, Query{}) {
				t.Errorf("ParseQuery returned %#v with its error", got)
			}
		})
	}
}
