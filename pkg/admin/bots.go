package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// Opt is a body field that distinguishes absent, null and a value.
type Opt[T any] struct {
	Set bool
	Val *T
}

// UnmarshalJSON records that the field was sent.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	o.Val = new(T)
	return json.Unmarshal(b, o.Val)
}

type recurringInput struct {
	Schedule Schedule       `json:"schedule"`
	Type     string         `json:"type"`
	Payload  map[string]any `json:"payload"`
}

type integrationInstall struct {
	Enabled           *bool          `json:"enabled"`
	IntegrationID     string         `json:"integrationId"`
	ConfigurationType Opt[string]    `json:"configurationType"`
	Configuration     map[string]any `json:"configuration"`
	DisabledChannels  []string       `json:"disabledChannels"`
}

type tagDefsPatch struct {
	Tags map[string]*TagDefinition `json:"tags"`
}

// botUpdate is the updateBot body. Maps are merged key by key; a null
// value removes the key.
type botUpdate struct {
	URL            Opt[string] `json:"url"`
	Authentication *string     `json:"authentication"`
	Configuration  *struct {
		Data   map[string]any `json:"data"`
		Schema map[string]any `json:"schema"`
	} `json:"configuration"`
	Tags               map[string]string              `json:"tags"`
	Blocked            *bool                          `json:"blocked"`
	MaxExecutionTime   *int                           `json:"maxExecutionTime"`
	AlwaysAlive        *bool                          `json:"alwaysAlive"`
	User               *tagDefsPatch                  `json:"user"`
	Message            *tagDefsPatch                  `json:"message"`
	Conversation       *tagDefsPatch                  `json:"conversation"`
	Events             map[string]*EventDefinition    `json:"events"`
	Actions            map[string]*ActionDefinition   `json:"actions"`
	States             map[string]*StateDefinition    `json:"states"`
	RecurringEvents    map[string]*recurringInput     `json:"recurringEvents"`
	Integrations       map[string]*integrationInstall `json:"integrations"`
	Plugins            map[string]json.RawMessage     `json:"plugins"`
	Subscriptions      *Subscriptions                 `json:"subscriptions"`
	Code               *string                        `json:"code"`
	Name               *string                        `json:"name"`
	Description        *string                        `json:"description"`
	Medias             []Media                        `json:"medias"`
	Layers             []string                       `json:"layers"`
	ShouldMergePlugins *bool                          `json:"shouldMergePlugins"`
}

// asCreate returns the values the update sets, in the create body's shape,
// so both are validated by one function.
func (u botUpdate) asCreate() botInput {
	in := botInput{Tags: u.Tags, Code: u.Code, Name: u.Name, Description: u.Description, Medias: u.Medias, URL: u.URL.Val,
		States: map[string]StateDefinition{}, Events: map[string]EventDefinition{}, Actions: map[string]ActionDefinition{}}
	for k, v := range u.States {
		if v != nil {
			in.States[k] = *v
		}
	}
	for k, v := range u.Events {
		if v != nil {
			in.Events[k] = *v
		}
	}
	for k, v := range u.Actions {
		if v != nil {
			in.Actions[k] = *v
		}
	}
	for k, v := range u.RecurringEvents {
		if v != nil {
			if in.RecurringEvents == nil {
				in.RecurringEvents = map[string]struct {
					Schedule Schedule       `json:"schedule"`
					Type     string         `json:"type"`
					Payload  map[string]any `json:"payload"`
				}{}
			}
			in.RecurringEvents[k] = *v
		}
	}
	for _, p := range []struct {
		src *tagDefsPatch
		dst **TagDefinitions
	}{{u.User, &in.User}, {u.Conversation, &in.Conversation}, {u.Message, &in.Message}} {
		if p.src == nil {
			continue
		}
		defs := &TagDefinitions{Tags: map[string]TagDefinition{}}
		for k, v := range p.src.Tags {
			if v != nil {
				defs.Tags[k] = *v
			}
		}
		*p.dst = defs
	}
	return in
}

func (u botUpdate) validate() error {
	if err := u.asCreate().validate(); err != nil {
		return err
	}
	if u.Authentication != nil && *u.Authentication != "iam" {
		return apperr.Invalid("authentication must be iam")
	}
	if u.MaxExecutionTime != nil && (*u.MaxExecutionTime < 1 || *u.MaxExecutionTime > 900) {
		return apperr.Invalid("maxExecutionTime must be 1 to 900 seconds")
	}
	if len(u.Plugins) > 0 {
		return apperr.Invalid("plugins are not supported by this server")
	}
	for k, v := range u.Integrations {
		if v != nil && v.IntegrationID == "" && !id.Valid(k) {
			return apperr.Invalid("integrations.%s: the key must be an integration id, or integrationId must be given", k)
		}
	}
	return nil
}

// integrationIDs lists the integrations the update installs or changes.
func (u botUpdate) integrationIDs() []string {
	var ids []string
	for k, v := range u.Integrations {
		if v == nil {
			continue
		}
		if v.IntegrationID != "" {
			ids = append(ids, v.IntegrationID)
		} else {
			ids = append(ids, k)
		}
	}
	sort.Strings(ids)
	return ids
}

func mergeMap[V any](dst map[string]V, patch map[string]*V) map[string]V {
	if dst == nil {
		dst = map[string]V{}
	}
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = *v
		}
	}
	return dst
}

// apply changes b by the update; ints are the integrations it installs.
func (u botUpdate) apply(b *Bot, ints map[string]Integration, now time.Time) error {
	if u.URL.Set {
		b.URL = ""
		if u.URL.Val != nil {
			b.URL = *u.URL.Val
		}
	}
	if u.Authentication != nil {
		b.Authentication = *u.Authentication
	}
	if u.Configuration != nil {
		b.Configuration = Configuration{Data: u.Configuration.Data, Schema: u.Configuration.Schema}
	}
	if u.Tags != nil {
		b.Tags = orEmpty(b.Tags)
		for k, v := range u.Tags {
			if v == "" {
				delete(b.Tags, k)
			} else {
				b.Tags[k] = v
			}
		}
	}
	if u.Blocked != nil {
		b.Blocked = *u.Blocked
	}
	if u.MaxExecutionTime != nil {
		b.MaxExecution = u.MaxExecutionTime
	}
	if u.AlwaysAlive != nil {
		b.AlwaysAlive = *u.AlwaysAlive
	}
	for _, p := range []struct {
		src *tagDefsPatch
		dst *TagDefinitions
	}{{u.User, &b.User}, {u.Conversation, &b.Conversation}, {u.Message, &b.Message}} {
		if p.src != nil {
			p.dst.Tags = mergeMap(p.dst.Tags, p.src.Tags)
		}
	}
	b.Events = mergeMap(b.Events, u.Events)
	b.Actions = mergeMap(b.Actions, u.Actions)
	b.States = mergeMap(b.States, u.States)
	b.RecurringEvents = orEmpty(b.RecurringEvents)
	for k, v := range u.RecurringEvents {
		if v == nil {
			delete(b.RecurringEvents, k)
		} else {
			b.RecurringEvents[k] = RecurringEvent{Schedule: v.Schedule, Type: v.Type, Payload: v.Payload}
		}
	}
	if u.Subscriptions != nil {
		b.Subscriptions = *u.Subscriptions
	}
	if u.Name != nil {
		b.Name = *u.Name
	}
	if u.Description != nil {
		b.Description = *u.Description
	}
	if u.Medias != nil {
		b.Medias = u.Medias
	}
	b.Integrations = orEmpty(b.Integrations)
	at := clock.Format(now)
	for alias, v := range u.Integrations {
		if v == nil {
			delete(b.Integrations, alias)
			continue
		}
		intID := v.IntegrationID
		if intID == "" {
			intID = alias
		}
		def, ok := ints[intID]
		if !ok {
			return apperr.New(apperr.ReferenceNotFound, "integration %q doesn't exist", intID)
		}
		inst, installed := b.Integrations[alias]
		if !installed || inst.ID != def.ID {
			webhook := id.Webhook(b.ID, now)
			inst = BotIntegration{Enabled: true, WebhookID: webhook, WebhookURL: "/v1/webhooks/" + webhook,
				Status: "registered", CreatedAt: at, Configuration: map[string]any{}, DisabledChannels: []string{}}
		}
		inst.ID, inst.Name, inst.Version, inst.Title, inst.Description = def.ID, def.Name, def.Version, def.Title, def.Description
		inst.IconURL, inst.Public, inst.Visibility = def.IconURL, def.Public, def.Visibility
		inst.VerificationStatus, inst.LifecycleStatus, inst.UpdatedAt = def.VerificationStatus, def.LifecycleStatus, at
		if v.Enabled != nil {
			inst.Enabled = *v.Enabled
		}
		if v.ConfigurationType.Set {
			inst.ConfigurationType = v.ConfigurationType.Val
		}
		if inst.ConfigurationType != nil {
			if _, ok := def.Configurations[*inst.ConfigurationType]; !ok {
				return apperr.Invalid("integrations.%s.configurationType %q is not a configuration of %s", alias, *inst.ConfigurationType, def.Name)
			}
		}
		if v.Configuration != nil {
			inst.Configuration = v.Configuration
		}
		if v.DisabledChannels != nil {
			inst.DisabledChannels = v.DisabledChannels
		}
		b.Integrations[alias] = inst
	}
	b.UpdatedAt = at
	return nil
}

// updateRetries bounds the read-modify-write attempts of an update that
// meets concurrent changes.
const updateRetries = 3

func (a *API) updateBot(r *http.Request) (httpapi.Response, error) {
	var in botUpdate
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if err := in.validate(); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.reachable(in.URL.Val); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	botID := r.PathValue("id")
	var err error
	for attempt := 0; attempt < updateRetries; attempt++ {
		var b Bot
		var ints map[string]Integration
		b, ints, err = a.store.BotAndIntegrations(r.Context(), p.WorkspaceID, botID, in.integrationIDs())
		if err != nil {
			return httpapi.Response{}, err
		}
		prev := b.UpdatedAt
		now := a.clock.Now()
		if clock.Format(now) <= prev {
			now = now.Add(time.Millisecond) // updatedAt is the version: it must change
		}
		before := b
		before.Integrations = maps.Clone(b.Integrations)
		if err := in.apply(&b, ints, now); err != nil {
			return httpapi.Response{}, err
		}
		rec := audit.New(p.WorkspaceID, p.AccountID, audit.UpdateBot, b.ID, b.Name, now)
		b, err = a.store.ReplaceBot(r.Context(), p.WorkspaceID, b, in.Code, prev, rec)
		if err == nil {
			a.announce(r, p.WorkspaceID, before, b, now)
			return httpapi.OK(map[string]any{"bot": a.store.BotAnswer(r.Context(), b)}), nil
		}
		if !apperr.Is(err, apperr.ResourceLockedConflict) {
			break
		}
	}
	return httpapi.Response{}, err
}

func (a *API) deleteBot(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	botID, now := r.PathValue("id"), a.clock.Now()
	if a.holds != nil {
		// Held data outlives the bot's deletion only if the bot does.
		held, err := a.holds.OnBot(r.Context(), p.WorkspaceID, botID)
		if err != nil {
			return httpapi.Response{}, err
		}
		if len(held) > 0 {
			return httpapi.Response{}, apperr.New(apperr.ResourceLockedConflict, "bot %s has data under legal hold (%s): release the holds before deleting it", botID, strings.Join(held, ", "))
		}
	}
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.DeleteBot, botID, "", now)
	// The purge intent commits with the deletion: the bot's data is erased
	// even if everything after this transaction fails.
	intent := a.intents.PurgeIntent(p.WorkspaceID, botID, now)
	if err := a.store.DeleteBot(r.Context(), p.WorkspaceID, botID, rec, intent); err != nil {
		return httpapi.Response{}, err
	}
	// The bot is gone from every read. Starting its purge now is the fast
	// path; when it fails, the off-peak window drains the intent.
	if err := a.purger.PurgeBot(r.Context(), p.WorkspaceID, botID); err != nil {
		a.log.WarnContext(r.Context(), "bot purge not started; the off-peak window will drain its intent",
			"request_id", httpapi.RequestID(r.Context()), "bot", botID, "error", err)
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) transferBot(r *http.Request) (httpapi.Response, error) {
	var in struct {
		TargetWorkspaceID *string `json:"targetWorkspaceId"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	if in.TargetWorkspaceID == nil || *in.TargetWorkspaceID == "" {
		return httpapi.Response{}, apperr.Invalid("targetWorkspaceId is required")
	}
	target := *in.TargetWorkspaceID
	if target == p.WorkspaceID {
		return httpapi.Response{}, apperr.Invalid("the bot is already in workspace %q", target)
	}
	// The caller must be allowed to create bots in the target.
	if err := a.auth.Check(r.Context(), target, p.AccountID, auth.BotsWrite); err != nil {
		return httpapi.Response{}, err
	}
	botID, now := r.PathValue("id"), a.clock.Now()
	out := audit.New(p.WorkspaceID, p.AccountID, audit.TransferBot, botID, "", now)
	out.Value = "to " + target
	into := audit.New(target, p.AccountID, audit.TransferBot, botID, "", now)
	into.Value = "from " + p.WorkspaceID
	if err := a.store.TransferBot(r.Context(), p.WorkspaceID, target, botID, clock.Format(now), out, into); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

// timeParam reads an ISO 8601 instant or date query parameter.
func timeParam(q httpapi.Query, name string, required bool) (time.Time, error) {
	s := q.String(name)
	if s == "" {
		if required {
			return time.Time{}, apperr.New(apperr.InvalidQuery, "query parameter %q is required", name)
		}
		return time.Time{}, nil
	}
	if t, err := clock.Parse(s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, apperr.New(apperr.InvalidQuery, "query parameter %q must be an ISO 8601 date or timestamp", name)
}

func logFilter(q httpapi.Query, now time.Time) (LogFilter, error) {
	start, err := timeParam(q, "timeStart", true)
	if err != nil {
		return LogFilter{}, err
	}
	end, err := timeParam(q, "timeEnd", false)
	if err != nil {
		return LogFilter{}, err
	}
	if end.IsZero() {
		end = now
	}
	if end.Before(start) {
		return LogFilter{}, apperr.New(apperr.InvalidQuery, "timeEnd is before timeStart")
	}
	return LogFilter{Start: clock.Format(start), End: clock.Format(end), Level: q.String("level"), UserID: q.String("userId"),
		WorkflowID: q.String("workflowId"), ConversationID: q.String("conversationId"), MessageContains: q.String("messageContains")}, nil
}

func (a *API) getBotLogs(r *http.Request) (httpapi.Response, error) {
	f, err := logFilter(httpapi.QueryOf(r), a.clock.Now())
	if err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	b, err := a.store.Bot(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	logs, next, err := a.store.Logs(r.Context(), "BOT", b.ID, f, httpapi.QueryOf(r).String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(logsAnswer(logs, next)), nil
}

// logsAnswer is the logs envelope: nextToken beside the list, not in meta.
func logsAnswer(logs []LogRecord, next string) map[string]any {
	body := map[string]any{"logs": logs}
	if next != "" {
		body["nextToken"] = next
	}
	return body
}

// WebchatScript is the webchat client the embed code loads.
const WebchatScript = "https://cdn.botpress.cloud/webchat/v2.2/inject.js"

func (a *API) getBotWebchat(r *http.Request) (httpapi.Response, error) {
	kind, err := httpapi.QueryOf(r).Enum("type", "", "preconfigured", "configurable", "fullscreen", "sharableUrl")
	if err != nil {
		return httpapi.Response{}, err
	}
	if kind == "" {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "query parameter \"type\" is required")
	}
	b, err := a.store.Bot(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	init := fmt.Sprintf(`{"botId":%q,"clientId":%q}`, b.ID, b.ID)
	var code string
	switch kind {
	case "preconfigured":
		code = fmt.Sprintf("<script src=%q></script>\n<script>window.botpress.init(%s)</script>", WebchatScript, init)
	case "configurable":
		code = fmt.Sprintf("<script src=%q></script>\n<script>window.botpress.init(Object.assign(%s, { /* your options */ }))</script>", WebchatScript, init)
	case "fullscreen":
		code = fmt.Sprintf("<!doctype html>\n<html><body style=\"margin:0\">\n<script src=%q></script>\n<script>window.botpress.init(Object.assign(%s, {\"hideWidget\":false,\"fullscreen\":true}))</script>\n</body></html>", WebchatScript, init)
	case "sharableUrl":
		code = "https://cdn.botpress.cloud/webchat/v2.2/shareable.html?botId=" + b.ID
	}
	return httpapi.OK(map[string]any{"code": code}), nil
}

// systemEvents are the event types Parley and Botpress emit themselves;
// every other type is a custom event (the bot's or an integration's).
var systemEvents = map[string]bool{"message_created": true, "state_expired": true, "conversation_started": true,
	"conversation_ended": true, "workflow_started": true, "workflow_continued": true, "workflow_timeout": true}

// maxAnalyticsDays bounds an analytics range.
const maxAnalyticsDays = 366

type analyticsRecord struct {
	Start          string             `json:"startDateTimeUtc"`
	End            string             `json:"endDateTimeUtc"`
	ReturningUsers int                `json:"returningUsers"`
	NewUsers       int                `json:"newUsers"`
	Sessions       int                `json:"sessions"`
	Messages       int                `json:"messages"`
	UserMessages   int                `json:"userMessages"`
	BotMessages    int                `json:"botMessages"`
	Events         int                `json:"events"`
	EventTypes     map[string]float64 `json:"eventTypes"`
	CustomEvents   map[string]float64 `json:"customEvents"`
	LLM            llmStats           `json:"llm"`
}

type stat struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

type llmStats struct {
	Calls           int  `json:"calls"`
	Errors          int  `json:"errors"`
	InputTokens     int  `json:"inputTokens"`
	OutputTokens    int  `json:"outputTokens"`
	Latency         stat `json:"latency"`
	TokensPerSecond stat `json:"tokensPerSecond"`
	Cost            struct {
		Sum float64 `json:"sum"`
		stat
	} `json:"cost"`
}

func (a *API) getBotAnalytics(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	start, err := timeParam(q, "startDate", true)
	if err != nil {
		return httpapi.Response{}, err
	}
	end, err := timeParam(q, "endDate", true)
	if err != nil {
		return httpapi.Response{}, err
	}
	// startDate is inclusive, endDate exclusive (the seed): the records are
	// the days from startDate's up to the one before endDate's, and a day
	// endDate cuts into is included.
	start = start.Truncate(24 * time.Hour)
	if t := end.Truncate(24 * time.Hour); t.Before(end) {
		end = t.Add(24 * time.Hour)
	}
	days := int(end.Sub(start) / (24 * time.Hour))
	if days < 0 || days > maxAnalyticsDays {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "endDate (exclusive) must be on or after startDate, at most %d days later", maxAnalyticsDays)
	}
	if days == 0 {
		return httpapi.OK(map[string]any{"records": []analyticsRecord{}}), nil
	}
	b, err := a.store.Bot(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	last := end.Add(-24 * time.Hour)
	stats, err := a.stats.DayStats(r.Context(), b.ID, start.Format("2006-01-02"), last.Format("2006-01-02"))
	if err != nil {
		return httpapi.Response{}, err
	}
	records := make([]analyticsRecord, 0, days)
	for d := start; d.Before(end); d = d.Add(24 * time.Hour) {
		s := stats[d.Format("2006-01-02")]
		rec := analyticsRecord{Start: clock.Format(d), End: clock.Format(d.Add(24 * time.Hour)), NewUsers: s.NewUsers,
			ReturningUsers: s.ReturningUsers, Sessions: s.Sessions,
			UserMessages: s.UserMessages, BotMessages: s.BotMessages, Messages: s.UserMessages + s.BotMessages,
			EventTypes: map[string]float64{}, CustomEvents: map[string]float64{}}
		for k, n := range s.Events {
			rec.EventTypes[k] = float64(n)
			rec.Events += n
			if !systemEvents[k] {
				rec.CustomEvents[k] = float64(n)
			}
		}
		records = append(records, rec)
	}
	return httpapi.OK(map[string]any{"records": records}), nil
}

func (a *API) listBotIssues(r *http.Request) (httpapi.Response, error) {
	b, err := a.store.Bot(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	issues, next, err := a.store.ListIssues(r.Context(), b.ID, httpapi.QueryOf(r).String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("issues", issues, next)), nil
}

// botIssue reads an issue of a bot of the caller's workspace (one
// BatchGetItem); a bot outside the workspace reads as missing.
func (a *API) botIssue(r *http.Request) (Issue, error) {
	return a.store.BotIssue(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"), r.PathValue("issueId"))
}

func (a *API) getBotIssue(r *http.Request) (httpapi.Response, error) {
	i, err := a.botIssue(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"issue": i}), nil
}

func (a *API) listBotIssueEvents(r *http.Request) (httpapi.Response, error) {
	i, err := a.botIssue(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	events, err := a.store.ListIssueEvents(r.Context(), r.PathValue("id"), i)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"issueEvents": events}), nil
}

func (a *API) deleteBotIssue(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	b, err := a.store.Bot(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	issueID := r.PathValue("issueId")
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.DeleteBotIssue, b.ID, b.Name, a.clock.Now())
	rec.Value = issueID
	if err := a.store.DeleteIssue(r.Context(), b.ID, issueID, rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

// announce tells the bot's server and its integrations' what the committed
// change asks of them (register, unregister). A failure to queue is
// logged: the change stands, and updating the bot again re-announces it.
func (a *API) announce(r *http.Request, ws string, before, after Bot, now time.Time) {
	if a.runtime == nil {
		return
	}
	if err := a.runtime.BotChanged(r.Context(), ws, before, after, a.publicURL(r), now); err != nil {
		a.log.WarnContext(r.Context(), "bot change not announced to its servers",
			"request_id", httpapi.RequestID(r.Context()), "bot", after.ID, "error", err)
	}
}

// publicURL is the base url clients reach Parley at: the configured one,
// else the request's own (API Gateway sets X-Forwarded-Proto; the local
// runner serves plain http).
func (a *API) publicURL(r *http.Request) string {
	if a.apiURL != "" {
		return strings.TrimSuffix(a.apiURL, "/")
	}
	scheme := r.Header.Get("X-Forwarded-Proto")
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}
