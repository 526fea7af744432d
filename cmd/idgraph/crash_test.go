//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/store/postgres"
	"github.com/idgraph/idgraph/internal/store/postgres/pgtest"
	"github.com/idgraph/idgraph/internal/store/sqlite"
)

// The kill-9 loop: writers hammer a real `idgraph serve` child process, the
// child is killed with SIGKILL at a random moment, and after a restart on the
// same data directory and store every acknowledged write must be there.
const (
	crashDefaultIterations = 20
	crashWriters           = 32
	crashRequestTimeout    = 5 * time.Second
	crashMinKill           = 200 * time.Millisecond
	crashMaxKill           = 2000 * time.Millisecond
	crashMaxLive           = 3 // connectors a writer keeps at most, so lists stay small
	crashRoles             = "APIConnectors.ReadWrite.All,IdentityProvider.ReadWrite.All"
)

// crashProviderTypes are the deprecated-API provider types the first writers
// own, one writer per type: a provider's id follows from its type, so two
// writers on one type would share a key.
var crashProviderTypes = []string{"Amazon", "Google", "Facebook", "GitHub", "LinkedIn", "Twitter"}

var crashNameRE = regexp.MustCompile(`^w(\d+)-(\d+)$`)

type crashKind int

const (
	opCreateConn crashKind = iota
	opPatchConn
	opDeleteConn
	opCreateProv
	opPatchProv
	opDeleteProv
	crashKinds
)

func (k crashKind) String() string {
	return [...]string{"create connector", "PATCH connector", "DELETE connector",
		"create provider", "PATCH provider", "DELETE provider"}[k]
}

func (k crashKind) provider() bool { return k >= opCreateProv }

type crashOutcome int

const (
	outcomeAcked       crashOutcome = iota // 2xx: committed
	outcomeFailed                          // 4xx: definitely not applied
	outcomeUnknown                         // no answer (killed mid-request), or a 5xx
	outcomeAckedNoBody                     // a create answered 2xx whose body (and so its id) was lost
	crashOutcomes
)

func (o crashOutcome) String() string {
	return [...]string{"acknowledged", "failed", "unknown", "acknowledged without body"}[o]
}

// crashOp is one request a writer sent, and what came of it.
type crashOp struct {
	iter    int
	kind    crashKind
	id      string // connector id ("" for a create until answered) or provider id
	name    string // the displayName / name the request sets
	outcome crashOutcome
	status  int
	err     string
	at      int           // index among the writer's operations of the iteration
	took    time.Duration // from sending to the answer
}

func (o crashOp) String() string {
	s := fmt.Sprintf("iteration %d, operation %d: %s %s name=%q: %s after %v", o.iter, o.at, o.kind, o.id, o.name, o.outcome, o.took.Round(time.Millisecond))
	if o.status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", o.status)
	}
	if o.err != "" {
		s += " (" + o.err + ")"
	}
	return s
}

// crashState is what one writer owns: its connectors and its provider.
type crashState struct {
	conns       map[string]string // id → displayName
	provPresent bool
	provName    string
}

func (s crashState) clone() crashState {
	s.conns = maps.Clone(s.conns)
	if s.conns == nil {
		s.conns = map[string]string{}
	}
	return s
}

// apply applies an operation that took effect. A connector create must carry
// its id.
func (s *crashState) apply(o crashOp) {
	switch o.kind {
	case opCreateConn, opPatchConn:
		s.conns[o.id] = o.name
	case opDeleteConn:
		delete(s.conns, o.id)
	case opCreateProv, opPatchProv:
		s.provPresent, s.provName = true, o.name
	case opDeleteProv:
		s.provPresent, s.provName = false, ""
	}
}

type crashWriter struct {
	idx      int
	provType string
	seq      int
	state    crashState         // verified state at the start of the iteration
	ops      []crashOp          // this iteration's operations, in order
	hist     []crashOp          // every operation of every iteration
	sent     map[string]crashOp // name → the operation that sent it
	deleted  map[string]bool    // connector ids removed by an acknowledged or observed DELETE
	unexpect []string           // 4xx and 5xx answers, which this workload never provokes
}

func (w *crashWriter) provID() string { return w.provType + "-OAUTH" }

// next picks the next operation from the writer's live view.
func (w *crashWriter) next(rng *mrand.Rand, live crashState, iter int) crashOp {
	w.seq++
	o := crashOp{iter: iter, name: fmt.Sprintf("w%d-%d", w.idx, w.seq)}
	if w.provType != "" && rng.IntN(4) == 0 {
		o.id = w.provID()
		switch {
		case !live.provPresent:
			o.kind = opCreateProv
		case rng.IntN(3) == 0:
			o.kind, o.name = opDeleteProv, ""
		default:
			o.kind = opPatchProv
		}
		return o
	}
	if len(live.conns) == 0 || (len(live.conns) < crashMaxLive && rng.IntN(3) == 0) {
		o.kind = opCreateConn
		return o
	}
	ids := slices.Sorted(maps.Keys(live.conns))
	o.id = ids[rng.IntN(len(ids))]
	if rng.IntN(3) == 0 {
		o.kind, o.name = opDeleteConn, ""
	} else {
		o.kind = opPatchConn
	}
	return o
}

// run sends operations one at a time until stop is set or an outcome is
// unknown: after an unknown outcome the writer sends nothing more, so its
// unknown operation, if any, is its last.
func (w *crashWriter) run(client *http.Client, base, tok string, iter int, seed uint64, stop *atomic.Bool) {
	rng := mrand.New(mrand.NewPCG(seed, uint64(iter)<<16|uint64(w.idx)))
	live := w.state.clone()
	for !stop.Load() {
		o := w.next(rng, live, iter)
		w.send(client, base, tok, &o)
		w.ops = append(w.ops, o)
		if o.name != "" {
			w.sent[o.name] = o
		}
		switch o.outcome {
		case outcomeAcked:
			live.apply(o)
		case outcomeFailed:
		default:
			return
		}
	}
}

func (w *crashWriter) send(client *http.Client, base, tok string, o *crashOp) {
	var method, path string
	var body any
	switch o.kind {
	case opCreateConn:
		method, path = "POST", "/v1.0/identity/apiConnectors"
		body = map[string]any{"displayName": o.name, "targetUrl": fmt.Sprintf("https://hooks.example.com/w%d", w.idx),
			"authenticationConfiguration": map[string]string{
				"@odata.type": "#microsoft.graph.basicAuthentication", "username": "crash", "password": "crash-password"}}
	case opPatchConn:
		method, path = "PATCH", "/v1.0/identity/apiConnectors/"+o.id
		body = map[string]string{"displayName": o.name}
	case opDeleteConn:
		method, path = "DELETE", "/v1.0/identity/apiConnectors/"+o.id
	case opCreateProv:
		method, path = "POST", "/v1.0/identityProviders"
		body = map[string]string{"name": o.name, "type": w.provType, "clientId": "crash-client", "clientSecret": "crash-secret"}
	case opPatchProv:
		method, path = "PATCH", "/v1.0/identityProviders/"+o.id
		body = map[string]string{"name": o.name}
	case opDeleteProv:
		method, path = "DELETE", "/v1.0/identityProviders/"+o.id
	}
	start := time.Now()
	status, resp, _, err := crashDo(client, method, base+path, tok, body, nil)
	o.status = status
	o.at = len(w.ops)
	o.took = time.Since(start)
	switch {
	case status == 0:
		o.outcome, o.err = outcomeUnknown, err.Error()
	case status >= 200 && status < 300:
		o.outcome = outcomeAcked
		if o.kind == opCreateConn {
			var c struct {
				ID   string `json:"id"`
				Name string `json:"displayName"`
			}
			if err == nil {
				err = json.Unmarshal(resp, &c)
			}
			switch {
			case err != nil:
				o.outcome, o.err = outcomeAckedNoBody, err.Error()
			case c.ID == "" || c.Name != o.name:
				o.outcome, o.err = outcomeAckedNoBody, fmt.Sprintf("body %.200s", resp)
				w.unexpect = append(w.unexpect, fmt.Sprintf("%s: 2xx body without the connector: %.200s", o, resp))
			default:
				o.id = c.ID
			}
		}
	case status >= 400 && status < 500:
		o.outcome = outcomeFailed
		w.unexpect = append(w.unexpect, fmt.Sprintf("%s: %.300s", o, resp))
	default:
		// A 5xx may or may not have been committed.
		o.outcome = outcomeUnknown
		w.unexpect = append(w.unexpect, fmt.Sprintf("%s: %.300s", o, resp))
	}
}

// crashDo sends one request with body as JSON (nil for none) and the extra
// request headers in hdr (nil for none). status is 0 when no answer arrived;
// err with a status means the body could not be read. respHdr is the
// answer's header.
func crashDo(client *http.Client, method, url, tok string, body any, hdr http.Header) (status int, resp []byte, respHdr http.Header, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	maps.Copy(req.Header, hdr)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	resp, err = io.ReadAll(res.Body)
	return res.StatusCode, resp, res.Header, err
}

// crashTally counts operations over all iterations.
type crashTally struct {
	ops           [crashKinds][crashOutcomes]int
	tailApplied   [crashKinds]int // unknown outcomes found committed after the restart
	tailUnapplied [crashKinds]int // unknown outcomes found not committed
}

// verify checks what the restarted server shows for one writer against the
// writer's record, and adopts what it shows as the writer's state.
//
// expected is the state before the iteration with every acknowledged
// operation applied in order. The server may show expected, or expected with
// the writer's last operation applied when that operation's outcome is
// unknown; an acknowledged create whose body was lost must be applied.
func (w *crashWriter) verify(obsConns map[string]string, obsProv *string, tally *crashTally) []string {
	exp := w.state.clone()
	var tail *crashOp
	for i := range w.ops {
		o := &w.ops[i]
		tally.ops[o.kind][o.outcome]++
		switch o.outcome {
		case outcomeAcked:
			exp.apply(*o)
			if o.kind == opDeleteConn {
				w.deleted[o.id] = true
			}
		case outcomeFailed:
		default:
			if i != len(w.ops)-1 {
				panic("crash test: an unknown outcome is not a writer's last operation")
			}
			tail = o
		}
	}
	var v []string
	bad := func(format string, args ...any) {
		v = append(v, fmt.Sprintf("writer %d: ", w.idx)+fmt.Sprintf(format, args...))
	}
	tailUsed := false
	for _, id := range slices.Sorted(maps.Keys(exp.conns)) {
		want := exp.conns[id]
		got, ok := obsConns[id]
		switch {
		case ok && got == want:
		case !ok && tail != nil && tail.kind == opDeleteConn && tail.id == id:
			tailUsed = true
			w.deleted[id] = true
		case ok && tail != nil && tail.kind == opPatchConn && tail.id == id && got == tail.name:
			tailUsed = true
		case !ok:
			bad("LOST WRITE: connector %s is missing; its last acknowledged displayName is %q and no acknowledged or in-flight DELETE removed it\n%s",
				id, want, w.history(id))
		default:
			bad("LOST WRITE: connector %s has displayName %q, want %q (the last acknowledged value)%s; %s\n%s",
				id, got, want, tailNote(tail), w.describeValue(got), w.history(id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(obsConns)) {
		if _, ok := exp.conns[id]; ok {
			continue
		}
		got := obsConns[id]
		switch {
		case !tailUsed && tail != nil && tail.kind == opCreateConn && got == tail.name:
			tailUsed = true
		case w.deleted[id]:
			bad("LOST DELETE: connector %s (displayName %q) is present, but an acknowledged DELETE removed it\n%s", id, got, w.history(id))
		default:
			bad("connector %s (displayName %q) exists but was never created by an acknowledged or in-flight request; %s",
				id, got, w.describeValue(got))
		}
	}
	if w.provType != "" {
		match := func(s crashState) bool {
			return s.provPresent == (obsProv != nil) && (obsProv == nil || s.provName == *obsProv)
		}
		switch {
		case match(exp):
		case tail != nil && tail.kind.provider() && func() bool { s := exp.clone(); s.apply(*tail); return match(s) }():
			tailUsed = true
		default:
			shown := "absent"
			if obsProv != nil {
				shown = fmt.Sprintf("present with name %q (%s)", *obsProv, w.describeValue(*obsProv))
			}
			want := "absent"
			if exp.provPresent {
				want = fmt.Sprintf("present with name %q", exp.provName)
			}
			bad("LOST WRITE: provider %s is %s, want %s after its acknowledged operations%s\n%s",
				w.provID(), shown, want, tailNote(tail), w.history(w.provID()))
		}
	}
	if tail != nil {
		switch {
		case tail.outcome == outcomeAckedNoBody && !tailUsed:
			bad("LOST WRITE: %s was acknowledged (its body was lost), but no connector %q exists", tail, tail.name)
		case tailUsed:
			tally.tailApplied[tail.kind]++
		default:
			tally.tailUnapplied[tail.kind]++
		}
	}

	// Adopt what the server shows: it is now the writer's verified state.
	w.state.conns = maps.Clone(obsConns)
	if w.state.conns == nil {
		w.state.conns = map[string]string{}
	}
	w.state.provPresent, w.state.provName = obsProv != nil, ""
	if obsProv != nil {
		w.state.provName = *obsProv
	}
	w.hist = append(w.hist, w.ops...)
	w.ops = nil
	return v
}

func tailNote(tail *crashOp) string {
	if tail == nil {
		return " (the writer has no operation of unknown outcome)"
	}
	return "; the writer's operation of unknown outcome: " + tail.String()
}

// describeValue says where a displayName the server shows came from.
func (w *crashWriter) describeValue(name string) string {
	o, ok := w.sent[name]
	if !ok {
		return fmt.Sprintf("the value %q was never sent", name)
	}
	return "the value was sent by " + o.String()
}

// history lists the writer's operations on an id, this iteration's included.
func (w *crashWriter) history(id string) string {
	var lines []string
	for _, o := range append(slices.Clone(w.hist), w.ops...) {
		if strings.EqualFold(o.id, id) {
			lines = append(lines, "    "+o.String())
		}
	}
	if len(lines) > 12 {
		lines = append([]string{fmt.Sprintf("    (%d earlier operations)", len(lines)-12)}, lines[len(lines)-12:]...)
	}
	return strings.Join(lines, "\n")
}

// crashChild is one `idgraph serve` child process.
type crashChild struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	base   string
	done   chan struct{} // closed when Wait has returned
	err    error         // what Wait returned
}

// crashHarness runs the idgraph binary's commands on one data directory and
// store.
type crashHarness struct {
	bin   string
	dir   string   // --data-dir
	store string   // --store: "" for the embedded store in dir, or a postgres:// URL
	env   []string // the environment of every command, IDGRAPH_SECRET_KEY included
}

// crashEnv is the environment for the idgraph commands of a test: the
// test's own, without IDGRAPH_* variables, and a fresh secret key that every
// command started with it shares.
func crashEnv(t *testing.T) []string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDGRAPH_") {
			env = append(env, kv)
		}
	}
	return append(env, "IDGRAPH_SECRET_KEY="+base64.StdEncoding.EncodeToString(key))
}

// dataArgs are the flags that point a command at h's data.
func (h *crashHarness) dataArgs() []string {
	args := []string{"--data-dir", h.dir}
	if h.store != "" {
		args = append(args, "--store", h.store)
	}
	return args
}

// start starts `idgraph serve` on a free loopback port and waits until it
// prints where it serves.
func (h *crashHarness) start(t *testing.T) *crashChild {
	t.Helper()
	c := h.launch(t)
	c.awaitServing(t)
	return c
}

// launch starts `idgraph serve` on a free loopback port without waiting for
// it; awaitServing waits.
func (h *crashHarness) launch(t *testing.T) *crashChild {
	t.Helper()
	c := &crashChild{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	// Plain HTTP: these tests are about durability and consistency, and TLS
	// would only cost CPU.
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--plain-http"}, h.dataArgs()...)
	c.cmd = exec.Command(h.bin, args...)
	c.cmd.Env = h.env
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	c.cmd.WaitDelay = 5 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start idgraph serve: %v", err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.kill() })
	return c
}

// awaitServing waits until the child prints where it serves and sets c.base.
func (c *crashChild) awaitServing(t *testing.T) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if m := servingRE.FindStringSubmatch(c.stdout.String()); m != nil {
			c.base = m[1]
			if !strings.HasPrefix(c.base, "http://127.0.0.1:") {
				t.Fatalf("serving at %s, want a loopback address", c.base)
			}
			return
		}
		select {
		case <-c.done:
			t.Fatalf("idgraph serve exited before serving: %v\nstdout:\n%s\nstderr:\n%s", c.err, c.stdout, c.stderr)
		case <-deadline:
			t.Fatalf("idgraph serve printed no 'serving Microsoft Graph at' line within %v\nstdout:\n%s\nstderr:\n%s",
				waitTimeout, c.stdout, c.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL to the child (if it still runs) and reaps it. It reports
// whether the child was reaped in time.
func (c *crashChild) kill() bool {
	select {
	case <-c.done:
		return true
	default:
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
		return true
	case <-time.After(waitTimeout):
		return false
	}
}

// terminate stops the child with SIGTERM and expects a clean exit.
func (c *crashChild) terminate(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-c.done:
	case <-time.After(waitTimeout + 5*time.Second):
		t.Fatalf("idgraph serve did not exit within %v of SIGTERM", waitTimeout+5*time.Second)
	}
	if c.err != nil || !strings.Contains(c.stdout.String(), "idgraph stopped") {
		t.Errorf("idgraph serve after SIGTERM: %v, want a clean exit\nstdout:\n%s\nstderr:\n%s", c.err, c.stdout, c.stderr)
	}
}

// run runs `idgraph <command> <args>` on h's data and returns what it
// printed; it fails the test if the command fails or takes too long.
func (h *crashHarness) run(t *testing.T, command string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	args = append(append(strings.Fields(command), h.dataArgs()...), args...)
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = h.env
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("idgraph %s: %v\n%s", command, err, stderr.String())
	}
	return string(out)
}

// mint runs `idgraph token` for the server at base.
func (h *crashHarness) mint(t *testing.T, base string) string {
	t.Helper()
	out := h.run(t, "token", "--issuer", base, "--roles", crashRoles)
	tok := strings.TrimSpace(out)
	if !strings.HasPrefix(tok, "eyJ") || strings.Count(tok, ".") != 2 {
		t.Fatalf("idgraph token printed %q, want a compact JWS", out)
	}
	return tok
}

// list GETs a collection from the server under verification.
func (h *crashHarness) list(t *testing.T, c *crashChild, tok, path string, into any) {
	t.Helper()
	client := &http.Client{Timeout: crashRequestTimeout}
	status, body, _, err := crashDo(client, "GET", c.base+path, tok, nil, nil)
	if status != http.StatusOK || err != nil {
		t.Fatalf("GET %s after restart: %d %v %.500s\nstderr:\n%s", path, status, err, body, c.stderr)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v: %.500s", path, err, body)
	}
}

func buildIdgraph(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Fatalf("no go tool on PATH to build idgraph with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "idgraph")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".")
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCrashKeepsAcknowledgedWrites is the kill-9 loop: 32 writers create,
// PATCH and DELETE API connectors (and a few deprecated identity providers)
// on a real server process, which is killed with SIGKILL after a random
// 0.2–2 s. After a restart on the same data directory and store, every
// acknowledged write must be visible through the API, no acknowledged delete
// undone, no value older than the last acknowledged one shown and nothing
// that was never sent; at the end the database passes its backend's
// integrity check.
//
// It runs once per backend: "sqlite" on the embedded store in the data
// directory, and "postgres" with --store on a fresh schema of the test
// database (skipped when PostgreSQL cannot be reached, unless
// IDGRAPH_REQUIRE_POSTGRES=1). IDGRAPH_CRASH_ITERATIONS sets the number of
// kills of each (default 20); IDGRAPH_CRASH_SEED replays a schedule, and
// -run 'TestCrashKeepsAcknowledgedWrites/postgres' picks one backend.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("kill-9 loop: skipped with -short")
	}
	iterations := crashDefaultIterations
	if v := os.Getenv("IDGRAPH_CRASH_ITERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("IDGRAPH_CRASH_ITERATIONS=%q: want a positive integer", v)
		}
		iterations = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("IDGRAPH_CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("IDGRAPH_CRASH_SEED=%q: want an unsigned integer", v)
		}
		seed = s
	}
	t.Logf("seed %d (IDGRAPH_CRASH_SEED=%d replays the kill times and operation choices), %d iterations per backend, %d writers",
		seed, seed, iterations, crashWriters)
	began := time.Now()
	bin := buildIdgraph(t)
	t.Logf("built idgraph in %v", time.Since(began).Round(time.Millisecond))

	t.Run("sqlite", func(t *testing.T) {
		h := &crashHarness{bin: bin, dir: t.TempDir(), env: crashEnv(t)}
		crashLoop(t, h, iterations, seed, func(ctx context.Context) (checkedStore, error) {
			return sqlite.Open(ctx, filepath.Join(h.dir, "idgraph.db"))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		h := &crashHarness{bin: bin, dir: t.TempDir(), store: pgtest.DSN(t), env: crashEnv(t)}
		crashLoop(t, h, iterations, seed, func(ctx context.Context) (checkedStore, error) {
			return postgres.Open(ctx, h.store)
		})
	})
}

// checkedStore is a store opened for its integrity check.
type checkedStore interface {
	IntegrityCheck(ctx context.Context) error
	Close() error
}

// crashLoop runs the kill-9 loop for iterations kills on h's data, with the
// kill times and operation choices that seed gives; with the server stopped,
// it opens the store with open and runs its integrity check.
func crashLoop(t *testing.T, h *crashHarness, iterations int, seed uint64, open func(context.Context) (checkedStore, error)) {
	rng := mrand.New(mrand.NewPCG(seed, 0))
	began := time.Now()
	writers := make([]*crashWriter, crashWriters)
	for i := range writers {
		writers[i] = &crashWriter{idx: i, state: crashState{conns: map[string]string{}},
			sent: map[string]crashOp{}, deleted: map[string]bool{}}
		if i < len(crashProviderTypes) {
			writers[i].provType = crashProviderTypes[i]
		}
	}
	var tally crashTally
	var violations []string
	completed := 0
	for iter := 1; iter <= iterations && len(violations) == 0; iter++ {
		if d, ok := t.Deadline(); ok && time.Until(d) < 30*time.Second {
			t.Fatalf("stopping after %d of %d iterations: the test deadline is near", iter-1, iterations)
		}
		iterStart := time.Now()
		srv := h.start(t)
		tok := h.mint(t, srv.base)
		// The 32 writers start at once on the freshly started server: any
		// 4xx from it (e.g. a valid token refused while keys load) fails.

		// Writers, then SIGKILL after a random delay.
		killAfter := crashMinKill + time.Duration(rng.Int64N(int64(crashMaxKill-crashMinKill)+1))
		tr := &http.Transport{MaxIdleConnsPerHost: crashWriters, DisableCompression: true}
		client := &http.Client{Transport: tr, Timeout: crashRequestTimeout}
		var stop atomic.Bool
		var wg sync.WaitGroup
		for _, w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(client, srv.base, tok, iter, seed, &stop)
			}()
		}
		time.Sleep(killAfter)
		if !srv.kill() {
			t.Fatalf("iteration %d: idgraph serve was not reaped within %v of SIGKILL", iter, waitTimeout)
		}
		stop.Store(true)
		writersDone := make(chan struct{})
		go func() { wg.Wait(); close(writersDone) }()
		select {
		case <-writersDone:
		case <-time.After(waitTimeout + crashRequestTimeout):
			t.Fatalf("iteration %d: writers did not stop within %v of the kill", iter, waitTimeout+crashRequestTimeout)
		}
		tr.CloseIdleConnections()
		if ws, ok := srv.err.(*exec.ExitError); !ok || ws.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("iteration %d: idgraph serve ended with %v before the kill, not by SIGKILL\nstderr:\n%s", iter, srv.err, srv.stderr)
		}

		// Restart on the same directory and compare with the record.
		srv = h.start(t)
		tok = h.mint(t, srv.base)
		var conns struct {
			Value []struct {
				ID   string `json:"id"`
				Name string `json:"displayName"`
			} `json:"value"`
		}
		var provs struct {
			Value []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"value"`
		}
		h.list(t, srv, tok, "/v1.0/identity/apiConnectors", &conns)
		h.list(t, srv, tok, "/v1.0/identityProviders", &provs)
		obsConns := make([]map[string]string, crashWriters)
		obsProvs := map[string]*string{}
		for _, c := range conns.Value {
			m := crashNameRE.FindStringSubmatch(c.Name)
			idx := -1
			if m != nil {
				idx, _ = strconv.Atoi(m[1])
			}
			if idx < 0 || idx >= crashWriters {
				violations = append(violations, fmt.Sprintf("connector %s has displayName %q, which no writer ever sent", c.ID, c.Name))
				continue
			}
			if obsConns[idx] == nil {
				obsConns[idx] = map[string]string{}
			}
			obsConns[idx][c.ID] = c.Name
		}
		for _, p := range provs.Value {
			if !slices.Contains(crashProviderTypes, p.Type) || !strings.EqualFold(p.ID, p.Type+"-OAUTH") {
				violations = append(violations, fmt.Sprintf("provider %s (type %q, name %q) exists but no writer ever created it", p.ID, p.Type, p.Name))
				continue
			}
			obsProvs[p.Type] = &p.Name
		}
		var acked, unknown, total int
		for _, w := range writers {
			for _, o := range w.ops {
				total++
				switch o.outcome {
				case outcomeAcked, outcomeAckedNoBody:
					acked++
				case outcomeUnknown:
					unknown++
				}
			}
			var prov *string
			if w.provType != "" {
				prov = obsProvs[w.provType]
			}
			violations = append(violations, w.verify(obsConns[w.idx], prov, &tally)...)
			for _, u := range w.unexpect {
				t.Errorf("iteration %d: writer %d: unexpected answer (this workload provokes no 4xx or 5xx): %s", iter, w.idx, u)
			}
			w.unexpect = nil
		}
		srv.terminate(t)
		completed = iter
		t.Logf("iteration %2d: killed after %4dms; %4d operations (%4d acknowledged, %2d unknown); after restart %2d connectors, %d providers; %v",
			iter, killAfter.Milliseconds(), total, acked, unknown, len(conns.Value), len(provs.Value),
			time.Since(iterStart).Round(time.Millisecond))
	}
	for _, v := range violations {
		t.Error(v)
	}

	// The server has stopped: the database must be sound.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := open(ctx)
	if err != nil {
		t.Fatalf("open the database after the loop: %v", err)
	}
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Errorf("integrity check after %d kills: %v", completed, err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("close the database: %v", err)
	}

	var sum [crashOutcomes]int
	var lines []string
	for k := range crashKinds {
		c := tally.ops[k]
		for o := range crashOutcomes {
			sum[o] += c[o]
		}
		lines = append(lines, fmt.Sprintf("  %-17s %6d acknowledged, %d acknowledged without body, %d failed, %d unknown (%d found committed, %d not)",
			k.String()+":", c[outcomeAcked], c[outcomeAckedNoBody], c[outcomeFailed], c[outcomeUnknown],
			tally.tailApplied[k], tally.tailUnapplied[k]))
	}
	t.Logf("%d iterations in %v; operations verified: %d acknowledged, %d acknowledged without body, %d failed, %d unknown; %d violations\n%s",
		completed, time.Since(began).Round(time.Millisecond), sum[outcomeAcked], sum[outcomeAckedNoBody], sum[outcomeFailed],
		sum[outcomeUnknown], len(violations), strings.Join(lines, "\n"))
}
