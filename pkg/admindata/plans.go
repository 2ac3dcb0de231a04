package admindata

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/parley-dev/parley/pkg/usage"
)

// Plan is what a plan allows and costs: the one table of quotas and prices.
type Plan struct {
	// Base is the plan's monthly fee, in Currency.
	Base float64 `json:"base"`
	// Quotas bound each usage type: counts (bots, members, rows, files) are
	// totals, the others per calendar month.
	Quotas map[string]float64 `json:"quotas"`
	// Prices are the monthly prices of the priced quantities (metered
	// counters of the month).
	Prices map[string]Price `json:"prices"`
}

// Price is the monthly price of one metered quantity: Included units are
// free, each further Per units cost Amount (a started block counts), and
// the quantity's charge is kept within Minimum and Maximum (0: no maximum).
type Price struct {
	Included float64 `json:"included"`
	Per      float64 `json:"per"`
	Amount   float64 `json:"amount"`
	Minimum  float64 `json:"minimum"`
	Maximum  float64 `json:"maximum"`
}

// Charge is the price of quantity q, rounded to the cent.
func (p Price) Charge(q float64) float64 {
	over := q - p.Included
	c := 0.0
	if over > 0 && p.Per > 0 {
		c = math.Ceil(over/p.Per) * p.Amount
	}
	if c < p.Minimum {
		c = p.Minimum
	}
	if p.Maximum > 0 && c > p.Maximum {
		c = p.Maximum
	}
	return math.Round(c*100) / 100
}

// Currency is the currency of every price.
const Currency = "usd"

// PricedQuantities are the metered quantities plans price, in invoice order.
var PricedQuantities = []string{usage.IncomingMessages, usage.OutgoingMessages, usage.InvocationCalls, usage.StorageCount}

// DefaultPlans are the plans of a deployment that sets no PLANS.
func DefaultPlans() map[string]Plan {
	prices := func(msg, calls, storage float64, included float64) map[string]Price {
		return map[string]Price{
			usage.IncomingMessages: {Included: included, Per: 1000, Amount: msg},
			usage.OutgoingMessages: {Included: included, Per: 1000, Amount: msg},
			usage.InvocationCalls:  {Included: included * 2, Per: 1000, Amount: calls},
			usage.StorageCount:     {Included: included * 2, Per: 1000, Amount: storage},
		}
	}
	return map[string]Plan{
		"community": {Base: 0, Prices: prices(1, 0.5, 0.2, 2_000), Quotas: map[string]float64{
			"table_count": 10, "invocation_timeout": 60, "invocation_calls": 100_000, "storage_count": 100_000, "bot_count": 50,
			"knowledgebase_vector_storage": 100, "workspace_ratelimit": 100, "table_row_count": 5_000, "workspace_member_count": 3,
			"integrations_owned_count": 5, "ai_spend": 5, "openai_spend": 5, "bing_search_spend": 5, "always_alive": 0,
			"indexed_file_count": 100, "file_max_size_bytes": 10 << 20}},
		"team": {Base: 495, Prices: prices(0.5, 0.25, 0.1, 50_000), Quotas: map[string]float64{
			"table_count": 100, "invocation_timeout": 60, "invocation_calls": 1_000_000, "storage_count": 1_000_000, "bot_count": 200,
			"knowledgebase_vector_storage": 1_000, "workspace_ratelimit": 500, "table_row_count": 100_000, "workspace_member_count": 20,
			"integrations_owned_count": 50, "ai_spend": 100, "openai_spend": 100, "bing_search_spend": 100, "always_alive": 5,
			"indexed_file_count": 10_000, "file_max_size_bytes": 100 << 20}},
		"plus": {Base: 89, Prices: prices(0.75, 0.4, 0.15, 10_000), Quotas: map[string]float64{
			"table_count": 50, "invocation_timeout": 60, "invocation_calls": 500_000, "storage_count": 500_000, "bot_count": 100,
			"knowledgebase_vector_storage": 500, "workspace_ratelimit": 300, "table_row_count": 50_000, "workspace_member_count": 10,
			"integrations_owned_count": 20, "ai_spend": 50, "openai_spend": 50, "bing_search_spend": 50, "always_alive": 2,
			"indexed_file_count": 5_000, "file_max_size_bytes": 50 << 20}},
		"enterprise": {Base: 2_000, Prices: prices(0.25, 0.1, 0.05, 500_000), Quotas: map[string]float64{
			"table_count": 500, "invocation_timeout": 900, "invocation_calls": 10_000_000, "storage_count": 10_000_000, "bot_count": 500,
			"knowledgebase_vector_storage": 10_000, "workspace_ratelimit": 2_000, "table_row_count": 1_000_000, "workspace_member_count": 90,
			"integrations_owned_count": 500, "ai_spend": 1_000, "openai_spend": 1_000, "bing_search_spend": 1_000, "always_alive": 50,
			"indexed_file_count": 100_000, "file_max_size_bytes": 1 << 30}},
	}
}

var (
	plansMu sync.RWMutex
	// Plans is the deployment's plans (DefaultPlans merged with PLANS).
	plans = DefaultPlans()
	// Quotas is each plan's quotas, by usage type (the Quotas of Plans; the
	// admin table's transactions enforce them as conditions).
	Quotas = quotasOf(plans)
)

func quotasOf(ps map[string]Plan) map[string]map[string]float64 {
	out := make(map[string]map[string]float64, len(ps))
	for name, p := range ps {
		out[name] = p.Quotas
	}
	return out
}

// PlanOf returns a plan and whether it exists.
func PlanOf(name string) (Plan, bool) {
	plansMu.RLock()
	defer plansMu.RUnlock()
	p, ok := plans[name]
	return p, ok
}

// PlanNames lists the plans, sorted.
func PlanNames() []string {
	plansMu.RLock()
	defer plansMu.RUnlock()
	names := make([]string, 0, len(plans))
	for n := range plans {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ConfigurePlans merges a deployment's PLANS setting (JSON: plan name to a
// partial Plan; quotas and prices merge by key, a new name adds a plan
// starting from the community plan) over the default plans. Call it at
// start-up, before serving.
func ConfigurePlans(setting string) error {
	merged := DefaultPlans()
	if strings.TrimSpace(setting) != "" {
		var over map[string]struct {
			Base   *float64           `json:"base"`
			Quotas map[string]float64 `json:"quotas"`
			Prices map[string]Price   `json:"prices"`
		}
		dec := json.NewDecoder(strings.NewReader(setting))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&over); err != nil {
			return fmt.Errorf("PLANS: %w", err)
		}
		for name, o := range over {
			p, ok := merged[name]
			if !ok {
				base := DefaultPlans()["community"]
				p = base
			}
			if o.Base != nil {
				p.Base = *o.Base
			}
			for k, v := range o.Quotas {
				p.Quotas[k] = v
			}
			for k, v := range o.Prices {
				if v.Per <= 0 {
					return fmt.Errorf("PLANS: %s.prices.%s.per must be positive", name, k)
				}
				p.Prices[k] = v
			}
			merged[name] = p
		}
	}
	plansMu.Lock()
	defer plansMu.Unlock()
	plans = merged
	clear(Quotas) // the same map: its aliases see the change
	for name, p := range merged {
		Quotas[name] = p.Quotas
	}
	return nil
}

// Quota returns a plan's quota of a usage type.
func Quota(plan, usageType string) float64 {
	plansMu.RLock()
	defer plansMu.RUnlock()
	return Quotas[plan][usageType]
}
