package admin

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// --- handlers ---

var handlePattern = regexp.MustCompile(`^[0-9a-z][a-z0-9-_]+[0-9a-z]$`)

type workspaceUpdate struct {
	Name           *string  `json:"name"`
	SpendingLimit  *float64 `json:"spendingLimit"`
	About          *string  `json:"about"`
	ProfilePicture *string  `json:"profilePicture"`
	ContactEmail   *string  `json:"contactEmail"`
	Website        *string  `json:"website"`
	SocialAccounts []string `json:"socialAccounts"`
	IsPublic       *bool    `json:"isPublic"`
	Handle         *string  `json:"handle"`
}

func (u workspaceUpdate) validate() error {
	if u.Name != nil && (strings.TrimSpace(*u.Name) == "" || len(*u.Name) > 64) {
		return apperr.Invalid("name must be 1 to 64 characters")
	}
	if u.SpendingLimit != nil && (*u.SpendingLimit < 5 || *u.SpendingLimit > 1000) {
		return apperr.Invalid("spendingLimit must be from 5 to 1000")
	}
	if u.Handle != nil && (len(*u.Handle) > 64 || !handlePattern.MatchString(*u.Handle)) {
		return apperr.Invalid("handle must be 3 to 64 lowercase letters, digits, - or _, starting and ending with a letter or digit")
	}
	return nil
}

func (a *API) updateWorkspace(r *http.Request) (httpapi.Response, error) {
	var in workspaceUpdate
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if err := in.validate(); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	var err error
	for attempt := 0; attempt < updateRetries; attempt++ {
		var w Workspace
		if w, err = a.store.Workspace(r.Context(), p.WorkspaceID); err != nil {
			return httpapi.Response{}, err
		}
		prev, now := w.UpdatedAt, a.clock.Now()
		if clock.Format(now) <= prev {
			now = now.Add(time.Millisecond)
		}
		audits := []audit.Record{}
		if in.SpendingLimit != nil && *in.SpendingLimit != w.SpendingLimit {
			rec := audit.New(w.ID, p.AccountID, audit.SpendingLimit, w.ID, w.Name, now)
			rec.Value = strconv.FormatFloat(*in.SpendingLimit, 'f', -1, 64)
			audits = append(audits, rec)
			w.SpendingLimit = *in.SpendingLimit
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&w.Name, in.Name)
		set(&w.About, in.About)
		set(&w.ProfilePicture, in.ProfilePicture)
		set(&w.ContactEmail, in.ContactEmail)
		set(&w.Website, in.Website)
		set(&w.Handle, in.Handle)
		if in.SocialAccounts != nil {
			w.SocialAccounts = in.SocialAccounts
		}
		if in.IsPublic != nil {
			w.IsPublic = *in.IsPublic
		}
		w.UpdatedAt = clock.Format(now)
		audits = append(audits, audit.New(w.ID, p.AccountID, audit.UpdateWorkspace, w.ID, w.Name, now))
		if err = a.store.ReplaceWorkspace(r.Context(), w, prev, audits...); err == nil {
			return httpapi.OK(w), nil
		}
		if !apperr.Is(err, apperr.ResourceLockedConflict) {
			break
		}
	}
	return httpapi.Response{}, err
}

func (a *API) deleteWorkspace(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.CloseWorkspace, p.WorkspaceID, "", a.clock.Now())
	if err := a.store.DeleteWorkspace(r.Context(), p.WorkspaceID, rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) getAuditRecords(r *http.Request) (httpapi.Response, error) {
	records, next, err := a.store.ListAudit(r.Context(), auth.FromContext(r.Context()).WorkspaceID, httpapi.QueryOf(r).String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	answers := make([]audit.Answer, len(records))
	for i, rec := range records {
		answers[i] = rec.Answer()
	}
	return httpapi.OK(httpapi.List("records", answers, next)), nil
}

// usageQuery reads the type and period parameters.
func (a *API) usageQuery(r *http.Request, typeRequired bool) (string, string, error) {
	q := httpapi.QueryOf(r)
	t := q.String("type")
	if t == "" && typeRequired {
		return "", "", apperr.New(apperr.InvalidQuery, "query parameter \"type\" is required")
	}
	if t != "" {
		if err := validUsageType(t); err != nil {
			return "", "", err
		}
	}
	period := q.String("period")
	if period == "" {
		period = Period(a.clock.Now())
	} else if err := validPeriod(period); err != nil {
		return "", "", err
	}
	return t, period, nil
}

func (a *API) getUsage(r *http.Request) (httpapi.Response, error) {
	t, period, err := a.usageQuery(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	u, err := a.store.Usage(r.Context(), p.WorkspaceID, r.PathValue("id"), t, period)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"usage": u}), nil
}

// usageAuth authenticates /usages/{id}: the id is a bot's or a workspace's.
func (a *API) usageAuth() httpapi.Middleware {
	return httpapi.Describe(httpapi.Requirement{Scope: "workspace-path|bot-path", Permission: string(auth.UsageRead)}, a.usageAuthChain)
}

func (a *API) usageAuthChain(next httpapi.Handler) httpapi.Handler {
	ws := a.auth.Require(auth.WorkspacePath, auth.UsageRead)(next)
	bot := a.auth.Require(auth.BotPath, auth.UsageRead)(next)
	return func(r *http.Request) (httpapi.Response, error) {
		if strings.HasPrefix(r.PathValue("id"), "bot_") {
			return bot(r)
		}
		return ws(r)
	}
}

func (a *API) listWorkspaceUsages(r *http.Request) (httpapi.Response, error) {
	t, period, err := a.usageQuery(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	ws := auth.FromContext(r.Context()).WorkspaceID
	u, err := a.store.Usage(r.Context(), ws, ws, t, period)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"usages": []Usage{u}}), nil
}

func (a *API) getWorkspaceQuota(r *http.Request) (httpapi.Response, error) {
	t, period, err := a.usageQuery(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	w, err := a.store.Workspace(r.Context(), auth.FromContext(r.Context()).WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"quota": QuotaAnswer{Period: period, Type: t, Value: Quota(w.Plan, t)}}), nil
}

func (a *API) listWorkspaceQuotas(r *http.Request) (httpapi.Response, error) {
	_, period, err := a.usageQuery(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	w, err := a.store.Workspace(r.Context(), auth.FromContext(r.Context()).WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]QuotaAnswer, 0, len(UsageTypes))
	for _, t := range UsageTypes {
		out = append(out, QuotaAnswer{Period: period, Type: t, Value: Quota(w.Plan, t)})
	}
	return httpapi.OK(map[string]any{"quotas": out}), nil
}
