//go:build unix

package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/store/postgres"
	"github.com/idgraph/idgraph/internal/store/postgres/pgtest"
)

// Three replicas on one PostgreSQL database: clients spread over them PATCH
// the same few connectors at once, and every replica must behave as one
// server would.
const (
	replicaCount      = 3
	replicaClients    = 24 // each with its own connections, on the replicas in turn
	replicaOps        = 40 // PATCHes each client sends
	replicaConnectors = 3  // the connectors they all PATCH
	replicaBase       = "/beta/identity/apiConnectors"
)

var (
	replicaETagRE   = regexp.MustCompile(`^W/"(\d+)"$`)
	replicaTenantRE = regexp.MustCompile(`default tenant: (\S+)`)
)

// replicaVersion reads the version out of an ETag, W/"n".
func replicaVersion(etag string) (int64, error) {
	m := replicaETagRE.FindStringSubmatch(etag)
	if m == nil {
		return 0, fmt.Errorf("ETag %q, want W/\"n\"", etag)
	}
	return strconv.ParseInt(m[1], 10, 64)
}

// replicaPatch is one PATCH a client sent, and its answer.
type replicaPatch struct {
	client, op int
	conn       string // connector id
	name       string // the displayName it set
	replica    int    // where it was sent
	ifMatch    string // the If-Match it carried, "" for none
	status     int
	version    int64 // from the answer's ETag, when acknowledged
}

func (p replicaPatch) String() string {
	s := fmt.Sprintf("client %d op %d: PATCH %s displayName=%q on replica %d", p.client, p.op, p.conn, p.name, p.replica+1)
	if p.ifMatch != "" {
		s += " If-Match " + p.ifMatch
	}
	s += fmt.Sprintf(" → %d", p.status)
	if p.version != 0 {
		s += fmt.Sprintf(" W/\"%d\"", p.version)
	}
	return s
}

// replicaClient is one client's record: the PATCHes it sent and anything
// wrong it saw.
type replicaClient struct {
	patches  []replicaPatch
	unknown  map[string]int // connector → PATCHes without an answer (no answer or a 5xx)
	problems []string
}

// replicaGet GETs a connector and returns its version and displayName.
func replicaGet(client *http.Client, base, tok, id string) (version int64, name string, err error) {
	status, body, hdr, err := crashDo(client, "GET", base+replicaBase+"/"+id, tok, nil, nil)
	if err != nil || status != http.StatusOK {
		return 0, "", fmt.Errorf("GET %s: %d %v %.300s", id, status, err, body)
	}
	var c struct {
		Name string `json:"displayName"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return 0, "", fmt.Errorf("GET %s: %v: %.300s", id, err, body)
	}
	version, err = replicaVersion(hdr.Get("ETag"))
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %v", id, err)
	}
	return version, c.Name, nil
}

// run sends the client's PATCHes: to replica own, each followed by a GET
// from another replica, which must show the PATCH's version or a later one.
// The clients of one replica take the connectors in different orders, so
// each connector is PATCHed through every replica at once.
// A conditional client first reads the connector's ETag from a third
// replica and sends it as If-Match. The client stops at a request without
// an answer.
func (rc *replicaClient) run(idx int, bases []string, tok string, conns []string, conditional bool) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: crashRequestTimeout}
	own := idx % len(bases)
	etagFrom, checkFrom := (own+1)%len(bases), (own+2)%len(bases)
	problem := func(format string, args ...any) {
		rc.problems = append(rc.problems, fmt.Sprintf(format, args...))
	}
	for op := range replicaOps {
		p := replicaPatch{client: idx, op: op, conn: conns[(idx/len(bases)+op)%len(conns)], name: fmt.Sprintf("c%d-%d", idx, op), replica: own}
		var hdr http.Header
		if conditional {
			status, body, h, err := crashDo(client, "GET", bases[etagFrom]+replicaBase+"/"+p.conn, tok, nil, nil)
			if err != nil || status != http.StatusOK {
				problem("client %d op %d: GET %s on replica %d for its ETag: %d %v %.300s", idx, op, p.conn, etagFrom+1, status, err, body)
				return
			}
			p.ifMatch = h.Get("ETag")
			hdr = http.Header{"If-Match": {p.ifMatch}}
		}
		status, body, h, err := crashDo(client, "PATCH", bases[own]+replicaBase+"/"+p.conn, tok, map[string]string{"displayName": p.name}, hdr)
		p.status = status
		switch {
		case status == http.StatusPreconditionFailed && conditional:
			// Another client's PATCH came between the GET and this one.
			rc.patches = append(rc.patches, p)
			continue
		case status >= 200 && status < 300:
		case status == 0 || status >= 500:
			rc.unknown[p.conn]++
			problem("%s: no acknowledgement: %v %.300s", p, err, body)
			if status == 0 {
				return
			}
			continue
		default:
			problem("%s: unexpected answer %.300s", p, body)
			continue
		}
		if p.version, err = replicaVersion(h.Get("ETag")); err != nil {
			problem("%s: %v", p, err)
			p.version = 0
		}
		rc.patches = append(rc.patches, p)
		if status == http.StatusOK {
			var c struct {
				Name string `json:"displayName"`
			}
			if err := json.Unmarshal(body, &c); err != nil || c.Name != p.name {
				problem("%s answered displayName %q (%v), want the value it set", p, c.Name, err)
			}
		}

		// Read your write on another replica.
		v, name, err := replicaGet(client, bases[checkFrom], tok, p.conn)
		switch {
		case err != nil:
			problem("after %s, on replica %d: %v", p, checkFrom+1, err)
			return
		case v < p.version:
			problem("STALE READ: after %s, replica %d shows version %d (displayName %q)", p, checkFrom+1, v, name)
		case v == p.version && name != p.name:
			problem("STALE READ: after %s, replica %d shows that version with displayName %q", p, checkFrom+1, name)
		}
	}
}

// replicaDefaultTenant waits for the default tenant a started replica
// prints (a few lines after where it serves) and returns it.
func replicaDefaultTenant(t *testing.T, c *crashChild) string {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if m := replicaTenantRE.FindStringSubmatch(c.stdout.String()); m != nil {
			return m[1]
		}
		select {
		case <-c.done:
			t.Fatalf("idgraph serve exited without printing its default tenant: %v\nstdout:\n%s\nstderr:\n%s", c.err, c.stdout, c.stderr)
		case <-deadline:
			t.Fatalf("idgraph serve printed no default tenant within %v\nstdout:\n%s", waitTimeout, c.stdout)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// replicaElide formats a long list as its first and last 8 lines.
func replicaElide[T any](list []T) []string {
	var lines []string
	for i, v := range list {
		switch {
		case len(list) > 16 && i == 8:
			lines = append(lines, fmt.Sprintf("    (%d more)", len(list)-16))
		case len(list) > 16 && i > 8 && i < len(list)-8:
		default:
			lines = append(lines, fmt.Sprint("    ", v))
		}
	}
	return lines
}

// replicaReport fails the test with each problem, the first 40 at most.
func replicaReport(t *testing.T, problems []string) {
	t.Helper()
	for i, p := range problems {
		if i == 40 {
			t.Errorf("... and %d more like these", len(problems)-i)
			return
		}
		t.Error(p)
	}
}

// tokenKID returns the kid in a compact JWS's header.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	head, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		KID string `json:"kid"`
	}
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil || h.KID == "" {
		t.Fatalf("token header %q: %v, want a kid", b, err)
	}
	return h.KID
}

// forgeKID returns tok with its header's kid replaced (its signature no
// longer verifies, and the kid is one no replica knows).
func forgeKID(t *testing.T, tok, kid string) string {
	t.Helper()
	head, rest, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	h["kid"] = kid
	if b, err = json.Marshal(h); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b) + "." + rest
}

// replicasAccept checks that every replica answers a token's GET of the
// connector list with 200.
func replicasAccept(t *testing.T, reps []*crashChild, tok, what string) {
	t.Helper()
	client := &http.Client{Timeout: crashRequestTimeout}
	for i, r := range reps {
		status, body, _, err := crashDo(client, "GET", r.base+replicaBase, tok, nil, nil)
		if status != http.StatusOK || err != nil {
			t.Errorf("replica %d refused %s: %d %v %.300s\nstderr:\n%s", i+1, what, status, err, body, r.stderr)
		}
	}
	client.CloseIdleConnections()
}

// TestReplicasShareOneDatabase runs three `idgraph serve` processes on one
// PostgreSQL database, each with its own data directory and the same secret
// key, and checks that they act as one server:
//
//   - a token minted once is accepted by all three (the signing keys and
//     tenants live in the database);
//   - 24 clients, spread over the replicas, PATCH the same three connectors
//     at once, half of them with If-Match from a GET on another replica.
//     No update is lost: a connector's final version is its first plus the
//     number of acknowledged PATCHes of it, each acknowledged PATCH got a
//     version of its own, and the final displayName is the one the PATCH
//     with the final version set. A 412 answers only an If-Match the
//     connector has since moved past. A GET on another replica right after
//     an acknowledged PATCH shows its version or a later one;
//   - a signing key rotated with `idgraph keys rotate` verifies on all three
//     at once, and the older key still does;
//   - all three stop cleanly on SIGTERM.
//
// It skips when PostgreSQL cannot be reached (unless
// IDGRAPH_REQUIRE_POSTGRES=1) and with -short.
func TestReplicasShareOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("three server processes: skipped with -short")
	}
	dsn := pgtest.DSN(t)
	began := time.Now()
	bin := buildIdgraph(t)
	env := crashEnv(t)
	hs := make([]*crashHarness, replicaCount)
	reps := make([]*crashChild, replicaCount)
	// All three start at once on the empty schema, as a deployment's
	// replicas do: each migrates and bootstraps it.
	for i := range hs {
		hs[i] = &crashHarness{bin: bin, dir: t.TempDir(), store: dsn, env: env}
		reps[i] = hs[i].launch(t)
	}
	bases := make([]string, replicaCount)
	var tenant string
	for i, r := range reps {
		r.awaitServing(t)
		bases[i] = r.base
		m := replicaDefaultTenant(t, r)
		switch {
		case i == 0:
			tenant = m
		case m != tenant:
			t.Errorf("replica %d has default tenant %s, replica 1 has %s: they must share one", i+1, m, tenant)
		}
	}
	t.Logf("built idgraph and started %d replicas in %v", replicaCount, time.Since(began).Round(time.Millisecond))

	// One token for all: minted once, accepted everywhere.
	tok := hs[0].mint(t, bases[0])
	replicasAccept(t, reps, tok, "the token minted for replica 1")
	if t.Failed() {
		t.FailNow()
	}

	// The connectors, created through replica 1.
	client := &http.Client{Timeout: crashRequestTimeout}
	conns := make([]string, replicaConnectors)
	created := map[string]int64{}
	for i := range conns {
		body := map[string]any{"displayName": fmt.Sprintf("replica-%d", i), "targetUrl": fmt.Sprintf("https://hooks.example.com/replica/%d", i),
			"authenticationConfiguration": map[string]string{
				"@odata.type": "#microsoft.graph.basicAuthentication", "username": "replica", "password": "replica-password"}}
		status, resp, hdr, err := crashDo(client, "POST", bases[0]+replicaBase, tok, body, nil)
		if status != http.StatusCreated || err != nil {
			t.Fatalf("create connector %d: %d %v %.300s", i, status, err, resp)
		}
		var c struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(resp, &c); err != nil || c.ID == "" {
			t.Fatalf("create connector %d: %v: %.300s", i, err, resp)
		}
		v, err := replicaVersion(hdr.Get("ETag"))
		if err != nil {
			t.Fatalf("create connector %d: %v", i, err)
		}
		conns[i], created[c.ID] = c.ID, v
	}
	client.CloseIdleConnections()

	// The PATCH storm.
	stormStart := time.Now()
	clients := make([]*replicaClient, replicaClients)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = &replicaClient{unknown: map[string]int{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i].run(i, bases, tok, conns, i%2 == 1)
		}()
	}
	wg.Wait()
	storm := time.Since(stormStart)

	// Gather the record per connector.
	var seen []string // what the clients saw go wrong
	acked := map[string][]replicaPatch{}
	refused := map[string][]replicaPatch{}
	unknown := map[string]int{}
	var nAcked, nRefused, nUnknown int
	for _, c := range clients {
		seen = append(seen, c.problems...)
		for _, p := range c.patches {
			if p.status == http.StatusPreconditionFailed {
				refused[p.conn] = append(refused[p.conn], p)
				nRefused++
				continue
			}
			acked[p.conn] = append(acked[p.conn], p)
			nAcked++
		}
		for id, n := range c.unknown {
			unknown[id] += n
			nUnknown += n
		}
	}

	// Every replica shows the same final state, and it has lost nothing.
	var problems []string
	finals := make([]string, 0, len(conns))
	for _, id := range conns {
		ps := acked[id]
		slices.SortFunc(ps, func(a, b replicaPatch) int { return cmp.Compare(a.version, b.version) })
		var version int64
		var name string
		first := -1 // the replica version and name come from
		for i, b := range bases {
			v, n, err := replicaGet(client, b, tok, id)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("final read on replica %d: %v", i+1, err))
			case first < 0:
				version, name, first = v, n, i
			case v != version || n != name:
				problems = append(problems, fmt.Sprintf("STALE READ: at rest, connector %s is version %d %q on replica %d but version %d %q on replica %d",
					id, v, n, i+1, version, name, first+1))
			}
		}
		if first < 0 {
			continue
		}
		var issues []string
		bad := func(format string, args ...any) { issues = append(issues, fmt.Sprintf(format, args...)) }
		want := created[id] + int64(len(ps))
		switch {
		case unknown[id] == 0 && version != want:
			bad("LOST UPDATE: final version %d, want %d (created at %d, %d acknowledged PATCHes)", version, want, created[id], len(ps))
		case unknown[id] > 0 && (version < want || version > want+int64(unknown[id])):
			bad("LOST UPDATE: final version %d, want %d to %d (created at %d, %d acknowledged PATCHes, %d unanswered)",
				version, want, want+int64(unknown[id]), created[id], len(ps), unknown[id])
		}
		for i, p := range ps {
			// An acknowledged conditional PATCH applied to exactly the
			// version its If-Match named, whichever replica served it.
			if p.ifMatch != "" {
				if v, err := replicaVersion(p.ifMatch); err != nil || p.version != v+1 {
					bad("IF-MATCH IGNORED: %s was acknowledged with version %d, want the If-Match version plus one", p, p.version)
				}
			}
			switch {
			case p.version <= created[id] || p.version > version:
				bad("LOST UPDATE: %s got a version outside %d to %d", p, created[id]+1, version)
			case i > 0 && p.version == ps[i-1].version:
				bad("LOST UPDATE: two acknowledged PATCHes got version %d: %s, and %s", p.version, ps[i-1], p)
			}
		}
		if last := len(ps) - 1; last >= 0 && ps[last].version == version && ps[last].name != name {
			bad("LOST UPDATE: final displayName %q, want %q, set by the PATCH with the final version: %s", name, ps[last].name, ps[last])
		} else if (last < 0 || ps[last].version != version) && unknown[id] == 0 {
			bad("final version %d with displayName %q was set by no acknowledged PATCH", version, name)
		}
		// A 412 is right only if the connector changed after the GET
		// its If-Match came from.
		for _, p := range refused[id] {
			if v, err := replicaVersion(p.ifMatch); err != nil || v >= version {
				bad("SPURIOUS 412: %s, but the connector never went past that version (final version %d)", p, version)
			}
		}
		if len(issues) > 0 {
			problems = append(problems, fmt.Sprintf("connector %s:\n%s\n  acknowledged PATCHes by version:\n%s",
				id, strings.Join(replicaElide(issues), "\n"), strings.Join(replicaElide(ps), "\n")))
		}
		finals = append(finals, fmt.Sprintf("%s W/\"%d\"", id, version))
	}
	if nRefused == 0 {
		// 24 clients on three connectors always race; none refused means
		// If-Match was not checked against the stored version.
		problems = append(problems, "no conditional PATCH was refused (412): If-Match is not enforced across replicas")
	}
	client.CloseIdleConnections()
	replicaReport(t, problems)
	replicaReport(t, seen)
	t.Logf("%d clients × %d PATCHes over %d replicas in %v: %d acknowledged, %d refused by If-Match (412), %d unanswered; final %s",
		replicaClients, replicaOps, replicaCount, storm.Round(time.Millisecond), nAcked, nRefused, nUnknown, strings.Join(finals, ", "))

	// A key rotated through one replica's configuration verifies on all, at
	// once, even on replicas that have just re-read their keys (an unknown
	// kid makes them; they re-read at most once a second, and a token must
	// wait for that turn rather than be refused).
	forged := forgeKID(t, tok, "no-such-kid")
	for i, r := range reps {
		status, body, _, err := crashDo(&http.Client{Timeout: crashRequestTimeout}, "GET", r.base+replicaBase, forged, nil, nil)
		if status != http.StatusUnauthorized || err != nil {
			t.Fatalf("replica %d answered a token with an unknown kid: %d %v %.300s", i+1, status, err, body)
		}
	}
	if out := hs[1].run(t, "keys rotate"); !strings.Contains(out, "new signing key") {
		t.Fatalf("idgraph keys rotate printed %q", out)
	}
	tok2 := hs[2].mint(t, bases[2])
	if k1, k2 := tokenKID(t, tok), tokenKID(t, tok2); k1 == k2 {
		t.Fatalf("the token minted after keys rotate has the old kid %s", k1)
	}
	replicasAccept(t, reps, tok2, "a token signed with the rotated key")
	replicasAccept(t, reps, tok, "a token signed with the key before the rotation")

	for _, r := range reps {
		r.terminate(t)
	}

	// With every replica stopped, the database is sound.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open the database after the replicas stopped: %v", err)
	}
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Errorf("integrity check: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("close the database: %v", err)
	}
	t.Logf("done in %v", time.Since(began).Round(time.Millisecond))
}
