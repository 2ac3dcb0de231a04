// Package conformance runs the Botpress conformance suite: the official
// @botpress/client (pinned in testdata/package-lock.json) drives a local
// stack through a proxy that validates every response body against the
// OpenAPI document generated from the pinned @botpress/api package.
package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestOfficialClient(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("the conformance suite needs Node.js 20+ and npm on PATH")
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@botpress", "client")); err != nil {
		run(t, dir, nil, "npm", "ci", "--no-audit", "--no-fund")
	}
	env := testenv.Stack(t)
	run(t, dir, []string{"PARLEY_API_URL=" + env.URL, "PARLEY_TOKEN=" + env.PAT}, "npm", "test", "--silent")
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if testing.Verbose() || err != nil {
		t.Logf("%s %v:\n%s", name, args, out)
	}
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
}
