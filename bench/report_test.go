package main

import (
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func sampleReport() *report {
	pt := func(c int, base, idg float64) point {
		return point{Conns: c, Baseline: measure{RPS: base, P99ms: 2}, Idgraph: measure{RPS: idg, P99ms: 12},
			Ratios: []float64{idg / base * 0.9, idg / base, idg / base * 1.1}}
	}
	return &report{Started: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 22, 10, 15, 0, 0, time.UTC),
		Machine: "test machine", Loader: "wrk", Commit: "abc1234", Duration: 5 * time.Second, Repeat: 3, PeakConns: 64,
		Scenarios: []scenarioResult{
			{Name: "PATCH /v1.0/identityProviders/{id}", Points: []point{pt(16, 30000, 9000), pt(64, 36000, 12000)}},
			{Name: "PATCH /beta/identity/apiConnectors/{id}", Points: []point{pt(16, 25000, 7000), pt(64, 28000, 12000)}},
			{Name: "GET /beta/identity/apiConnectors/{id}", Points: []point{pt(64, 35000, 26000)}},
		},
		IdleRSS: 20 << 20, PeakRSS: 120 << 20,
		ColdEmpty: cold{What: "empty", Runs: []float64{40, 45, 60}}, ColdFull: cold{What: "full", Runs: []float64{30, 31, 29}}, ColdObjects: 1000000}
}

// TestGoals checks the verdicts against hand-computed ratios.
func TestGoals(t *testing.T) {
	want := map[string]bool{
		"PATCH /v1.0/identityProviders/{id}, 64 connections: share of baseline":      false, // 33%
		"PATCH /v1.0/identityProviders/{id}, 16 connections: share of baseline":      true,  // 30%
		"PATCH /beta/identity/apiConnectors/{id}, 64 connections: share of baseline": true,  // 43%
		"PATCH /beta/identity/apiConnectors/{id}, 16 connections: share of baseline": true,  // 28%
		"GET one, 64 connections: share of baseline":                                 true,  // 74%
		"cold start, empty data directory (median)":                                  true,  // 45
		"cold start, 1,000,000 objects (median)":                                     true,
		"idle RSS":                                                                   true,
		"peak RSS under 64 connections":                                              false,
	}
	seen := 0
	for _, g := range sampleReport().goals() {
		w, ok := want[g.What]
		if !ok {
			continue
		}
		seen++
		if g.Met != w {
			t.Errorf("%s: measured %s, met=%v, want %v", g.What, g.Measured, g.Met, w)
		}
	}
	if seen != len(want) {
		t.Errorf("%d of %d goals evaluated", seen, len(want))
	}
}

// TestRender checks that the Markdown holds every point and that the chart
// is well-formed XML with one bar per server and point.
func TestRender(t *testing.T) {
	r := sampleReport()
	md := r.markdown("bench/throughput.svg")
	for _, s := range []string{"![Throughput", "bench/throughput.svg", "| `PATCH /v1.0/identityProviders/{id}` | 64 | 36000 | 12000 | 33% | 30–37% |", "**not met**", "commit abc1234"} {
		if !strings.Contains(md, s) {
			t.Errorf("the Markdown lacks %q:\n%s", s, md)
		}
	}
	svg := r.svg()
	dec := xml.NewDecoder(strings.NewReader(svg))
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the chart is not well-formed XML: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// One background, two legend keys, two bars per point (5 points).
	if want := 1 + 2 + 2*5; rects != want {
		t.Errorf("%d rectangles in the chart, want %d", rects, want)
	}
}

func TestLuaString(t *testing.T) {
	for _, s := range []string{"plain", `{"a":"]]"}`, "x]=]y]]z", ""} {
		q := luaString(s)
		open := q[:strings.Index(q[1:], "[")+2]
		closing := strings.ReplaceAll(open, "[", "]")
		if !strings.HasPrefix(q, open) || !strings.HasSuffix(q, closing) || q[len(open):len(q)-len(closing)] != s {
			t.Errorf("luaString(%q) = %q", s, q)
		}
		if strings.Contains(s, closing) {
			t.Errorf("luaString(%q) = %q: the text holds the closing bracket", s, q)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1000000: "1,000,000", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// samplePostgres is sampleReport with PostgreSQL runs at 1 and 3 replicas.
func samplePostgres() *report {
	r := sampleReport()
	r.PostgresServer = "PostgreSQL 15.20 at 127.0.0.1:5432/test (fsync on, synchronous_commit on)"
	pt := func(c int, base, idg float64) point {
		return point{Conns: c, Baseline: measure{RPS: base, P99ms: 2}, Idgraph: measure{RPS: idg, P50ms: 3, P99ms: 20}, Ratios: []float64{idg / base}}
	}
	for _, n := range []int{1, 3} {
		r.Postgres = append(r.Postgres, pgResult{Replicas: n, Scenarios: []scenarioResult{
			{Name: "PATCH /v1.0/identityProviders/{id}", Points: []point{pt(16, 30000, 3000*float64(n)), pt(64, 36000, 4000*float64(n))}},
			{Name: "GET /beta/identity/apiConnectors/{id}", Points: []point{pt(64, 35000, 10000*float64(n))}},
		}})
	}
	return r
}

// TestRenderPostgres checks that PostgreSQL runs add their sections and
// bars and change nothing of the embedded store's report.
func TestRenderPostgres(t *testing.T) {
	plain, r := sampleReport(), samplePostgres()
	md := r.markdown("bench/throughput.svg")
	for _, s := range []string{
		"## On PostgreSQL", "PostgreSQL 15.20 at 127.0.0.1:5432/test", "### 1 replica\n", "### 3 replicas\n",
		"| scenario | connections | embedded store | PostgreSQL, 1 replica | PostgreSQL, 3 replicas |",
		"| `PATCH /v1.0/identityProviders/{id}` | 64 | 12000 (33%) | 4000 (11%) | 12000 (33%) |",
		"| `PATCH /beta/identity/apiConnectors/{id}` | 16 | 7000 (28%) | | |", // not measured on PostgreSQL
		"| `GET /beta/identity/apiConnectors/{id}` | 64 | 35000 | 30000 | 86% |  | 0.00 / 2.00 | 3.00 / 20.00 |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("the Markdown lacks %q:\n%s", s, md)
		}
	}
	// The embedded store's sections are as without PostgreSQL.
	plainMD := plain.markdown("bench/throughput.svg")
	head, _, _ := strings.Cut(plainMD, "\n## Cold start")
	_, tail, _ := strings.Cut(plainMD, "\n## Cold start")
	if !strings.HasPrefix(md, head+"\n## On PostgreSQL") || !strings.HasSuffix(md, "\n## Cold start"+tail) {
		t.Errorf("the PostgreSQL section changed the rest of the report:\n%s", md)
	}
	if !slices.Equal(r.goals(), plain.goals()) {
		t.Errorf("the goals changed with PostgreSQL runs: %v", r.goals())
	}

	txt := r.text()
	for _, s := range []string{"idgraph on PostgreSQL, 1 replica", "idgraph on PostgreSQL, 3 replicas"} {
		if !strings.Contains(txt, s) {
			t.Errorf("the printed table lacks %q:\n%s", s, txt)
		}
	}
	if !strings.HasPrefix(txt, strings.SplitN(plain.text(), "\n\n", 3)[0]) {
		t.Errorf("the printed table's head changed:\n%s", txt)
	}

	// One background, four legend keys, four bars per point (5 points).
	if got, want := rects(t, r.svg()), 1+4+4*5; got != want {
		t.Errorf("%d rectangles in the chart, want %d", got, want)
	}
}

// rects counts the rectangles of a chart, which must be well-formed XML.
func rects(t *testing.T, svg string) int {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	n := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			n++
		}
	}
}
