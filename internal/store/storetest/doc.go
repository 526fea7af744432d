// Package storetest is the conformance suite of the store.Store contract.
//
// Run checks, each in its own subtest and on a fresh store, every guarantee
// the contract makes: create and get, case-insensitive ids kept as created,
// tenant and collection isolation (a record of another tenant is reported
// exactly like one that never existed), creation-ordered lists, versioning,
// Update and Delete callbacks that see the transaction and whose errors change
// nothing and come back unchanged, no lost update and a single winner under
// concurrency, failing and succeeding writes side by side, JSON documents
// that round-trip byte for byte, and Query: every comparison with OData's
// null semantics, orders with keyset cursors that never repeat a record
// across pages, counts, and isolation under Or and Not.
//
// A backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			return openEmptyStore(t)
//		})
//	}
//
// open must return a new, empty store each time it is called; the suite closes
// it when the subtest ends and fails the subtest if Close returns an error.
package storetest
