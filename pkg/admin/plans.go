package admin

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// overQuota names each usage of usages above plan's quota, sorted.
func overQuota(usages map[string]Usage, plan string) []string {
	var over []string
	for t, u := range usages {
		q, ok := admindata.Quotas[plan][t]
		if !ok || u.Value <= q {
			continue
		}
		over = append(over, fmt.Sprintf("%s (%g used, the %s plan allows %g)", t, u.Value, plan, q))
	}
	sort.Strings(over)
	return over
}

// changePlan sets the workspace's plan: its quotas apply at once. A plan
// whose quotas the workspace's current usage exceeds (live counts and the
// current month's counters) is refused, naming each quantity over.
func (a *API) changePlan(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Plan *string `json:"plan"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Plan == nil {
		return httpapi.Response{}, apperr.Invalid("plan is required")
	}
	if _, ok := admindata.PlanOf(*in.Plan); !ok {
		return httpapi.Response{}, apperr.Invalid("plan must be one of %s", strings.Join(admindata.PlanNames(), ", "))
	}
	p := auth.FromContext(r.Context())
	var err error
	for attempt := 0; attempt < updateRetries; attempt++ {
		var w Workspace
		if w, err = a.store.Workspace(r.Context(), p.WorkspaceID); err != nil {
			return httpapi.Response{}, err
		}
		if w.Plan == *in.Plan {
			return httpapi.OK(w), nil
		}
		now := a.clock.Now()
		usages, _, uerr := a.store.Usages(r.Context(), w.ID, w.ID, Period(now))
		if uerr != nil {
			return httpapi.Response{}, uerr
		}
		if over := overQuota(usages, *in.Plan); len(over) > 0 {
			return httpapi.Response{}, apperr.New(apperr.QuotaExceeded,
				"cannot change to the %s plan: current usage is over its quotas: %s", *in.Plan, strings.Join(over, "; "))
		}
		prev := w.UpdatedAt
		if clock.Format(now) <= prev {
			now = now.Add(time.Millisecond)
		}
		rec := audit.New(w.ID, p.AccountID, audit.ChangePlan, w.ID, w.Name, now)
		rec.Value = *in.Plan
		w.Plan, w.UpdatedAt = *in.Plan, clock.Format(now)
		if err = a.store.ChangePlan(r.Context(), w.ID, w.Plan, w.UpdatedAt, prev, rec); err == nil {
			return httpapi.OK(w), nil
		}
		if !apperr.Is(err, apperr.ResourceLockedConflict) {
			break
		}
	}
	return httpapi.Response{}, err
}
