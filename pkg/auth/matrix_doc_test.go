package auth

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// TestMatrixDocumented keeps README.md's permission table equal to Matrix.
func TestMatrixDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "<!-- permission-matrix -->\n")
	doc, _, ok2 := strings.Cut(rest, "<!-- /permission-matrix -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no permission-matrix block")
	}
	if want := MatrixTable(); strings.TrimSpace(doc) != strings.TrimSpace(want) {
		t.Fatalf("README.md's permission table differs from the code; it should read:\n%s", want)
	}
}

// MatrixTable renders Matrix as the README's Markdown table.
func MatrixTable() string {
	var b strings.Builder
	b.WriteString("| permission |")
	for _, r := range Roles() {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|")
	for range Roles() {
		b.WriteString("---|")
	}
	perms := make([]string, 0, len(Matrix))
	for p := range Matrix {
		perms = append(perms, string(p))
	}
	sort.Strings(perms)
	for _, p := range perms {
		b.WriteString("\n| " + p + " |")
		for _, r := range Roles() {
			if r.Allows(Permission(p)) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("  |")
			}
		}
	}
	return b.String() + "\n"
}
