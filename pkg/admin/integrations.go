package admin

import (
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
)

var integrationName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?$`)

// validSemver reports whether v is a semantic version (without a "v").
// validSemver accepts full semantic versions only: x/mod/semver also
// takes the shorthands "1" and "1.0", which are not semver.
func validSemver(v string) bool {
	core, _, _ := strings.Cut(strings.SplitN(v, "+", 2)[0], "-")
	return !strings.HasPrefix(v, "v") && strings.Count(core, ".") == 2 && semver.IsValid("v"+v)
}
