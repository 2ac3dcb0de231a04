package chat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// WebhookMethods are the methods an integration's webhook url accepts.
var WebhookMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// --- actions ---

// callAction runs an action: "<alias>:<action>" on an integration
// installed on the bot (the SDK prefixes integration actions with the
// installation's alias, which defaults to the integration's name), or
// "<action>" on the bot's own server. The server answers {output}; any
// failure is 400 Runtime, recorded as a bot issue and a log line.
func (a *API) callAction(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Type  string         `json:"type"`
		Input map[string]any `json:"input"`
	}
	if err := decodeValid(r, &in, func() error {
		if in.Type == "" || len(in.Type) > 200 {
			return apperr.Invalid("type is required (at most 200 characters)")
		}
		if in.Input == nil {
			return apperr.Invalid("input is required")
		}
		return nil
	}); err != nil {
		return httpapi.Response{}, err
	}
	ctx, p := r.Context(), auth.FromContext(r.Context())
	rec := p.Bot()
	var t target
	var headers map[string]string
	body := map[string]any{"type": in.Type, "input": in.Input}
	if alias, action, ok := strings.Cut(in.Type, ":"); ok {
		if alias == "" || action == "" {
			return httpapi.Response{}, apperr.Invalid("type must be \"<integration>:<action>\" or a bot action's name")
		}
		inst, ok := rec.IntegrationAliased(alias)
		if !ok || !inst.Enabled {
			return httpapi.Response{}, apperr.New(apperr.Runtime, "integration %q is not installed on this bot", alias)
		}
		url := inst.URL
		if url == "" && inst.ID != "" && a.dir != nil {
			var err error
			if url, err = a.dir.IntegrationURL(ctx, inst.ID); err != nil {
				return httpapi.Response{}, err
			}
		}
		if url == "" {
			return httpapi.Response{}, apperr.New(apperr.Runtime, "integration %q has no url to run action %q on", alias, action)
		}
		t, headers = integrationTarget(p.BotID, inst, url), integrationHeaders(p.BotID, inst, OpActionTriggered, action)
		body["type"] = action
	} else {
		if rec.URL == "" {
			return httpapi.Response{}, apperr.New(apperr.Runtime, "the bot has no url to run action %q on", in.Type)
		}
		t, headers = botTarget(p.BotID, rec.URL), botHeaders(p.BotID, rec, OpActionTriggered, in.Type)
	}
	t.about = map[string]string{"action": in.Type}
	raw, err := a.hook.Post(ctx, t.url, rec.SigningSecret, headers, body)
	var answer struct {
		Output map[string]any `json:"output"`
	}
	if err == nil && json.Unmarshal(raw, &answer) != nil {
		err = &deliveryError{reason: "the answer is not {\"output\": {...}}", permanent: true, status: 200}
	}
	if err != nil {
		a.reportFailure(ctx, t, "action", err)
		return httpapi.Response{}, apperr.New(apperr.Runtime, "action %q failed: %s", in.Type, err.Error())
	}
	if answer.Output == nil {
		answer.Output = map[string]any{}
	}
	return httpapi.OK(map[string]any{"output": answer.Output, "meta": map[string]any{"cached": false}}), nil
}

// reportFailure records a failed synchronous request (no retry follows).
func (a *API) reportFailure(ctx context.Context, t target, what string, err error) {
	for _, rerr := range report(ctx, a.report, a.clock.Now(), t, what, 1, true, err, "", "") {
		a.log.WarnContext(ctx, "failure not recorded", "bot", t.bot, "error", rerr)
	}
}

// --- configureIntegration ---

// configureIntegration is what an integration calls (as an integration of
// the bot, x-integration-id) to set its installation's identifier, e.g.
// the external account it serves.
func (a *API) configureIntegration(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Identifier           *string         `json:"identifier"`
		ScheduleRegisterCall *string         `json:"scheduleRegisterCall"`
		SandboxIdentifiers   json.RawMessage `json:"sandboxIdentifiers"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Identifier != nil && len(*in.Identifier) > 200 {
		return httpapi.Response{}, apperr.Invalid("identifier must be at most 200 characters")
	}
	p := auth.FromContext(r.Context())
	if p.IntegrationID == "" {
		return httpapi.Response{}, apperr.New(apperr.Forbidden, "configureIntegration is called by an integration (send %s)", auth.IntegrationHeader)
	}
	inst, _ := p.Bot().Integration(p.IntegrationID)
	if a.installs == nil || inst.Alias == "" {
		return httpapi.Response{}, apperr.New(apperr.Runtime, "the installation of integration %q cannot be configured", p.IntegrationID)
	}
	if in.Identifier != nil {
		if err := a.installs.ConfigureInstallation(r.Context(), p.BotID, inst.Alias, in.Identifier, a.clock.Now()); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(struct{}{}), nil
}

// --- webhooks ---

// maxWebhookBody bounds what a webhook request may carry (it is forwarded
// in one JSON body).
const maxWebhookBody = 1 << 20

// webhook serves an installation's webhook url, /v1/webhooks/{id}[/path]:
// it forwards the request to the integration's server as webhook_received
// {req: {body, path, query, method, headers}} and answers what the server
// answers. The webhook id names its bot (id.WebhookBot), so the
// installation is found with one read of the bot record.
func (a *API) webhook(r *http.Request) (httpapi.Response, error) {
	ctx, whID := r.Context(), r.PathValue("id")
	bot, ok := id.WebhookBot(whID)
	if !ok || a.dir == nil {
		return httpapi.Response{}, apperr.NotFound("webhook", whID)
	}
	rec, err := a.dir.BotRecord(ctx, bot)
	if err != nil {
		return httpapi.Response{}, err
	}
	var inst auth.Integration
	for alias, in := range rec.Integrations {
		if in.WebhookID == whID {
			inst, inst.Alias = in, alias
		}
	}
	if inst.WebhookID == "" || !inst.Enabled {
		return httpapi.Response{}, apperr.NotFound("webhook", whID)
	}
	url := inst.URL
	if url == "" && inst.ID != "" {
		if url, err = a.dir.IntegrationURL(ctx, inst.ID); err != nil {
			return httpapi.Response{}, err
		}
	}
	if url == "" {
		return httpapi.Response{}, apperr.New(apperr.Runtime, "integration %q has no url to forward its webhook to", inst.Name)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil {
		return httpapi.Response{}, apperr.Invalid("the request body could not be read")
	}
	if len(raw) > maxWebhookBody {
		return httpapi.Response{}, apperr.New(apperr.PayloadTooLarge, "a webhook request body must be at most %d bytes", maxWebhookBody)
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		if k = strings.ToLower(k); k != strings.ToLower(httpapi.RequestIDHeader) && !strings.HasPrefix(k, "x-amzn-") {
			headers[k] = strings.Join(vs, ",")
		}
	}
	req := map[string]any{"path": "/" + r.PathValue("path"), "query": r.URL.RawQuery, "method": r.Method, "headers": headers}
	if r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
		req["body"] = string(raw) // the SDK's Request carries the body as text
	}
	body, _ := json.Marshal(map[string]any{"req": req})
	t := integrationTarget(bot, inst, url)
	t.about = map[string]string{"webhookId": whID, "method": r.Method}
	res, err := a.hook.send(ctx, http.MethodPost, url, rec.SigningSecret, integrationHeaders(bot, inst, OpWebhookReceived, ""), body)
	if err != nil {
		a.reportFailure(ctx, t, "webhook", err)
		return httpapi.Response{}, apperr.New(apperr.Runtime, "integration %q could not be reached", inst.Name)
	}
	if res.status >= 500 {
		a.reportFailure(ctx, t, "webhook", &deliveryError{reason: http.StatusText(res.status), status: res.status})
	}
	out := http.Header{}
	for k, vs := range res.header {
		switch strings.ToLower(k) {
		case "content-length", "connection", "transfer-encoding", "keep-alive", "date":
			continue
		}
		out[k] = vs
	}
	return httpapi.Response{Status: res.status, Raw: res.body, Header: out}, nil
}

// --- lifecycle of bots' and integrations' servers ---

// Announcer queues the lifecycle operations a change of a bot asks of its
// server and its integrations' (register, unregister, ping), to be sent by
// the delivery worker.
type Announcer struct{ d *Dispatcher }

// NewAnnouncer returns an Announcer sending through d.
func NewAnnouncer(d *Dispatcher) Announcer { return Announcer{d: d} }

// BotChanged queues what a bot's change asks: when its url is set or
// changed, ping and register to its server; for each integration
// installed (or reinstalled, or enabled), register with its absolute
// webhook url (apiURL + /v1/webhooks/<id>); for each one uninstalled (or
// disabled), unregister.
func (an Announcer) BotChanged(ctx context.Context, bot string, before, after auth.BotRecord, apiURL string, at time.Time) error {
	var jobs []job
	if after.URL != "" && after.URL != before.URL {
		jobs = append(jobs, job{Kind: "runtime", Bot: bot, Ops: []string{OpPing, OpRegister}})
	}
	hook := func(in auth.Integration) string {
		return strings.TrimSuffix(apiURL, "/") + "/v1/webhooks/" + in.WebhookID
	}
	for alias, in := range after.Integrations {
		in.Alias = alias
		old, was := before.Integrations[alias]
		if in.Enabled && (!was || !old.Enabled || old.ID != in.ID || old.WebhookID != in.WebhookID) {
			jobs = append(jobs, job{Kind: "runtime", Bot: bot, Ops: []string{OpRegister}, Installation: &in, WebhookURL: hook(in)})
		}
	}
	for alias, old := range before.Integrations {
		old.Alias = alias
		in, is := after.Integrations[alias]
		if old.Enabled && (!is || !in.Enabled || in.ID != old.ID) {
			jobs = append(jobs, job{Kind: "runtime", Bot: bot, Ops: []string{OpUnregister}, Installation: &old, WebhookURL: hook(old)})
		}
	}
	for _, j := range jobs {
		if err := an.d.send(ctx, j, at, 0); err != nil {
			return err
		}
	}
	return nil
}
