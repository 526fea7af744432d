package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// The tenants the suite writes to.
const (
	tenantA = "3f2a1c7e-0000-4000-8000-00000000000a"
	tenantB = "3f2a1c7e-0000-4000-8000-00000000000b"
)

// Run runs the conformance suite against stores made by open. Each subtest
// gets a store of its own from open and closes it when it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CaseInsensitiveIDs", testCaseInsensitiveIDs},
		{"TenantIsolation", testTenantIsolation},
		{"CollectionIsolation", testCollectionIsolation},
		{"ListOrder", testListOrder},
		{"ListEmpty", testListEmpty},
		{"UpdateVersions", testUpdateVersions},
		{"UpdateFnError", testUpdateFnError},
		{"UpdateMissing", testUpdateMissing},
		{"CreateFunc", testCreateFunc},
		{"TxReads", testTxReads},
		{"Delete", testDelete},
		{"DeleteCheckError", testDeleteCheckError},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentMixedOutcomes", testConcurrentMixedOutcomes},
		{"JSONRoundTrip", testJSONRoundTrip},
		{"DataNotAliased", testDataNotAliased},
		{"QueryFilter", testQueryFilter},
		{"QueryPaging", testQueryPaging},
		{"QueryIsolation", testQueryIsolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// ---- helpers ----

// counter is the document the concurrency checks increment.
type counter struct {
	N int `json:"n"`
}

func counterDoc(n int) []byte { return []byte(fmt.Sprintf(`{"n":%d}`, n)) }

func readCounter(t *testing.T, data []byte) int {
	t.Helper()
	var c counter
	if err := json.Unmarshal(data, &c); err != nil {
		t.Errorf("decode counter %q: %v", data, err)
		return -1
	}
	return c.N
}

func increment(_ store.Tx, cur store.Record) ([]byte, error) {
	var c counter
	if err := json.Unmarshal(cur.Data, &c); err != nil {
		return nil, fmt.Errorf("decode counter %q: %w", cur.Data, err)
	}
	c.N++
	return json.Marshal(c)
}

func show(r store.Record) string {
	return fmt.Sprintf("{Tenant:%q Collection:%q ID:%q Version:%d Data:%s}", r.Tenant, r.Collection, r.ID, r.Version, r.Data)
}

func sameRecord(a, b store.Record) bool {
	return a.Tenant == b.Tenant && a.Collection == b.Collection && a.ID == b.ID &&
		a.Version == b.Version && bytes.Equal(a.Data, b.Data)
}

func checkRecord(t *testing.T, what string, got, want store.Record) {
	t.Helper()
	if !sameRecord(got, want) {
		t.Errorf("%s = %s, want %s", what, show(got), show(want))
	}
}

func checkRecords(t *testing.T, what string, got, want []store.Record) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameRecord(got[i], want[i])
	}
	if ok {
		return
	}
	var g, w []string
	for _, r := range got {
		g = append(g, show(r))
	}
	for _, r := range want {
		w = append(w, show(r))
	}
	t.Errorf("%s =\n\t%s\nwant\n\t%s", what, strings.Join(g, "\n\t"), strings.Join(w, "\n\t"))
}

func wantKind(t *testing.T, what string, err error, k graph.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want an error of kind %d", what, k)
		return
	}
	if got := graph.KindOf(err); got != k {
		t.Errorf("%s: got error %q of kind %d, want kind %d", what, err, got, k)
	}
}

func mustCreate(t *testing.T, s store.Store, tenant string, c store.Collection, id string, data []byte) store.Record {
	t.Helper()
	r, err := s.Create(t.Context(), store.Record{Tenant: tenant, Collection: c, ID: id, Data: data})
	if err != nil {
		t.Fatalf("Create(%q, %s, %q): %v", tenant, c, id, err)
	}
	return r
}

func mustGet(t *testing.T, s store.Store, tenant string, c store.Collection, id string) store.Record {
	t.Helper()
	r, err := s.Get(t.Context(), tenant, c, id)
	if err != nil {
		t.Fatalf("Get(%q, %s, %q): %v", tenant, c, id, err)
	}
	return r
}

func mustList(t *testing.T, s store.Store, tenant string, c store.Collection) []store.Record {
	t.Helper()
	rs, err := s.List(t.Context(), tenant, c)
	if err != nil {
		t.Fatalf("List(%q, %s): %v", tenant, c, err)
	}
	return rs
}

func rec(tenant string, c store.Collection, id string, version int64, data []byte) store.Record {
	return store.Record{Tenant: tenant, Collection: c, ID: id, Version: version, Data: data}
}

// failingUpdate is an Update callback that must never run.
func failingUpdate(t *testing.T, what string) func(store.Tx, store.Record) ([]byte, error) {
	return func(store.Tx, store.Record) ([]byte, error) {
		t.Errorf("%s: update callback called, want it not called", what)
		return []byte(`{"must":"not be stored"}`), nil
	}
}

// failingCheck is a Delete check that must never run.
func failingCheck(t *testing.T, what string) func(store.Tx, store.Record) error {
	return func(store.Tx, store.Record) error {
		t.Errorf("%s: delete check called, want it not called", what)
		return nil
	}
}

// ---- the guarantees ----

func testCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	data := []byte(`{"displayName":"Google","clientId":"abc"}`)
	// Create ignores a version set by the caller: a new record is version 1.
	got, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: store.IdentityProviders, ID: "Google-OAUTH", Version: 42, Data: data})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := rec(tenantA, store.IdentityProviders, "Google-OAUTH", 1, data)
	checkRecord(t, "Create", got, want)
	checkRecord(t, "Get", mustGet(t, s, tenantA, store.IdentityProviders, "Google-OAUTH"), want)

	// The global tenant is a tenant like any other.
	gdata := []byte(`{"id":"` + tenantA + `"}`)
	got = mustCreate(t, s, store.Global, store.Tenants, tenantA, gdata)
	gwant := rec(store.Global, store.Tenants, tenantA, 1, gdata)
	checkRecord(t, "Create global", got, gwant)
	checkRecord(t, "Get global", mustGet(t, s, store.Global, store.Tenants, tenantA), gwant)

	_, err = s.Get(ctx, tenantA, store.IdentityProviders, "Facebook-OAUTH")
	wantKind(t, "Get of a missing id", err, graph.KindNotFound)
	_, err = s.Get(ctx, store.Global, store.Tenants, tenantB)
	wantKind(t, "Get of a missing global id", err, graph.KindNotFound)
}

func testCaseInsensitiveIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	d1 := []byte(`{"v":1}`)
	mustCreate(t, s, tenantA, c, "Amazon-OAUTH", d1)
	for _, id := range []string{"amazon-oauth", "AMAZON-OAUTH", "Amazon-OAUTH", "aMaZoN-oAuTh"} {
		checkRecord(t, fmt.Sprintf("Get(%q)", id), mustGet(t, s, tenantA, c, id), rec(tenantA, c, "Amazon-OAUTH", 1, d1))
	}

	_, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "AMAZON-oauth", Data: []byte(`{"v":"dup"}`)})
	wantKind(t, `Create("AMAZON-oauth") over "Amazon-OAUTH"`, err, graph.KindConflict)
	checkRecord(t, "Get after the conflicting Create", mustGet(t, s, tenantA, c, "amazon-oauth"), rec(tenantA, c, "Amazon-OAUTH", 1, d1))

	d2 := []byte(`{"v":2}`)
	got, err := s.Update(ctx, tenantA, c, "aMaZoN-oAuTh", func(_ store.Tx, cur store.Record) ([]byte, error) {
		checkRecord(t, "Update callback's current record", cur, rec(tenantA, c, "Amazon-OAUTH", 1, d1))
		return d2, nil
	})
	if err != nil {
		t.Fatalf(`Update("aMaZoN-oAuTh"): %v`, err)
	}
	checkRecord(t, `Update("aMaZoN-oAuTh")`, got, rec(tenantA, c, "Amazon-OAUTH", 2, d2))
	checkRecords(t, "List", mustList(t, s, tenantA, c), []store.Record{rec(tenantA, c, "Amazon-OAUTH", 2, d2)})

	if err := s.Delete(ctx, tenantA, c, "AMAZON-oauth", nil); err != nil {
		t.Fatalf(`Delete("AMAZON-oauth"): %v`, err)
	}
	_, err = s.Get(ctx, tenantA, c, "Amazon-OAUTH")
	wantKind(t, "Get after Delete through another case", err, graph.KindNotFound)

	// Once gone, the id is free again, in whatever case the new record uses.
	d3 := []byte(`{"v":3}`)
	checkRecord(t, `Create("AMAZON-oauth") after Delete`, mustCreate(t, s, tenantA, c, "AMAZON-oauth", d3), rec(tenantA, c, "AMAZON-oauth", 1, d3))
	checkRecord(t, `Get("amazon-OAUTH")`, mustGet(t, s, tenantA, c, "amazon-OAUTH"), rec(tenantA, c, "AMAZON-oauth", 1, d3))

	// Case folding is store.Key's, which is not limited to ASCII.
	d4 := []byte(`{"v":4}`)
	mustCreate(t, s, tenantA, c, "Ärger-IdP", d4)
	checkRecord(t, `Get("ärger-idp")`, mustGet(t, s, tenantA, c, "ärger-idp"), rec(tenantA, c, "Ärger-IdP", 1, d4))
	_, err = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "ÄRGER-IDP", Data: d4})
	wantKind(t, `Create("ÄRGER-IDP") over "Ärger-IdP"`, err, graph.KindConflict)
}

func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	const id = "Shared-Id"

	// The errors for an id that has never existed anywhere.
	_, neverGet := s.Get(ctx, tenantB, c, id)
	_, neverUpdate := s.Update(ctx, tenantB, c, id, failingUpdate(t, "Update of a never-existing id"))
	neverDelete := s.Delete(ctx, tenantB, c, id, failingCheck(t, "Delete of a never-existing id"))
	for _, e := range []struct {
		what string
		err  error
	}{{"Get", neverGet}, {"Update", neverUpdate}, {"Delete", neverDelete}} {
		wantKind(t, e.what+" of a never-existing id", e.err, graph.KindNotFound)
	}
	if neverGet == nil || neverUpdate == nil || neverDelete == nil {
		t.FailNow()
	}

	dataA := []byte(`{"owner":"A"}`)
	mustCreate(t, s, tenantA, c, id, dataA)
	recA := rec(tenantA, c, id, 1, dataA)

	// Another tenant cannot tell A's record from one that never existed.
	sameAsNever := func(what string, err, never error) {
		t.Helper()
		wantKind(t, what, err, graph.KindNotFound)
		if err != nil && err.Error() != never.Error() {
			t.Errorf("%s: error %q, want %q (the error for a never-existing id)", what, err, never)
		}
	}
	_, err := s.Get(ctx, tenantB, c, id)
	sameAsNever("Get from tenant B", err, neverGet)
	_, err = s.Update(ctx, tenantB, c, id, failingUpdate(t, "Update from tenant B"))
	sameAsNever("Update from tenant B", err, neverUpdate)
	err = s.Delete(ctx, tenantB, c, id, failingCheck(t, "Delete from tenant B"))
	sameAsNever("Delete from tenant B", err, neverDelete)
	_, err = s.Get(ctx, store.Global, c, id)
	wantKind(t, "Get from the global tenant", err, graph.KindNotFound)
	if rs := mustList(t, s, tenantB, c); len(rs) != 0 {
		checkRecords(t, "List of tenant B", rs, nil)
	}
	if rs := mustList(t, s, store.Global, c); len(rs) != 0 {
		checkRecords(t, "List of the global tenant", rs, nil)
	}
	checkRecord(t, "Get from tenant A after tenant B's attempts", mustGet(t, s, tenantA, c, id), recA)

	// The same id exists in both tenants independently.
	dataB := []byte(`{"owner":"B"}`)
	checkRecord(t, "Create in tenant B", mustCreate(t, s, tenantB, c, id, dataB), rec(tenantB, c, id, 1, dataB))
	checkRecord(t, "Get from tenant A", mustGet(t, s, tenantA, c, id), recA)
	checkRecord(t, "Get from tenant B", mustGet(t, s, tenantB, c, id), rec(tenantB, c, id, 1, dataB))

	dataB2 := []byte(`{"owner":"B","v":2}`)
	got, err := s.Update(ctx, tenantB, c, id, func(_ store.Tx, cur store.Record) ([]byte, error) {
		checkRecord(t, "tenant B's Update callback's current record", cur, rec(tenantB, c, id, 1, dataB))
		return dataB2, nil
	})
	if err != nil {
		t.Fatalf("Update in tenant B: %v", err)
	}
	checkRecord(t, "Update in tenant B", got, rec(tenantB, c, id, 2, dataB2))
	checkRecord(t, "Get from tenant A after tenant B's Update", mustGet(t, s, tenantA, c, id), recA)

	if err := s.Delete(ctx, tenantA, c, id, nil); err != nil {
		t.Fatalf("Delete in tenant A: %v", err)
	}
	checkRecord(t, "Get from tenant B after tenant A's Delete", mustGet(t, s, tenantB, c, id), rec(tenantB, c, id, 2, dataB2))
	checkRecords(t, "List of tenant B", mustList(t, s, tenantB, c), []store.Record{rec(tenantB, c, id, 2, dataB2)})
	if rs := mustList(t, s, tenantA, c); len(rs) != 0 {
		checkRecords(t, "List of tenant A after Delete", rs, nil)
	}
}

func testCollectionIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	const id = "Same-Id"
	idp, conn := store.IdentityProviders, store.APIConnectors
	dataIdP := []byte(`{"kind":"idp"}`)
	mustCreate(t, s, tenantA, idp, id, dataIdP)

	_, err := s.Get(ctx, tenantA, conn, id)
	wantKind(t, "Get from another collection", err, graph.KindNotFound)
	_, err = s.Update(ctx, tenantA, conn, id, failingUpdate(t, "Update in another collection"))
	wantKind(t, "Update in another collection", err, graph.KindNotFound)
	err = s.Delete(ctx, tenantA, conn, id, failingCheck(t, "Delete in another collection"))
	wantKind(t, "Delete in another collection", err, graph.KindNotFound)
	if rs := mustList(t, s, tenantA, conn); len(rs) != 0 {
		checkRecords(t, "List of another collection", rs, nil)
	}

	dataConn := []byte(`{"kind":"connector"}`)
	checkRecord(t, "Create of the same id in another collection", mustCreate(t, s, tenantA, conn, id, dataConn), rec(tenantA, conn, id, 1, dataConn))
	checkRecord(t, "Get identityProvider", mustGet(t, s, tenantA, idp, id), rec(tenantA, idp, id, 1, dataIdP))
	checkRecord(t, "Get apiConnector", mustGet(t, s, tenantA, conn, id), rec(tenantA, conn, id, 1, dataConn))

	if err := s.Delete(ctx, tenantA, idp, id, nil); err != nil {
		t.Fatalf("Delete identityProvider: %v", err)
	}
	checkRecord(t, "Get apiConnector after the identityProvider's Delete", mustGet(t, s, tenantA, conn, id), rec(tenantA, conn, id, 1, dataConn))
	checkRecords(t, "List apiConnectors", mustList(t, s, tenantA, conn), []store.Record{rec(tenantA, conn, id, 1, dataConn)})
}

func testListOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	ids := []string{"zeta", "Alpha", "mike", "bravo", "Yankee", "charlie"}
	var want []store.Record
	for i, id := range ids {
		d := []byte(fmt.Sprintf(`{"i":%d}`, i))
		want = append(want, mustCreate(t, s, tenantA, c, id, d))
		// Records of other tenants and collections in between must not show.
		mustCreate(t, s, tenantB, c, id+"-b", d)
		mustCreate(t, s, tenantA, store.APIConnectors, id+"-conn", d)
		mustCreate(t, s, store.Global, c, id+"-global", d)
	}
	checkRecords(t, "List in creation order", mustList(t, s, tenantA, c), want)

	// An update does not move a record.
	up, err := s.Update(ctx, tenantA, c, "alpha", func(store.Tx, store.Record) ([]byte, error) { return []byte(`{"i":"updated"}`), nil })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want[1] = up
	checkRecords(t, "List after Update", mustList(t, s, tenantA, c), want)

	// A record deleted and created again is the newest.
	if err := s.Delete(ctx, tenantA, c, "MIKE", nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mike := mustCreate(t, s, tenantA, c, "Mike", []byte(`{"i":"again"}`))
	want = append(append(want[:2:2], want[3:]...), mike)
	checkRecords(t, "List after Delete and re-Create", mustList(t, s, tenantA, c), want)

	if got := mustList(t, s, tenantB, c); len(got) != len(ids) {
		t.Errorf("List of tenant B has %d records, want %d", len(got), len(ids))
	}
	if got := mustList(t, s, tenantA, store.APIConnectors); len(got) != len(ids) {
		t.Errorf("List of tenant A's apiConnectors has %d records, want %d", len(got), len(ids))
	}
}

func testListEmpty(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.APIConnectors
	rs, err := s.List(ctx, tenantA, c)
	if err != nil {
		t.Fatalf("List of an empty store: %v", err)
	}
	if len(rs) != 0 {
		checkRecords(t, "List of an empty store", rs, nil)
	}
	mustCreate(t, s, tenantA, c, "only", []byte(`{}`))
	if err := s.Delete(ctx, tenantA, c, "only", nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	rs, err = s.List(ctx, tenantA, c)
	if err != nil {
		t.Fatalf("List after the only record's Delete: %v", err)
	}
	if len(rs) != 0 {
		checkRecords(t, "List after the only record's Delete", rs, nil)
	}
}

func testUpdateVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.APIConnectors
	last := mustCreate(t, s, tenantA, c, "Conn-1", counterDoc(0))
	for i := 1; i <= 5; i++ {
		calls := 0
		prev := last
		got, err := s.Update(ctx, tenantA, c, "conn-1", func(_ store.Tx, cur store.Record) ([]byte, error) {
			calls++
			checkRecord(t, fmt.Sprintf("update %d: callback's current record", i), cur, prev)
			return counterDoc(i), nil
		})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if calls == 0 {
			t.Errorf("update %d: callback not called", i)
		}
		want := rec(tenantA, c, "Conn-1", int64(i)+1, counterDoc(i))
		checkRecord(t, fmt.Sprintf("update %d: Update", i), got, want)
		checkRecord(t, fmt.Sprintf("update %d: Get", i), mustGet(t, s, tenantA, c, "Conn-1"), want)
		last = want
	}
}

func testUpdateFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.APIConnectors
	mustCreate(t, s, tenantA, c, "conn", []byte(`{"v":1}`))
	want, err := s.Update(ctx, tenantA, c, "conn", func(store.Tx, store.Record) ([]byte, error) { return []byte(`{"v":2}`), nil })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	errRefused := errors.New("storetest: refused")
	precondition := &graph.Error{Kind: graph.KindPreconditionFailed, Message: "storetest: etag mismatch"}
	for _, tc := range []struct {
		name string
		fn   func(store.Tx, store.Record) ([]byte, error)
		want error
	}{
		{"plain error", func(store.Tx, store.Record) ([]byte, error) { return nil, errRefused }, errRefused},
		{"error with data", func(store.Tx, store.Record) ([]byte, error) { return []byte(`{"v":"lost"}`), errRefused }, errRefused},
		{"wrapped error", func(store.Tx, store.Record) ([]byte, error) {
			return nil, fmt.Errorf("validate: %w", errRefused)
		}, errRefused},
		{"graph error", func(store.Tx, store.Record) ([]byte, error) { return nil, precondition }, precondition},
		{"error after scribbling on cur", func(_ store.Tx, cur store.Record) ([]byte, error) {
			for i := range cur.Data {
				cur.Data[i] = ' '
			}
			cur.Version = 99
			return cur.Data, errRefused
		}, errRefused},
	} {
		_, err := s.Update(ctx, tenantA, c, "conn", tc.fn)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Update error = %v, want %v", tc.name, err, tc.want)
		}
		if ge := graph.AsError(tc.want); ge != nil {
			wantKind(t, tc.name, err, ge.Kind)
		}
		checkRecord(t, tc.name+": Get after the failed Update", mustGet(t, s, tenantA, c, "conn"), want)
	}

	// The failed updates left no trace in the version either.
	got, err := s.Update(ctx, tenantA, c, "conn", func(store.Tx, store.Record) ([]byte, error) { return []byte(`{"v":3}`), nil })
	if err != nil {
		t.Fatalf("Update after the failed ones: %v", err)
	}
	checkRecord(t, "Update after the failed ones", got, rec(tenantA, c, "conn", 3, []byte(`{"v":3}`)))
}

func testUpdateMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	_, err := s.Update(ctx, tenantA, c, "missing", failingUpdate(t, "Update of a missing id"))
	wantKind(t, "Update of a missing id", err, graph.KindNotFound)

	mustCreate(t, s, tenantA, c, "gone", []byte(`{}`))
	if err := s.Delete(ctx, tenantA, c, "gone", nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = s.Update(ctx, tenantA, c, "gone", failingUpdate(t, "Update of a deleted id"))
	wantKind(t, "Update of a deleted id", err, graph.KindNotFound)
	_, err = s.Get(ctx, tenantA, c, "gone")
	wantKind(t, "Get after the Update of a deleted id", err, graph.KindNotFound)
}

func testTxReads(t *testing.T, s store.Store) {
	ctx := t.Context()
	conn, idp := store.APIConnectors, store.IdentityProviders
	tenantRec := mustCreate(t, s, store.Global, store.Tenants, tenantA, []byte(`{"name":"A"}`))
	c1 := mustCreate(t, s, tenantA, conn, "Conn-1", []byte(`{"name":"one"}`))
	c2 := mustCreate(t, s, tenantA, conn, "Conn-2", []byte(`{"name":"two"}`))
	mustCreate(t, s, tenantB, conn, "Conn-3", []byte(`{"name":"other tenant"}`))
	mustCreate(t, s, tenantA, idp, "IdP", []byte(`{"connector":"Conn-1"}`))

	calls := 0
	got, err := s.Update(ctx, tenantA, idp, "idp", func(tx store.Tx, cur store.Record) ([]byte, error) {
		calls++
		r, err := tx.Get(tenantA, conn, "conn-1")
		if err != nil {
			return nil, fmt.Errorf("tx.Get: %w", err)
		}
		checkRecord(t, "tx.Get of another collection", r, c1)
		rs, err := tx.List(tenantA, conn)
		if err != nil {
			return nil, fmt.Errorf("tx.List: %w", err)
		}
		checkRecords(t, "tx.List of another collection", rs, []store.Record{c1, c2})
		r, err = tx.Get(store.Global, store.Tenants, tenantA)
		if err != nil {
			return nil, fmt.Errorf("tx.Get global: %w", err)
		}
		checkRecord(t, "tx.Get of a global record", r, tenantRec)
		r, err = tx.Get(tenantA, idp, "IDP")
		if err != nil {
			return nil, fmt.Errorf("tx.Get of the record itself: %w", err)
		}
		checkRecord(t, "tx.Get of the record being updated", r, cur)
		_, err = tx.Get(tenantA, conn, "Conn-3")
		wantKind(t, "tx.Get of another tenant's record", err, graph.KindNotFound)
		_, err = tx.Get(tenantA, conn, "missing")
		wantKind(t, "tx.Get of a missing id", err, graph.KindNotFound)
		// The new document is built from what the transaction read.
		return []byte(fmt.Sprintf(`{"connector":"Conn-1","copied":%s,"count":%d}`, c1.Data, len(rs))), nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls == 0 {
		t.Error("Update callback not called")
	}
	want := rec(tenantA, idp, "IdP", 2, []byte(`{"connector":"Conn-1","copied":{"name":"one"},"count":2}`))
	checkRecord(t, "Update", got, want)
	checkRecord(t, "Get after Update", mustGet(t, s, tenantA, idp, "IdP"), want)

	// A reference check: a connector in use by an identity provider cannot go.
	errInUse := errors.New("storetest: connector in use")
	inUse := func(tx store.Tx, cur store.Record) error {
		rs, err := tx.List(tenantA, idp)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var v struct{ Connector string }
			if err := json.Unmarshal(r.Data, &v); err != nil {
				return err
			}
			if store.Key(v.Connector) == store.Key(cur.ID) {
				return errInUse
			}
		}
		return nil
	}
	if err := s.Delete(ctx, tenantA, conn, "conn-1", inUse); !errors.Is(err, errInUse) {
		t.Errorf("Delete of a referenced connector: error %v, want %v", err, errInUse)
	}
	checkRecord(t, "Get of the referenced connector", mustGet(t, s, tenantA, conn, "Conn-1"), c1)
	if _, err := s.Update(ctx, tenantA, idp, "IdP", func(store.Tx, store.Record) ([]byte, error) {
		return []byte(`{"connector":"Conn-2"}`), nil
	}); err != nil {
		t.Fatalf("Update to Conn-2: %v", err)
	}
	if err := s.Delete(ctx, tenantA, conn, "conn-1", inUse); err != nil {
		t.Fatalf("Delete of a no longer referenced connector: %v", err)
	}
	_, err = s.Get(ctx, tenantA, conn, "Conn-1")
	wantKind(t, "Get of the deleted connector", err, graph.KindNotFound)
	if err := s.Delete(ctx, tenantA, conn, "conn-2", inUse); !errors.Is(err, errInUse) {
		t.Errorf("Delete of the newly referenced connector: error %v, want %v", err, errInUse)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	mustCreate(t, s, tenantA, c, "Plain", []byte(`{"a":1}`))
	keep := mustCreate(t, s, tenantA, c, "Keep", []byte(`{"keep":true}`))
	if err := s.Delete(ctx, tenantA, c, "plain", nil); err != nil {
		t.Fatalf("Delete with a nil check: %v", err)
	}
	_, err := s.Get(ctx, tenantA, c, "Plain")
	wantKind(t, "Get after Delete", err, graph.KindNotFound)
	checkRecords(t, "List after Delete", mustList(t, s, tenantA, c), []store.Record{keep})
	err = s.Delete(ctx, tenantA, c, "Plain", nil)
	wantKind(t, "second Delete", err, graph.KindNotFound)
	err = s.Delete(ctx, tenantA, c, "Plain", failingCheck(t, "second Delete with a check"))
	wantKind(t, "second Delete with a check", err, graph.KindNotFound)
	_, err = s.Update(ctx, tenantA, c, "Plain", failingUpdate(t, "Update after Delete"))
	wantKind(t, "Update after Delete", err, graph.KindNotFound)

	// The check sees the current record and nil lets the Delete through.
	mustCreate(t, s, tenantA, c, "Checked", []byte(`{"b":1}`))
	cur, err := s.Update(ctx, tenantA, c, "checked", func(store.Tx, store.Record) ([]byte, error) { return []byte(`{"b":2}`), nil })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	calls := 0
	err = s.Delete(ctx, tenantA, c, "CHECKED", func(_ store.Tx, r store.Record) error {
		calls++
		checkRecord(t, "Delete check's current record", r, cur)
		return nil
	})
	if err != nil {
		t.Fatalf("Delete with an approving check: %v", err)
	}
	if calls == 0 {
		t.Error("Delete check not called")
	}
	_, err = s.Get(ctx, tenantA, c, "Checked")
	wantKind(t, "Get after the checked Delete", err, graph.KindNotFound)
	checkRecords(t, "List at the end", mustList(t, s, tenantA, c), []store.Record{keep})
}

func testDeleteCheckError(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.APIConnectors
	mustCreate(t, s, tenantA, c, "Conn", []byte(`{"v":1}`))
	want, err := s.Update(ctx, tenantA, c, "conn", func(store.Tx, store.Record) ([]byte, error) { return []byte(`{"v":2}`), nil })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	errRefused := errors.New("storetest: delete refused")
	inUse := &graph.Error{Kind: graph.KindConflict, Message: "storetest: in use"}
	for _, tc := range []struct {
		name  string
		check func(store.Tx, store.Record) error
		want  error
	}{
		{"plain error", func(store.Tx, store.Record) error { return errRefused }, errRefused},
		{"wrapped error", func(store.Tx, store.Record) error { return fmt.Errorf("check: %w", errRefused) }, errRefused},
		{"graph error", func(store.Tx, store.Record) error { return inUse }, inUse},
	} {
		calls := 0
		err := s.Delete(ctx, tenantA, c, "CONN", func(tx store.Tx, cur store.Record) error {
			calls++
			checkRecord(t, tc.name+": check's current record", cur, want)
			return tc.check(tx, cur)
		})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Delete error = %v, want %v", tc.name, err, tc.want)
		}
		if ge := graph.AsError(tc.want); ge != nil {
			wantKind(t, tc.name, err, ge.Kind)
		}
		if calls == 0 {
			t.Errorf("%s: check not called", tc.name)
		}
		checkRecord(t, tc.name+": Get after the refused Delete", mustGet(t, s, tenantA, c, "Conn"), want)
	}
	checkRecords(t, "List after the refused Deletes", mustList(t, s, tenantA, c), []store.Record{want})
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.APIConnectors
	const workers, each = 32, 25
	mustCreate(t, s, tenantA, c, "Counter", counterDoc(0))

	var mu sync.Mutex
	seen := make(map[int64]bool)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range each {
				r, err := s.Update(ctx, tenantA, c, "counter", increment)
				if err != nil {
					t.Errorf("worker %d, update %d: %v", w, i, err)
					return
				}
				// The document a version carries is the one built from the
				// version before it.
				if n := readCounter(t, r.Data); int64(n) != r.Version-1 {
					t.Errorf("worker %d, update %d: version %d carries n=%d, want n=%d", w, i, r.Version, n, r.Version-1)
				}
				mu.Lock()
				if seen[r.Version] {
					t.Errorf("worker %d, update %d: version %d returned twice", w, i, r.Version)
				}
				seen[r.Version] = true
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()

	got := mustGet(t, s, tenantA, c, "Counter")
	if n := readCounter(t, got.Data); n != workers*each || got.Version != workers*each+1 {
		t.Errorf("after %d concurrent updates: n=%d version=%d, want n=%d version=%d", workers*each, n, got.Version, workers*each, workers*each+1)
	}
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	const racers = 16
	for round := range 4 {
		base := fmt.Sprintf("Race-%d", round)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, racers)
		ids := make([]string, racers)
		datas := make([][]byte, racers)
		for i := range racers {
			// Every racer spells the id its own way.
			ids[i] = base
			switch i % 3 {
			case 1:
				ids[i] = strings.ToLower(base)
			case 2:
				ids[i] = strings.ToUpper(base)
			}
			datas[i] = []byte(fmt.Sprintf(`{"by":%d}`, i))
			wg.Go(func() {
				<-start
				_, errs[i] = s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: ids[i], Data: datas[i]})
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("round %d: racers %d and %d both created %q", round, winner, i, base)
			case err == nil:
				winner = i
			default:
				wantKind(t, fmt.Sprintf("round %d: racer %d", round, i), err, graph.KindConflict)
			}
		}
		if winner < 0 {
			t.Errorf("round %d: no racer created %q", round, base)
			continue
		}
		want := rec(tenantA, c, ids[winner], 1, datas[winner])
		checkRecord(t, fmt.Sprintf("round %d: Get", round), mustGet(t, s, tenantA, c, base), want)
	}
	if rs := mustList(t, s, tenantA, c); len(rs) != 4 {
		t.Errorf("List has %d records after 4 races, want 4", len(rs))
	}
}

// testConcurrentMixedOutcomes runs failing and succeeding writes at the same
// moment, so that a batching backend puts them in one transaction: the
// failures must change nothing and come back to their own caller, the
// successes must all persist.
func testConcurrentMixedOutcomes(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	const rounds, writers = 4, 60
	mustCreate(t, s, tenantA, c, "Shared", counterDoc(0))

	const (
		updateOK = iota
		updateFail
		deleteRefused
		deleteOK
		createOK
		createConflict
		kinds
	)
	victimID := func(r, i int) string { return fmt.Sprintf("Victim-%d-%d", r, i) }
	victimDoc := func(r, i int) []byte { return []byte(fmt.Sprintf(`{"victim":"%d-%d"}`, r, i)) }
	newID := func(r, i int) string { return fmt.Sprintf("New-%d-%d", r, i) }
	newDoc := func(r, i int) []byte { return []byte(fmt.Sprintf(`{"new":"%d-%d"}`, r, i)) }

	// The victims of the Deletes, created concurrently to keep this fast.
	var wg sync.WaitGroup
	for r := range rounds {
		for i := range writers {
			if k := i % kinds; k == deleteRefused || k == deleteOK {
				wg.Go(func() {
					if _, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: victimID(r, i), Data: victimDoc(r, i)}); err != nil {
						t.Errorf("Create %s: %v", victimID(r, i), err)
					}
				})
			}
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	updates := 0
	for r := range rounds {
		start := make(chan struct{})
		for i := range writers {
			k := i % kinds
			if k == updateOK {
				updates++
			}
			mine := fmt.Errorf("storetest: writer %d-%d refuses", r, i)
			wg.Go(func() {
				<-start
				switch k {
				case updateOK:
					if _, err := s.Update(ctx, tenantA, c, "shared", increment); err != nil {
						t.Errorf("writer %d-%d: Update: %v", r, i, err)
					}
				case updateFail:
					_, err := s.Update(ctx, tenantA, c, "shared", func(tx store.Tx, cur store.Record) ([]byte, error) {
						data, err := increment(tx, cur)
						if err != nil {
							return nil, err
						}
						return data, mine
					})
					if !errors.Is(err, mine) {
						t.Errorf("writer %d-%d: failing Update returned %v, want %v", r, i, err, mine)
					}
				case deleteRefused:
					err := s.Delete(ctx, tenantA, c, victimID(r, i), func(store.Tx, store.Record) error { return mine })
					if !errors.Is(err, mine) {
						t.Errorf("writer %d-%d: refused Delete returned %v, want %v", r, i, err, mine)
					}
				case deleteOK:
					if err := s.Delete(ctx, tenantA, c, victimID(r, i), nil); err != nil {
						t.Errorf("writer %d-%d: Delete: %v", r, i, err)
					}
				case createOK:
					if _, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: newID(r, i), Data: newDoc(r, i)}); err != nil {
						t.Errorf("writer %d-%d: Create: %v", r, i, err)
					}
				case createConflict:
					_, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "SHARED", Data: []byte(`{"n":-1}`)})
					wantKind(t, fmt.Sprintf("writer %d-%d: Create of an existing id", r, i), err, graph.KindConflict)
				}
			})
		}
		close(start)
		wg.Wait()
	}

	got := mustGet(t, s, tenantA, c, "Shared")
	if n := readCounter(t, got.Data); n != updates || got.Version != int64(updates)+1 || got.ID != "Shared" {
		t.Errorf("shared counter = %s, want n=%d version=%d ID %q", show(got), updates, updates+1, "Shared")
	}
	want := 1
	for r := range rounds {
		for i := range writers {
			switch i % kinds {
			case deleteRefused:
				want++
				checkRecord(t, "Get of a victim whose Delete was refused", mustGet(t, s, tenantA, c, victimID(r, i)), rec(tenantA, c, victimID(r, i), 1, victimDoc(r, i)))
			case deleteOK:
				_, err := s.Get(ctx, tenantA, c, victimID(r, i))
				wantKind(t, "Get of a deleted victim", err, graph.KindNotFound)
			case createOK:
				want++
				checkRecord(t, "Get of a created record", mustGet(t, s, tenantA, c, newID(r, i)), rec(tenantA, c, newID(r, i), 1, newDoc(r, i)))
			}
		}
	}
	if rs := mustList(t, s, tenantA, c); len(rs) != want {
		t.Errorf("List has %d records, want %d", len(rs), want)
	}
}

func testJSONRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.IdentityProviders
	var printable strings.Builder
	for b := byte(0x20); b < 0x7f; b++ {
		if b == '"' || b == '\\' {
			printable.WriteByte('\\')
		}
		printable.WriteByte(b)
	}
	var controls strings.Builder
	for b := range 0x20 {
		fmt.Fprintf(&controls, `\u%04x`, b)
	}
	var runes strings.Builder
	for r := rune(0x80); r < 0x800; r += 7 {
		runes.WriteRune(r)
	}
	for _, r := range []rune{0xfeff, 0xfffd, 0x10000, 0x1f680, 0x10ffff} {
		runes.WriteRune(r)
	}
	docs := []string{
		`{}`,
		`[]`,
		`{"s":"plain"}`,
		"{\n\t\"spaced\" : [ 1 , 2.50 , -0.0e+10 ],\r\n  \"null\":null ,\"t\":true}  \n",
		`{"name":"Zoë 日本語 🚀","rtl":"مرحبا","zwj":"👩‍💻"}`,
		`{"esc":"\" \\ \/ \b\f\n\r\t \ud83d\ude80 \u00e9"}`,
		`{"controls":"` + controls.String() + `"}`,
		`{"printable":"` + printable.String() + `"}`,
		`{"runes":"` + runes.String() + `"}`,
		`{"big":123456789012345678901234567890,"f":1e308,"min":-9223372036854775808,"tiny":5e-324}`,
		`{"dup":1,"dup":2,"order":{"z":1,"a":2}}`,
		strings.Repeat("[", 200) + `"deep"` + strings.Repeat("]", 200),
		`{"large":"` + strings.Repeat("0123456789abcdef", 16<<10) + `"}`,
	}
	var want []store.Record
	for i, d := range docs {
		if !json.Valid([]byte(d)) {
			t.Fatalf("doc %d is not valid JSON (a bug in the suite)", i)
		}
		id := fmt.Sprintf("doc-%02d", i)
		want = append(want, rec(tenantA, c, id, 1, []byte(d)))
		checkRecord(t, fmt.Sprintf("Create doc %d", i), mustCreate(t, s, tenantA, c, id, []byte(d)), want[i])
	}
	for i := range docs {
		got := mustGet(t, s, tenantA, c, want[i].ID)
		if !bytes.Equal(got.Data, want[i].Data) {
			t.Errorf("Get doc %d: Data = %.200q (%d bytes), want %.200q (%d bytes)", i, got.Data, len(got.Data), want[i].Data, len(want[i].Data))
		}
	}
	rs := mustList(t, s, tenantA, c)
	if len(rs) != len(docs) {
		t.Fatalf("List has %d records, want %d", len(rs), len(docs))
	}
	for i, r := range rs {
		if !bytes.Equal(r.Data, want[i].Data) {
			t.Errorf("List record %d: Data = %.200q, want %.200q", i, r.Data, want[i].Data)
		}
	}
	// Update stores the callback's bytes as exactly: rotate the documents.
	for i := range docs {
		next := []byte(docs[(i+1)%len(docs)])
		got, err := s.Update(ctx, tenantA, c, want[i].ID, func(_ store.Tx, cur store.Record) ([]byte, error) {
			if !bytes.Equal(cur.Data, want[i].Data) {
				t.Errorf("Update doc %d: callback's Data = %.200q, want %.200q", i, cur.Data, want[i].Data)
			}
			return next, nil
		})
		if err != nil {
			t.Fatalf("Update doc %d: %v", i, err)
		}
		if !bytes.Equal(got.Data, next) {
			t.Errorf("Update doc %d: Data = %.200q, want %.200q", i, got.Data, next)
		}
		if g := mustGet(t, s, tenantA, c, want[i].ID); !bytes.Equal(g.Data, next) {
			t.Errorf("Get doc %d after Update: Data = %.200q, want %.200q", i, g.Data, next)
		}
	}
}

func testDataNotAliased(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.APIConnectors
	orig := []byte(`{"v":"original"}`)
	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'x'
		}
	}

	buf := bytes.Clone(orig)
	created, err := s.Create(ctx, store.Record{Tenant: tenantA, Collection: c, ID: "conn", Data: buf})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	scribble(buf)
	scribble(created.Data)
	checkRecord(t, "Get after the caller reused Create's buffer", mustGet(t, s, tenantA, c, "conn"), rec(tenantA, c, "conn", 1, orig))

	got := mustGet(t, s, tenantA, c, "conn")
	scribble(got.Data)
	checkRecord(t, "Get after the caller changed a Get result", mustGet(t, s, tenantA, c, "conn"), rec(tenantA, c, "conn", 1, orig))
	rs := mustList(t, s, tenantA, c)
	for _, r := range rs {
		scribble(r.Data)
	}
	checkRecord(t, "Get after the caller changed a List result", mustGet(t, s, tenantA, c, "conn"), rec(tenantA, c, "conn", 1, orig))

	next := []byte(`{"v":"next"}`)
	buf = bytes.Clone(next)
	updated, err := s.Update(ctx, tenantA, c, "conn", func(store.Tx, store.Record) ([]byte, error) { return buf, nil })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	scribble(buf)
	scribble(updated.Data)
	checkRecord(t, "Get after the caller reused Update's buffer", mustGet(t, s, tenantA, c, "conn"), rec(tenantA, c, "conn", 2, next))
}

// testCreateFunc: CreateFunc computes the document inside the transaction,
// seeing committed records; an error from fn stores nothing; an existing id
// is a conflict reported without running fn.
func testCreateFunc(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, tenantA, store.APIConnectors, "ref-1", counterDoc(7))

	r, err := s.CreateFunc(ctx, tenantA, store.UserFlows, "B2X_1_flow", func(tx store.Tx) ([]byte, error) {
		ref, err := tx.Get(tenantA, store.APIConnectors, "REF-1")
		if err != nil {
			return nil, err
		}
		return counterDoc(readCounter(t, ref.Data) + 1), nil
	})
	if err != nil {
		t.Fatalf("CreateFunc: %v", err)
	}
	if r.Version != 1 || readCounter(t, r.Data) != 8 {
		t.Fatalf("CreateFunc returned version %d data %s, want 1 and n=8", r.Version, r.Data)
	}
	got, err := s.Get(ctx, tenantA, store.UserFlows, "b2x_1_FLOW")
	if err != nil || readCounter(t, got.Data) != 8 {
		t.Fatalf("Get after CreateFunc: %v %s", err, got.Data)
	}

	sentinel := graph.Errorf(graph.KindInvalid, "reference missing")
	_, err = s.CreateFunc(ctx, tenantA, store.UserFlows, "B2X_1_other", func(tx store.Tx) ([]byte, error) {
		if _, err := tx.Get(tenantA, store.APIConnectors, "missing"); graph.KindOf(err) != graph.KindNotFound {
			t.Errorf("tx.Get(missing) = %v, want not found", err)
		}
		return nil, sentinel
	})
	if err != sentinel {
		t.Fatalf("CreateFunc with failing fn = %v, want the fn's error", err)
	}
	if _, err := s.Get(ctx, tenantA, store.UserFlows, "B2X_1_other"); graph.KindOf(err) != graph.KindNotFound {
		t.Fatalf("a failed CreateFunc stored a record: %v", err)
	}

	ran := false
	_, err = s.CreateFunc(ctx, tenantA, store.UserFlows, "B2X_1_FLOW", func(store.Tx) ([]byte, error) {
		ran = true
		return counterDoc(0), nil
	})
	if graph.KindOf(err) != graph.KindConflict || ran {
		t.Fatalf("CreateFunc on an existing id = %v (fn ran: %v), want a conflict without running fn", err, ran)
	}
}
