// Package odata reads the OData system query options of a request: ParseFilter
// turns a $filter value into an expression tree and Format prints a tree back
// in canonical form; ParseQuery reads all the options of one URL query
// ($filter, $select, $orderby, $top, $count, $skiptoken, $expand, $format).
//
// The package checks syntax and the limits of decision D8 only; whether a
// property exists, may be selected, filtered or sorted on is for the handler
// that knows the resource type. Every error is a *graph.Error of kind
// KindInvalid carrying Graph's code and message, and no message repeats more
// than about 100 bytes of the caller's input.
package odata
