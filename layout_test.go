package fleethub_test

// The layering of the tree (README "Layout"): cmd/ wires everything,
// providers/ implement interfaces of pkg/, pkg/ never depends on providers/
// or cmd/, and api/ depends on nothing of ours. Only non-test dependencies
// count: tests may build the whole hub.

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fleethub/fleethub"

// legacy are pkg/ packages allowed to break the rule, each with the reason.
var legacy = map[string]string{}

func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	deps := goListDeps(t, "./pkg/...", "./api/...")
	if len(deps) == 0 {
		t.Fatal("go list found no packages")
	}
	for pkg, ds := range deps {
		for _, d := range ds {
			if !strings.HasPrefix(d, module+"/") {
				continue // standard library, third party
			}
			var bad bool
			switch {
			case strings.HasPrefix(pkg, module+"/api/"):
				bad = !strings.HasPrefix(d, module+"/api/")
			case legacy[pkg] != "":
			default:
				bad = strings.HasPrefix(d, module+"/providers/") || strings.HasPrefix(d, module+"/cmd/")
			}
			if bad {
				t.Errorf("%s depends on %s: pkg/ must not depend on providers/ or cmd/, api/ on nothing of ours (%s)",
					strings.TrimPrefix(pkg, module+"/"), strings.TrimPrefix(d, module+"/"), why(t, pkg, d))
			}
		}
	}
}

// goListDeps maps each package matching patterns to its transitive non-test
// dependencies.
func goListDeps(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}"}, patterns...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return deps
}

// why names the direct import through which pkg reaches dep, so the message
// points at the line to change.
func why(t *testing.T, pkg, dep string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", pkg).Output()
	if err != nil {
		return "via unknown import"
	}
	imports := strings.Fields(string(out))
	for _, imp := range imports {
		if imp == dep {
			return "imported directly"
		}
	}
	for _, imp := range imports {
		if !strings.HasPrefix(imp, module+"/") {
			continue
		}
		for _, d := range goListDeps(t, imp)[imp] {
			if d == dep {
				return "via " + strings.TrimPrefix(imp, module+"/")
			}
		}
	}
	return "via unknown import"
}
