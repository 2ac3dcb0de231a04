package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// API serves the chat routes.
type API struct {
	store    Data
	auth     *auth.Authenticator
	clock    clock.Clock
	dispatch *Dispatcher
	hook     Webhook
	dir      Bots
	installs Installations
	report   Reporter
	eraser   Eraser
	log      *slog.Logger
}

// Installations changes what an integration keeps in its installation on a
// bot (configureIntegration).
type Installations interface {
	ConfigureInstallation(ctx context.Context, bot, alias string, identifier *string, at time.Time) error
}

// Outbound is how the chat API reaches beyond its table: deliveries and
// scheduled work go to the delivery queue through Dispatch; actions and
// webhooks are sent by the API itself through Hook, to the servers the
// Directory names; Installations takes what integrations configure;
// Report records failures where the bot's owner reads them; erasures are
// handed to the lifecycle through Eraser. Log gets what fails after an
// answer is decided (nil: slog.Default()).
type Outbound struct {
	Dispatch      *Dispatcher
	Hook          Webhook
	Directory     Bots
	Installations Installations
	Report        Reporter
	Eraser        Eraser
	Log           *slog.Logger
}

// NewAPI returns the chat API.
func NewAPI(store Data, a *auth.Authenticator, c clock.Clock, out Outbound) *API {
	log := out.Log
	if log == nil {
		log = slog.Default()
	}
	return &API{store: store, auth: a, clock: c, dispatch: out.Dispatch, hook: out.Hook, dir: out.Directory,
		installs: out.Installations, report: out.Report, eraser: out.Eraser, log: log}
}

// Register adds the chat routes to rt.
func (a *API) Register(rt *httpapi.Router) {
	read := a.auth.Require(auth.Bot, auth.ChatRead)
	write := a.auth.Require(auth.Bot, auth.ChatWrite)
	rt.Handle("POST", "/v1/chat/users", a.createUser, write)
	rt.Handle("GET", "/v1/chat/users", a.listUsers, read)
	rt.Handle("POST", "/v1/chat/users/get-or-create", a.getOrCreateUser, write)
	rt.Handle("GET", "/v1/chat/users/{id}", a.getUser, read)
	rt.Handle("PUT", "/v1/chat/users/{id}", a.updateUser, write)
	rt.Handle("DELETE", "/v1/chat/users/{id}", a.deleteUser, write)

	rt.Handle("POST", "/v1/chat/conversations", a.createConversation, write)
	rt.Handle("GET", "/v1/chat/conversations", a.listConversations, read)
	rt.Handle("POST", "/v1/chat/conversations/get-or-create", a.getOrCreateConversation, write)
	rt.Handle("GET", "/v1/chat/conversations/{id}", a.getConversation, read)
	rt.Handle("PUT", "/v1/chat/conversations/{id}", a.updateConversation, write)
	rt.Handle("DELETE", "/v1/chat/conversations/{id}", a.deleteConversation, write)
	rt.Handle("GET", "/v1/chat/conversations/{id}/participants", a.listParticipants, read)
	rt.Handle("POST", "/v1/chat/conversations/{id}/participants", a.addParticipant, write)
	rt.Handle("GET", "/v1/chat/conversations/{id}/participants/{userId}", a.getParticipant, read)
	rt.Handle("DELETE", "/v1/chat/conversations/{id}/participants/{userId}", a.removeParticipant, write)

	rt.Handle("POST", "/v1/chat/messages", a.createMessage, write)
	rt.Handle("GET", "/v1/chat/messages", a.listMessages, read)
	rt.Handle("POST", "/v1/chat/messages/get-or-create", a.getOrCreateMessage, write)
	rt.Handle("GET", "/v1/chat/messages/{id}", a.getMessage, read)
	rt.Handle("PUT", "/v1/chat/messages/{id}", a.updateMessage, write)
	rt.Handle("DELETE", "/v1/chat/messages/{id}", a.deleteMessage, write)

	rt.Handle("POST", "/v1/chat/events", a.createEvent, write)
	rt.Handle("GET", "/v1/chat/events", a.listEvents, read)
	rt.Handle("GET", "/v1/chat/events/{id}", a.getEvent, read)
	rt.Handle("DELETE", "/v1/chat/events/scheduled/{id}", a.cancelScheduledEvent, write)

	const state = "/v1/chat/states/{type}/{id}/{name}"
	rt.Handle("GET", state, a.getState, read)
	rt.Handle("POST", state, a.setState, write)
	rt.Handle("PATCH", state, a.patchState, write)
	rt.Handle("POST", state+"/get-or-set", a.getOrSetState, write)
	rt.Handle("POST", state+"/expiry", a.setStateExpiry, write)

	rt.Handle("POST", "/v1/chat/actions", a.callAction, write)
	rt.Handle("POST", "/v1/chat/integrations/configure", a.configureIntegration, write)

	// Integration webhooks are public, as on Botpress: whoever holds the
	// url may call it; the integration authenticates what it receives.
	for _, m := range WebhookMethods {
		rt.Handle(m, "/v1/webhooks/{id}", a.webhook, httpapi.Public)
		rt.Handle(m, "/v1/webhooks/{id}/{path...}", a.webhook, httpapi.Public)
	}
}

// userInput is the body of createUser and getOrCreateUser. The official
// client may also send attributes and properties, which Parley accepts and
// does not keep: the API definition's User has neither.
type userInput struct {
	Tags               map[string]string `json:"tags"`
	IntegrationName    *string           `json:"integrationName"`
	Name               *string           `json:"name"`
	PictureURL         *string           `json:"pictureUrl"`
	DiscriminateByTags []string          `json:"discriminateByTags"`
	Attributes         map[string]any    `json:"attributes"`
	Properties         map[string]any    `json:"properties"`
}

func (in userInput) validate(getOrCreate bool) error {
	if in.Tags == nil {
		return apperr.Invalid("tags is required (use {} for none)")
	}
	if err := validateTags("tags", in.Tags); err != nil {
		return err
	}
	if in.IntegrationName != nil && len(*in.IntegrationName) > 200 {
		return apperr.Invalid("integrationName must be at most 200 characters")
	}
	if in.Name != nil && len(*in.Name) > 200 {
		return apperr.Invalid("name must be at most 200 characters")
	}
	if in.PictureURL != nil && len(*in.PictureURL) > 40000 {
		return apperr.Invalid("pictureUrl must be at most 40000 characters")
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

func (in userInput) user(now time.Time) User {
	u := User{ID: id.NewAt(id.User, now), CreatedAt: clock.Format(now), UpdatedAt: clock.Format(now), Tags: setTags(in.Tags)}
	if in.Name != nil {
		u.Name = *in.Name
	}
	if in.PictureURL != nil {
		u.PictureURL = *in.PictureURL
	}
	return u
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *API) createUser(r *http.Request) (httpapi.Response, error) {
	var in userInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if err := in.validate(false); err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	u := in.user(now)
	if err := a.store.CreateUser(r.Context(), auth.FromContext(r.Context()).BotID, u, deref(in.IntegrationName), now); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"user": u}), nil
}

func (a *API) getOrCreateUser(r *http.Request) (httpapi.Response, error) {
	var in userInput
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if err := in.validate(true); err != nil {
		return httpapi.Response{}, err
	}
	discriminator := setTags(in.Tags)
	if in.DiscriminateByTags != nil {
		discriminator = map[string]string{}
		for _, k := range in.DiscriminateByTags {
			discriminator[k] = in.Tags[k]
		}
	}
	if len(discriminator) == 0 {
		return httpapi.Response{}, apperr.Invalid("getOrCreateUser needs at least one non-empty tag to match users on")
	}
	now := a.clock.Now()
	u, _, err := a.store.GetOrCreateUser(r.Context(), auth.FromContext(r.Context()).BotID, discriminator, in.user(now), deref(in.IntegrationName), now)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"user": u}), nil
}

func (a *API) getUser(r *http.Request) (httpapi.Response, error) {
	u, err := a.store.User(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"user": u}), nil
}

func (a *API) updateUser(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Tags       map[string]string `json:"tags"`
		Name       nullable          `json:"name"`
		PictureURL nullable          `json:"pictureUrl"`
		Attributes map[string]any    `json:"attributes"`
		Properties map[string]any    `json:"properties"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if err := validateTags("tags", in.Tags); err != nil {
		return httpapi.Response{}, err
	}
	if len(in.Name.value) > 200 {
		return httpapi.Response{}, apperr.Invalid("name must be at most 200 characters")
	}
	if len(in.PictureURL.value) > 40000 {
		return httpapi.Response{}, apperr.Invalid("pictureUrl must be at most 40000 characters")
	}
	now := a.clock.Now()
	u, err := a.store.UpdateUser(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id"), UserUpdate{
		Tags: in.Tags, Name: in.Name.ptr(), PictureURL: in.PictureURL.ptr(), At: now, AtString: clock.Format(now),
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"user": u}), nil
}

func (a *API) deleteUser(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.DeleteUser(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("id")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) listUsers(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	bot := auth.FromContext(r.Context()).BotID
	if conv := q.String("conversationId"); conv != "" {
		users, next, err := a.store.ListParticipants(r.Context(), bot, conv, q.String("nextToken"))
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.OK(httpapi.List("users", users, next)), nil
	}
	f := UserFilter{Tags: q.Map("tags")}
	var err error
	if f.SortField, err = q.Enum("sortField", "createdAt", "createdAt", "updatedAt"); err != nil {
		return httpapi.Response{}, err
	}
	if f.SortDirection, err = q.Enum("sortDirection", "desc", "asc", "desc"); err != nil {
		return httpapi.Response{}, err
	}
	if f.RangeField, err = q.Enum("rangeField", "createdAt", "createdAt", "updatedAt"); err != nil {
		return httpapi.Response{}, err
	}
	if f.PageSize, err = q.Int("pageSize", 20, 1, 100); err != nil {
		return httpapi.Response{}, err
	}
	for name, dst := range map[string]**time.Time{"afterDate": &f.After, "beforeDate": &f.Before} {
		if s := q.String(name); s != "" {
			t, err := clock.Parse(s)
			if err != nil {
				return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "%s must be an ISO 8601 date-time", name)
			}
			*dst = &t
		}
	}
	users, next, err := a.store.ListUsers(r.Context(), bot, f, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("users", users, next)), nil
}

// nullable is a JSON string field that may be null: null clears the value.
// It is not a pointer, so that encoding/json hands it the null.
type nullable struct {
	set   bool
	value string
}

func (n *nullable) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &n.value)
}

// ptr returns nil when the field was absent, "" when null, else the value.
func (n nullable) ptr() *string {
	if !n.set {
		return nil
	}
	return &n.value
}
