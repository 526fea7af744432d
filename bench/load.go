package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
}

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
	n    int
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
  io.write(string.format('{"requests":%d,"us":%d,"p50_us":%d,"p99_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
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
}

func (w *wrk) run(ctx context.Context, base string, reqs []request, want, conns int, d time.Duration) (measure, error) {
	w.n++
	script := filepath.Join(w.tmp, fmt.Sprintf("load-%d.lua", w.n))
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
	if res.Errors > 0 {
		return m, fmt.Errorf("%d failed requests; first: %s", res.Errors, res.FirstErr)
	}
	return m, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
