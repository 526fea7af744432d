package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		conns, n int
		want     []int
	}{
		{1, 1, []int{1}},
		{64, 1, []int{64}},
		{16, 3, []int{6, 5, 5}},
		{64, 3, []int{22, 21, 21}},
		{64, 2, []int{32, 32}},
		{1, 3, []int{1}},    // one connection loads one replica
		{2, 3, []int{1, 1}}, // no replica gets an idle generator
		{5, 0, []int{5}},
	} {
		got := split(tc.conns, tc.n)
		if !slices.Equal(got, tc.want) {
			t.Errorf("split(%d, %d) = %v, want %v", tc.conns, tc.n, got, tc.want)
		}
		sum := 0
		for _, c := range got {
			sum += c
		}
		if sum != tc.conns {
			t.Errorf("split(%d, %d) = %v: %d connections in all", tc.conns, tc.n, got, sum)
		}
	}
}

// uniform is a measure whose latencies are spread evenly from lo to hi ms.
func uniform(requests int, rps, lo, hi float64) measure {
	m := measure{Requests: requests, RPS: rps, Quantiles: make([]float64, quantiles)}
	for k := range m.Quantiles {
		m.Quantiles[k] = lo + (hi-lo)*quantile(k)/100
	}
	m.P50ms, m.P99ms = m.Quantiles[499], m.Quantiles[989]
	return m
}

func TestMerge(t *testing.T) {
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

	// One measure merges to itself.
	one := uniform(1000, 200, 0, 10)
	if got := merge([]measure{one}); got.P50ms != one.P50ms || got.P99ms != one.P99ms || got.RPS != one.RPS || !slices.Equal(got.Quantiles, one.Quantiles) {
		t.Errorf("merge of one: p50 %v p99 %v rps %v, want %v %v %v", got.P50ms, got.P99ms, got.RPS, one.P50ms, one.P99ms, one.RPS)
	}

	// Alike loads keep their percentiles; counts and rates add up.
	got := merge([]measure{one, one, one})
	if got.Requests != 3000 || got.RPS != 600 || got.P50ms != one.P50ms || got.P99ms != one.P99ms {
		t.Errorf("merge of three alike: %+v", got)
	}

	// A fast load with most answers and a slow one: the pooled p50 is the
	// fast one's, the p99 falls in the slow one's tail.
	fast := uniform(9000, 900, 0, 1)   // 1 ms at worst
	slow := uniform(1000, 100, 10, 20) // 10 to 20 ms
	got = merge([]measure{fast, slow})
	// 50% of all is 5000 answers: the fast load's 55.6th percentile.
	if !near(got.P50ms, 0.556) {
		t.Errorf("pooled p50 = %v ms, want 0.556", got.P50ms)
	}
	// 99% of all leaves 100 answers above: the slow load's 90th percentile.
	if !near(got.P99ms, 19) {
		t.Errorf("pooled p99 = %v ms, want 19", got.P99ms)
	}
	if got.Requests != 10000 || got.RPS != 1000 {
		t.Errorf("pooled counts: %d requests, %v/s", got.Requests, got.RPS)
	}

	// Without kept percentiles, the worst stand in.
	a, b := measure{Requests: 10, P50ms: 1, P99ms: 9}, measure{Requests: 10, P50ms: 2, P99ms: 3}
	if got := merge([]measure{a, b}); got.P50ms != 2 || got.P99ms != 9 || got.Requests != 20 {
		t.Errorf("merge without percentiles: %+v, want p50 2, p99 9", got)
	}
}

// TestWrkQuantiles runs wrk for a second against a local server and checks
// the percentiles its script reports.
func TestWrkQuantiles(t *testing.T) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w := &wrk{path: path, tmp: t.TempDir()}
	reqs := []request{{"PATCH", "/a", `{"x":1}`, map[string]string{"Content-Type": "application/json"}},
		{"PATCH", "/b", `{"x":2}`, nil}}
	// One server: wrk's own p50 and p99 are among the kept percentiles.
	// Two: the percentiles are pooled.
	for _, bases := range [][]string{{srv.URL}, {srv.URL, srv.URL}} {
		m, err := spread(t.Context(), w, bases, reqs, http.StatusNoContent, 4, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Requests == 0 || len(m.Quantiles) != quantiles {
			t.Fatalf("%d servers: %d requests, %d percentiles", len(bases), m.Requests, len(m.Quantiles))
		}
		if !slices.IsSorted(m.Quantiles) || m.Quantiles[0] <= 0 {
			t.Errorf("%d servers: the percentiles are not positive and ascending: %v…", len(bases), m.Quantiles[:10])
		}
		if m.P50ms != m.Quantiles[499] || m.P99ms != m.Quantiles[989] {
			t.Errorf("%d servers: p50 %v and p99 %v are not the kept percentiles %v and %v", len(bases), m.P50ms, m.P99ms, m.Quantiles[499], m.Quantiles[989])
		}
	}
}
