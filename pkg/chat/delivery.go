package chat

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/egress"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/usage"
)

// Queue is the part of SQS the chat function and its worker use.
type Queue interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ Queue = (*sqs.Client)(nil)

// maxDelay is SQS's longest DelaySeconds; longer waits are chained: the
// worker re-sends a job that is not due yet with the remaining delay.
const maxDelay = 15 * time.Minute

// MaxAttempts bounds deliveries to a bot's url; after the last failed one
// the event is marked failed. Retries back off 2s, 4s, …
const MaxAttempts = 3

// job is a unit of work on the delivery queue: an event to deliver (or to
// release when scheduled), or a message to create at its time and deliver.
type job struct {
	Kind    string `json:"kind"` // "event" | "message"
	Bot     string `json:"bot"`
	Due     string `json:"due,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// Events are read from their item when the job runs.
	PK string `json:"pk,omitempty"`
	SK string `json:"sk,omitempty"`
	// Messages travel whole; Stored says the message is already written.
	Message *Message `json:"message,omitempty"`
	Stored  bool     `json:"stored,omitempty"`
	// Runtime jobs send Ops in order to the bot's server (Installation
	// nil) or to an installation's, with its WebhookURL.
	Ops          []string          `json:"ops,omitempty"`
	Installation *auth.Integration `json:"installation,omitempty"`
	WebhookURL   string            `json:"webhookUrl,omitempty"`
}

// Dispatcher puts jobs on the delivery queue.
type Dispatcher struct {
	q   Queue
	url string
}

// NewDispatcher sends jobs to the queue at url.
func NewDispatcher(q Queue, url string) *Dispatcher { return &Dispatcher{q: q, url: url} }

// send enqueues j, delayed until its due time or by at most 15 minutes.
func (d *Dispatcher) send(ctx context.Context, j job, now time.Time, extra time.Duration) error {
	delay := extra
	if j.Due != "" {
		if due, err := clock.Parse(j.Due); err == nil && due.Sub(now) > delay {
			delay = due.Sub(now)
		}
	}
	delay = min(delay, maxDelay)
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = d.q.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: &d.url, MessageBody: aws.String(string(body)),
		DelaySeconds: int32((delay + time.Second - 1) / time.Second),
	})
	return err
}

// Webhook sends signed requests to bots' and integrations' servers. Every
// outbound request of the chat function and the delivery worker goes
// through Client, built in one place (pkg/app), so what may be reached is
// decided there.
type Webhook struct {
	Client *http.Client
	Clock  clock.Clock
}

// SignatureHeader carries hex(HMAC-SHA256(signingSecret, timestamp + "." + body));
// TimestampHeader the timestamp (Unix seconds), so receivers can refuse replays.
const (
	SignatureHeader = "x-bp-signature"
	TimestampHeader = "x-bp-timestamp"
)

// Sign returns the signature of body sent at ts.
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// deliveryError is a failed request; permanent failures are not retried.
// status is the server's answer (0: none).
type deliveryError struct {
	reason    string
	permanent bool
	status    int
}

func (e *deliveryError) Error() string { return e.reason }

// maxAnswer bounds what is read of a server's answer.
const maxAnswer = 1 << 20

// answer is a server's whole answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send makes one signed request and returns the server's answer, whatever
// its status; an error means there was none.
func (w Webhook) send(ctx context.Context, method, url, secret string, headers map[string]string, raw []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(raw))
	if err != nil {
		return answer{}, &deliveryError{reason: "invalid url", permanent: true}
	}
	ts := strconv.FormatInt(w.Clock.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(secret, ts, raw))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := w.Client.Do(req)
	if err != nil {
		// A fixed reason: the error may name internal addresses.
		return answer{}, &deliveryError{reason: egress.Reason(err), permanent: errors.Is(err, egress.ErrRefused)}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	return answer{status: res.StatusCode, header: res.Header, body: body}, nil
}

// Post sends body to url, signed with secret, and returns the answer's body
// for a 2xx status. A 4xx other than 408 and 429 is permanent.
func (w Webhook) Post(ctx context.Context, url, secret string, headers map[string]string, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	res, err := w.send(ctx, http.MethodPost, url, secret, headers, raw)
	if err != nil {
		return nil, err
	}
	if res.status < 200 || res.status > 299 {
		// A status and a fixed reason, never the remote body: callers and
		// lower roles read it. Redirects are not followed: a 3xx is final.
		permanent := res.status < 500 && res.status != 408 && res.status != 429
		return nil, &deliveryError{reason: fmt.Sprintf("answered %d", res.status), permanent: permanent, status: res.status}
	}
	return res.body, nil
}

// Worker runs delivery jobs. Each job is idempotent (status changes and
// message and event creation are conditional), so SQS redelivery is
// harmless.
type Worker struct {
	store    Deliveries
	bots     Bots
	dispatch *Dispatcher
	hook     Webhook
	report   Reporter
	log      *slog.Logger
}

// NewWorker returns the delivery worker. report may be nil (failures are
// then only logged).
func NewWorker(store Deliveries, bots Bots, dispatch *Dispatcher, hook Webhook, report Reporter, log *slog.Logger) *Worker {
	return &Worker{store: store, bots: bots, dispatch: dispatch, hook: hook, report: report, log: log}
}

// Handle runs one job from the queue. An error leaves the job on the queue
// (to be retried and, past the redrive bound, dead-lettered); delivery
// failures are not errors: they are retried by re-sending the job with a
// backoff, a bounded number of times, and recorded as bot issues.
func (w *Worker) Handle(ctx context.Context, body string) error {
	var j job
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		w.log.ErrorContext(ctx, "unreadable delivery job dropped", "error", err)
		return nil
	}
	now := w.hook.Clock.Now()
	if due, err := clock.Parse(j.Due); err == nil && due.After(now) {
		return w.dispatch.send(ctx, j, now, 0) // not due yet: chain another delay
	}
	switch j.Kind {
	case "event":
		return w.event(ctx, j)
	case "message":
		return w.message(ctx, j, now)
	case "runtime":
		return w.runtime(ctx, j)
	}
	w.log.ErrorContext(ctx, "unknown delivery job dropped", "kind", j.Kind)
	return nil
}

func (w *Worker) event(ctx context.Context, j job) error {
	key := chatdata.EventRef{PK: j.PK, SK: j.SK}
	e, found, err := w.store.EventAt(ctx, key)
	if err != nil || !found {
		return err // not found: erased with its conversation
	}
	rec, err := w.bots.BotRecord(ctx, j.Bot)
	if err != nil {
		return err
	}
	ctx = usage.WithWorkspace(ctx, rec.WorkspaceID)
	if e.Status == StatusScheduled {
		next := StatusPending
		if rec.URL == "" {
			next = StatusIgnored
		}
		if moved, err := w.store.SetEventStatus(ctx, key, StatusScheduled, next, ""); err != nil || !moved || next == StatusIgnored {
			return err
		}
		e.Status = StatusPending
	}
	if e.Status != StatusPending {
		return nil
	}
	if rec.URL == "" {
		_, err := w.store.SetEventStatus(ctx, key, StatusPending, StatusIgnored, "")
		return err
	}
	if e.Type == EventMessageCreated {
		if err := w.messagePayload(ctx, j.Bot, &e); err != nil {
			return err
		}
	}
	_, err = w.hook.Post(ctx, rec.URL, rec.SigningSecret, botHeaders(j.Bot, rec, OpEventReceived, e.Type), map[string]any{"event": e})
	t := botTarget(j.Bot, rec.URL)
	t.about = map[string]string{"eventId": e.ID, "eventType": e.Type}
	if e.MessageID != "" {
		t.about["messageId"] = e.MessageID
	}
	switch outcome := w.outcome(ctx, j, t, "event_delivery", err, e.ConversationID, e.UserID); outcome {
	case "":
		return nil
	case StatusProcessed:
		_, err = w.store.SettleDelivery(ctx, j.Bot, key, StatusPending, StatusProcessed, "", w.hook.Clock.Now())
	default:
		_, err = w.store.SettleDelivery(ctx, j.Bot, key, StatusPending, StatusFailed, outcome, w.hook.Clock.Now())
	}
	return err
}

// messagePayload completes a message_created event's payload as the SDK
// reads it: {message, user, conversation}.
func (w *Worker) messagePayload(ctx context.Context, bot string, e *Event) error {
	payload := map[string]any{}
	for k, v := range e.Payload {
		payload[k] = v
	}
	if _, ok := payload["message"]; !ok && e.MessageID != "" {
		m, err := w.store.Message(ctx, bot, e.MessageID)
		if err != nil && !apperr.Is(err, apperr.ResourceNotFound) {
			return err
		}
		payload["message"] = m
	}
	if e.ConversationID != "" {
		c, err := w.store.Conversation(ctx, bot, e.ConversationID)
		if err != nil && !apperr.Is(err, apperr.ResourceNotFound) {
			return err
		}
		payload["conversation"] = c
	}
	if e.UserID != "" {
		u, err := w.store.User(ctx, bot, e.UserID)
		if err != nil && !apperr.Is(err, apperr.ResourceNotFound) {
			return err
		}
		payload["user"] = u
	}
	e.Payload = payload
	return nil
}

// outcome decides after a request: processed, "" when a retry was queued,
// or the failure reason when no attempt is left. Every failure is reported
// (a bot issue and a log line).
func (w *Worker) outcome(ctx context.Context, j job, t target, what string, err error, conv, user string) string {
	if err == nil {
		return StatusProcessed
	}
	var de *deliveryError
	final := !errors.As(err, &de) || de.permanent || j.Attempt+1 >= MaxAttempts
	for _, rerr := range report(ctx, w.report, w.hook.Clock.Now(), t, what, j.Attempt+1, final, err, conv, user) {
		w.log.WarnContext(ctx, "delivery failure not recorded", "bot", j.Bot, "error", rerr)
	}
	if de == nil {
		return "delivery failed"
	}
	if final {
		return de.reason
	}
	j.Attempt++
	j.Due = ""
	if serr := w.dispatch.send(ctx, j, w.hook.Clock.Now(), time.Duration(2<<(j.Attempt-1))*time.Second); serr != nil {
		return de.reason + " (and the retry could not be queued: " + serr.Error() + ")"
	}
	return ""
}

// messageEventID is the id of the message_created event of a message: the
// message's ULID, so that a repeated job finds the event it made.
func messageEventID(messageID string) string {
	_, ulid, _ := strings.Cut(messageID, "_")
	return id.Event + "_" + ulid
}

func (w *Worker) message(ctx context.Context, j job, now time.Time) error {
	m := j.Message
	if m == nil {
		return nil
	}
	// The message is charged to its bot's workspace: the bot record, which
	// an incoming message needs anyway, names it.
	var rec auth.BotRecord
	if !j.Stored || m.Direction == Incoming {
		var err error
		if rec, err = w.bots.BotRecord(ctx, j.Bot); err != nil {
			return err
		}
		ctx = usage.WithWorkspace(ctx, rec.WorkspaceID)
	}
	if !j.Stored {
		err := w.store.CreateMessage(ctx, j.Bot, *m, now)
		switch {
		case apperr.Is(err, apperr.AlreadyExists):
		case apperr.Is(err, apperr.ReferenceNotFound):
			w.log.WarnContext(ctx, "scheduled message dropped", "bot", j.Bot, "message", m.ID, "reason", err.Error())
			return nil
		case err != nil:
			return err
		}
		j.Stored = true
	}
	if m.Direction != Incoming {
		return w.outgoing(ctx, j, *m)
	}
	if rec.URL == "" {
		return nil
	}
	// The bot receives an incoming message as a message_created event,
	// listed with the bot's events.
	e := Event{
		ID: messageEventID(m.ID), CreatedAt: m.CreatedAt, Type: EventMessageCreated, Payload: map[string]any{"message": m},
		ConversationID: m.ConversationID, UserID: m.UserID, MessageID: m.ID, Status: StatusPending,
	}
	err := w.store.CreateEvent(usage.WithIncoming(ctx), j.Bot, e, "", now)
	switch {
	case apperr.Is(err, apperr.AlreadyExists):
	case apperr.Is(err, apperr.ReferenceNotFound):
		return nil // the conversation or user is gone
	case err != nil:
		return err
	}
	ref := chatdata.EventRefOf(j.Bot, e)
	return w.event(ctx, job{Kind: "event", Bot: j.Bot, PK: ref.PK, SK: ref.SK})
}

// outgoing delivers a message of the bot to the integration of its
// conversation, as message_created with {type, payload, conversation,
// message, user}.
func (w *Worker) outgoing(ctx context.Context, j job, m Message) error {
	c, err := w.store.Conversation(ctx, j.Bot, m.ConversationID)
	if apperr.Is(err, apperr.ResourceNotFound) || err == nil && c.Integration == "" {
		return nil
	}
	if err != nil {
		return err
	}
	rec, err := w.bots.BotRecord(ctx, j.Bot)
	if err != nil {
		return err
	}
	in, ok := rec.IntegrationNamed(c.Integration)
	if !ok || !in.Enabled {
		return nil
	}
	url, err := w.integrationURL(ctx, in)
	if err != nil || url == "" {
		return err
	}
	u, err := w.store.User(ctx, j.Bot, m.UserID)
	if err != nil && !apperr.Is(err, apperr.ResourceNotFound) {
		return err
	}
	_, err = w.hook.Post(ctx, url, rec.SigningSecret, integrationHeaders(j.Bot, in, OpMessageCreated, m.Type),
		map[string]any{"type": m.Type, "payload": m.Payload, "conversation": c, "message": m, "user": u})
	t := integrationTarget(j.Bot, in, url)
	t.about = map[string]string{"messageId": m.ID, "conversationId": m.ConversationID}
	if reason := w.outcome(ctx, j, t, "message_delivery", err, m.ConversationID, m.UserID); reason != "" && reason != StatusProcessed {
		w.log.WarnContext(ctx, "message delivery failed", "bot", j.Bot, "message", m.ID, "reason", reason)
	}
	return nil
}

// integrationURL is where an installed integration's server listens: the
// installation's url, else its definition's.
func (w *Worker) integrationURL(ctx context.Context, in auth.Integration) (string, error) {
	if in.URL != "" || in.ID == "" {
		return in.URL, nil
	}
	return w.bots.IntegrationURL(ctx, in.ID)
}

// runtime sends lifecycle operations (ping, register, unregister) to the
// bot's server or to an installation's, in order; a failure retries the
// operations left.
func (w *Worker) runtime(ctx context.Context, j job) error {
	rec, err := w.bots.BotRecord(ctx, j.Bot)
	if err != nil {
		return err
	}
	if rec.WorkspaceID == "" {
		return nil // the bot is gone
	}
	for len(j.Ops) > 0 {
		op := j.Ops[0]
		var t target
		var headers map[string]string
		body := map[string]any{}
		if j.Installation == nil {
			if rec.URL == "" {
				return nil
			}
			t, headers = botTarget(j.Bot, rec.URL), botHeaders(j.Bot, rec, op, op)
		} else {
			in := *j.Installation
			if cur, ok := rec.Integrations[in.Alias]; ok && op != OpUnregister {
				cur.Alias = in.Alias
				in = cur // register with the installation as it is now
			} else if op != OpUnregister {
				return nil // uninstalled meanwhile
			}
			url, err := w.integrationURL(ctx, in)
			if err != nil || url == "" {
				return err
			}
			t, headers = integrationTarget(j.Bot, in, url), integrationHeaders(j.Bot, in, op, op)
			body["webhookUrl"] = j.WebhookURL
		}
		_, err := w.hook.Post(ctx, t.url, rec.SigningSecret, headers, body)
		switch outcome := w.outcome(ctx, j, t, op, err, "", ""); outcome {
		case "":
			return nil // retried with the operations left
		case StatusProcessed:
			if op != OpPing {
				w.note(ctx, j.Bot, fmt.Sprintf("%s: %s answered", op, t))
			}
			j.Ops, j.Attempt = j.Ops[1:], 0
		default:
			return nil // recorded as an issue; the operations left are dropped
		}
	}
	return nil
}

// note appends an info line to the bot's log.
func (w *Worker) note(ctx context.Context, bot, msg string) {
	if w.report == nil {
		return
	}
	if err := w.report.Log(ctx, bot, LogLine{At: w.hook.Clock.Now(), Level: "info", Message: msg}); err != nil {
		w.log.WarnContext(ctx, "bot log line not recorded", "bot", bot, "error", err)
	}
}
