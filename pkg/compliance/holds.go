// Package compliance serves Parley's own compliance API (/api/v1/…): legal
// holds, data subject requests and their worker, and receipts. It reads
// and writes through interfaces it declares; pkg/app wires the table
// owners and the catalogue's kinds behind them.
package compliance

import (
	"context"
	"net/http"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Audit actions of this API (answered as UNKNOWN with the action in value).
const (
	AuditCreateHold    = "CREATE_LEGAL_HOLD"
	AuditReleaseHold   = "RELEASE_LEGAL_HOLD"
	AuditCreateRequest = "CREATE_DATA_REQUEST"
)

// HoldStore keeps legal holds.
type HoldStore interface {
	Create(ctx context.Context, h lifecycledata.Hold, commit audit.Commit) error
	List(ctx context.Context, ws string) ([]lifecycledata.Hold, error)
	Release(ctx context.Context, ws, id, by, at string, commit audit.Commit) error
}

// WorkspaceBots tells which bots a workspace has.
type WorkspaceBots interface {
	WorkspaceBotIDs(ctx context.Context, workspaceID string) ([]string, error)
}

// UserFinder finds a bot's users by tags.
type UserFinder interface {
	UsersByTags(ctx context.Context, bot string, tags map[string]string) ([]string, error)
}

// HoldAPI serves /api/v1/legal-holds.
type HoldAPI struct {
	holds HoldStore
	bots  WorkspaceBots
	users UserFinder
	trail audit.Trail
	auth  *auth.Authenticator
	clock clock.Clock
}

// NewHoldAPI returns the legal holds API.
func NewHoldAPI(holds HoldStore, bots WorkspaceBots, users UserFinder, trail audit.Trail, a *auth.Authenticator, c clock.Clock) *HoldAPI {
	return &HoldAPI{holds: holds, bots: bots, users: users, trail: trail, auth: a, clock: c}
}

// Register adds the routes to rt.
func (a *HoldAPI) Register(rt *httpapi.Router) {
	rt.Handle("POST", "/api/v1/legal-holds", a.create, a.auth.Require(auth.Workspace, auth.ComplianceWrite))
	rt.Handle("GET", "/api/v1/legal-holds", a.list, a.auth.Require(auth.Workspace, auth.ComplianceRead))
	rt.Handle("POST", "/api/v1/legal-holds/{id}/release", a.release, a.auth.Require(auth.Workspace, auth.ComplianceWrite))
}

type holdBody struct {
	Reason          *string           `json:"reason"`
	BotID           *string           `json:"botId"`
	ConversationIDs []string          `json:"conversationIds"`
	UserIDs         []string          `json:"userIds"`
	UserTags        map[string]string `json:"userTags"`
}

// Bounds of a hold, to keep matching cheap.
const (
	maxReason   = 500
	maxHoldIDs  = 100
	maxHoldTags = 10
)

func (a *HoldAPI) create(r *http.Request) (httpapi.Response, error) {
	var in holdBody
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Reason == nil || *in.Reason == "" || len(*in.Reason) > maxReason {
		return httpapi.Response{}, apperr.Invalid("reason is required (at most %d characters): say why the data is held", maxReason)
	}
	if in.BotID == nil && len(in.ConversationIDs) == 0 && len(in.UserIDs) == 0 && len(in.UserTags) == 0 {
		return httpapi.Response{}, apperr.Invalid("name what is held: botId, conversationIds, userIds or userTags")
	}
	if len(in.ConversationIDs) > maxHoldIDs || len(in.UserIDs) > maxHoldIDs || len(in.UserTags) > maxHoldTags {
		return httpapi.Response{}, apperr.Invalid("a hold names at most %d conversations, %d users and %d tags", maxHoldIDs, maxHoldIDs, maxHoldTags)
	}
	for _, ids := range [][]string{in.ConversationIDs, in.UserIDs} {
		for _, v := range ids {
			if !id.Valid(v) {
				return httpapi.Response{}, apperr.Invalid("%q is not a valid id", v)
			}
		}
	}
	p := auth.FromContext(r.Context())
	bots, err := a.bots.WorkspaceBotIDs(r.Context(), p.WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	h := lifecycledata.Hold{ID: id.NewAt("hold", now), WorkspaceID: p.WorkspaceID, Reason: *in.Reason, Status: lifecycledata.HoldActive,
		ConversationIDs: in.ConversationIDs, UserIDs: in.UserIDs, UserTags: in.UserTags, CreatedAt: clock.Format(now), CreatedBy: p.AccountID}
	if in.BotID != nil {
		if !contains(bots, *in.BotID) {
			return httpapi.Response{}, apperr.NotFound("bot", *in.BotID)
		}
		h.BotID, bots = *in.BotID, []string{*in.BotID}
	}
	// Users named by tags are resolved now, so the conversations they take
	// part in are held too; a user given the tags later is held as a user.
	for _, bot := range bots {
		users, err := a.users.UsersByTags(r.Context(), bot, in.UserTags)
		if err != nil {
			return httpapi.Response{}, err
		}
		for _, u := range users {
			h.ResolvedUsers = append(h.ResolvedUsers, bot+"/"+u)
		}
	}
	rec := audit.New(p.WorkspaceID, p.AccountID, AuditCreateHold, h.ID, *in.Reason, now)
	if err := a.holds.Create(r.Context(), h, audit.With(a.trail, rec)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"hold": h}), nil
}

func (a *HoldAPI) list(r *http.Request) (httpapi.Response, error) {
	holds, err := a.holds.List(r.Context(), auth.FromContext(r.Context()).WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"holds": holds}), nil
}

func (a *HoldAPI) release(r *http.Request) (httpapi.Response, error) {
	var in struct{}
	if r.ContentLength != 0 {
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
	}
	p := auth.FromContext(r.Context())
	now := a.clock.Now()
	hold := r.PathValue("id")
	rec := audit.New(p.WorkspaceID, p.AccountID, AuditReleaseHold, hold, "", now)
	if err := a.holds.Release(r.Context(), p.WorkspaceID, hold, p.AccountID, clock.Format(now), audit.With(a.trail, rec)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"id": hold, "status": lifecycledata.HoldReleased, "releasedAt": clock.Format(now)}), nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// heldBy answers the first active hold covering an item, or "".
func heldBy(holds []lifecycledata.Hold, bot, kind, itemID string, users []string, tags map[string]string) string {
	for _, h := range holds {
		if h.Covers(bot, kind, itemID, users, tags) {
			return h.ID
		}
	}
	return ""
}
