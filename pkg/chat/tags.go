package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
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

// mergeTags applies an update: empty values unset keys, others overwrite.
func mergeTags(current, update map[string]string) map[string]string {
	out := make(map[string]string, len(current)+len(update))
	for k, v := range current {
		out[k] = v
	}
	for k, v := range update {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// tagsMatch reports whether have holds every key of want with its value.
func tagsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// tagFilter is a DynamoDB filter requiring every given tag.
func tagFilter(tags map[string]string) (expression.ConditionBuilder, bool) {
	var conds []expression.ConditionBuilder
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		conds = append(conds, expression.Name("tags."+k).Equal(expression.Value(tags[k])))
	}
	switch len(conds) {
	case 0:
		return expression.ConditionBuilder{}, false
	case 1:
		return conds[0], true
	}
	return expression.And(conds[0], conds[1], conds[2:]...), true
}

// tagDigest names a set of tag values canonically, for unique-claim keys.
func tagDigest(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(tags[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
