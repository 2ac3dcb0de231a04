package lifecycledata

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
)

// Values of a retention config.
const (
	ActionArchive = "archive"
	ActionDelete  = "delete"

	BasisUpdatedAt = "updatedAt"
	BasisCreatedAt = "createdAt"

	ResourceConversations = "conversations"
	ResourceEvents        = "events"
	// ResourceTableRows governs table rows (the catalogue's "tableRow"
	// kind), optionally scoped to table names.
	ResourceTableRows = "tableRows"
	resourceFiles     = "files"
)

// PolicyScope narrows a policy; an empty list means "any".
type PolicyScope struct {
	BotIDs           []string          `json:"botIds"`
	Channels         []string          `json:"channels"`
	IntegrationNames []string          `json:"integrationNames"`
	Tags             map[string]string `json:"tags"`
	// TableNames narrows a tableRows policy to these tables.
	TableNames []string `json:"tableNames,omitempty"`
}

// PolicyConfig is a retention policy's configuration, stored with its defaults
// filled in.
type PolicyConfig struct {
	MaxAge    string      `json:"maxAge"`
	Action    string      `json:"action"`
	Basis     string      `json:"basis"`
	Resources string      `json:"resources"`
	Scope     PolicyScope `json:"scope"`
}

// rawPolicyConfig is what a client may send; pointers tell omitted from empty.
type rawPolicyConfig struct {
	MaxAge    *string          `json:"maxAge"`
	Action    *string          `json:"action"`
	Basis     *string          `json:"basis"`
	Resources *json.RawMessage `json:"resources"`
	Scope     *rawPolicyScope  `json:"scope"`
}

type rawPolicyScope struct {
	BotIDs           []string          `json:"botIds"`
	Channels         []string          `json:"channels"`
	IntegrationNames []string          `json:"integrationNames"`
	Tags             map[string]string `json:"tags"`
	TableNames       []string          `json:"tableNames"`
}

// Bounds of a policyScope, to keep evaluation and filters small.
const (
	maxScopeList = 100
	maxScopeTags = 20
)

// ParsePolicyConfig validates a retention config and fills in its defaults. Every
// error names the offending field (config.maxAge, config.scope.botIds[2]…).
func ParsePolicyConfig(raw json.RawMessage) (PolicyConfig, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return PolicyConfig{}, apperr.Invalid("config is required for a retention policy: {\"maxAge\": \"P30D\"} at least")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var in rawPolicyConfig
	if err := dec.Decode(&in); err != nil {
		return PolicyConfig{}, policyConfigDecodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return PolicyConfig{}, apperr.Invalid("config must be a single JSON object")
	}
	c := PolicyConfig{Action: ActionArchive, Basis: BasisUpdatedAt, Resources: ResourceConversations}
	if in.MaxAge == nil || strings.TrimSpace(*in.MaxAge) == "" {
		return PolicyConfig{}, apperr.Invalid("config.maxAge is required: an ISO 8601 duration such as P30D or PT12H")
	}
	if _, err := ParseDuration(*in.MaxAge); err != nil {
		return PolicyConfig{}, apperr.Invalid("config.maxAge %q is not a valid ISO 8601 duration (%s); use e.g. P30D, P1Y2M, PT12H", *in.MaxAge, err)
	}
	c.MaxAge = *in.MaxAge
	if in.Action != nil {
		switch *in.Action {
		case ActionArchive, ActionDelete:
			c.Action = *in.Action
		default:
			return PolicyConfig{}, apperr.Invalid("config.action must be \"archive\" or \"delete\", not %q", *in.Action)
		}
	}
	if in.Basis != nil {
		switch *in.Basis {
		case BasisUpdatedAt, BasisCreatedAt:
			c.Basis = *in.Basis
		default:
			return PolicyConfig{}, apperr.Invalid("config.basis must be \"updatedAt\" or \"createdAt\", not %q", *in.Basis)
		}
	}
	if in.Resources != nil {
		r, err := policyResources(*in.Resources)
		if err != nil {
			return PolicyConfig{}, err
		}
		c.Resources = r
	}
	if c.Resources == ResourceEvents && c.Basis == BasisUpdatedAt && in.Basis != nil {
		return PolicyConfig{}, apperr.Invalid("config.basis \"updatedAt\" does not apply to events, which never change; use \"createdAt\" or omit it")
	}
	if c.Resources == ResourceEvents {
		c.Basis = BasisCreatedAt
	}
	if in.Scope != nil {
		s, err := policyScope(*in.Scope, c.Resources)
		if err != nil {
			return PolicyConfig{}, err
		}
		c.Scope = s
	}
	c.Scope = c.Scope.normalized()
	return c, nil
}

// normalized answers empty lists and maps rather than nulls.
func (s PolicyScope) normalized() PolicyScope {
	if s.BotIDs == nil {
		s.BotIDs = []string{}
	}
	if s.Channels == nil {
		s.Channels = []string{}
	}
	if s.IntegrationNames == nil {
		s.IntegrationNames = []string{}
	}
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	return s
}

// policyResources accepts one resource name, or a list holding exactly one.
func policyResources(raw json.RawMessage) (string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err != nil {
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
			return "", apperr.Invalid("config.resources must be one of \"conversations\", \"events\" or \"files\" (one resource per policy)")
		}
		one = list[0]
	}
	switch one {
	case ResourceConversations, ResourceEvents, ResourceTableRows, resourceFiles:
		return one, nil
	}
	return "", apperr.Invalid("config.resources must be \"conversations\", \"events\", \"tableRows\" or \"files\", not %q", one)
}

func policyScope(in rawPolicyScope, res string) (PolicyScope, error) {
	s := PolicyScope{BotIDs: in.BotIDs, Channels: in.Channels, IntegrationNames: in.IntegrationNames, Tags: in.Tags, TableNames: in.TableNames}
	for field, list := range map[string][]string{"botIds": s.BotIDs, "channels": s.Channels, "integrationNames": s.IntegrationNames, "tableNames": s.TableNames} {
		if len(list) > maxScopeList {
			return PolicyScope{}, apperr.Invalid("config.scope.%s holds %d values; at most %d", field, len(list), maxScopeList)
		}
		for i, v := range list {
			if strings.TrimSpace(v) == "" || len(v) > 200 {
				return PolicyScope{}, apperr.Invalid("config.scope.%s[%d] must be a non-empty string of at most 200 characters", field, i)
			}
		}
	}
	if len(s.Tags) > maxScopeTags {
		return PolicyScope{}, apperr.Invalid("config.scope.tags holds %d tags; at most %d", len(s.Tags), maxScopeTags)
	}
	for k := range s.Tags {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, ".#") || len(k) > 200 {
			return PolicyScope{}, apperr.Invalid("config.scope.tags key %q is not a valid tag name", k)
		}
	}
	if res == resourceFiles && (len(s.Channels) > 0 || len(s.IntegrationNames) > 0) {
		return PolicyScope{}, apperr.Invalid("config.scope narrows files by botIds and tags only; channels and integrationNames apply to conversations")
	}
	if res == ResourceEvents && (len(s.Channels) > 0 || len(s.IntegrationNames) > 0 || len(s.Tags) > 0) {
		return PolicyScope{}, apperr.Invalid("config.scope narrows events by botIds only; channels, integrationNames and tags apply to conversations")
	}
	if res == ResourceTableRows && (len(s.Channels) > 0 || len(s.IntegrationNames) > 0 || len(s.Tags) > 0) {
		return PolicyScope{}, apperr.Invalid("config.scope narrows table rows by botIds and tableNames only")
	}
	if res != ResourceTableRows && len(s.TableNames) > 0 {
		return PolicyScope{}, apperr.Invalid("config.scope.tableNames applies to resources \"tableRows\" only")
	}
	return s, nil
}

func policyConfigDecodeError(err error) error {
	var typ *json.UnmarshalTypeError
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &typ) && typ.Field != "":
		return apperr.Invalid("config.%s has the wrong type (%s)", typ.Field, typ.Value)
	case errors.As(err, &typ):
		return apperr.Invalid("config must be an object, not %s", typ.Value)
	case errors.As(err, &syntax):
		return apperr.Invalid("config is malformed JSON: %s", syntax.Error())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apperr.Invalid("config has an unknown field %s; known: maxAge, action, basis, resources, scope", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return apperr.Invalid("config is invalid: %s", err)
}

// Duration is an ISO 8601 duration: calendar parts (years, months, days)
// and clock parts, kept apart because a month has no fixed length.
type Duration struct {
	Years, Months, Days int
	Clock               time.Duration
}

var durationRE = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$`)

// ParseDuration reads an ISO 8601 duration strictly (PnYnMnWnDTnHnMnS, at
// least one part, a T only before clock parts, not zero).
func ParseDuration(s string) (Duration, error) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return Duration{}, errors.New("expected P[n]Y[n]M[n]W[n]DT[n]H[n]M[n]S")
	}
	num := func(v string) (int, error) {
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n > 1_000_000 {
			return 0, errors.New("a part is too large")
		}
		return n, nil
	}
	var d Duration
	var parts [6]int
	for i := range parts {
		n, err := num(m[i+1])
		if err != nil {
			return Duration{}, err
		}
		parts[i] = n
	}
	d.Years, d.Months, d.Days = parts[0], parts[1], parts[2]*7+parts[3]
	d.Clock = time.Duration(parts[4])*time.Hour + time.Duration(parts[5])*time.Minute
	if m[7] != "" {
		secs, err := strconv.ParseFloat(strings.Replace(m[7], ",", ".", 1), 64)
		if err != nil || secs > 1e9 {
			return Duration{}, errors.New("seconds are too large")
		}
		d.Clock += time.Duration(secs * float64(time.Second))
	}
	if d.Years == 0 && d.Months == 0 && d.Days == 0 && d.Clock <= 0 {
		return Duration{}, errors.New("it must be longer than zero")
	}
	return d, nil
}

// Before returns the instant d before t.
func (d Duration) Before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-d.Clock)
}

// Cutoff is the basis time at and before which an policyItem governed by c is
// due at now.
func (c PolicyConfig) Cutoff(now time.Time) time.Time {
	d, err := ParseDuration(c.MaxAge)
	if err != nil {
		return time.Time{} // stored configs were validated; nothing is due
	}
	return d.Before(now)
}

// After returns the instant d after t.
func (d Duration) After(t time.Time) time.Time {
	return t.AddDate(d.Years, d.Months, d.Days).Add(d.Clock)
}
