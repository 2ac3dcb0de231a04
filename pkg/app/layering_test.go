package app

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/parley-dev/parley/"

// featurePackages never import each other (directly or through another
// package); adapters between them live in pkg/app.
var featurePackages = []string{"admin", "botkey", "chat", "compliance", "deletion", "files", "policy", "retention", "tables"}

// tableOwners maps each table's owning package to the key spellings only it
// may write: prefixes of sort and partition keys ("…#") and the names of
// its sparse index partitions. "BOT#" starts keys in every table, so only
// the three owners may spell it.
var tableOwners = map[string][]string{
	"chatdata": {"BOT#", "CONV#", "USER#", "USERTAGS#", "CONVTAGS#", "MSG#", "MSGTAGS#", "PART#", "STATE#", "EVT#", "STAT#",
		"#CONVS", "#MSGS", "#EVTS", "#USERS"},
	"admindata": {"BOT#", "ACCOUNT#", "WS#", "PAT#", "EMAIL#", "AUDIT#", "AUDITHEAD", "#AUDITCHAIN", "BAK#", "INT#", "ISSUE#", "LOG#",
		"MEMBER#", "INV#", "EVT#", "USAGE#", "BILL#", "#WORKSPACES"},
	"tabledata": {"BOT#", "TABLE#", "TABLEID#", "TABLECOUNT", "TGONE#", "#TG#", "#TROWS", "TWS#"},
	"lifecycledata": {"BOT#", "JOB#", "CHUNK#", "POLICY#", "RUN#", "ERASE#", "WS#", "HOLD#", "RCPT#", "DSR#", "ITEMS#",
		"=SUMMARY", "=REQUESTS",
		"=DUE", "=PROOF", "=RUNS", "=RUNPROOF", "=POLICIES", "=OUTBOX", "=PURGE"},
	"filedata": {"BOT#", "WS#", "FILE#", "FILEKEY#", "PSG#", "FILES#", "#FILES"},
}

type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Deps       []string
}

func listPackages(t *testing.T) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func short(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "pkg/") }

// TestFeaturePackagesDoNotImportEachOther reads the import graph (go list
// -deps) and fails when a feature package depends on another one.
func TestFeaturePackagesDoNotImportEachOther(t *testing.T) {
	for _, p := range listPackages(t) {
		if v := featureImports(short(p.ImportPath), p.Deps); len(v) > 0 {
			t.Errorf("%s depends on feature packages %v: declare an interface and wire the adapter in pkg/app", short(p.ImportPath), v)
		}
	}
}

func isFeature(name string) bool {
	for _, f := range featurePackages {
		if name == f {
			return true
		}
	}
	return false
}

// featureImports lists the feature packages a package depends on when it is
// itself a feature package or a table owner (owners are shared by all).
func featureImports(name string, deps []string) []string {
	_, owner := tableOwners[name]
	if !isFeature(name) && !owner {
		return nil
	}
	var out []string
	for _, d := range deps {
		if s := short(d); strings.HasPrefix(d, module) && isFeature(s) && s != name {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// TestOnlyTheOwnerSpellsATablesKeys parses every non-test Go file and
// fails when a string literal spells a table's key prefixes outside the
// table's owning package.
func TestOnlyTheOwnerSpellsATablesKeys(t *testing.T) {
	for _, p := range listPackages(t) {
		name := short(p.ImportPath)
		for _, f := range p.GoFiles {
			src, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range keySpellings(t, name, f, src) {
				t.Errorf("%s/%s: %s", name, f, v)
			}
		}
	}
}

// keySpellings lists the string literals of a file that spell key
// prefixes of a table the package does not own.
func keySpellings(t *testing.T, pkg, file string, src []byte) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		seen := map[string]bool{}
		for owner, spellings := range tableOwners {
			if owner == pkg {
				continue
			}
			for _, sp := range spellings {
				if seen[sp] || allowedElsewhere(pkg, sp) {
					continue
				}
				exact, isExact := strings.CutPrefix(sp, "=")
				if (isExact && s == exact) || (!isExact && spells(s, sp)) {
					seen[sp] = true
					out = append(out, fset.Position(lit.Pos()).String()+" spells the key "+exact+" of "+owner+"'s table in "+strconv.Quote(s))
				}
			}
		}
		return true
	})
	return out
}

// spells reports whether s holds sp as a key part: at its start, or after a
// key separator ("#", "|"), so that "ISSUEEVT#" does not spell "EVT#".
func spells(s, sp string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], sp)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 || sp[0] == '#' || s[at-1] == '#' || s[at-1] == '|' {
			return true
		}
		i = at + 1
	}
}

// allowedElsewhere: some spellings start keys in several tables ("BOT#",
// "WS#", "EVT#"), so each of their owners may spell them.
func allowedElsewhere(pkg, spelling string) bool {
	for _, owns := range tableOwners[pkg] {
		if owns == spelling {
			return true
		}
	}
	return false
}

// The checks can fail: a feature package spelling a chat key, and a
// feature depending on another, are caught.
func TestLayeringChecksCatchViolations(t *testing.T) {
	src := []byte("package deletion\nvar k = \"BOT#\" + bot + \"#CONV#\" + conv\n")
	if v := keySpellings(t, "deletion", "x.go", src); len(v) != 2 {
		t.Fatalf("found %v, want BOT# and CONV#", v)
	}
	if v := keySpellings(t, "lifecycledata", "x.go", []byte("package lifecycledata\nvar k = \"BOT#\" + \"CONV#\"\n")); len(v) != 1 {
		t.Fatalf("found %v, want only CONV# (BOT# starts lifecycle keys too)", v)
	}
	if v := featureImports("retention", []string{module + "pkg/policy", module + "pkg/lifecycle"}); len(v) != 1 || v[0] != "policy" {
		t.Fatalf("feature imports %v, want [policy]", v)
	}
	if v := featureImports("chatdata", []string{module + "pkg/chat"}); len(v) != 1 {
		t.Fatalf("owner importing a feature not caught: %v", v)
	}
}
