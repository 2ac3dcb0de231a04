package chat

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// scheduleInput defers a message or event: to a date-time or by a delay in
// milliseconds.
type scheduleInput struct {
	DateTime *string  `json:"dateTime"`
	Delay    *float64 `json:"delay"`
}

// maxSchedule bounds how far ahead work can be scheduled (a chain of 15
// minute SQS delays carries it there).
const maxSchedule = 365 * 24 * time.Hour

func (s *scheduleInput) due(now time.Time) (time.Time, error) {
	switch {
	case s.DateTime != nil && s.Delay != nil:
		return time.Time{}, apperr.Invalid("schedule takes dateTime or delay, not both")
	case s.DateTime != nil:
		t, err := clock.Parse(*s.DateTime)
		if err != nil {
			return time.Time{}, apperr.Invalid("schedule.dateTime must be an ISO 8601 date-time")
		}
		t = t.UTC().Truncate(time.Millisecond)
		if t.Sub(now) > maxSchedule {
			return time.Time{}, apperr.Invalid("schedule.dateTime must be within a year")
		}
		if t.Before(now) {
			t = now
		}
		return t, nil
	case s.Delay != nil:
		d := *s.Delay
		if d < 0 || math.IsNaN(d) || time.Duration(d)*time.Millisecond > maxSchedule {
			return time.Time{}, apperr.Invalid("schedule.delay must be milliseconds from 0 to a year")
		}
		return now.Add(time.Duration(d) * time.Millisecond).Truncate(time.Millisecond), nil
	}
	return time.Time{}, apperr.Invalid("schedule needs dateTime or delay")
}

type messageInput struct {
	Payload            map[string]any    `json:"payload"`
	UserID             string            `json:"userId"`
	ConversationID     string            `json:"conversationId"`
	Type               string            `json:"type"`
	Tags               map[string]string `json:"tags"`
	Schedule           *scheduleInput    `json:"schedule"`
	Origin             *string           `json:"origin"`
	DiscriminateByTags []string          `json:"discriminateByTags"`
}

func (in messageInput) validate(getOrCreate bool) error {
	if err := validID("userId", in.UserID); err != nil {
		return err
	}
	if err := validID("conversationId", in.ConversationID); err != nil {
		return err
	}
	if in.Type == "" || len(in.Type) > 200 {
		return apperr.Invalid("type is required (at most 200 characters)")
	}
	if in.Payload == nil {
		return apperr.Invalid("payload is required")
	}
	if err := validatePayload(in.Type, in.Payload); err != nil {
		return err
	}
	if in.Tags == nil {
		return apperr.Invalid("tags is required (use {} for none)")
	}
	if err := validateTags("tags", in.Tags); err != nil {
		return err
	}
	if in.Origin != nil && *in.Origin != "synthetic" {
		return apperr.Invalid("origin must be \"synthetic\"")
	}
	if !getOrCreate && in.DiscriminateByTags != nil {
		return apperr.Invalid("unknown field \"discriminateByTags\"")
	}
	for _, k := range in.DiscriminateByTags {
		if _, ok := setTags(in.Tags)[k]; !ok {
			return apperr.Invalid("discriminateByTags names %q, which is not among the given tags", k)
		}
	}
	return nil
}

// message builds the message: incoming when an integration sends it (a
// user spoke on its channel), outgoing when the bot does.
func (in messageInput) message(p auth.Principal, at time.Time) Message {
	m := Message{
		ID: id.NewAt(id.Message, at), CreatedAt: clock.Format(at), UpdatedAt: clock.Format(at),
		Type: in.Type, Payload: in.Payload, Direction: Outgoing,
		UserID: in.UserID, ConversationID: in.ConversationID, Tags: setTags(in.Tags),
	}
	if p.IntegrationID != "" {
		m.Direction = Incoming
	}
	if in.Origin != nil {
		m.Origin = *in.Origin
	}
	return m
}

func (a *API) createMessage(r *http.Request) (httpapi.Response, error) {
	m, err := a.writeMessage(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"message": m}), nil
}

func (a *API) getOrCreateMessage(r *http.Request) (httpapi.Response, error) {
	m, err := a.writeMessage(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"message": m}), nil
}

// writeMessage creates (or gets) a message: one TransactWriteItems, plus a
// SendMessage to the delivery queue when it is incoming and the bot has a
// url, or outgoing and the bot has an integration enabled. A scheduled message is checked now (its conversation and user must
// exist) and written by the delivery worker at its time.
func (a *API) writeMessage(r *http.Request, getOrCreate bool) (Message, error) {
	var in messageInput
	if err := decodeValid(r, &in, func() error { return in.validate(getOrCreate) }); err != nil {
		return Message{}, err
	}
	ctx, p, now := r.Context(), auth.FromContext(r.Context()), a.clock.Now()
	if in.Schedule != nil {
		due, err := in.Schedule.due(now)
		if err != nil {
			return Message{}, err
		}
		m := in.message(p, due)
		if raw, _ := json.Marshal(m); len(raw) > 200<<10 {
			return Message{}, apperr.New(apperr.PayloadTooLarge, "a scheduled message must be at most 200 KiB")
		}
		if err := a.store.CheckReferences(ctx, p.BotID, m.ConversationID, m.UserID); err != nil {
			return Message{}, err
		}
		return m, a.dispatch.send(ctx, job{Kind: "message", Bot: p.BotID, Due: m.CreatedAt, Message: &m}, now, 0)
	}
	m := in.message(p, now)
	var err error
	created := true
	if discriminator := a.discriminator(in.Tags, in.DiscriminateByTags); getOrCreate && len(discriminator) > 0 {
		m, created, err = a.store.GetOrCreateMessage(ctx, p.BotID, discriminator, m, now)
	} else {
		err = a.store.CreateMessage(ctx, p.BotID, m, now)
	}
	if err != nil {
		return Message{}, err
	}
	// An incoming message goes to the bot's server; an outgoing one to the
	// integration of its conversation (the worker reads which).
	rec := p.Bot()
	if created && (m.Direction == Incoming && rec.URL != "" || m.Direction == Outgoing && hasEnabled(rec)) {
		if err := a.dispatch.send(ctx, job{Kind: "message", Bot: p.BotID, Message: &m, Stored: true}, now, 0); err != nil {
			return Message{}, err
		}
	}
	return m, nil
}

// hasEnabled reports whether any integration is enabled on the bot.
func hasEnabled(rec auth.BotRecord) bool {
	for _, in := range rec.Integrations {
		if in.Enabled {
			return true
		}
	}
	return false
}

func (a *API) discriminator(tags map[string]string, by []string) map[string]string {
	if by == nil {
		return setTags(tags)
	}
	out := map[string]string{}
	for _, k := range by {
		out[k] = tags[k]
	}
	return out
}

func (a *API) getMessage(r *http.Request) (httpapi.Response, error) {
	m, err := a.store.Message(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"message": m}), nil
}

func (a *API) updateMessage(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Tags    map[string]string `json:"tags"`
		Payload map[string]any    `json:"payload"`
	}
	if err := decodeValid(r, &in, func() error {
		if in.Tags == nil {
			return apperr.Invalid("tags is required")
		}
		return validateTags("tags", in.Tags)
	}); err != nil {
		return httpapi.Response{}, err
	}
	m, err := a.store.UpdateMessage(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"), in.Tags, in.Payload, clock.Format(a.clock.Now()), validatePayload)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"message": m}), nil
}

func (a *API) deleteMessage(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.DeleteMessage(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) listMessages(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	f := MessageFilter{ConversationID: q.String("conversationId"), Tags: q.Map("tags")}
	var err error
	if f.After, f.Before, err = dateRange(q); err != nil {
		return httpapi.Response{}, err
	}
	msgs, next, err := a.store.ListMessages(r.Context(), auth.FromContext(r.Context()).BotID, f, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("messages", msgs, next)), nil
}
