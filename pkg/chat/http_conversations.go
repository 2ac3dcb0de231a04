package chat

import (
	"net/http"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/lifecycle"
)

type conversationInput struct {
	Channel            *string           `json:"channel"`
	Tags               map[string]string `json:"tags"`
	IntegrationName    *string           `json:"integrationName"`
	DiscriminateByTags []string          `json:"discriminateByTags"`
}

func (in conversationInput) validate(getOrCreate bool) error {
	if in.Channel == nil || *in.Channel == "" || len(*in.Channel) > 200 {
		return apperr.Invalid("channel is required (1 to 200 characters)")
	}
	if in.Tags == nil {
		return apperr.Invalid("tags is required (use {} for none)")
	}
	if err := validateTags("tags", in.Tags); err != nil {
		return err
	}
	if in.IntegrationName != nil && len(*in.IntegrationName) > 200 {
		return apperr.Invalid("integrationName must be at most 200 characters")
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

// conversation builds the new conversation. Its integration is the calling
// integration's name, else the (deprecated) integrationName of the body.
func (in conversationInput) conversation(p auth.Principal, now time.Time) Conversation {
	integration := p.IntegrationName
	if integration == "" {
		integration = deref(in.IntegrationName)
	}
	return Conversation{
		ID: id.NewAt(id.Conversation, now), CreatedAt: clock.Format(now), UpdatedAt: clock.Format(now),
		Channel: *in.Channel, Integration: integration, Tags: setTags(in.Tags),
	}
}

func (a *API) createConversation(r *http.Request) (httpapi.Response, error) {
	var in conversationInput
	if err := decodeValid(r, &in, func() error { return in.validate(false) }); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	c := in.conversation(p, a.clock.Now())
	if err := a.store.CreateConversation(r.Context(), p.BotID, c); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"conversation": c}), nil
}

func (a *API) getOrCreateConversation(r *http.Request) (httpapi.Response, error) {
	var in conversationInput
	if err := decodeValid(r, &in, func() error { return in.validate(true) }); err != nil {
		return httpapi.Response{}, err
	}
	discriminator := setTags(in.Tags)
	if in.DiscriminateByTags != nil {
		discriminator = map[string]string{}
		for _, k := range in.DiscriminateByTags {
			discriminator[k] = in.Tags[k]
		}
	}
	p := auth.FromContext(r.Context())
	c, _, err := a.store.GetOrCreateConversation(r.Context(), p.BotID, discriminator, in.conversation(p, a.clock.Now()))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"conversation": c}), nil
}

func (a *API) getConversation(r *http.Request) (httpapi.Response, error) {
	c, err := a.store.Conversation(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"conversation": c}), nil
}

func (a *API) updateConversation(r *http.Request) (httpapi.Response, error) {
	var in struct {
		CurrentTaskID *string           `json:"currentTaskId"`
		Tags          map[string]string `json:"tags"`
	}
	if err := decodeValid(r, &in, func() error {
		if in.CurrentTaskID != nil && *in.CurrentTaskID != "" && !id.Valid(*in.CurrentTaskID) {
			return apperr.Invalid("currentTaskId must be an id of 28 to 36 characters")
		}
		return validateTags("tags", in.Tags)
	}); err != nil {
		return httpapi.Response{}, err
	}
	c, err := a.store.UpdateConversation(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"), ConversationUpdate{
		Tags: in.Tags, CurrentTaskID: in.CurrentTaskID, At: clock.Format(a.clock.Now()),
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"conversation": c}), nil
}

// deleteConversation removes the conversation from every read in one
// transaction that also records the erasure of its partition, then kicks
// the lifecycle worker to erase it. A failed kick is only logged: the
// off-peak window drains the intents left behind.
func (a *API) deleteConversation(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	ctx, bot, conv := r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id")
	// A conversation under legal hold is never deleted, by any path: lift
	// the hold (the legalHold tag) first.
	c, err := a.store.Conversation(ctx, bot, conv)
	if err != nil {
		return httpapi.Response{}, err
	}
	if chatdata.Held(c.Tags) {
		return httpapi.Response{}, apperr.New(apperr.ResourceLockedConflict, "conversation %s is under legal hold (tag %s=%q): remove the hold before deleting it", conv, chatdata.LegalHoldTag, c.Tags[chatdata.LegalHoldTag])
	}
	intent := a.eraser.EraseIntent(bot, lifecycle.KindConversation, conv, a.clock.Now())
	if err := a.store.DeleteConversation(ctx, bot, conv, intent); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.eraser.Kick(ctx, bot, lifecycle.KindConversation, conv); err != nil {
		a.log.WarnContext(ctx, "conversation erasure not kicked; the off-peak window will run it",
			"request_id", httpapi.RequestID(ctx), "bot", bot, "conversation", conv, "error", err)
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) listConversations(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	f := ConversationFilter{Tags: q.Map("tags"), Channel: q.String("channel"), Integration: q.String("integrationName")}
	var err error
	if f.SortField, err = q.Enum("sortField", "createdAt", "createdAt", "updatedAt"); err != nil {
		return httpapi.Response{}, err
	}
	if f.SortDirection, err = q.Enum("sortDirection", "desc", "asc", "desc"); err != nil {
		return httpapi.Response{}, err
	}
	if f.PageSize, err = q.Int("pageSize", 20, 1, 100); err != nil {
		return httpapi.Response{}, err
	}
	if f.After, f.Before, err = dateRange(q); err != nil {
		return httpapi.Response{}, err
	}
	bot := auth.FromContext(r.Context()).BotID
	var convs []Conversation
	var next string
	if ps := q.Strings("participantIds"); len(ps) > 0 {
		if len(ps) > 10 {
			return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "participantIds takes at most 10 ids")
		}
		convs, next, err = a.store.ListConversationsOf(r.Context(), bot, ps, f, q.String("nextToken"))
	} else {
		convs, next, err = a.store.ListConversations(r.Context(), bot, f, q.String("nextToken"))
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("conversations", convs, next)), nil
}

// dateRange reads afterDate and beforeDate.
func dateRange(q httpapi.Query) (after, before *time.Time, err error) {
	for name, dst := range map[string]**time.Time{"afterDate": &after, "beforeDate": &before} {
		if s := q.String(name); s != "" {
			t, perr := clock.Parse(s)
			if perr != nil {
				return nil, nil, apperr.New(apperr.InvalidQuery, "%s must be an ISO 8601 date-time", name)
			}
			*dst = &t
		}
	}
	return after, before, nil
}

// decodeValid decodes the body strictly, then validates it.
func decodeValid(r *http.Request, dst any, validate func() error) error {
	if err := httpapi.Decode(r, dst); err != nil {
		return err
	}
	return validate()
}

// --- participants ---

func (a *API) addParticipant(r *http.Request) (httpapi.Response, error) {
	var in struct {
		UserID string `json:"userId"`
	}
	if err := decodeValid(r, &in, func() error { return validID("userId", in.UserID) }); err != nil {
		return httpapi.Response{}, err
	}
	u, err := a.store.AddParticipant(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"), in.UserID, clock.Format(a.clock.Now()))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"participant": u}), nil
}

func (a *API) getParticipant(r *http.Request) (httpapi.Response, error) {
	u, err := a.store.Participant(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"), r.PathValue("userId"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"participant": u}), nil
}

func (a *API) removeParticipant(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.RemoveParticipant(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"), r.PathValue("userId")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) listParticipants(r *http.Request) (httpapi.Response, error) {
	users, next, err := a.store.ListParticipants(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"), httpapi.QueryOf(r).String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("participants", users, next)), nil
}

// validID checks an id a body refers to against the API's bounds.
func validID(field, v string) error {
	if !id.Valid(v) {
		return apperr.Invalid("%s must be an id of %d to %d characters", field, id.MinLen, id.MaxLen)
	}
	return nil
}
