package auth

import (
	"os"
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
