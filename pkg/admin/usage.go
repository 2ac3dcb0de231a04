package admin

import (
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/apperr"
)

// Usage types of the Botpress API.
const (
	UsageBotCount    = admindata.UsageBotCount
	UsageMemberCount = admindata.UsageMemberCount
	UsageInvocations = admindata.UsageInvocations
	UsageStorage     = admindata.UsageStorage
	UsageTableRows   = admindata.UsageTableRows
	UsageFiles       = admindata.UsageFiles
)

// UsageTypes lists every usage type the API knows.
var UsageTypes = admindata.UsageTypes

// Quotas is the configuration of each plan's quotas, by usage type: the one
// place they are set (kept with the admin table's layout, whose
// transactions enforce them as conditions).
var Quotas = admindata.Quotas

// Quota returns a plan's quota of a usage type.
func Quota(plan, usageType string) float64 { return admindata.Quota(plan, usageType) }

// Period is the usage period containing t: its calendar month, "2026-05".
func Period(t time.Time) string { return t.UTC().Format("2006-01") }

// QuotaAnswer is a quota as the API answers it.
type QuotaAnswer struct {
	Period string  `json:"period"`
	Value  float64 `json:"value"`
	Type   string  `json:"type"`
}

func validUsageType(t string) error {
	for _, k := range UsageTypes {
		if k == t {
			return nil
		}
	}
	return apperr.New(apperr.InvalidQuery, "query parameter \"type\" must be one of %s", strings.Join(UsageTypes, ", "))
}

func validPeriod(p string) error {
	if _, err := time.Parse("2006-01", p); err != nil {
		return apperr.New(apperr.InvalidQuery, "query parameter \"period\" must be a month, YYYY-MM")
	}
	return nil
}
