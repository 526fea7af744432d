package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/idgraph/idgraph/"

// allowed lists, for each package, the packages of this module it may import
// (directly). Packages not listed may import any internal package except a
// store backend; only the programs (cmd, and bench, which prepares data
// directories as the server writes them) and tests pick a backend.
var allowed = map[string][]string{
	"internal/graph":          {},
	"internal/secret":         {},
	"internal/config":         {"internal/graph"},
	"internal/certinfo":       {"internal/graph"},
	"internal/auth":           {"internal/graph"},
	"internal/store":          {"internal/graph"},
	"internal/odata":          {"internal/graph"},
	"internal/directory":      {"internal/auth", "internal/graph", "internal/secret", "internal/store"},
	"internal/store/sqlq":     {"internal/graph", "internal/store"},
	"internal/store/sqlite":   {"internal/graph", "internal/store", "internal/store/sqlq"},
	"internal/store/postgres": {"internal/graph", "internal/store", "internal/store/sqlq"},
	"internal/authority":      {"internal/auth", "internal/directory", "internal/graph"},
	"internal/httpapi": {"internal/auth", "internal/certinfo", "internal/directory", "internal/graph",
		"internal/odata", "internal/secret", "internal/store"},
}

// stdlibOnly are packages that may import nothing outside the standard library.
var stdlibOnly = []string{"internal/graph", "internal/secret", "internal/tlsca", "internal/logbuf", "internal/logjson"}

func TestImportsFlowOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		want, listed := allowed[pkg]
		if listed {
			seen++
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				if slices.Contains(stdlibOnly, pkg) && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("%s imports %s: it may use only the standard library", pkg, imp)
				}
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			switch {
			case listed && !slices.Contains(want, dep):
				t.Errorf("%s imports %s; allowed: %v", pkg, dep, want)
			case !listed && !strings.HasPrefix(pkg, "cmd/") && pkg != "bench" && strings.HasPrefix(dep, "internal/store/") &&
				dep != "internal/store/storetest" && dep != "internal/store/sqlq":
				t.Errorf("%s imports the backend %s; only the programs and tests choose a backend", pkg, dep)
			}
		}
	}
	if seen != len(allowed) {
		t.Errorf("found %d of the %d packages the rules name: a package was renamed or removed", seen, len(allowed))
	}
}
