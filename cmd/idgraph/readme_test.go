package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
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
