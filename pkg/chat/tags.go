package chat

import (
	"github.com/parley-dev/parley/pkg/apperr"
)

// maxTagValue is the API definition's bound on a tag value.
const maxTagValue = 500

// validateTags checks tag keys and values against the API's bounds.
func validateTags(field string, tags map[string]string) error {
	for k, v := range tags {
		if k == "" || len(k) > 200 {
			return apperr.Invalid("%s keys must be 1 to 200 characters", field)
		}
		if len(v) > maxTagValue {
			return apperr.Invalid("%s.%s must be at most %d characters", field, k, maxTagValue)
		}
	}
	return nil
}

// setTags drops empty values: in Botpress an empty string means "not set".
func setTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
