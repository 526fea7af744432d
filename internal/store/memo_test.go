package store

import "testing"

// TestMemo checks that the memo decodes once per unchanged document and
// never answers with a decoding of other bytes or another version.
func TestMemo(t *testing.T) {
	type doc struct{ N int }
	var m Memo[doc]
	r := Record{Tenant: "t", Collection: APIConnectors, ID: "A", Version: 1, Data: []byte(`{"N":1}`)}
	for _, step := range []struct {
		what string
		r    Record
		want doc
	}{
		{"first read", r, doc{1}},
		{"same record, other id case", Record{Tenant: "t", Collection: APIConnectors, ID: "a", Version: 1, Data: []byte(`{"N":1}`)}, doc{1}},
		{"new bytes", Record{Tenant: "t", Collection: APIConnectors, ID: "a", Version: 2, Data: []byte(`{"N":2}`)}, doc{2}},
		{"same bytes, older version", Record{Tenant: "t", Collection: APIConnectors, ID: "a", Version: 1, Data: []byte(`{"N":2}`)}, doc{2}},
		{"other tenant", Record{Tenant: "u", Collection: APIConnectors, ID: "a", Version: 2, Data: []byte(`{"N":3}`)}, doc{3}},
	} {
		v, err := m.Decode(step.r)
		if err != nil || v.Value != step.want || v.Version != step.r.Version {
			t.Errorf("%s: %+v, %v; want %+v at version %d", step.what, v, err, step.want, step.r.Version)
		}
	}
	if _, err := m.Decode(Record{Tenant: "t", Collection: APIConnectors, ID: "bad", Version: 1, Data: []byte(`{`)}); err == nil {
		t.Error("a malformed document decoded")
	}
}
