package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// cold is one cold-start measurement: the time from starting the process
// to its first 2xx answer, over several starts.
type cold struct {
	What string
	Runs []float64 // milliseconds
}

func (c cold) median() float64 {
	s := slices.Clone(c.Runs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func (c cold) max() float64 {
	if len(c.Runs) == 0 {
		return 0
	}
	return slices.Max(c.Runs)
}

// coldStarts measures runs cold starts. With objects == 0 each start is on
// a new, empty data directory, and the first 2xx is the health endpoint,
// which answers once the store is created, migrated and bootstrapped (the
// listener opens only then). With objects > 0 the data directory is
// prepared once with that many API connectors, and the first 2xx is a GET
// of one of them with a bearer token the server must verify.
func coldStarts(ctx context.Context, bin, tmp string, objects, runs int) (cold, error) {
	port, err := freePort()
	if err != nil {
		return cold{}, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := cold{What: "empty data directory; first 2xx: GET /_idgraph/health"}
	url, header := base+"/_idgraph/health", http.Header{}
	dataDir := filepath.Join(tmp, fmt.Sprintf("cold-%d", objects))
	if objects > 0 {
		id, tok, err := prepareFull(ctx, bin, dataDir, base, objects)
		if err != nil {
			return cold{}, err
		}
		c.What = fmt.Sprintf("%s API connectors stored; first 2xx: GET /beta/identity/apiConnectors/{id} with a verified token", thousands(objects))
		url = base + "/beta/identity/apiConnectors/" + id
		header.Set("Authorization", "Bearer "+tok)
	}
	for i := range runs {
		dir := dataDir
		if objects == 0 {
			dir = filepath.Join(tmp, fmt.Sprintf("cold-empty-%d", i))
		}
		ms, err := coldStart(ctx, bin, dir, port, url, header, filepath.Join(tmp, fmt.Sprintf("cold-%d-%d.log", objects, i)))
		if err != nil {
			return cold{}, err
		}
		c.Runs = append(c.Runs, ms)
		if objects == 0 {
			os.RemoveAll(dir)
		}
	}
	log.Printf("cold start (%s): median %.1f ms, max %.1f ms", c.What, c.median(), c.max())
	return c, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// coldStart starts the server and polls url every 0.5 ms on new
// connections until it answers 2xx.
func coldStart(ctx context.Context, bin, dataDir string, port int, url string, header http.Header, logFile string) (float64, error) {
	logf, err := os.Create(logFile)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	cmd := cli{bin: bin, dataDir: dataDir}.command(ctx, "serve", "--plain-http", "--addr", "127.0.0.1:"+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	defer s.stop()
	deadline := start.Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header = header.Clone()
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return float64(time.Since(start)) / float64(time.Millisecond), nil
			}
			return 0, fmt.Errorf("cold start: GET %s answered %d; see %s", url, resp.StatusCode, logFile)
		}
		select {
		case <-s.done:
			return 0, fmt.Errorf("cold start: the server exited; see %s", logFile)
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("cold start: no answer within 30 s; see %s", logFile)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// prepareFull creates a data directory holding n API connectors in the
// default tenant, written through the store as the server writes them
// (group commit, sealed passwords), and mints a token for the server
// that will run at base. It returns one connector's id and the token.
func prepareFull(ctx context.Context, bin, dataDir, base string, n int) (string, string, error) {
	c := cli{bin: bin, dataDir: dataDir}
	ids, err := tenantIDs(ctx, c) // bootstraps the directory
	if err != nil {
		return "", "", err
	}
	tenant := ids[0]
	tok, err := mintToken(ctx, c, tenant, base)
	if err != nil {
		return "", "", err
	}
	key, err := secret.LoadKeyFile(filepath.Join(dataDir, "secret.key"))
	if err != nil {
		return "", "", err
	}
	keys, err := secret.New(key)
	if err != nil {
		return "", "", err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "idgraph.db"))
	if err != nil {
		return "", "", err
	}
	defer st.Close()
	start := time.Now()
	var next atomic.Int64
	var first string
	var once sync.Once
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				id := uuid.NewString()
				sealed, err := keys.Seal([]byte("connector-password"), secret.AAD(tenant, string(store.APIConnectors), id, "password"))
				if err != nil {
					errc <- err
					return
				}
				c := graph.APIConnector{ID: id, DisplayName: fmt.Sprintf("Connector %07d", i),
					TargetURL: "https://api.example.com/signup",
					Auth:      graph.AuthConfig{Type: graph.AuthBasic, Username: "user", Password: graph.Sealed(sealed)}}
				if _, err := store.CreateAs(ctx, st, tenant, store.APIConnectors, id, c); err != nil {
					errc <- err
					return
				}
				once.Do(func() { first = id })
				if i%100000 == 0 && i > 0 {
					log.Printf("  %d objects stored", i)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return "", "", err
	}
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	log.Printf("stored %d API connectors in %v", n, time.Since(start).Round(time.Second))
	return first, tok, nil
}

// rss returns the resident set size of a process in bytes.
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS:") }

// peakRSS returns the peak resident set size since the process started
// or since resetPeak.
func peakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM:") }

// resetPeak resets the process's peak RSS (Linux: clear_refs 5).
func resetPeak(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}
