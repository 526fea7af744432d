// Command bench measures idgraph against the repository's own yardstick
// server (bench/baseline: the same hot routes and JSON work, in memory, no
// authentication, no durability) in one run on one machine, and writes the
// results as BENCHMARKS.md with a chart.
//
// From the repository root:
//
//	go run ./bench
//
// It builds both servers, seeds them alike, and for each scenario and
// connection count runs the same bounded load against each, one after the
// other: wrk (Debian's package) when it is installed, else the Go load
// generator of bench/loadgen. idgraph runs as users run it: the embedded
// store with synchronous=FULL (every 2xx is on disk), every request
// carrying a bearer token signed by its authority and verified by the
// server. It then measures cold starts (an empty data directory, and one
// holding 1,000,000 objects) and the server's resident memory.
//
// With -postgres it also measures idgraph on that PostgreSQL server, once
// per -replicas count: that many idgraph processes on a new schema of the
// database (named idgraph_bench_…, selected through search_path), sharing
// one secret key, seeded once through the first; each load's connections
// are divided among them, one load generator per replica running at once.
// Each schema is dropped when its count is measured, or when the run fails
// or is interrupted; nothing else in the database is touched.
//
// Only loopback addresses are used; every load is bounded in time.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration    time.Duration
	repeat      int
	warmup      time.Duration
	conns       []int
	coldObjects int
	coldRuns    int
	out         string
	chart       string
	loader      string
	keep        bool
	postgres    string // URL of a PostgreSQL server; empty: the embedded store only
	replicas    []int  // replica counts to measure on PostgreSQL
}

// maxReplicas bounds -replicas: every replica is a server process on this
// machine.
const maxReplicas = 16

func main() {
	var o options
	var conns, replicas string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each measured run")
	flag.IntVar(&o.repeat, "repeat", 3, "measured runs per point and server, alternating the servers; the report gives the medians")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each scenario, per server")
	flag.StringVar(&conns, "conns", "1,16,64", "connection counts, comma-separated")
	flag.IntVar(&o.coldObjects, "cold-objects", 1_000_000, "objects in the data directory of the second cold-start measurement (0 skips it)")
	flag.IntVar(&o.coldRuns, "cold-runs", 5, "cold starts per measurement (the median is reported)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown report to write (empty: print only)")
	flag.StringVar(&o.chart, "chart", "bench/throughput.svg", "SVG chart to write, beside the report")
	flag.StringVar(&o.loader, "load", "auto", "load generator: wrk, go, or auto (wrk when installed)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, data, logs)")
	flag.StringVar(&o.postgres, "postgres", "", "also measure idgraph on this PostgreSQL server (a postgres:// URL on loopback), in schemas of its own that it drops at the end; empty: the embedded store only")
	flag.StringVar(&replicas, "replicas", "1,3", "with -postgres: replica counts, comma-separated; each count runs that many servers on one schema, the load spread over them")
	flag.Parse()
	var err error
	if o.conns, err = counts(conns, 1<<10); err != nil {
		log.Fatalf("-conns: %v", err)
	}
	if o.replicas, err = counts(replicas, maxReplicas); err != nil {
		log.Fatalf("-replicas: %v", err)
	}
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "replicas" && o.postgres == "" {
			log.Fatal("-replicas: measuring replicas needs -postgres")
		}
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		if ctx.Err() != nil {
			log.Fatal("interrupted")
		}
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "idgraph-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		log.Printf("temporary files in %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	load, err := chooseLoader(o.loader, tmp)
	if err != nil {
		return err
	}
	log.Printf("load generator: %s", load.name())
	// A PostgreSQL server that cannot be used should stop the run before
	// the measurements, not after.
	var pg *pgServer
	if o.postgres != "" {
		if pg, err = connectPostgres(ctx, o.postgres); err != nil {
			return err
		}
		log.Printf("%s; schemas %s_r*", pg.About, pg.base)
	}

	bins := map[string]string{"idgraph": "./cmd/idgraph", "baseline": "./bench/baseline"}
	for name, pkg := range bins {
		out := filepath.Join(tmp, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", pkg, err)
		}
		bins[name] = out
	}

	rep := &report{Started: time.Now().UTC(), Machine: machine(), Loader: load.name(),
		Duration: o.duration, Repeat: max(1, o.repeat), Commit: gitCommit(root)}

	base, err := startBaseline(ctx, bins["baseline"], tmp)
	if err != nil {
		return err
	}
	defer base.stop()
	embedded := cli{bin: bins["idgraph"], dataDir: filepath.Join(tmp, "data")}
	idg, err := startIdgraph(ctx, embedded, filepath.Join(tmp, "idgraph.log"))
	if err != nil {
		return err
	}
	defer idg.stop()
	fx, err := seed(ctx, embedded, idg.url)
	if err != nil {
		return fmt.Errorf("seed idgraph: %w", err)
	}
	time.Sleep(3 * time.Second) // idle: the server trims its heap after a second without requests
	rep.IdleRSS, _ = rss(idg.cmd.Process.Pid)
	rep.BaselineIdleRSS, _ = rss(base.cmd.Process.Pid)

	// The peak memory is that of the runs at the last connection count.
	peak := func(c int, done bool) {
		switch {
		case c != o.conns[len(o.conns)-1]:
		case !done:
			resetPeak(idg.cmd.Process.Pid)
		default:
			if p, err := peakRSS(idg.cmd.Process.Pid); err == nil && p > rep.PeakRSS {
				rep.PeakRSS = p
			}
		}
	}
	if rep.Scenarios, err = compare(ctx, o, load, base, target{name: "idgraph", urls: []string{idg.url}, around: peak}, scenarios(fx)); err != nil {
		return err
	}
	rep.PeakConns = maxConns(o.conns)
	rep.AfterRSS, _ = rss(idg.cmd.Process.Pid)
	idg.stop()

	if pg != nil {
		rep.PostgresServer = pg.About
		for _, n := range o.replicas {
			res, err := measurePostgres(ctx, o, load, base, pg, bins["idgraph"], tmp, n)
			if err != nil {
				return fmt.Errorf("PostgreSQL, %s: %w", replicaCount(n), err)
			}
			rep.Postgres = append(rep.Postgres, res)
		}
	}
	base.stop()

	if rep.ColdEmpty, err = coldStarts(ctx, bins["idgraph"], tmp, 0, o.coldRuns); err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	if o.coldObjects > 0 {
		rep.ColdObjects = o.coldObjects
		if rep.ColdFull, err = coldStarts(ctx, bins["idgraph"], tmp, o.coldObjects, o.coldRuns); err != nil {
			return fmt.Errorf("cold start with %d objects: %w", o.coldObjects, err)
		}
	}
	rep.Finished = time.Now().UTC()

	fmt.Println()
	fmt.Print(rep.text())
	if o.out != "" {
		chartRel, err := filepath.Rel(filepath.Dir(absJoin(root, o.out)), absJoin(root, o.chart))
		if err != nil {
			return err
		}
		if err := os.WriteFile(absJoin(root, o.chart), []byte(rep.svg()), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(absJoin(root, o.out), []byte(rep.markdown(filepath.ToSlash(chartRel))), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s and %s", o.out, o.chart)
	}
	return nil
}

// target is an idgraph deployment under load: its servers, over which
// each load is spread, and what to do around each point.
type target struct {
	name string
	urls []string
	// around, when set, runs before (done false) and after (done true) the
	// runs at conns connections.
	around func(conns int, done bool)
}

// compare runs each scenario at each connection count against the
// baseline and the target, alternating them, and returns the medians and
// the run-by-run ratios.
func compare(ctx context.Context, o options, load loader, base *server, t target, scs []scenario) ([]scenarioResult, error) {
	var results []scenarioResult
	for _, sc := range scs {
		res := scenarioResult{Name: sc.name}
		for i, c := range o.conns {
			if t.around != nil {
				t.around(c, false)
			}
			pt := point{Conns: c}
			var baseRuns, idgRuns []measure
			for r := range max(1, o.repeat) {
				for _, side := range []struct {
					urls []string
					reqs []request
					dst  *[]measure
				}{{[]string{base.url}, sc.baseline, &baseRuns}, {t.urls, sc.idgraph, &idgRuns}} {
					if i == 0 && r == 0 {
						for _, u := range side.urls {
							if err := checkStatus(ctx, u, side.reqs, sc.want); err != nil {
								return nil, fmt.Errorf("%s: %w", sc.name, err)
							}
						}
						if o.warmup > 0 {
							if _, err := spread(ctx, load, side.urls, side.reqs, sc.want, min(16, maxConns(o.conns)), o.warmup); err != nil {
								return nil, fmt.Errorf("%s warm-up: %w", sc.name, err)
							}
						}
					}
					m, err := spread(ctx, load, side.urls, side.reqs, sc.want, c, o.duration)
					if err != nil {
						return nil, fmt.Errorf("%s at %d connections: %w", sc.name, c, err)
					}
					*side.dst = append(*side.dst, m)
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
				}
			}
			pt.Baseline, pt.Idgraph = medianOf(baseRuns), medianOf(idgRuns)
			for k := range baseRuns {
				if baseRuns[k].RPS > 0 {
					pt.Ratios = append(pt.Ratios, idgRuns[k].RPS/baseRuns[k].RPS)
				}
			}
			log.Printf("%-48s c=%-3d baseline %8.0f/s  %s %8.0f/s  (%.0f%%)  p99 %.1f ms",
				sc.name, c, pt.Baseline.RPS, t.name, pt.Idgraph.RPS, 100*pt.ratio(), pt.Idgraph.P99ms)
			res.Points = append(res.Points, pt)
			if t.around != nil {
				t.around(c, true)
			}
		}
		results = append(results, res)
	}
	return results, nil
}

// measurePostgres measures idgraph on PostgreSQL with n replicas: a new
// schema, n servers on it sharing one secret key, seeded once through the
// first, then the scenarios with each load spread over the replicas. The
// schema is dropped before it returns, whatever happened.
func measurePostgres(ctx context.Context, o options, load loader, base *server, pg *pgServer, bin, tmp string, n int) (pgResult, error) {
	schema := pg.schemaName(n)
	dsn, drop, err := pg.createSchema(ctx, schema)
	if err != nil {
		return pgResult{}, err
	}
	defer drop()
	log.Printf("PostgreSQL, %s, schema %s", replicaCount(n), schema)
	rs, err := startReplicas(ctx, bin, filepath.Join(tmp, fmt.Sprintf("postgres-%d", n)), dsn, n)
	if err != nil {
		return pgResult{}, err
	}
	defer rs.stop() // before the drop
	if t, err := pg.tables(ctx, schema); err != nil || t == 0 {
		return pgResult{}, fmt.Errorf("idgraph created no tables in the schema %s (%v): does its store honour search_path?", schema, err)
	}
	fx, err := seed(ctx, rs.cli, rs.servers[0].url)
	if err != nil {
		return pgResult{}, fmt.Errorf("seed: %w", err)
	}
	res := pgResult{Replicas: n}
	res.Scenarios, err = compare(ctx, o, load, base, target{name: fmt.Sprintf("postgres×%d", n), urls: rs.urls()}, scenarios(fx))
	return res, err
}

func maxConns(cs []int) int {
	m := 1
	for _, c := range cs {
		m = max(m, c)
	}
	return m
}

// counts parses a comma-separated list of counts from 1 to most.
func counts(list string, most int) ([]int, error) {
	var ns []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > most {
			return nil, fmt.Errorf("bad count %q (want 1 to %d)", s, most)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// absJoin resolves p against the repository root unless it is absolute.
func absJoin(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run this from inside the idgraph repository")
	}
	return filepath.Dir(mod), nil
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	cmd = exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

// medianOf is the run of median throughput, with the median latencies of
// all runs and their summed counts.
func medianOf(ms []measure) measure {
	med := func(f func(measure) float64) float64 {
		vs := make([]float64, len(ms))
		for i, m := range ms {
			vs[i] = f(m)
		}
		slices.Sort(vs)
		return vs[len(vs)/2]
	}
	out := measure{RPS: med(func(m measure) float64 { return m.RPS }),
		P50ms: med(func(m measure) float64 { return m.P50ms }),
		P99ms: med(func(m measure) float64 { return m.P99ms })}
	for _, m := range ms {
		out.Requests += m.Requests
		out.Errors += m.Errors
	}
	return out
}
