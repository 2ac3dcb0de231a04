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

// Webhook posts signed requests to bots' and integrations' urls.
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

// deliveryError is a failed post; permanent failures are not retried.
type deliveryError struct {
	reason    string
	permanent bool
}

func (e *deliveryError) Error() string { return e.reason }

// Post sends body to url, signed with secret, and returns the answer's body
// for a 2xx status.
func (w Webhook) Post(ctx context.Context, url, secret string, headers map[string]string, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return nil, &deliveryError{reason: "invalid url", permanent: true}
	}
	ts := strconv.FormatInt(w.Clock.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(secret, ts, raw))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	// Failure reasons are short and fixed: a status, never the remote body
	// nor the error's detail (they reach the caller and event.failureReason,
	// which any reader of the bot sees).
	res, err := w.Client.Do(req)
	if err != nil {
		return nil, &deliveryError{reason: egress.Reason(err), permanent: errors.Is(err, egress.ErrRefused)}
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		// Redirects are not followed: a 3xx is a permanent failure.
		permanent := res.StatusCode < 500 && res.StatusCode != 408 && res.StatusCode != 429
		return nil, &deliveryError{reason: fmt.Sprintf("answered %d", res.StatusCode), permanent: permanent}
	}
	return answer, nil
}

// Worker runs delivery jobs. Each job is idempotent (status changes and
// message creation are conditional), so SQS redelivery is harmless.
type Worker struct {
	store    Deliveries
	bots     Bots
	dispatch *Dispatcher
	hook     Webhook
	log      *slog.Logger
}

// NewWorker returns the delivery worker.
func NewWorker(store Deliveries, bots Bots, dispatch *Dispatcher, hook Webhook, log *slog.Logger) *Worker {
	return &Worker{store: store, bots: bots, dispatch: dispatch, hook: hook, log: log}
}

// Handle runs one job from the queue. An error leaves the job on the queue
// (to be retried and, past the redrive bound, dead-lettered); delivery
// failures are not errors: they are retried by re-sending the job with a
// backoff, a bounded number of times.
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
	_, err = w.hook.Post(ctx, rec.URL, rec.SigningSecret, map[string]string{"x-bot-id": j.Bot, "x-bp-operation": "event_received", "x-bp-type": e.Type},
		map[string]any{"type": "event_received", "event": e})
	switch outcome := w.outcome(ctx, j, err); outcome {
	case "":
		return nil
	case StatusProcessed:
		_, err = w.store.SetEventStatus(ctx, key, StatusPending, StatusProcessed, "")
	default:
		_, err = w.store.SetEventStatus(ctx, key, StatusPending, StatusFailed, outcome)
	}
	return err
}

// outcome decides after a post: processed, "" when a retry was queued, or
// the failure reason when no attempt is left.
func (w *Worker) outcome(ctx context.Context, j job, err error) string {
	if err == nil {
		return StatusProcessed
	}
	var de *deliveryError
	if !errors.As(err, &de) {
		return "delivery failed"
	}
	if de.permanent || j.Attempt+1 >= MaxAttempts {
		return de.reason
	}
	j.Attempt++
	j.Due = ""
	if serr := w.dispatch.send(ctx, j, w.hook.Clock.Now(), time.Duration(2<<(j.Attempt-1))*time.Second); serr != nil {
		return de.reason + " (and the retry could not be queued: " + serr.Error() + ")"
	}
	return ""
}

func (w *Worker) message(ctx context.Context, j job, now time.Time) error {
	m := j.Message
	if m == nil {
		return nil
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
		return nil
	}
	rec, err := w.bots.BotRecord(ctx, j.Bot)
	if err != nil || rec.URL == "" {
		return err
	}
	_, err = w.hook.Post(ctx, rec.URL, rec.SigningSecret, map[string]string{"x-bot-id": j.Bot, "x-bp-operation": "message_created", "x-bp-type": "message_created"},
		map[string]any{"type": "message_created", "message": m})
	if reason := w.outcome(ctx, j, err); reason != "" && reason != StatusProcessed {
		w.log.WarnContext(ctx, "message delivery failed", "bot", j.Bot, "message", m.ID, "reason", reason)
	}
	return nil
}

// CallAction runs "<integration>:<action>" on an integration installed on
// the bot, posting {type, input} to its url and answering its output.
// The url is the installation's, else the integration definition's, which
// urlOf reads.
func (w Webhook) CallAction(ctx context.Context, bot string, rec auth.BotRecord, typ string, input map[string]any, urlOf func(context.Context, string) (string, error)) (map[string]any, error) {
	name, action, ok := strings.Cut(typ, ":")
	if !ok || name == "" || action == "" {
		return nil, apperr.Invalid("type must be \"<integration>:<action>\"")
	}
	in, ok := rec.IntegrationNamed(name)
	if !ok || !in.Enabled {
		return nil, apperr.New(apperr.Runtime, "integration %q is not installed on this bot", name)
	}
	if in.URL == "" && in.ID != "" {
		url, err := urlOf(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		in.URL = url
	}
	if in.URL == "" {
		return nil, apperr.New(apperr.Runtime, "integration %q has no url to run action %q on", name, action)
	}
	raw, err := w.Post(ctx, in.URL, rec.SigningSecret,
		map[string]string{"x-bot-id": bot, "x-integration-id": in.ID, "x-bp-operation": "action_triggered", "x-bp-type": action},
		map[string]any{"type": action, "input": input})
	if err != nil {
		reason := "failed"
		var de *deliveryError
		if errors.As(err, &de) {
			reason = de.reason
		}
		return nil, apperr.New(apperr.Runtime, "action %q failed: the integration %s", typ, reason)
	}
	var answer struct {
		Output map[string]any `json:"output"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, apperr.New(apperr.Runtime, "action %q answered something other than {\"output\": {...}}", typ)
	}
	if answer.Output == nil {
		answer.Output = map[string]any{}
	}
	return answer.Output, nil
}
