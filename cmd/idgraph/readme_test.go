package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/store/postgres/pgtest"
)

// readmeBlock returns the first ```sh block after the marker comment in the
// repository's README.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- "+marker+" -->")
	if !ok {
		t.Fatalf("README has no %q marker", marker)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatalf("no sh block after %q", marker)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("unterminated sh block after %q", marker)
	}
	return block
}

// cleanEnv is the environment without IDGRAPH_* settings of the caller.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDGRAPH_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

var statusLineRE = regexp.MustCompile(`HTTP/[0-9.]+ (\d{3}) `)

// TestReadmeCurlWalkthrough runs the README's curl walk-through as written,
// against a server started as the README says, with only its port changed.
func TestReadmeCurlWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed to check the README walk-through: %v", err)
	}
	block := readmeBlock(t, "quickstart:curl")
	dir := t.TempDir()
	s := startServe(t, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, map[string]string{})
	host := strings.TrimPrefix(s.base, "https://")
	script := strings.ReplaceAll(block, "127.0.0.1:9443", host)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = "../.."
	cmd.Env = cleanEnv("IDGRAPH_DATA_DIR=" + dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}
	var got []string
	for _, m := range statusLineRE.FindAllStringSubmatch(string(out), -1) {
		got = append(got, m[1])
	}
	if strings.Join(got, ",") != "201,204,200" {
		t.Errorf("status lines = %v, want 201, 204, 200 as the README says\n%s", got, out)
	}
	for _, want := range []string{`"id":"Amazon-OAUTH"`, `"clientSecret":"*****"`, `"displayName":"String"`,
		`"@odata.type":"microsoft.graph.apiAuthenticationConfigurationBase"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walk-through output lacks %s\n%s", want, out)
		}
	}
}

// TestReadmeQuickstartsMatchTheirPrograms checks that the README shows the
// quick-start programs exactly as the client test suites run them.
func TestReadmeQuickstartsMatchTheirPrograms(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for fence, path := range map[string]string{
		"```go\n": "../../clients/go/quickstart/main.go",
		"```js\n": "../../clients/js/quickstart.mjs",
	} {
		program, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), fence+string(program)+"```") {
			t.Errorf("README does not show %s exactly as it is (update the README's quick-start)", path)
		}
	}
}

// TestReadmeReplicas runs the README's three-replica commands as written,
// in a scratch directory, with only the database (a fresh schema) and the
// ports changed.
func TestReadmeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds idgraph and starts three servers: skipped with -short")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed to check the README: %v", err)
	}
	dsn := pgtest.DSN(t)
	block := readmeBlock(t, "replicas:sh")
	const store = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	if !strings.Contains(block, "'"+store+"'") || !strings.Contains(block, "BASE_PORT=9440") {
		t.Fatalf("the README's replica block no longer sets the store and BASE_PORT as this test expects:\n%s", block)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(block, "'"+store+"'", "'"+dsn+"'")
	script = strings.ReplaceAll(script, "BASE_PORT=9440", "BASE_PORT="+strconv.Itoa(freePorts(t, 3)-1))
	script = strings.ReplaceAll(script, "go build -o idgraph ./cmd/idgraph", "(cd '"+root+"' && go build -o \"$OLDPWD/idgraph\" ./cmd/idgraph)")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's replica commands failed: %v\n%s", err, out)
	}
	// The POST's answer, then the list read through replica 2, twice (the
	// second time with a token signed by the rotated key).
	if n := strings.Count(string(out), `"id":"Google-OAUTH"`); n != 3 {
		t.Errorf("the provider appears %d times in the output, want 3 (created, then read through replica 2 twice)\n%s", n, out)
	}
	if strings.Contains(string(out), "g-secret") || !strings.Contains(string(out), `"clientSecret":"*****"`) {
		t.Errorf("the secret is not masked on every read\n%s", out)
	}
	if !strings.Contains(string(out), "new signing key") {
		t.Errorf("keys rotate did not report a new key\n%s", out)
	}
}

// freePorts returns the first of n consecutive loopback ports that are free
// now.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		first := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := first+n <= 65535
		for p := first; ok && p < first+n; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if ok = err == nil; ok {
				l.Close()
			}
		}
		if ok {
			return first
		}
	}
	t.Fatalf("no %d consecutive free loopback ports", n)
	return 0
}
