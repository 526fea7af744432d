package store

import (
	"context"
	"testing"
)

// oneRecord is a Store holding one record. Its Update runs fn on each of
// the states in runs (a write function may run more than once, each time
// on the record as it then is) and stores the last run's document.
type oneRecord struct {
	Store
	rec  Record
	runs []Record
}

func (s *oneRecord) Get(_ context.Context, _ string, _ Collection, _ string) (Record, error) {
	return s.rec, nil
}

func (s *oneRecord) Update(_ context.Context, _ string, _ Collection, _ string, fn func(Tx, Record) ([]byte, error)) (Record, error) {
	var data []byte
	for _, cur := range s.runs {
		var err error
		if data, err = fn(nil, cur); err != nil {
			return Record{}, err
		}
	}
	s.rec.Version++
	s.rec.Data = data
	return s.rec, nil
}

type readDoc struct {
	N    int
	Tags *[]string
}

// TestUpdateReadHandsTheReadValueOnce checks that the update gets the value
// read (no second decoding) only while the record is exactly the one
// read, and at most once: a second run of fn gets a fresh decoding.
func TestUpdateReadHandsTheReadValueOnce(t *testing.T) {
	ctx := context.Background()
	rec := Record{Tenant: "t", Collection: IdentityProviders, ID: "p", Version: 3, Data: []byte(`{"N":1,"Tags":["a"]}`)}
	newer := Record{Tenant: "t", Collection: IdentityProviders, ID: "p", Version: 4, Data: []byte(`{"N":2,"Tags":["b"]}`)}
	sameVersionOtherBytes := Record{Tenant: "t", Collection: IdentityProviders, ID: "p", Version: 3, Data: []byte(`{"N":9,"Tags":["z"]}`)}

	for _, tc := range []struct {
		name     string
		runs     []Record
		wantSame []bool // per run: fn received the read value itself
		wantN    []int
	}{
		{"unchanged", []Record{rec}, []bool{true}, []int{1}},
		{"unchanged, fn runs twice", []Record{rec, rec}, []bool{true, false}, []int{1, 1}},
		{"changed since the read", []Record{newer}, []bool{false}, []int{2}},
		{"same version, other bytes", []Record{sameVersionOtherBytes}, []bool{false}, []int{9}},
		{"changed, then back", []Record{newer, rec}, []bool{false, true}, []int{2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &oneRecord{rec: rec, runs: tc.runs}
			read, err := GetRead[readDoc](ctx, s, "t", IdentityProviders, "p")
			if err != nil {
				t.Fatal(err)
			}
			readTags := read.Value.Tags
			run := 0
			got, err := UpdateRead(ctx, s, read, func(_ Tx, cur Versioned[readDoc]) (readDoc, error) {
				if same := cur.Value.Tags == readTags; same != tc.wantSame[run] {
					t.Errorf("run %d: received the read value = %v, want %v", run, same, tc.wantSame[run])
				}
				if cur.Value.N != tc.wantN[run] || cur.Version != tc.runs[run].Version {
					t.Errorf("run %d: got N=%d v%d, want N=%d v%d", run, cur.Value.N, cur.Version, tc.wantN[run], tc.runs[run].Version)
				}
				// fn changes what it received, as update functions do.
				(*cur.Value.Tags)[0] = "changed"
				cur.Value.N += 100
				run++
				return cur.Value, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if run != len(tc.runs) {
				t.Fatalf("fn ran %d times, want %d", run, len(tc.runs))
			}
			if want := tc.wantN[len(tc.wantN)-1] + 100; got.Value.N != want {
				t.Fatalf("UpdateRead returned N=%d, want %d (the stored run's value)", got.Value.N, want)
			}
		})
	}
}
