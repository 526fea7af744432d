package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a server process under test.
type server struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	done chan struct{}
	once sync.Once
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits.
func (s *server) stop() {
	s.once.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
}

var servingLine = regexp.MustCompile(`(?:serving Microsoft Graph|baseline serving) at (http://[0-9.:]+)`)

// start runs cmd and waits for the line that names its address.
func start(cmd *exec.Cmd, logFile string) (*server, error) {
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(pw, logf)
	cmd.Stderr = io.MultiWriter(pw, logf)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		pw.Close()
		logf.Close()
		close(s.done)
	}()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case s.url = <-found:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited before serving; see %s", filepath.Base(cmd.Path), logFile)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not start within 30 s; see %s", filepath.Base(cmd.Path), logFile)
	}
}

func startBaseline(ctx context.Context, bin, tmp string) (*server, error) {
	return start(exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-n", "1000"), filepath.Join(tmp, "baseline.log"))
}

// cli runs idgraph's commands on one store: the embedded one in dataDir,
// or the PostgreSQL database env names (with the secret key every replica
// shares).
type cli struct {
	bin     string
	dataDir string
	env     []string // IDGRAPH_* settings, replacing the caller's
}

// command is idgraph with args and --data-dir. The caller's IDGRAPH_STORE
// and IDGRAPH_SECRET_KEY are not passed on, so that the embedded store is
// measured as configured here whatever the environment holds.
func (c cli) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, append(args, "--data-dir", c.dataDir)...)
	cmd.Env = append(scrubEnv(os.Environ()), c.env...)
	return cmd
}

// scrubEnv drops the settings that would choose another store or key.
func scrubEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "IDGRAPH_STORE" || k == "IDGRAPH_SECRET_KEY"
	})
}

// startIdgraph serves plain HTTP on loopback, as the baseline does, so the
// comparison is of the servers' work, not of TLS.
func startIdgraph(ctx context.Context, c cli, logFile string) (*server, error) {
	return start(c.command(ctx, "serve", "--plain-http", "--addr", "127.0.0.1:0"), logFile)
}

// fixture is what the load needs from a seeded idgraph.
type fixture struct {
	tokens     []string // one per tenant
	connectors []string // ids in the first tenant
}

// providerTypes are the social types a B2C tenant can create through the
// deprecated API: ten providers per tenant, ids {type}-OAUTH.
var providerTypes = []string{"Amazon", "Facebook", "GitHub", "Google", "LinkedIn", "Microsoft", "QQ", "Twitter", "WeChat", "Weibo"}

const (
	benchTenants    = 10   // 10 tenants x 10 providers: 100 providers, as the baseline's 100 hot ids
	benchConnectors = 1000 // as the baseline's -n
	roles           = "IdentityProvider.ReadWrite.All,APIConnectors.ReadWrite.All"
)

// seed creates tenants (through the command line, as an operator would),
// mints one token per tenant with the server's own signing key, and creates
// the providers and connectors through the API of the server at base.
func seed(ctx context.Context, c cli, base string) (*fixture, error) {
	tenants, err := tenantIDs(ctx, c)
	if err != nil {
		return nil, err
	}
	for len(tenants) < benchTenants {
		if out, err := c.command(ctx, "tenant", "create", "--kind", "b2c",
			"--name", fmt.Sprintf("bench %d", len(tenants))).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("tenant create: %v: %s", err, out)
		}
		if tenants, err = tenantIDs(ctx, c); err != nil {
			return nil, err
		}
	}
	fx := &fixture{}
	for _, t := range tenants[:benchTenants] {
		tok, err := mintToken(ctx, c, t, base)
		if err != nil {
			return nil, err
		}
		fx.tokens = append(fx.tokens, tok)
	}
	var posts []post
	for _, tok := range fx.tokens {
		for _, typ := range providerTypes {
			posts = append(posts, post{tok, "/v1.0/identityProviders", fmt.Sprintf(
				`{"name":"Login with %s","type":"%s","clientId":"56433757-cadd-4135-8431-2c9e3fd68ae8","clientSecret":"provider-secret"}`, typ, typ)})
		}
	}
	for i := range benchConnectors {
		posts = append(posts, post{fx.tokens[0], "/beta/identity/apiConnectors", fmt.Sprintf(
			`{"displayName":"Connector %d","targetUrl":"https://api.example.com/signup","authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"user","password":"connector-password"}}`, i)})
	}
	ids, err := postAll(ctx, base, posts, 16)
	if err != nil {
		return nil, err
	}
	fx.connectors = ids[len(ids)-benchConnectors:]
	return fx, nil
}

func tenantIDs(ctx context.Context, c cli) ([]string, error) {
	out, err := c.command(ctx, "tenant", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("tenant list: %w", err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if id, _, ok := strings.Cut(line, "\t"); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func mintToken(ctx context.Context, c cli, tenant, issuer string) (string, error) {
	out, err := c.command(ctx, "token", "--tenant", tenant,
		"--issuer", issuer, "--roles", roles, "--ttl", "2h").Output()
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

type post struct {
	token, path, body string
}

// postAll sends the creates with n workers and returns the created ids in
// the order of posts.
func postAll(ctx context.Context, base string, posts []post, n int) ([]string, error) {
	ids := make([]string, len(posts))
	next := make(chan int)
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := posts[i]
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+p.path, strings.NewReader(p.body))
				if err != nil {
					errc <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+p.token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errc <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errc <- fmt.Errorf("POST %s: %d %s", p.path, resp.StatusCode, bytes.TrimSpace(body))
					return
				}
				var created struct{ ID string }
				if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
					errc <- fmt.Errorf("POST %s: no id in %s", p.path, body)
					return
				}
				ids[i] = created.ID
			}
		}()
	}
	var err error
feed:
	for i := range posts {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errc)
	return ids, errors.Join(err, <-errc)
}

// request is one request of a load: wrk cycles over a list of them.
type request struct {
	method, path, body string
	header             map[string]string
}

type scenario struct {
	name              string
	want              int // the status every answer must have
	idgraph, baseline []request
}

const hot = 100 // objects a load cycles over, on both servers

func scenarios(fx *fixture) []scenario {
	auth := func(tenant int) map[string]string {
		return map[string]string{"Authorization": "Bearer " + fx.tokens[tenant]}
	}
	jsonAuth := func(tenant int) map[string]string {
		h := auth(tenant)
		h["Content-Type"] = "application/json"
		return h
	}
	plainJSON := map[string]string{"Content-Type": "application/json"}
	const providerBody = `{"clientSecret":"1111111111111"}`
	const connectorBody = `{"displayName":"Connector updated","authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"user","password":"new-password"}}`

	var sc [4]scenario
	sc[0] = scenario{name: "PATCH /v1.0/identityProviders/{id}", want: http.StatusNoContent}
	sc[1] = scenario{name: "PATCH /beta/identity/apiConnectors/{id}", want: http.StatusOK}
	sc[2] = scenario{name: "GET /beta/identity/apiConnectors/{id}", want: http.StatusOK}
	sc[3] = scenario{name: "GET /beta/identity/apiConnectors (page of 100)", want: http.StatusOK}
	for i := range hot {
		sc[0].idgraph = append(sc[0].idgraph, request{"PATCH",
			"/v1.0/identityProviders/" + providerTypes[i%len(providerTypes)] + "-OAUTH", providerBody, jsonAuth(i / len(providerTypes))})
		sc[0].baseline = append(sc[0].baseline, request{"PATCH", fmt.Sprintf("/v1.0/identityProviders/prov-%d", i), providerBody, plainJSON})
		sc[1].idgraph = append(sc[1].idgraph, request{"PATCH", "/beta/identity/apiConnectors/" + fx.connectors[i], connectorBody, jsonAuth(0)})
		sc[1].baseline = append(sc[1].baseline, request{"PATCH", fmt.Sprintf("/beta/identity/apiConnectors/conn-%d", i), connectorBody, plainJSON})
		sc[2].idgraph = append(sc[2].idgraph, request{"GET", "/beta/identity/apiConnectors/" + fx.connectors[i], "", auth(0)})
		sc[2].baseline = append(sc[2].baseline, request{"GET", fmt.Sprintf("/beta/identity/apiConnectors/conn-%d", i), "", nil})
	}
	sc[3].idgraph = []request{{"GET", "/beta/identity/apiConnectors", "", auth(0)}}
	sc[3].baseline = []request{{"GET", "/beta/identity/apiConnectors", "", nil}}
	return sc[:]
}

// checkStatus sends every request of a load once and checks that it
// answers the wanted status, so that the load's counts mean what they say.
func checkStatus(ctx context.Context, base string, reqs []request, want int) error {
	for _, r := range reqs {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, body)
		if err != nil {
			return err
		}
		for k, v := range r.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d, want %d: %s", r.method, r.path, resp.StatusCode, want, bytes.TrimSpace(b))
		}
	}
	return nil
}
