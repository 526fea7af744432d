package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idgraph/idgraph/bench/loadgen"
)

// measure is what one run of a load measured.
type measure struct {
	Requests int     // answers with the wanted status
	Errors   int     // other answers and transport errors
	RPS      float64 // wanted answers per second
	P50ms    float64
	P99ms    float64
	// Quantiles are the latencies (ms) at percentiles quantile(0), …,
	// quantile(quantiles-1): what merge needs to pool the latencies of
	// loads run side by side. Empty when the loader could not tell.
	Quantiles []float64
}

// quantiles is how many latency percentiles a measure keeps: every 0.1%,
// so that the pooled p50 and p99 fall on a kept percentile.
const quantiles = 1000

// quantile is the percentile (0-100] kept at index k of Quantiles.
func quantile(k int) float64 { return 100 * float64(k+1) / quantiles }

type loader interface {
	name() string
	// run sends reqs (cycling) to base over conns connections for d.
	run(ctx context.Context, base string, reqs []request, want, conns int, d time.Duration) (measure, error)
}

func chooseLoader(which, tmp string) (loader, error) {
	path, err := exec.LookPath("wrk")
	switch which {
	case "wrk":
		if err != nil {
			return nil, fmt.Errorf("-load wrk: wrk is not installed (Debian: apt-get install wrk)")
		}
		return &wrk{path: path, tmp: tmp}, nil
	case "go":
		return goLoad{}, nil
	case "auto":
		if err == nil {
			return &wrk{path: path, tmp: tmp}, nil
		}
		return goLoad{}, nil
	}
	return nil, fmt.Errorf("-load: want wrk, go or auto, not %q", which)
}

// wrk drives wrk with a generated Lua script that cycles over the
// requests, each formatted once, and prints its summary as JSON.
type wrk struct {
	path string
	tmp  string
	n    atomic.Int64 // scripts written; several runs may go at once
}

func (w *wrk) name() string {
	out, _ := exec.Command(w.path, "--version").CombinedOutput()
	v, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(v); len(f) > 1 {
		return "wrk " + f[1]
	}
	return "wrk"
}

// luaString quotes s as a Lua long string; the level is chosen so that s
// cannot close it.
func luaString(s string) string {
	eq := ""
	for strings.Contains(s, "]"+eq+"]") {
		eq += "="
	}
	return "[" + eq + "[" + s + "]" + eq + "]"
}

func (w *wrk) script(reqs []request) string {
	var b strings.Builder
	// Each wrk thread starts at its own place in the list, so that the
	// threads do not send the same object's requests in lockstep.
	b.WriteString("local threads = 0\nfunction setup(thread)\n  thread:set(\"first\", threads)\n  threads = threads + 1\nend\n")
	b.WriteString("local reqs = {}\nlocal i = 0\nfunction init(args)\n")
	for _, r := range reqs {
		b.WriteString("  reqs[#reqs + 1] = wrk.format(" + luaString(r.method) + ", " + luaString(r.path) + ", {")
		b.WriteString(`["Host"] = "127.0.0.1"`)
		for k, v := range r.header {
			b.WriteString(", [ " + luaString(k) + " ] = " + luaString(v))
		}
		b.WriteString("}")
		if r.body != "" {
			b.WriteString(", " + luaString(r.body))
		}
		b.WriteString(")\n")
	}
	b.WriteString(`  i = math.floor((first or 0) * #reqs / 2) % #reqs
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  local q = {}
  for k = 1, ` + strconv.Itoa(quantiles) + ` do
    q[k] = string.format("%d", k < ` + strconv.Itoa(quantiles) + ` and latency:percentile(100 * k / ` + strconv.Itoa(quantiles) + `) or latency.max)
  end
  io.write(string.format('{"requests":%d,"us":%d,"p50_us":%d,"p99_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"q_us":[%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, table.concat(q, ",")))
end
`)
	return b.String()
}

type wrkSummary struct {
	Requests int   `json:"requests"`
	Micros   int64 `json:"us"`
	P50      int64 `json:"p50_us"`
	P99      int64 `json:"p99_us"`
	Status   int   `json:"status"`
	Connect  int   `json:"connect"`
	Read     int   `json:"read"`
	Write    int   `json:"write"`
	Timeout  int   `json:"timeout"`
	// Quantiles are the latencies at every 0.1% (see quantile).
	Quantiles []int64 `json:"q_us"`
}

func (w *wrk) run(ctx context.Context, base string, reqs []request, want, conns int, d time.Duration) (measure, error) {
	script := filepath.Join(w.tmp, fmt.Sprintf("load-%d.lua", w.n.Add(1)))
	if err := os.WriteFile(script, []byte(w.script(reqs)), 0o600); err != nil {
		return measure{}, err
	}
	threads := min(2, conns)
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, w.path, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", script, base)
	out, err := cmd.Output()
	if err != nil {
		return measure{}, fmt.Errorf("wrk: %w", err)
	}
	var sum wrkSummary
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &sum) == nil {
			found = true
		}
	}
	if !found {
		return measure{}, fmt.Errorf("wrk printed no summary:\n%s", out)
	}
	// wrk counts answers other than 2xx/3xx in errors.status; that each
	// request answers exactly the wanted status was checked before the run
	// (checkStatus).
	bad := sum.Status + sum.Connect + sum.Read + sum.Write + sum.Timeout
	m := measure{Requests: sum.Requests - sum.Status, Errors: bad,
		P50ms: float64(sum.P50) / 1000, P99ms: float64(sum.P99) / 1000}
	if len(sum.Quantiles) == quantiles {
		m.Quantiles = make([]float64, quantiles)
		for k, us := range sum.Quantiles {
			m.Quantiles[k] = float64(us) / 1000
		}
	}
	if sum.Micros > 0 {
		m.RPS = float64(m.Requests) / (float64(sum.Micros) / 1e6)
	}
	if bad > 0 {
		return m, fmt.Errorf("%d failed requests (status %d, connect %d, read %d, write %d, timeout %d)",
			bad, sum.Status, sum.Connect, sum.Read, sum.Write, sum.Timeout)
	}
	return m, nil
}

// goLoad is the fallback when wrk is missing: bench/loadgen. It costs more
// CPU per request than wrk, on the same cores as the server, so absolute
// figures are lower; both servers bear the same cost.
type goLoad struct{}

func (goLoad) name() string { return "Go (bench/loadgen; wrk not installed)" }

func (goLoad) run(ctx context.Context, base string, reqs []request, want, conns int, d time.Duration) (measure, error) {
	req := loadgen.Request{Method: reqs[0].method, Want: want,
		URL: func(n int) string { return base + reqs[n%len(reqs)].path },
		Headers: func(n int) http.Header {
			h := http.Header{}
			for k, v := range reqs[n%len(reqs)].header {
				h.Set(k, v)
			}
			return h
		}}
	if reqs[0].body != "" {
		req.Body = func(n int) []byte { return []byte(reqs[n%len(reqs)].body) }
	}
	res := loadgen.Run(ctx, loadgen.Config{Conns: conns, Duration: d}, req)
	m := measure{Requests: res.Requests, Errors: res.Errors, RPS: res.Throughput(),
		P50ms: ms(res.Percentile(50)), P99ms: ms(res.Percentile(99))}
	if len(res.Latencies) > 0 {
		m.Quantiles = make([]float64, quantiles)
		for k := range m.Quantiles {
			m.Quantiles[k] = ms(res.Percentile(quantile(k)))
		}
	}
	if res.Errors > 0 {
		return m, fmt.Errorf("%d failed requests; first: %s", res.Errors, res.FirstErr)
	}
	return m, nil
}

// spread runs the load over conns connections divided among the servers at
// bases (see split), all at once, one generator per server, and merges
// what they measured. With one server it is the loader's own run.
func spread(ctx context.Context, l loader, bases []string, reqs []request, want, conns int, d time.Duration) (measure, error) {
	shares := split(conns, len(bases))
	if len(shares) == 1 {
		return l.run(ctx, bases[0], reqs, want, conns, d)
	}
	ms := make([]measure, len(shares))
	errs := make([]error, len(shares))
	var wg sync.WaitGroup
	for i, c := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms[i], errs[i] = l.run(ctx, bases[i], reqs, want, c, d)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", bases[i], errs[i])
			}
		}()
	}
	wg.Wait()
	return merge(ms), errors.Join(errs...)
}

// split divides conns connections among n servers as evenly as it can,
// the first servers taking one more when they do not divide; servers that
// would get none are left out (one connection loads one server).
func split(conns, n int) []int {
	n = max(1, min(n, conns))
	shares := make([]int, n)
	for i := range shares {
		shares[i] = conns / n
		if i < conns%n {
			shares[i]++
		}
	}
	return shares
}

// merge combines the measures of loads that ran side by side: the counts
// and the throughputs add up, and the percentiles are those of all the
// answers pooled, each load's kept percentiles weighing by its answers.
// When a load kept no percentiles, the worst p50 and p99 stand in: an upper
// bound of the pooled ones.
func merge(ms []measure) measure {
	var out measure
	pooled := true
	for _, m := range ms {
		out.Requests += m.Requests
		out.Errors += m.Errors
		out.RPS += m.RPS
		out.P50ms = max(out.P50ms, m.P50ms)
		out.P99ms = max(out.P99ms, m.P99ms)
		pooled = pooled && len(m.Quantiles) == quantiles
	}
	if !pooled || out.Requests == 0 {
		return out
	}
	type sample struct{ ms, weight float64 }
	var all []sample
	for _, m := range ms {
		w := float64(m.Requests) / quantiles
		for _, v := range m.Quantiles {
			all = append(all, sample{v, w})
		}
	}
	slices.SortStableFunc(all, func(a, b sample) int { return cmp.Compare(a.ms, b.ms) })
	at := func(p float64) float64 {
		// Slightly under the rank, so that rounding cannot skip the sample
		// the rank falls on.
		rank, sum := p/100*float64(out.Requests)*(1-1e-9), 0.0
		for _, s := range all {
			if sum += s.weight; sum >= rank {
				return s.ms
			}
		}
		return all[len(all)-1].ms
	}
	out.P50ms, out.P99ms = at(50), at(99)
	out.Quantiles = make([]float64, quantiles)
	for k := range out.Quantiles {
		out.Quantiles[k] = at(quantile(k))
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
