package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/parley-dev/parley/pkg/egress"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// API serves the admin routes.
type API struct {
	store   Storage
	stats   DayStats
	intents PurgeIntents
	holds   BotHolds
	purger  BotDataPurger
	// allowPrivateURLs lets bots and integrations point at private
	// addresses (local development only).
	allowPrivateURLs bool
	secrets          Sealer
	mail             Mailer
	runtime          Runtime
	payments         Payments
	paymentsErr      error
	invoiceURL       func(ctx context.Context, key string) (string, error)
	apiURL           string
	auth             *auth.Authenticator
	clock            clock.Clock
	log              *slog.Logger
}

// NewAPI returns the admin API.
func NewAPI(d Deps) *API {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{store: d.Store, stats: d.Stats, intents: d.Intents, holds: d.Holds, allowPrivateURLs: d.AllowPrivateURLs, purger: d.Purger, secrets: d.Secrets,
		mail: d.Mail, runtime: d.Runtime, payments: d.Payments, paymentsErr: d.PaymentsError, invoiceURL: d.InvoiceURL, apiURL: d.APIURL, auth: d.Auth, clock: d.Clock, log: log}
}

// Register adds the admin routes to rt. Each names the permission it needs
// (auth.Matrix decides who holds it).
func (a *API) Register(rt *httpapi.Router) {
	account := a.auth.Require(auth.Account, "")
	ws := func(p auth.Permission) httpapi.Middleware { return a.auth.Require(auth.Workspace, p) }
	wsPath := func(p auth.Permission) httpapi.Middleware { return a.auth.Require(auth.WorkspacePath, p) }

	rt.Handle("GET", "/v1/admin/account/me", a.getAccount, account)
	rt.Handle("GET", "/v1/admin/account/pats", a.listPATs, account)
	rt.Handle("POST", "/v1/admin/account/pats", a.createPAT, account)
	rt.Handle("DELETE", "/v1/admin/account/pats/{id}", a.deletePAT, account)
	rt.Handle("POST", "/v1/admin/account/invitations/accept", a.acceptInvitation, httpapi.Public) // the code is the credential

	rt.Handle("POST", "/v1/admin/workspaces", a.createWorkspace, account)
	rt.Handle("GET", "/v1/admin/workspaces", a.listWorkspaces, account)
	rt.Handle("GET", "/v1/admin/workspaces/{id}", a.getWorkspace, account)
	rt.Handle("PUT", "/v1/admin/workspaces/{id}", a.updateWorkspace, wsPath(auth.WorkspaceWrite))
	rt.Handle("DELETE", "/v1/admin/workspaces/{id}", a.deleteWorkspace, wsPath(auth.WorkspaceDelete))
	rt.Handle("GET", "/v1/admin/workspaces/{id}/audit-records", a.getAuditRecords, wsPath(auth.AuditRead))
	rt.Handle("GET", "/v1/admin/workspaces/{id}/usages", a.listWorkspaceUsages, wsPath(auth.UsageRead))
	rt.Handle("GET", "/v1/admin/workspaces/{id}/quota", a.getWorkspaceQuota, wsPath(auth.UsageRead))
	rt.Handle("GET", "/v1/admin/workspaces/{id}/quotas", a.listWorkspaceQuotas, wsPath(auth.UsageRead))
	rt.Handle("GET", "/v1/admin/usages/{id}", a.getUsage, a.usageAuth())
	rt.Handle("PUT", "/v1/admin/workspaces/{id}/change-plan", a.changePlan, wsPath(auth.BillingWrite))
	rt.Handle("GET", "/v1/admin/workspaces/{id}/billing/details", a.getBillingDetails, wsPath(auth.BillingRead))
	rt.Handle("PUT", "/v1/admin/workspaces/{id}/billing/payment-method", a.setPaymentMethod, wsPath(auth.BillingWrite))
	rt.Handle("GET", "/v1/admin/workspaces/{id}/billing/invoices", a.listInvoices, wsPath(auth.BillingRead))
	rt.Handle("POST", "/v1/admin/workspaces/{id}/billing/invoices/charge-unpaid", a.chargeUnpaid, wsPath(auth.BillingWrite))

	rt.Handle("GET", "/v1/admin/workspace-members", a.listMembers, ws(auth.MembersRead))
	rt.Handle("GET", "/v1/admin/workspace-members/me", a.getMemberMe, ws(auth.WorkspaceRead))
	rt.Handle("POST", "/v1/admin/workspace-members", a.createMember, ws(auth.MembersWrite))
	rt.Handle("PUT", "/v1/admin/workspace-members/{id}", a.updateMember, ws(auth.MembersWrite))
	rt.Handle("DELETE", "/v1/admin/workspace-members/{id}", a.deleteMember, ws(auth.MembersWrite))
	rt.Handle("POST", "/v1/admin/workspace-members/{id}/invitation", a.createInvitation, ws(auth.MembersWrite))

	rt.Handle("POST", "/v1/admin/bots", a.createBot, ws(auth.BotsWrite))
	rt.Handle("GET", "/v1/admin/bots", a.listBots, ws(auth.BotsRead))
	rt.Handle("GET", "/v1/admin/bots/{id}", a.getBot, ws(auth.BotsRead))
	rt.Handle("PUT", "/v1/admin/bots/{id}", a.updateBot, ws(auth.BotsWrite))
	rt.Handle("DELETE", "/v1/admin/bots/{id}", a.deleteBot, ws(auth.BotsDelete))
	rt.Handle("POST", "/v1/admin/bots/{id}/transfer", a.transferBot, ws(auth.BotsTransfer))
	rt.Handle("GET", "/v1/admin/bots/{id}/logs", a.getBotLogs, ws(auth.BotsRead))
	rt.Handle("GET", "/v1/admin/bots/{id}/webchat", a.getBotWebchat, ws(auth.BotsRead))
	rt.Handle("GET", "/v1/admin/bots/{id}/analytics", a.getBotAnalytics, ws(auth.BotsRead))
	rt.Handle("GET", "/v1/admin/bots/{id}/issues", a.listBotIssues, ws(auth.BotsRead))
	rt.Handle("GET", "/v1/admin/bots/{id}/issues/{issueId}", a.getBotIssue, ws(auth.BotsRead))
	rt.Handle("DELETE", "/v1/admin/bots/{id}/issues/{issueId}", a.deleteBotIssue, ws(auth.BotsWrite))
	rt.Handle("GET", "/v1/admin/bots/{id}/issues/{issueId}/events", a.listBotIssueEvents, ws(auth.BotsRead))

	rt.Handle("POST", "/v1/admin/integrations", a.createIntegration, ws(auth.IntegrationsWrite))
	rt.Handle("GET", "/v1/admin/integrations", a.listIntegrations, ws(auth.IntegrationsRead))
	rt.Handle("GET", "/v1/admin/integrations/{id}", a.getIntegration, ws(auth.IntegrationsRead))
	rt.Handle("PUT", "/v1/admin/integrations/{id}", a.updateIntegration, ws(auth.IntegrationsWrite))
	rt.Handle("DELETE", "/v1/admin/integrations/{id}", a.deleteIntegration, ws(auth.IntegrationsWrite))
	rt.Handle("GET", "/v1/admin/integrations/{id}/logs", a.getIntegrationLogs, ws(auth.IntegrationsRead))
	rt.Handle("GET", "/v1/admin/integrations/{id}/{version}", a.getIntegrationByName, ws(auth.IntegrationsRead))

	rt.Handle("GET", "/v1/admin/hub/integrations", a.listPublicIntegrations, account)
	rt.Handle("GET", "/v1/admin/hub/integrations/{id}", a.getPublicIntegrationByID, account)
	rt.Handle("GET", "/v1/admin/hub/integrations/{id}/{version}", a.getPublicIntegration, account)
}

func (a *API) getAccount(r *http.Request) (httpapi.Response, error) {
	acc, err := a.store.Account(r.Context(), auth.FromContext(r.Context()).AccountID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"account": acc}), nil
}

func (a *API) listPATs(r *http.Request) (httpapi.Response, error) {
	pats, err := a.store.ListTokens(r.Context(), auth.FromContext(r.Context()).AccountID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"pats": pats}), nil
}

func (a *API) createPAT(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Note *string `json:"note"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Note == nil {
		return httpapi.Response{}, apperr.Invalid("note is required")
	}
	if len(*in.Note) > 200 {
		return httpapi.Response{}, apperr.Invalid("note must be at most 200 characters")
	}
	now := a.clock.Now()
	pat := PAT{ID: id.NewAt(id.PAT, now), CreatedAt: clock.Format(now), Note: *in.Note, Value: auth.NewTokenValue()}
	if err := a.store.PutToken(r.Context(), auth.FromContext(r.Context()).AccountID, auth.HashToken(pat.Value), pat); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"pat": pat}), nil
}

func (a *API) deletePAT(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.DeleteToken(r.Context(), auth.FromContext(r.Context()).AccountID, r.PathValue("id")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) createWorkspace(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Name *string `json:"name"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return httpapi.Response{}, apperr.Invalid("name is required")
	}
	if len(*in.Name) > 100 {
		return httpapi.Response{}, apperr.Invalid("name must be at most 100 characters")
	}
	now := a.clock.Now()
	w := Workspace{
		ID: id.NewAt(id.Workspace, now), Name: *in.Name, OwnerID: auth.FromContext(r.Context()).AccountID,
		CreatedAt: clock.Format(now), UpdatedAt: clock.Format(now),
		BillingVersion: "v4", Plan: "community", SocialAccounts: []string{},
	}
	rec := audit.New(w.ID, w.OwnerID, audit.CreateWorkspace, w.ID, w.Name, now)
	if err := a.store.CreateWorkspace(r.Context(), w, rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(w), nil
}

func (a *API) listWorkspaces(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	ws, next, err := a.store.ListWorkspaces(r.Context(), auth.FromContext(r.Context()).AccountID, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if h := q.String("handle"); h != "" {
		kept := ws[:0]
		for _, w := range ws {
			if w.Handle == h {
				kept = append(kept, w)
			}
		}
		ws = kept
	}
	return httpapi.OK(httpapi.List("workspaces", ws, next)), nil
}

func (a *API) getWorkspace(r *http.Request) (httpapi.Response, error) {
	w, _, err := a.store.WorkspaceOfMember(r.Context(), r.PathValue("id"), auth.FromContext(r.Context()).AccountID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(w), nil
}

// botInput is the createBot body: the whole bot definition of the seeds.
type botInput struct {
	States          map[string]StateDefinition `json:"states"`
	Events          map[string]EventDefinition `json:"events"`
	RecurringEvents map[string]struct {
		Schedule Schedule       `json:"schedule"`
		Type     string         `json:"type"`
		Payload  map[string]any `json:"payload"`
	} `json:"recurringEvents"`
	Subscriptions *Subscriptions              `json:"subscriptions"`
	Actions       map[string]ActionDefinition `json:"actions"`
	Configuration *struct {
		Data   map[string]any `json:"data"`
		Schema map[string]any `json:"schema"`
	} `json:"configuration"`
	User         *TagDefinitions   `json:"user"`
	Conversation *TagDefinitions   `json:"conversation"`
	Message      *TagDefinitions   `json:"message"`
	Tags         map[string]string `json:"tags"`
	Code         *string           `json:"code"`
	Name         *string           `json:"name"`
	Description  *string           `json:"description"`
	Medias       []Media           `json:"medias"`
	URL          *string           `json:"url"`
	Dev          *bool             `json:"dev"`
}

func (in botInput) validate() error {
	if in.Name != nil && (len(*in.Name) < 1 || len(*in.Name) > 200) {
		return apperr.Invalid("name must be 1 to 200 characters")
	}
	if in.Description != nil && len(*in.Description) > 2000 {
		return apperr.Invalid("description must be at most 2000 characters")
	}
	if in.URL != nil && *in.URL != "" {
		u, err := url.Parse(*in.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return apperr.Invalid("url must be an absolute http(s) URL")
		}
	}
	for name, s := range in.States {
		switch s.Type {
		case "conversation", "user", "bot", "task":
		default:
			return apperr.Invalid("states.%s.type must be one of conversation, user, bot, task", name)
		}
		if s.Schema == nil {
			return apperr.Invalid("states.%s.schema is required", name)
		}
		if s.Expiry != nil && *s.Expiry < 1 {
			return apperr.Invalid("states.%s.expiry must be at least 1", name)
		}
	}
	for name, e := range in.Events {
		if e.Schema == nil {
			return apperr.Invalid("events.%s.schema is required", name)
		}
		if len(e.Title) > 64 || len(e.Description) > 256 {
			return apperr.Invalid("events.%s: title is at most 64 and description at most 256 characters", name)
		}
	}
	for name, e := range in.RecurringEvents {
		if e.Schedule.Cron == "" || e.Type == "" || e.Payload == nil {
			return apperr.Invalid("recurringEvents.%s needs schedule.cron, type and payload", name)
		}
	}
	for name, act := range in.Actions {
		if act.Input.Schema == nil || act.Output.Schema == nil {
			return apperr.Invalid("actions.%s needs input.schema and output.schema", name)
		}
	}
	for field, defs := range map[string]*TagDefinitions{"user": in.User, "conversation": in.Conversation, "message": in.Message} {
		if defs == nil {
			continue
		}
		for tag, d := range defs.Tags {
			if len(d.Title) > 64 || len(d.Description) > 256 {
				return apperr.Invalid("%s.tags.%s: title is at most 64 and description at most 256 characters", field, tag)
			}
		}
	}
	for k, v := range in.Tags {
		if len(v) > 500 {
			return apperr.Invalid("tags.%s must be at most 500 characters", k)
		}
	}
	for i, m := range in.Medias {
		if m.URL == "" || m.Name == "" {
			return apperr.Invalid("medias[%d] needs url and name", i)
		}
	}
	return nil
}

func (a *API) createBot(r *http.Request) (httpapi.Response, error) {
	var in botInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if err := in.validate(); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.reachable(in.URL); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	now := a.clock.Now()
	b := Bot{
		ID: id.NewAt(id.Bot, now), CreatedAt: clock.Format(now), UpdatedAt: clock.Format(now),
		SigningSecret: secret(), States: in.States, Events: in.Events, Actions: in.Actions,
		Tags: in.Tags, Medias: in.Medias, CreatedBy: p.AccountID, Status: "active",
		RecurringEvents: map[string]RecurringEvent{},
	}
	b.Name = b.ID
	if in.Name != nil {
		b.Name = *in.Name
	}
	for k, e := range in.RecurringEvents {
		b.RecurringEvents[k] = RecurringEvent{Schedule: e.Schedule, Type: e.Type, Payload: e.Payload}
	}
	if in.Subscriptions != nil {
		b.Subscriptions = *in.Subscriptions
	}
	if in.Configuration != nil {
		b.Configuration = Configuration{Data: in.Configuration.Data, Schema: in.Configuration.Schema}
	}
	for _, d := range []struct {
		src *TagDefinitions
		dst *TagDefinitions
	}{{in.User, &b.User}, {in.Conversation, &b.Conversation}, {in.Message, &b.Message}} {
		if d.src != nil {
			*d.dst = *d.src
		}
	}
	if in.Description != nil {
		b.Description = *in.Description
	}
	if in.URL != nil {
		b.URL = *in.URL
	}
	if in.Dev != nil {
		b.Dev = *in.Dev
	}
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.CreateBot, b.ID, b.Name, now)
	b, err := a.store.CreateBot(r.Context(), p.WorkspaceID, b, in.Code, rec)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"bot": a.store.BotAnswer(r.Context(), b)}), nil
}

func (a *API) getBot(r *http.Request) (httpapi.Response, error) {
	if _, err := httpapi.QueryOf(r).Bool("shouldMergePlugins"); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	b, err := a.store.Bot(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	// The signing secret lets its holder forge the bot's deliveries: only
	// roles that may write the bot read it.
	if !p.Role.Allows(auth.BotsWrite) {
		b.SigningSecret = ""
	}
	return httpapi.OK(map[string]any{"bot": a.store.BotAnswer(r.Context(), b)}), nil
}

func (a *API) listBots(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	dev, err := q.Bool("dev")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := BotFilter{Dev: dev, Tags: q.Map("tags")}
	if f.SortField, err = q.Enum("sortField", "createdAt", "createdAt", "updatedAt"); err != nil {
		return httpapi.Response{}, err
	}
	if f.SortDirection, err = q.Enum("sortDirection", "desc", "asc", "desc"); err != nil {
		return httpapi.Response{}, err
	}
	bots, next, err := a.store.ListBots(r.Context(), auth.FromContext(r.Context()).WorkspaceID, f, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("bots", bots, next)), nil
}

func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics on a broken system)
	return hex.EncodeToString(b)
}

// reachable refuses, when the url is written, a bot's or an integration's
// url Parley would refuse to call (a private or local address, when
// deployed); calls check the resolved address again (pkg/egress).
func (a *API) reachable(u *string) error {
	if u == nil || *u == "" {
		return nil
	}
	if err := egress.CheckURL(*u, a.allowPrivateURLs); err != nil {
		return apperr.Invalid("url %s", err.Error())
	}
	return nil
}
