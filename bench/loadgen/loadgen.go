// Package loadgen is the benchmark's load generator: a fixed number of
// connections, each sending one request after the other for a fixed time (or
// a fixed number of requests), recording every latency. It stands in for
// wrk so that the benchmark needs nothing but Go.
package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request describes the requests of one run. URL and Body receive the
// sequence number of the request (over all connections), so a run can
// cycle over many objects.
type Request struct {
	Method string
	URL    func(n int) string
	Body   func(n int) []byte // nil for no body
	Header http.Header        // sent with every request
	// Headers, when set, gives more headers for request n (a token per
	// tenant, say).
	Headers func(n int) http.Header
	// Want is the status every answer must have; another one counts as an
	// error.
	Want int
}

// Config bounds a run: Conns connections for Duration, stopping early after
// MaxRequests requests when it is positive.
type Config struct {
	Conns       int
	Duration    time.Duration
	MaxRequests int
	// TLS is the client TLS configuration; nil for plain HTTP.
	TLS *tls.Config
}

// Result is what a run measured.
type Result struct {
	Requests  int           // answered with the wanted status
	Errors    int           // transport errors and other statuses
	FirstErr  string        // the first error, for the report
	Elapsed   time.Duration // wall time of the run
	Latencies []time.Duration
}

// Throughput is the wanted answers per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the latency below which p (0-100) percent of the
// answers came.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies)-1) * p / 100)
	return r.Latencies[i]
}

// Run sends the requests and waits for the run to end.
func Run(ctx context.Context, cfg Config, req Request) Result {
	if cfg.Conns < 1 {
		cfg.Conns = 1
	}
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.Conns, MaxConnsPerHost: cfg.Conns, TLSClientConfig: cfg.TLS,
		DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	var seq atomic.Int64
	var mu sync.Mutex
	var res Result
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, errs, first := 0, 0, ""
			for ctx.Err() == nil {
				n := int(seq.Add(1)) - 1
				if cfg.MaxRequests > 0 && n >= cfg.MaxRequests {
					break
				}
				t0 := time.Now()
				status, err := send(ctx, client, req, n)
				d := time.Since(t0)
				switch {
				case ctx.Err() != nil && err != nil:
					// The run ended during this request: not an answer.
				case err != nil || status != req.Want:
					errs++
					if first == "" {
						first = fmt.Sprintf("%s %s: status %d, error %v", req.Method, req.URL(n), status, err)
					}
				default:
					ok++
					lat = append(lat, d)
				}
			}
			mu.Lock()
			res.Requests += ok
			res.Errors += errs
			if res.FirstErr == "" {
				res.FirstErr = first
			}
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

func send(ctx context.Context, client *http.Client, req Request, n int) (int, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body(n))
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, req.URL(n), body)
	if err != nil {
		return 0, err
	}
	for k, v := range req.Header {
		r.Header[k] = v
	}
	if req.Headers != nil {
		for k, v := range req.Headers(n) {
			r.Header[k] = v
		}
	}
	resp, err := client.Do(r)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}
