package admin

import "testing"

// Fault 6: "1.0" was accepted as an integration version.
func TestValidSemver(t *testing.T) {
	for v, ok := range map[string]bool{"1.0.0": true, "0.1.2-beta.1": true, "1.2.3+build.5": true, "1.0": false, "1": false, "v1.0.0": false, "1.0.0.0": false, "": false} {
		if validSemver(v) != ok {
			t.Errorf("validSemver(%q) = %v", v, !ok)
		}
	}
}
