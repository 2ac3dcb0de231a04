package admin

import (
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
)

var integrationName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?$`)

// validSemver reports whether v is a semantic version (without a "v").
func validSemver(v string) bool { return !strings.HasPrefix(v, "v") && semver.IsValid("v"+v) }
