package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestRunCountsEveryAnswer(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.URL.Path+" "+string(b)+" "+r.Header.Get("Authorization")]++
		mu.Unlock()
		if r.URL.Path == "/bad/3" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	req := Request{Method: "PATCH", Want: http.StatusNoContent,
		URL:    func(n int) string { return fmt.Sprintf("%s/obj/%d", srv.URL, n%10) },
		Body:   func(n int) []byte { return []byte(fmt.Sprintf(`{"n":%d}`, n%10)) },
		Header: http.Header{"Authorization": {"Bearer t"}}}
	res := Run(context.Background(), Config{Conns: 4, Duration: time.Minute, MaxRequests: 200}, req)
	if res.Requests != 200 || res.Errors != 0 || len(res.Latencies) != 200 {
		t.Fatalf("Run: %d answers, %d errors (%s), %d latencies; want 200, 0, 200", res.Requests, res.Errors, res.FirstErr, len(res.Latencies))
	}
	for i := range 10 {
		if k := fmt.Sprintf("/obj/%d {\"n\":%d} Bearer t", i, i); seen[k] != 20 {
			t.Errorf("%q sent %d times, want 20", k, seen[k])
		}
	}
	if p50, p99 := res.Percentile(50), res.Percentile(99); p50 <= 0 || p99 < p50 || res.Percentile(100) < p99 {
		t.Errorf("percentiles p50 %v p99 %v p100 %v are not ordered", p50, p99, res.Percentile(100))
	}
	if res.Throughput() <= 0 {
		t.Errorf("throughput %v", res.Throughput())
	}

	bad := Request{Method: "GET", Want: http.StatusNoContent, URL: func(n int) string { return fmt.Sprintf("%s/bad/%d", srv.URL, n%4) }}
	res = Run(context.Background(), Config{Conns: 2, Duration: time.Minute, MaxRequests: 40}, bad)
	if res.Requests != 30 || res.Errors != 10 || res.FirstErr == "" {
		t.Errorf("wrong statuses: %d answers, %d errors, first %q; want 30, 10 and a message", res.Requests, res.Errors, res.FirstErr)
	}
}
