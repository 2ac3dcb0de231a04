package policy

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/awscalls"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// Audit actions of policy changes (answered as UNKNOWN by Botpress's audit
// list, with the action in the value).
const (
	AuditCreate = audit.CreatePolicy
	AuditUpdate = audit.UpdatePolicy
	AuditDelete = audit.DeletePolicy
)

// Memberships tells which workspaces an account belongs to, and which
// workspace owns a bot.
type Memberships interface {
	Memberships(ctx context.Context, accountID string, limit int) ([]admindata.Membership, error)
	// BotWorkspace returns the bot's workspace ("" when it doesn't exist).
	BotWorkspace(ctx context.Context, botID string) (string, error)
}

// ownBots refuses a scope naming a bot that is not the workspace's: one
// GetItem per named bot. Another workspace's bot reads as missing.
func (a *API) ownBots(ctx context.Context, ws string, cfg Config) error {
	if a.members == nil {
		return nil
	}
	for i, bot := range cfg.Scope.BotIDs {
		owner, err := a.members.BotWorkspace(ctx, bot)
		if err != nil {
			return err
		}
		if owner != ws {
			return apperr.Invalid("config.scope.botIds[%d]: bot %q is not a bot of this workspace", i, bot)
		}
	}
	return nil
}

// Enforcement is what the API asks of the enforcement side: a policy's
// recorded runs, and a dry run of the policy now.
type Enforcement interface {
	Runs(ctx context.Context, ws, policyID, cursor string, take int, order string) (items any, next string, err error)
	Preview(ctx context.Context, p Policy) (any, error)
}

// API serves /api/v1/policy/*.
type API struct {
	store   Store
	trail   audit.Trail
	members Memberships
	enforce Enforcement
	auth    *auth.Authenticator
	clock   clock.Clock
}

// NewAPI returns the policy API.
func NewAPI(store Store, trail audit.Trail, members Memberships, enforce Enforcement, a *auth.Authenticator, c clock.Clock) *API {
	return &API{store: store, trail: trail, members: members, enforce: enforce, auth: a, clock: c}
}

// Register adds the routes to rt.
func (a *API) Register(rt *httpapi.Router) {
	rt.Handle("POST", "/api/v1/policy/create", a.create, a.authorize(auth.PoliciesWrite))
	rt.Handle("GET", "/api/v1/policy/list", a.list, a.authorize(auth.PoliciesRead))
	rt.Handle("GET", "/api/v1/policy/{policyId}/fetch", a.fetch, a.authorize(auth.PoliciesRead))
	rt.Handle("POST", "/api/v1/policy/{policyId}/update", a.update, a.authorize(auth.PoliciesWrite))
	rt.Handle("POST", "/api/v1/policy/{policyId}/delete", a.delete, a.authorize(auth.PoliciesWrite))
	rt.Handle("GET", "/api/v1/policy/{policyId}/runs", a.runs, a.authorize(auth.PoliciesRead))
	rt.Handle("POST", "/api/v1/policy/{policyId}/preview", a.preview, a.authorize(auth.PoliciesRead))
}

// authorize resolves the policy's workspace: x-workspace-id when sent,
// else the caller's only workspace (one Query of its memberships, which
// carry the role), else a 400 that says to send the header.
func (a *API) authorize(perm auth.Permission) httpapi.Middleware {
	// The workspace is x-workspace-id's, or the caller's only one.
	return httpapi.Describe(httpapi.Requirement{Scope: "workspace-or-only", Permission: string(perm)}, func(next httpapi.Handler) httpapi.Handler {
		byHeader := a.auth.Require(auth.Workspace, perm)(next)
		byAccount := a.auth.Require(auth.Account, perm)(func(r *http.Request) (httpapi.Response, error) {
			p := auth.FromContext(r.Context())
			ms, err := a.members.Memberships(r.Context(), p.AccountID, 2)
			if c := awscalls.FromContext(r.Context()); c != nil {
				c.MarkAuth()
			}
			switch {
			case err != nil:
				return httpapi.Response{}, err
			case len(ms) == 0:
				return httpapi.Response{}, apperr.Invalid("you belong to no workspace: create one, then send its id in the %s header", auth.WorkspaceHeader)
			case len(ms) > 1:
				return httpapi.Response{}, apperr.Invalid("you belong to several workspaces: send the policy's workspace id in the %s header", auth.WorkspaceHeader)
			case !ms[0].Role.Allows(perm):
				return httpapi.Response{}, apperr.New(apperr.Forbidden, "you don't have permission to perform this operation here")
			}
			p.WorkspaceID, p.Role = ms[0].WorkspaceID, ms[0].Role
			return next(r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
		return func(r *http.Request) (httpapi.Response, error) {
			if r.Header.Get(auth.WorkspaceHeader) != "" {
				return byHeader(r)
			}
			return byAccount(r)
		}
	})
}

// body is a create or update request; raw fields tell omitted from null.
type body struct {
	Name        *string          `json:"name"`
	Description *string          `json:"description"`
	Type        *string          `json:"type"`
	Config      json.RawMessage  `json:"config"`
	BlueprintID json.RawMessage  `json:"blueprintId"`
	Meta        *json.RawMessage `json:"meta"`
}

const (
	maxName        = 256
	maxDescription = 4096
	maxMetaBytes   = 16 << 10
)

func text(field string, v *string, max int) error {
	if strings.TrimSpace(*v) == "" {
		return apperr.Invalid("%s must not be empty", field)
	}
	if len(*v) > max {
		return apperr.Invalid("%s is %d characters long; at most %d", field, len(*v), max)
	}
	return nil
}

func blueprint(raw json.RawMessage) (*string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || strings.TrimSpace(s) == "" || len(s) > 200 {
		return nil, apperr.Invalid("blueprintId must be a blueprint id (a non-empty string) or null")
	}
	return &s, nil
}

func meta(raw json.RawMessage) (map[string]any, error) {
	if string(raw) == "null" {
		return map[string]any{}, nil
	}
	if len(raw) > maxMetaBytes {
		return nil, apperr.Invalid("meta is %d bytes; at most %d", len(raw), maxMetaBytes)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, apperr.Invalid("meta must be an object")
	}
	for k := range m {
		if k == "" || strings.ContainsAny(k, ".#[]") {
			return nil, apperr.Invalid("meta key %q is not valid: keys may not be empty or hold . # [ ]", k)
		}
	}
	return m, nil
}

func policyType(t *string) error {
	if t != nil && *t != TypeRetention {
		return apperr.Invalid("type must be \"retention\" (the only policy type available), not %q", *t)
	}
	return nil
}

func (a *API) create(r *http.Request) (httpapi.Response, error) {
	var in body
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Name == nil {
		return httpapi.Response{}, apperr.Invalid("name is required")
	}
	if err := text("name", in.Name, maxName); err != nil {
		return httpapi.Response{}, err
	}
	if in.Description == nil {
		return httpapi.Response{}, apperr.Invalid("description is required: say what the policy does")
	}
	if len(*in.Description) > maxDescription {
		return httpapi.Response{}, apperr.Invalid("description is %d characters long; at most %d", len(*in.Description), maxDescription)
	}
	if in.Type == nil {
		return httpapi.Response{}, apperr.Invalid("type is required: \"retention\"")
	}
	if err := policyType(in.Type); err != nil {
		return httpapi.Response{}, err
	}
	cfg, err := ParseConfig(in.Config)
	if err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	if err := a.ownBots(r.Context(), p.WorkspaceID, cfg); err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	pol := Policy{
		ID: id.NewAt("policy", now), Name: *in.Name, Description: *in.Description, Type: TypeRetention,
		Config: cfg, Meta: map[string]any{}, CreatedAt: clock.Format(now), UpdatedAt: clock.Format(now), WorkspaceID: p.WorkspaceID,
	}
	if in.BlueprintID != nil {
		if pol.BlueprintID, err = blueprint(in.BlueprintID); err != nil {
			return httpapi.Response{}, err
		}
	}
	if in.Meta != nil {
		if pol.Meta, err = meta(*in.Meta); err != nil {
			return httpapi.Response{}, err
		}
	}
	if err := a.store.Create(r.Context(), pol, a.audit(p, AuditCreate, pol.ID, pol.Name, pol.Config, now)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(pol), nil
}

// audit is the record of a change by the caller; its value holds the
// config in force afterwards (or what changed), for the trail.
func (a *API) audit(p auth.Principal, action, policyID, name string, value any, now time.Time) audit.Commit {
	rec := audit.New(p.WorkspaceID, p.AccountID, action, policyID, name, now)
	if value != nil {
		raw, _ := json.Marshal(value)
		rec.Value = string(raw)
	}
	return audit.With(a.trail, rec)
}

func (a *API) fetch(r *http.Request) (httpapi.Response, error) {
	pol, err := a.store.Get(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("policyId"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(pol), nil
}

func (a *API) update(r *http.Request) (httpapi.Response, error) {
	var in body
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	c := Change{UpdatedAt: clock.Format(now)}
	changed := map[string]any{}
	if in.Name != nil {
		if err := text("name", in.Name, maxName); err != nil {
			return httpapi.Response{}, err
		}
		c.Name, changed["name"] = in.Name, *in.Name
	}
	if in.Description != nil {
		if len(*in.Description) > maxDescription {
			return httpapi.Response{}, apperr.Invalid("description is %d characters long; at most %d", len(*in.Description), maxDescription)
		}
		c.Description, changed["description"] = in.Description, *in.Description
	}
	if err := policyType(in.Type); err != nil {
		return httpapi.Response{}, err
	}
	if in.Config != nil {
		cfg, err := ParseConfig(in.Config)
		if err != nil {
			return httpapi.Response{}, err
		}
		if err := a.ownBots(r.Context(), auth.FromContext(r.Context()).WorkspaceID, cfg); err != nil {
			return httpapi.Response{}, err
		}
		c.Config, changed["config"] = &cfg, cfg
	}
	if in.BlueprintID != nil {
		bp, err := blueprint(in.BlueprintID)
		if err != nil {
			return httpapi.Response{}, err
		}
		c.BlueprintID, changed["blueprintId"] = &bp, bp
	}
	if in.Meta != nil {
		m, err := meta(*in.Meta)
		if err != nil {
			return httpapi.Response{}, err
		}
		c.Meta, changed["meta"] = &m, m
	}
	p := auth.FromContext(r.Context())
	pid := r.PathValue("policyId")
	if err := a.store.Update(r.Context(), p.WorkspaceID, pid, c, a.audit(p, AuditUpdate, pid, "", changed, now)); err != nil {
		return httpapi.Response{}, err
	}
	// One round trip: the SDK reads only the id back.
	return httpapi.OK(map[string]string{"id": pid, "updatedAt": c.UpdatedAt}), nil
}

func (a *API) delete(r *http.Request) (httpapi.Response, error) {
	var in struct{}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	pid := r.PathValue("policyId")
	if err := a.store.Delete(r.Context(), p.WorkspaceID, pid, a.audit(p, AuditDelete, pid, "", nil, a.clock.Now())); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]string{"id": pid}), nil
}

// page reads the ChatBotKit paging parameters.
func page(r *http.Request) (cursor string, take int, order string, err error) {
	q := httpapi.QueryOf(r)
	if take, err = q.Int("take", 20, 1, 100); err != nil {
		return
	}
	if order, err = q.Enum("order", "desc", "asc", "desc"); err != nil {
		return
	}
	return q.String("cursor"), take, order, nil
}

func (a *API) list(r *http.Request) (httpapi.Response, error) {
	cur, take, order, err := page(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	q := httpapi.QueryOf(r)
	f := Filter{Order: order, Type: q.String("type"), BlueprintID: q.String("blueprintId"), Meta: q.Map("meta")}
	items, next, err := a.store.List(r.Context(), auth.FromContext(r.Context()).WorkspaceID, f, cur, take)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(listAnswer(items, next)), nil
}

// listAnswer is ChatBotKit's list shape: items, and a cursor unless this
// is the last page.
func listAnswer(items any, next string) map[string]any {
	out := map[string]any{"items": items}
	if next != "" {
		out["cursor"] = next
	}
	return out
}

func (a *API) runs(r *http.Request) (httpapi.Response, error) {
	cur, take, order, err := page(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	ws := auth.FromContext(r.Context()).WorkspaceID
	items, next, err := a.enforce.Runs(r.Context(), ws, r.PathValue("policyId"), cur, take, order)
	if err != nil {
		return httpapi.Response{}, err
	}
	// No runs at all: tell a policy without runs from one that is not the
	// workspace's (another workspace's policy is missing, not empty). A
	// deleted policy's runs stay readable; one deleted without any is gone.
	if cur == "" && next == "" && reflect.ValueOf(items).Len() == 0 {
		if _, err := a.store.Get(r.Context(), ws, r.PathValue("policyId")); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(listAnswer(items, next)), nil
}

func (a *API) preview(r *http.Request) (httpapi.Response, error) {
	var in struct{}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	pol, err := a.store.Get(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("policyId"))
	if err != nil {
		return httpapi.Response{}, err
	}
	out, err := a.enforce.Preview(r.Context(), pol)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(out), nil
}
