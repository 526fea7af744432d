package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

type point struct {
	Conns             int
	Baseline, Idgraph measure   // medians of the runs
	Ratios            []float64 // idgraph / baseline in each pair of runs
}

// spread is the range of the per-run ratios, as "25–31%".
func (p point) spread() string {
	if len(p.Ratios) < 2 {
		return ""
	}
	return fmt.Sprintf("%.0f–%.0f%%", 100*slices.Min(p.Ratios), 100*slices.Max(p.Ratios))
}

// ratio is idgraph's throughput as a share of the baseline's.
func (p point) ratio() float64 {
	if p.Baseline.RPS == 0 {
		return 0
	}
	return p.Idgraph.RPS / p.Baseline.RPS
}

type scenarioResult struct {
	Name   string
	Points []point
}

// pgResult is idgraph on PostgreSQL with Replicas servers sharing one
// database, each load spread over them; its points' baselines are the runs
// alongside.
type pgResult struct {
	Replicas  int
	Scenarios []scenarioResult
}

// replicaCount is "1 replica", "3 replicas".
func replicaCount(n int) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}

// findPoint returns the point of the scenario name at conns connections.
func findPoint(scs []scenarioResult, name string, conns int) (point, bool) {
	for _, s := range scs {
		if s.Name != name {
			continue
		}
		for _, p := range s.Points {
			if p.Conns == conns {
				return p, true
			}
		}
	}
	return point{}, false
}

type report struct {
	Started, Finished time.Time
	Machine, Loader   string
	Commit            string
	Duration          time.Duration
	Repeat            int
	Scenarios         []scenarioResult

	IdleRSS, BaselineIdleRSS int64 // after seeding, before the load
	PeakRSS                  int64 // during the runs at PeakConns
	AfterRSS                 int64 // after all runs
	PeakConns                int

	ColdEmpty   cold
	ColdFull    cold
	ColdObjects int

	// PostgresServer describes the PostgreSQL server of Postgres; both are
	// empty when the run measured the embedded store only. The goals, the
	// memory and the cold starts are the embedded store's.
	PostgresServer string
	Postgres       []pgResult
}

// machine describes the CPU, cores, OS and Go version.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d × %s, %s/%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// goal is one of the performance goals, checked against the run.
type goal struct {
	What     string
	Want     string
	Measured string
	Met      bool
}

func (r *report) find(name string, conns int) (point, bool) {
	return findPoint(r.Scenarios, name, conns)
}

func (r *report) goals() []goal {
	var gs []goal
	pct := func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }
	for _, name := range []string{"PATCH /v1.0/identityProviders/{id}", "PATCH /beta/identity/apiConnectors/{id}"} {
		for _, c := range []struct {
			conns int
			min   float64
		}{{64, 0.40}, {16, 0.25}} {
			if p, ok := r.find(name, c.conns); ok {
				gs = append(gs, goal{fmt.Sprintf("%s, %d connections: share of baseline", name, c.conns),
					"≥ " + pct(c.min), pct(p.ratio()), p.ratio() >= c.min})
			}
		}
		for _, c := range []int{16, 64} {
			if p, ok := r.find(name, c); ok {
				gs = append(gs, goal{fmt.Sprintf("%s, %d connections: p99", name, c),
					"≤ 30 ms", fmt.Sprintf("%.1f ms", p.Idgraph.P99ms), p.Idgraph.P99ms <= 30})
			}
		}
	}
	if p, ok := r.find("GET /beta/identity/apiConnectors/{id}", 64); ok {
		gs = append(gs, goal{"GET one, 64 connections: share of baseline", "≥ 70%", pct(p.ratio()), p.ratio() >= 0.70})
	}
	if len(r.ColdEmpty.Runs) > 0 {
		gs = append(gs, goal{"cold start, empty data directory (median)", "≤ 50 ms",
			fmt.Sprintf("%.1f ms", r.ColdEmpty.median()), r.ColdEmpty.median() <= 50})
	}
	if len(r.ColdFull.Runs) > 0 {
		gs = append(gs, goal{fmt.Sprintf("cold start, %s objects (median)", thousands(r.ColdObjects)), "≤ 100 ms",
			fmt.Sprintf("%.1f ms", r.ColdFull.median()), r.ColdFull.median() <= 100})
	}
	if r.IdleRSS > 0 {
		gs = append(gs, goal{"idle RSS", "≤ 30 MiB", mib(r.IdleRSS), r.IdleRSS <= 30<<20})
	}
	if r.PeakRSS > 0 {
		gs = append(gs, goal{fmt.Sprintf("peak RSS under %d connections", r.PeakConns), "≤ 100 MiB", mib(r.PeakRSS), r.PeakRSS <= 100<<20})
	}
	return gs
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (r *report) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s; load: %s, %d × %v per point and server (medians)\n\n", r.Machine, r.Loader, r.Repeat, r.Duration)
	textTable(&b, r.Scenarios)
	for _, pg := range r.Postgres {
		fmt.Fprintf(&b, "\nidgraph on PostgreSQL, %s", replicaCount(pg.Replicas))
		if pg.Replicas > 1 {
			b.WriteString(", the load spread over them")
		}
		b.WriteString("\n")
		textTable(&b, pg.Scenarios)
	}
	b.WriteString("\n")
	for _, g := range r.goals() {
		mark := "met"
		if !g.Met {
			mark = "NOT MET"
		}
		fmt.Fprintf(&b, "%-64s %-10s %-12s %s\n", g.What, g.Want, g.Measured, mark)
	}
	return b.String()
}

// textTable writes the rows of the printed table.
func textTable(b *strings.Builder, scs []scenarioResult) {
	fmt.Fprintf(b, "%-48s %5s %12s %12s %7s %16s\n", "scenario", "conns", "baseline/s", "idgraph/s", "ratio", "idgraph p50/p99")
	for _, s := range scs {
		for _, p := range s.Points {
			fmt.Fprintf(b, "%-48s %5d %12.0f %12.0f %6.0f%% %7.2f/%.2f ms\n", s.Name, p.Conns, p.Baseline.RPS, p.Idgraph.RPS,
				100*p.ratio(), p.Idgraph.P50ms, p.Idgraph.P99ms)
		}
	}
}

// markdownTable writes the throughput and latency table.
func markdownTable(b *strings.Builder, scs []scenarioResult) {
	b.WriteString("| scenario | connections | baseline req/s | idgraph req/s | idgraph / baseline | run by run | baseline p50 / p99 ms | idgraph p50 / p99 ms |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range scs {
		for _, p := range s.Points {
			fmt.Fprintf(b, "| `%s` | %d | %.0f | %.0f | %.0f%% | %s | %.2f / %.2f | %.2f / %.2f |\n", s.Name, p.Conns, p.Baseline.RPS, p.Idgraph.RPS,
				100*p.ratio(), p.spread(), p.Baseline.P50ms, p.Baseline.P99ms, p.Idgraph.P50ms, p.Idgraph.P99ms)
		}
	}
}

// markdownPostgres writes the section on PostgreSQL: how it was measured, a
// summary beside the embedded store, and a table per replica count.
func (r *report) markdownPostgres(b *strings.Builder) {
	b.WriteString("\n## On PostgreSQL\n\n")
	fmt.Fprintf(b, "idgraph with `--store postgres://…` on %s, on the same machine. For each replica count, that many idgraph\n", r.PostgresServer)
	b.WriteString("servers (processes with their own data directories and one secret key) share a new schema, seeded once through the\n")
	b.WriteString("first as above. Each load has the same connection counts, divided among the replicas (16 over 3: 6, 5 and 5; one\n")
	b.WriteString("connection loads one replica), one load generator per replica, all at once: idgraph req/s is their sum, and its\n")
	b.WriteString("p50 / p99 are those of all their answers pooled. The baseline is the same single in-memory server, measured again\n")
	b.WriteString("alongside, alternating as above. PostgreSQL shares the machine's cores with idgraph and the load generator.\n")
	b.WriteString("The goals, the cold starts and the memory figures are the embedded store's.\n\n")
	b.WriteString("idgraph req/s (share of the baseline):\n\n| scenario | connections | embedded store |")
	for _, pg := range r.Postgres {
		fmt.Fprintf(b, " PostgreSQL, %s |", replicaCount(pg.Replicas))
	}
	b.WriteString("\n|---|---:|---:|" + strings.Repeat("---:|", len(r.Postgres)) + "\n")
	cell := func(p point, ok bool) string {
		if !ok {
			return " |"
		}
		return fmt.Sprintf(" %.0f (%.0f%%) |", p.Idgraph.RPS, 100*p.ratio())
	}
	for _, s := range r.Scenarios {
		for _, p := range s.Points {
			fmt.Fprintf(b, "| `%s` | %d |%s", s.Name, p.Conns, cell(p, true))
			for _, pg := range r.Postgres {
				b.WriteString(cell(findPoint(pg.Scenarios, s.Name, p.Conns)))
			}
			b.WriteString("\n")
		}
	}
	for _, pg := range r.Postgres {
		fmt.Fprintf(b, "\n### %s\n\n", replicaCount(pg.Replicas))
		markdownTable(b, pg.Scenarios)
	}
}

func (r *report) markdown(chart string) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `go run ./bench` (see [bench/main.go](bench/main.go)); run it again to measure your machine.\n")
	b.WriteString("idgraph's throughput is quoted as a share of the repository's yardstick server, [bench/baseline](bench/baseline/main.go),\n")
	b.WriteString("measured in the same run: the same routes and JSON work, in memory, with no authentication and no durability.\n")
	b.WriteString("idgraph runs as users run it: every request carries a bearer token signed by its authority and verified by the\n")
	b.WriteString("server, and every 2xx write is committed to the embedded store with `synchronous=FULL` (on disk, fsynced).\n")
	b.WriteString("Both serve plain HTTP on loopback, and share the machine's cores with the load generator.\n\n")
	fmt.Fprintf(&b, "- Run: %s, %s to %s UTC, commit %s\n", r.Started.Format("2006-01-02"), r.Started.Format("15:04"), r.Finished.Format("15:04"), r.Commit)
	fmt.Fprintf(&b, "- Machine: %s\n", r.Machine)
	fmt.Fprintf(&b, "- Load: %s; each point is %d runs of %v per server, alternating the servers, after a warm-up; the tables give the medians, and the range of the run-by-run ratios. Each load cycles over %d objects (idgraph: 100 identity providers in 10 tenants, one token per tenant; 100 of 1,000 API connectors)\n\n", r.Loader, r.Repeat, r.Duration, hot)
	fmt.Fprintf(&b, "![Throughput by connections, idgraph and the baseline](%s)\n\n", chart)
	b.WriteString("## Throughput and latency\n\n")
	markdownTable(&b, r.Scenarios)
	if len(r.Postgres) > 0 {
		r.markdownPostgres(&b)
	}
	b.WriteString("\n## Cold start and memory\n\n")
	b.WriteString("| measurement | median | max | runs |\n|---|---:|---:|---:|\n")
	for _, c := range []cold{r.ColdEmpty, r.ColdFull} {
		if len(c.Runs) > 0 {
			fmt.Fprintf(&b, "| cold start, %s | %.1f ms | %.1f ms | %d |\n", c.What, c.median(), c.max(), len(c.Runs))
		}
	}
	fmt.Fprintf(&b, "\n| resident memory (RSS) | idgraph | baseline |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| idle, seeded, before the load | %s | %s |\n", mib(r.IdleRSS), mib(r.BaselineIdleRSS))
	fmt.Fprintf(&b, "| peak during the %d-connection runs | %s | |\n", r.PeakConns, mib(r.PeakRSS))
	fmt.Fprintf(&b, "| after all runs | %s | |\n", mib(r.AfterRSS))
	b.WriteString("\n## Goals\n\n| goal | wanted | measured | |\n|---|---|---|---|\n")
	for _, g := range r.goals() {
		mark := "met"
		if !g.Met {
			mark = "**not met**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.What, g.Want, g.Measured, mark)
	}
	return b.String()
}

// svg draws one panel per scenario: throughput by connection count, a bar
// for the baseline and one for idgraph at each count, and one more for
// each PostgreSQL replica count when the run measured them.
func (r *report) svg() string {
	const (
		panelW, panelH = 330, 240
		bottom         = 44
		left, right    = 56, 12
		cols           = 2
	)
	top := 72
	if len(r.Postgres) > 0 {
		top += 16 // a second row of keys
	}
	rows := (len(r.Scenarios) + cols - 1) / cols
	w, h := cols*panelW+20, rows*panelH+top+20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">Throughput (requests/s) by connections: idgraph vs the baseline</text>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="38">%s · %s · %s</text>`+"\n", html.EscapeString(r.Started.Format("2006-01-02")), html.EscapeString(r.Machine), html.EscapeString(r.Loader))
	legend := func(x, y int, color, label string) {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y, color, x+14, y+9, label)
	}
	const baseColor, idgColor = "#9aa5b1", "#1f6feb"
	pgColors := []string{"#2da44e", "#bf8700", "#8250df", "#cf222e"}
	legend(10, 48, baseColor, "baseline (in memory, no auth, not durable)")
	legend(290, 48, idgColor, "idgraph (token verified, fsynced writes); % = share of baseline")
	for i, pg := range r.Postgres {
		legend(10+i*220, 64, pgColors[i%len(pgColors)], "idgraph on PostgreSQL, "+replicaCount(pg.Replicas))
	}
	for i, s := range r.Scenarios {
		ox := 10 + (i%cols)*panelW
		oy := top + (i/cols)*panelH
		plotW := panelW - left - right
		plotH := panelH - bottom - 24
		// The bars of each point: the baseline, idgraph, then idgraph on
		// PostgreSQL by replica count (0 where not measured).
		bars := make([][]float64, len(s.Points))
		maxY := 0.0
		for j, p := range s.Points {
			bars[j] = []float64{p.Baseline.RPS, p.Idgraph.RPS}
			for _, pg := range r.Postgres {
				q, _ := findPoint(pg.Scenarios, s.Name, p.Conns)
				bars[j] = append(bars[j], q.Idgraph.RPS)
			}
			maxY = math.Max(maxY, slices.Max(bars[j]))
		}
		maxY = niceCeil(maxY)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", ox, oy+14, html.EscapeString(s.Name))
		px, py := ox+left, oy+24
		for t := 0; t <= 4; t++ {
			v := maxY * float64(t) / 4
			y := py + plotH - int(float64(plotH)*float64(t)/4)
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#e5e7eb"/>`, px, y, px+plotW, y)
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", px-4, y+4, short(v))
		}
		n := max(1, len(s.Points))
		group := plotW / n
		barW := group / (2 + len(r.Postgres) + 1)
		for j, p := range s.Points {
			gx := px + j*group + group/6
			if len(r.Postgres) > 0 {
				gx = px + j*group + barW/2
			}
			for k, v := range bars[j] {
				bh := 0
				if maxY > 0 {
					bh = int(float64(plotH) * v / maxY)
				}
				color := baseColor
				switch {
				case k == 1:
					color = idgColor
				case k > 1:
					color = pgColors[(k-2)%len(pgColors)]
				}
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, gx+k*barW, py+plotH-bh, barW-2, bh, color)
			}
			labelX := gx + barW*2 // the embedded store's share, by its bar
			if len(r.Postgres) > 0 {
				labelX = gx + barW + barW/2
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%.0f%%</text>`, labelX, py+plotH-int(float64(plotH)*p.Idgraph.RPS/math.Max(maxY, 1))-4, 100*p.ratio())
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%d conn</text>`+"\n", gx+barW*len(bars[j])/2, py+plotH+14, p.Conns)
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#111"/>`+"\n", px, py+plotH, px+plotW, py+plotH)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func short(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%gk", v/1000)
	default:
		return fmt.Sprintf("%g", v)
	}
}

// thousands writes n with comma separators: 1000000 → 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
