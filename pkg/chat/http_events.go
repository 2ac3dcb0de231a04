package chat

import (
	"encoding/json"
	"github.com/parley-dev/parley/pkg/usage"
	"net/http"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// maxEventPayload keeps an event (which travels through SQS when
// scheduled) well within a queue message.
const maxEventPayload = 200 << 10

func (a *API) createEvent(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Type           string         `json:"type"`
		Payload        map[string]any `json:"payload"`
		Schedule       *scheduleInput `json:"schedule"`
		ConversationID string         `json:"conversationId"`
		UserID         string         `json:"userId"`
		WorkflowID     string         `json:"workflowId"`
		MessageID      string         `json:"messageId"`
	}
	if err := decodeValid(r, &in, func() error {
		if in.Type == "" || len(in.Type) > 200 {
			return apperr.Invalid("type is required (at most 200 characters)")
		}
		if in.Payload == nil {
			return apperr.Invalid("payload is required")
		}
		if raw, _ := json.Marshal(in.Payload); len(raw) > maxEventPayload {
			return apperr.New(apperr.PayloadTooLarge, "event payload is %d bytes; the limit is %d", len(raw), maxEventPayload)
		}
		for field, v := range map[string]string{"conversationId": in.ConversationID, "userId": in.UserID, "workflowId": in.WorkflowID, "messageId": in.MessageID} {
			if v != "" {
				if err := validID(field, v); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return httpapi.Response{}, err
	}
	ctx, p, now := r.Context(), auth.FromContext(r.Context()), a.clock.Now()
	e := Event{
		ID: id.NewAt(id.Event, now), CreatedAt: clock.Format(now), Type: in.Type, Payload: in.Payload,
		ConversationID: in.ConversationID, UserID: in.UserID, MessageID: in.MessageID, Status: StatusIgnored,
	}
	var due string
	switch {
	case in.Schedule != nil:
		t, err := in.Schedule.due(now)
		if err != nil {
			return httpapi.Response{}, err
		}
		e.Status, due = StatusScheduled, clock.Format(t)
	case p.Bot().URL != "":
		e.Status = StatusPending
	}
	mctx := ctx
	if p.IntegrationID != "" {
		mctx = usage.WithIncoming(ctx) // metered as an incoming event
	}
	if err := a.store.CreateEvent(mctx, p.BotID, e, in.WorkflowID, now); err != nil {
		return httpapi.Response{}, err
	}
	if e.Status != StatusIgnored {
		ref := chatdata.EventRefOf(p.BotID, e)
		if err := a.dispatch.send(ctx, job{Kind: "event", Bot: p.BotID, Due: due, PK: ref.PK, SK: ref.SK}, now, 0); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.Created(map[string]any{"event": e}), nil
}

func (a *API) getEvent(r *http.Request) (httpapi.Response, error) {
	e, err := a.store.Event(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"event": e}), nil
}

func (a *API) cancelScheduledEvent(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.CancelScheduledEvent(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) listEvents(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	f := EventFilter{
		Type: q.String("type"), ConversationID: q.String("conversationId"), UserID: q.String("userId"),
		MessageID: q.String("messageId"), WorkflowID: q.String("workflowId"),
	}
	var err error
	if f.Status, err = q.Enum("status", "", StatusPending, StatusIgnored, StatusProcessed, StatusFailed, StatusScheduled, StatusCanceled); err != nil {
		return httpapi.Response{}, err
	}
	events, next, err := a.store.ListEvents(r.Context(), auth.FromContext(r.Context()).BotID, f, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("events", events, next)), nil
}

// --- states ---

// stateRef reads and checks the state named by the path. A bot state's id
// is the bot's own; another bot's id reads as a missing state.
func stateRef(r *http.Request) (StateRef, error) {
	ref := StateRef{Bot: auth.FromContext(r.Context()).BotID, Type: r.PathValue("type"), ID: r.PathValue("id"), Name: r.PathValue("name")}
	known := false
	for _, t := range StateTypes {
		known = known || t == ref.Type
	}
	switch {
	case !known:
		return ref, apperr.Invalid("state type must be one of conversation, user, bot, task, integration, workflow")
	case ref.Name == "" || len(ref.Name) > 200:
		return ref, apperr.Invalid("state name must be 1 to 200 characters")
	case len(ref.ID) == 0 || len(ref.ID) > 200:
		return ref, apperr.Invalid("state id must be 1 to 200 characters")
	case ref.Type == "bot" && ref.ID != ref.Bot:
		return ref, apperr.NotFound("state", ref.Name)
	}
	return ref, nil
}

// stateOwner refuses to create a conversation's state unless the
// conversation is the bot's (one GetItem): a state lives in its
// conversation's partition, which is erased with it, so a state of a
// missing or foreign conversation would be 404 to read and never erased.
func (a *API) stateOwner(r *http.Request, ref StateRef) error {
	if ref.Type != "conversation" {
		return nil
	}
	_, err := a.store.Conversation(r.Context(), ref.Bot, ref.ID)
	return err
}

// expiryMs reads an expiry in milliseconds (null or absent: none).
func expiryMs(v *float64) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 1 || *v > 2592000000 {
		return 0, apperr.Invalid("expiry must be from 1 to 2592000000 milliseconds")
	}
	return int64(*v), nil
}

func stateAnswer(st State, err error, withMeta bool) (httpapi.Response, error) {
	if err != nil {
		return httpapi.Response{}, err
	}
	if withMeta {
		return httpapi.OK(map[string]any{"state": st, "meta": map[string]any{"cached": false}}), nil
	}
	return httpapi.OK(map[string]any{"state": st}), nil
}

func (a *API) getState(r *http.Request) (httpapi.Response, error) {
	ref, err := stateRef(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	st, err := a.store.State(r.Context(), ref, a.clock.Now())
	return stateAnswer(st, err, true)
}

type stateInput struct {
	Payload json.RawMessage `json:"payload"`
	Expiry  *float64        `json:"expiry"`
}

// payload decodes the state payload: an object within the size limit, or
// (where allowed) null.
func (in stateInput) payload(nullable bool) (map[string]any, error) {
	if len(in.Payload) == 0 {
		return nil, apperr.Invalid("payload is required")
	}
	if len(in.Payload) > MaxStatePayload {
		return nil, apperr.New(apperr.PayloadTooLarge, "state payload is %d bytes; the limit is %d", len(in.Payload), MaxStatePayload)
	}
	var p map[string]any
	if err := json.Unmarshal(in.Payload, &p); err != nil {
		return nil, apperr.Invalid("payload must be an object")
	}
	if p == nil && !nullable {
		return nil, apperr.Invalid("payload must be an object")
	}
	return p, nil
}

func (a *API) setState(r *http.Request) (httpapi.Response, error) {
	ref, err := stateRef(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var in stateInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	payload, err := in.payload(true)
	if err != nil {
		return httpapi.Response{}, err
	}
	exp, err := expiryMs(in.Expiry)
	if err != nil {
		return httpapi.Response{}, err
	}
	if payload == nil { // a null payload removes the state
		st, err := a.store.DeleteState(r.Context(), ref, a.clock.Now())
		st.Payload = map[string]any{}
		return stateAnswer(st, err, false)
	}
	if err := a.stateOwner(r, ref); err != nil {
		return httpapi.Response{}, err
	}
	st, err := a.store.SetState(r.Context(), ref, payload, exp, a.clock.Now())
	return stateAnswer(st, err, false)
}

func (a *API) getOrSetState(r *http.Request) (httpapi.Response, error) {
	ref, err := stateRef(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var in stateInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	payload, err := in.payload(false)
	if err != nil {
		return httpapi.Response{}, err
	}
	exp, err := expiryMs(in.Expiry)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := a.stateOwner(r, ref); err != nil {
		return httpapi.Response{}, err
	}
	st, err := a.store.GetOrSetState(r.Context(), ref, payload, exp, a.clock.Now())
	return stateAnswer(st, err, true)
}

func (a *API) patchState(r *http.Request) (httpapi.Response, error) {
	ref, err := stateRef(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var in struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	payload, err := stateInput{Payload: in.Payload}.payload(false)
	if err != nil {
		return httpapi.Response{}, err
	}
	st, err := a.store.PatchState(r.Context(), ref, payload, a.clock.Now())
	return stateAnswer(st, err, false)
}

func (a *API) setStateExpiry(r *http.Request) (httpapi.Response, error) {
	ref, err := stateRef(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var in struct {
		Expiry *float64 `json:"expiry"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	exp, err := expiryMs(in.Expiry)
	if err != nil {
		return httpapi.Response{}, err
	}
	st, err := a.store.SetStateExpiry(r.Context(), ref, exp, a.clock.Now())
	return stateAnswer(st, err, false)
}
