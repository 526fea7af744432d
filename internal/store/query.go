package store

// Query selects one page of a collection: the records matching Where, in
// the order of OrderBy and then creation order (reversed when the last key
// is descending), at most Limit of them,
// starting after the cursor of a previous page. The API layer builds it
// from a request's $filter, $orderby, $top and $skiptoken; every backend
// translates it to its own query language with the values as parameters,
// so a page costs the same however large the collection is when an index
// serves the order.
type Query struct {
	Where   Cond    // nil matches every record
	OrderBy []Order // then creation order
	Limit   int     // page size, > 0
	After   string  // Page.Next of the previous page; "" for the first page
	Count   bool    // also count every matching record (Page.Count)
}

// Page is one page of a Query's result.
type Page struct {
	Records []Record
	// Next is the cursor of the following page, "" when this page is the
	// last. It is opaque to callers and only valid for the same Query.
	Next  string
	Count int64 // matching records in all pages, when Query.Count
}

// Field names a property of the stored JSON documents.
type Field struct {
	// Name is a top-level member of the document, or "" for the record id.
	Name string
	// Bool marks a boolean member; a missing one reads as false. Other
	// members are strings, and a missing one reads as null.
	Bool bool
}

// FieldID is the record id, compared case-insensitively as Key does.
var FieldID = Field{}

// Cond is a condition on a record: *And, *Or, *Not or *Match.
type Cond interface{ cond() }

// And holds when both conditions hold.
type And struct{ L, R Cond }

// Or holds when either condition holds.
type Or struct{ L, R Cond }

// Not holds when X does not hold. As in OData, Eq, Ne and In compare a
// missing member as null (null Eq "x" is false, null Ne "x" is true), while
// Prefix and Suffix of a missing member are unknown, and so is their Not.
type Not struct{ X Cond }

// Op is a comparison of a Match.
type Op int

// The comparisons of Match. String comparisons ignore ASCII case.
const (
	Eq     Op = iota // equal; with a null Value: the member is missing or null
	Ne               // not equal; with a null Value: the member is present
	Prefix           // starts with Values[0]
	Suffix           // ends with Values[0]
	In               // equal to one of Values
)

// Match compares a field with values.
type Match struct {
	Field  Field
	Op     Op
	Values []Value // one, except for In
}

func (*And) cond()   {}
func (*Or) cond()    {}
func (*Not) cond()   {}
func (*Match) cond() {}

// Value is a literal of a Match: null, a string or a boolean.
type Value struct {
	Null bool
	Str  string
	Bool bool
	// IsBool marks a boolean literal.
	IsBool bool
}

// String returns a string value.
func String(s string) Value { return Value{Str: s} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{Bool: b, IsBool: true} }

// Null is the null value.
var Null = Value{Null: true}

// Order is one key of a Query's order: a string field, ascending unless
// Desc. Backends order strings ignoring ASCII case; a missing or null
// member orders as "".
type Order struct {
	Field Field
	Desc  bool
}

// FoldASCII lower-cases the ASCII letters of s and nothing else: strings
// compare and order as FoldASCII of each, byte by byte.
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
