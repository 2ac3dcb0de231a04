package chat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/parley-dev/parley/pkg/auth"
)

// The server contract of the official @botpress/sdk (5.4.3): what a bot's
// or an integration's server (bot.start / integration.start) expects of
// the platform. SDK.md, next to this file, is the reference; these are
// the names it uses.

// Request headers of the SDK's servers.
const (
	HeaderBotID             = "x-bot-id"
	HeaderBotUserID         = "x-bot-user-id"
	HeaderIntegrationID     = "x-integration-id"
	HeaderIntegrationAlias  = "x-integration-alias"
	HeaderWebhookID         = "x-webhook-id"
	HeaderOperation         = "x-bp-operation"
	HeaderType              = "x-bp-type"
	HeaderConfiguration     = "x-bp-configuration"
	HeaderConfigurationType = "x-bp-configuration-type"
)

// Operations (x-bp-operation). Bots accept event_received, register,
// unregister, ping and action_triggered; integrations all but
// event_received.
const (
	OpEventReceived      = "event_received"
	OpActionTriggered    = "action_triggered"
	OpRegister           = "register"
	OpUnregister         = "unregister"
	OpPing               = "ping"
	OpMessageCreated     = "message_created"
	OpWebhookReceived    = "webhook_received"
	OpCreateUser         = "create_user"
	OpCreateConversation = "create_conversation"
)

// EventMessageCreated is the type of the event an incoming message
// becomes for its bot: payload {message, user, conversation}.
const EventMessageCreated = "message_created"

// configurationHeader is x-bp-configuration: base64 of the configuration's
// JSON ({} when there is none; the SDK parses it on every request).
func configurationHeader(conf map[string]any) string {
	if conf == nil {
		conf = map[string]any{}
	}
	raw, _ := json.Marshal(conf)
	return base64.StdEncoding.EncodeToString(raw)
}

// botHeaders are the headers of every request to a bot's server.
func botHeaders(bot string, rec auth.BotRecord, op, typ string) map[string]string {
	return map[string]string{
		HeaderBotID: bot, HeaderOperation: op, HeaderType: typ,
		HeaderConfiguration: configurationHeader(rec.Configuration),
	}
}

// integrationHeaders are the headers of every request to an integration's
// server about one of its installations. The bot's user id is the bot's
// own id: the bot is the author of its messages.
func integrationHeaders(bot string, in auth.Integration, op, typ string) map[string]string {
	h := map[string]string{
		HeaderBotID: bot, HeaderBotUserID: bot, HeaderIntegrationID: in.ID, HeaderIntegrationAlias: in.Alias,
		HeaderWebhookID: in.WebhookID, HeaderOperation: op, HeaderConfiguration: configurationHeader(in.Configuration),
	}
	if typ != "" {
		h[HeaderType] = typ
	}
	if in.ConfigurationType != "" {
		h[HeaderConfigurationType] = in.ConfigurationType
	}
	if in.Alias == "" {
		h[HeaderIntegrationAlias] = in.Name
	}
	return h
}

// Reporter records, where the bot's owner reads them (bot issues and the
// bot's log: getBotLogs, listBotIssues, getBotIssue, listBotIssueEvents),
// what happens between Parley and the bot's and integrations' servers.
// Recording is best effort: a failure to record is logged, never retried.
type Reporter interface {
	// Issue records one failure: the bot's issue of its Code is created or
	// updated and the failure appended as one of its events.
	Issue(ctx context.Context, f Failure) error
	// Log appends one line to the bot's log.
	Log(ctx context.Context, bot string, l LogLine) error
}

// Failure is one failed request to a bot's or an integration's server.
// Code groups failures of one cause (what, to whom, how it failed).
type Failure struct {
	Bot, Code, Title, Description, Category string
	Data                                    map[string]string
	At                                      time.Time
}

// LogLine is one line of a bot's log.
type LogLine struct {
	At                     time.Time
	Level, Message         string
	ConversationID, UserID string
}

// target names who a request went to, for issues and log lines.
type target struct {
	kind  string // "bot" | "integration"
	name  string // the integration's alias
	url   string
	bot   string
	about map[string]string // event, message, action… ids
}

func botTarget(bot, url string) target { return target{kind: "bot", url: url, bot: bot} }

func integrationTarget(bot string, in auth.Integration, url string) target {
	name := in.Alias
	if name == "" {
		name = in.Name
	}
	return target{kind: "integration", name: name, url: url, bot: bot}
}

func (t target) String() string {
	if t.kind == "bot" {
		return "the bot's server"
	}
	return fmt.Sprintf("integration %q", t.name)
}

// cause classifies a failed request: http_<status>, unreachable or
// invalid_url.
func cause(err error) string {
	if de, ok := err.(*deliveryError); ok {
		switch {
		case de.status > 0:
			return fmt.Sprintf("http_%d", de.status)
		case de.permanent:
			return "invalid_url"
		}
	}
	return "unreachable"
}

// report records a failed request to t as an issue of the bot and a log
// line. what names the request ("event_delivery", "message_delivery",
// "action", "register", "webhook"…); final says no retry follows.
func report(ctx context.Context, r Reporter, at time.Time, t target, what string, attempt int, final bool, err error, conv, user string) []error {
	if r == nil {
		return nil
	}
	c := cause(err)
	reason := err.Error()
	data := map[string]string{"target": t.kind, "url": t.url, "reason": reason, "attempt": fmt.Sprint(attempt), "final": fmt.Sprint(final)}
	if t.name != "" {
		data["integration"] = t.name
	}
	for k, v := range t.about {
		data[k] = v
	}
	title := fmt.Sprintf("%s to %s failed (%s)", strings.ReplaceAll(what, "_", " "), t, c)
	category := "user_code"
	if c == "invalid_url" {
		category = "configuration"
	}
	var errs []error
	if e := r.Issue(ctx, Failure{
		Bot: t.bot, Code: what + ":" + t.kind + ":" + t.name + ":" + c, Title: title, Category: category,
		Description: fmt.Sprintf("Parley's request to %s (%s) failed: %s", t, t.url, c), Data: data, At: at,
	}); e != nil {
		errs = append(errs, e)
	}
	level, suffix := "warn", "; it will be retried"
	if final {
		level, suffix = "error", ""
	}
	msg := fmt.Sprintf("%s (attempt %d): %s%s", title, attempt, reason, suffix)
	if e := r.Log(ctx, t.bot, LogLine{At: at, Level: level, Message: msg, ConversationID: conv, UserID: user}); e != nil {
		errs = append(errs, e)
	}
	return errs
}
