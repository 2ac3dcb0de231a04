package admin

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// integrationInput is the create and update body. Maps are merged key by
// key on update; a null value removes the key.
type integrationInput struct {
	Name           *string                              `json:"name"`
	Version        *string                              `json:"version"`
	Dev            *bool                                `json:"dev"`
	Configuration  *IntegrationConfiguration            `json:"configuration"`
	Configurations map[string]*IntegrationConfiguration `json:"configurations"`
	States         map[string]*IntegrationState         `json:"states"`
	Events         map[string]*EventDefinition          `json:"events"`
	Actions        map[string]*ActionDefinition         `json:"actions"`
	Entities       map[string]*Entity                   `json:"entities"`
	Attributes     map[string]string                    `json:"attributes"`
	Identifier     *Identifier                          `json:"identifier"`
	Channels       map[string]*Channel                  `json:"channels"`
	User           *struct {
		Creation *Creation                 `json:"creation"`
		Tags     map[string]*TagDefinition `json:"tags"`
	} `json:"user"`
	Interfaces       map[string]json.RawMessage `json:"interfaces"`
	ExtraOperations  map[string]json.RawMessage `json:"extraOperations"`
	SDKVersion       *string                    `json:"sdkVersion"`
	MaxExecutionTime *int                       `json:"maxExecutionTime"`
	Secrets          map[string]*string         `json:"secrets"`
	Code             *string                    `json:"code"`
	URL              Opt[string]                `json:"url"`
	Icon             *string                    `json:"icon"`
	Readme           *string                    `json:"readme"`
	Title            *string                    `json:"title"`
	Description      *string                    `json:"description"`
	Public           *bool                      `json:"public"`
	Visibility       *string                    `json:"visibility"`
	Layers           []string                   `json:"layers"`
}

// maxInlineDoc bounds an integration's icon and readme.
const maxInlineDoc = 64 << 10

func (in integrationInput) validate(create bool) error {
	if create {
		if in.Name == nil || !integrationName.MatchString(*in.Name) || len(*in.Name) > 200 {
			return apperr.Invalid("name is required: lowercase letters, digits, - and _ (optionally <handle>/<name>), at most 200 characters")
		}
		if in.Version == nil || !validSemver(*in.Version) {
			return apperr.Invalid("version is required and must be a semantic version such as 1.2.3")
		}
	} else if in.Name != nil || in.Version != nil || in.Dev != nil {
		return apperr.Invalid("name, version and dev can't be changed: create a new version")
	}
	if len(in.Interfaces) > 0 {
		return apperr.New(apperr.ReferenceNotFound, "interfaces are not supported by this server")
	}
	if in.Title != nil && (len(*in.Title) < 1 || len(*in.Title) > 64) {
		return apperr.Invalid("title must be 1 to 64 characters")
	}
	if in.Description != nil && len(*in.Description) > 256 {
		return apperr.Invalid("description must be at most 256 characters")
	}
	if in.Visibility != nil && *in.Visibility != "public" && *in.Visibility != "private" && *in.Visibility != "unlisted" {
		return apperr.Invalid("visibility must be public, private or unlisted")
	}
	if (in.Icon != nil && len(*in.Icon) > maxInlineDoc) || (in.Readme != nil && len(*in.Readme) > maxInlineDoc) {
		return apperr.New(apperr.PayloadTooLarge, "icon and readme must be at most %d bytes each", maxInlineDoc)
	}
	if in.URL.Val != nil && *in.URL.Val != "" {
		u, err := url.Parse(*in.URL.Val)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return apperr.Invalid("url must be an absolute http(s) URL")
		}
	}
	if in.MaxExecutionTime != nil && (*in.MaxExecutionTime < 1 || *in.MaxExecutionTime > 900) {
		return apperr.Invalid("maxExecutionTime must be 1 to 900 seconds")
	}
	for k, s := range in.States {
		if s != nil && (s.Schema == nil || (s.Type != "conversation" && s.Type != "user" && s.Type != "integration")) {
			return apperr.Invalid("states.%s needs a schema and a type among conversation, user, integration", k)
		}
	}
	for k, e := range in.Events {
		if e != nil && e.Schema == nil {
			return apperr.Invalid("events.%s.schema is required", k)
		}
	}
	for k, a := range in.Actions {
		if a != nil && (a.Input.Schema == nil || a.Output.Schema == nil) {
			return apperr.Invalid("actions.%s needs input.schema and output.schema", k)
		}
	}
	for k, e := range in.Entities {
		if e != nil && e.Schema == nil {
			return apperr.Invalid("entities.%s.schema is required", k)
		}
	}
	for k, c := range in.Channels {
		if c != nil && c.Messages == nil {
			return apperr.Invalid("channels.%s.messages is required", k)
		}
	}
	for k, v := range in.Secrets {
		if v != nil && len(*v) > 20000 {
			return apperr.Invalid("secrets.%s must be at most 20000 characters", k)
		}
	}
	return nil
}

func dataURL(ctype, body string) string {
	return "data:" + ctype + ";base64," + base64.StdEncoding.EncodeToString([]byte(body))
}

// apply sets the body's values on in; secrets are sealed.
func (a *API) applyIntegration(body integrationInput, in *Integration, now time.Time) error {
	if body.Configuration != nil {
		in.Configuration = *body.Configuration
	}
	in.Configurations = mergeMap(in.Configurations, body.Configurations)
	in.States = mergeMap(in.States, body.States)
	in.Events = mergeMap(in.Events, body.Events)
	in.Actions = mergeMap(in.Actions, body.Actions)
	in.Entities = mergeMap(in.Entities, body.Entities)
	in.Channels = mergeMap(in.Channels, body.Channels)
	if body.Attributes != nil {
		in.Attributes = body.Attributes
	}
	if body.Identifier != nil {
		in.Identifier = *body.Identifier
	}
	if body.User != nil {
		if body.User.Creation != nil {
			in.User.Creation = *body.User.Creation
		}
		in.User.Tags = mergeMap(in.User.Tags, body.User.Tags)
	}
	if body.MaxExecutionTime != nil {
		in.MaxExecution = body.MaxExecutionTime
	}
	if body.URL.Set {
		in.URL = ""
		if body.URL.Val != nil {
			in.URL = *body.URL.Val
		}
	}
	if body.Icon != nil {
		in.IconURL = dataURL("image/svg+xml", *body.Icon)
	}
	if body.Readme != nil {
		in.ReadmeURL = dataURL("text/markdown", *body.Readme)
	}
	if body.Title != nil {
		in.Title = *body.Title
	}
	if body.Description != nil {
		in.Description = *body.Description
	}
	if body.Visibility != nil {
		in.Visibility = *body.Visibility
		in.Public = in.Visibility == "public"
	}
	if body.Public != nil {
		in.Public = *body.Public
		if in.Public {
			in.Visibility = "public"
		} else if in.Visibility == "public" {
			in.Visibility = "private"
		}
	}
	if in.Dev && in.Public {
		return apperr.Invalid("a dev integration can't be public")
	}
	if in.SealedSecret == nil {
		in.SealedSecret = map[string]string{}
	}
	for k, v := range body.Secrets {
		if v == nil {
			delete(in.SealedSecret, k)
			continue
		}
		sealed, err := a.secrets.Seal(*v, in.ID+"/"+k)
		if err != nil {
			return err
		}
		in.SealedSecret[k] = sealed
	}
	in.UpdatedAt = clock.Format(now)
	return nil
}

// owner is the hub's view of the integration's workspace, read when the
// integration is (or becomes) public.
func (a *API) owner(r *http.Request, in Integration, w *Workspace) (*OwnerWorkspace, error) {
	if !in.Public {
		return nil, nil
	}
	if w == nil {
		ws, _, err := a.store.WorkspaceOfMember(r.Context(), in.WorkspaceID, auth.FromContext(r.Context()).AccountID)
		if err != nil {
			return nil, err
		}
		w = &ws
	}
	return &OwnerWorkspace{ID: w.ID, Name: w.Name, Handle: nullable(w.Handle)}, nil
}

func (a *API) createIntegration(r *http.Request) (httpapi.Response, error) {
	var body integrationInput
	if err := httpapi.Decode(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	if err := body.validate(true); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.reachable(body.URL.Val); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	now := a.clock.Now()
	in := Integration{ID: id.NewAt("intver", now), CreatedAt: clock.Format(now), Name: *body.Name, Version: *body.Version,
		Title: *body.Name, Visibility: "private", VerificationStatus: "unapproved", LifecycleStatus: "published", WorkspaceID: p.WorkspaceID}
	if body.Dev != nil {
		in.Dev = *body.Dev
	}
	if err := a.applyIntegration(body, &in, now); err != nil {
		return httpapi.Response{}, err
	}
	owner, err := a.owner(r, in, nil)
	if err != nil {
		return httpapi.Response{}, err
	}
	in.OwnerWorkspace = owner
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.CreateIntegration, in.ID, in.Name+"@"+in.Version, now)
	if err := a.store.CreateIntegration(r.Context(), in, body.Code, owner, rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"integration": in.Answer()}), nil
}

func (a *API) updateIntegration(r *http.Request) (httpapi.Response, error) {
	var body integrationInput
	if err := httpapi.Decode(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	if err := body.validate(false); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.reachable(body.URL.Val); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	intID := r.PathValue("id")
	var err error
	for attempt := 0; attempt < updateRetries; attempt++ {
		in, w, err := a.store.IntegrationOfWorkspace(r.Context(), p.WorkspaceID, intID)
		if err != nil {
			return httpapi.Response{}, err
		}
		if in.Public && !in.Dev {
			return httpapi.Response{}, apperr.New(apperr.BreakingChanges, "integration %s@%s is public: publish a new version instead of changing it", in.Name, in.Version)
		}
		prev := in.UpdatedAt
		now := a.clock.Now()
		if clock.Format(now) <= prev {
			now = now.Add(time.Millisecond)
		}
		if err := a.applyIntegration(body, &in, now); err != nil {
			return httpapi.Response{}, err
		}
		owner, err := a.owner(r, in, &w)
		if err != nil {
			return httpapi.Response{}, err
		}
		in.OwnerWorkspace = owner
		rec := audit.New(p.WorkspaceID, p.AccountID, audit.UpdateIntegration, in.ID, in.Name+"@"+in.Version, now)
		err = a.store.ReplaceIntegration(r.Context(), in, body.Code, prev, owner, rec)
		if err == nil {
			return httpapi.OK(map[string]any{"integration": in.Answer()}), nil
		}
		if !apperr.Is(err, apperr.ResourceLockedConflict) {
			return httpapi.Response{}, err
		}
	}
	return httpapi.Response{}, err
}

func (a *API) getIntegration(r *http.Request) (httpapi.Response, error) {
	in, err := a.store.Integration(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"), true)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"integration": in.Answer()}), nil
}

// The by-name routes share the {id} segment with the by-id routes (API
// Gateway wants one variable name per position): there it is the name.
func (a *API) getIntegrationByName(r *http.Request) (httpapi.Response, error) {
	in, err := a.store.IntegrationByName(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"), r.PathValue("version"), true)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"integration": in.Answer()}), nil
}

func integrationFilter(q httpapi.Query) (IntegrationFilter, int, error) {
	dev, err := q.Bool("dev")
	if err != nil {
		return IntegrationFilter{}, 0, err
	}
	vis, err := q.Enum("visibility", "", "public", "private")
	if err != nil {
		return IntegrationFilter{}, 0, err
	}
	limit, err := q.Int("limit", ds.DefaultPageSize, 1, 100)
	if err != nil {
		return IntegrationFilter{}, 0, err
	}
	if _, err := q.Enum("direction", "desc", "asc", "desc"); err != nil {
		return IntegrationFilter{}, 0, err
	}
	return IntegrationFilter{Name: q.String("name"), Version: q.String("version"), Visibility: vis, Dev: dev}, limit, nil
}

func (a *API) listIntegrations(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	f, limit, err := integrationFilter(q)
	if err != nil {
		return httpapi.Response{}, err
	}
	list, next, err := a.store.ListIntegrations(r.Context(), auth.FromContext(r.Context()).WorkspaceID, f, limit, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("integrations", list, next)), nil
}

func (a *API) deleteIntegration(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	in, err := a.store.Integration(r.Context(), p.WorkspaceID, r.PathValue("id"), false)
	if err != nil {
		return httpapi.Response{}, err
	}
	rec := audit.New(p.WorkspaceID, p.AccountID, audit.DeleteIntegration, in.ID, in.Name+"@"+in.Version, a.clock.Now())
	if err := a.store.DeleteIntegration(r.Context(), in, rec); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) getIntegrationLogs(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	f, err := logFilter(q, a.clock.Now())
	if err != nil {
		return httpapi.Response{}, err
	}
	in, err := a.store.Integration(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id"), false)
	if err != nil {
		return httpapi.Response{}, err
	}
	logs, next, err := a.store.Logs(r.Context(), "INT", in.ID, f, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(logsAnswer(logs, next)), nil
}

// --- hub: public integrations, for any signed-in account ---

func (a *API) listPublicIntegrations(r *http.Request) (httpapi.Response, error) {
	q := httpapi.QueryOf(r)
	f, limit, err := integrationFilter(q)
	if err != nil {
		return httpapi.Response{}, err
	}
	f.Dev, f.Visibility = nil, ""
	list, next, err := a.store.ListIntegrations(r.Context(), "", f, limit, q.String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("integrations", list, next)), nil
}

func (a *API) getPublicIntegrationByID(r *http.Request) (httpapi.Response, error) {
	in, err := a.store.Integration(r.Context(), "", r.PathValue("id"), true)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"integration": in.HubAnswer()}), nil
}

func (a *API) getPublicIntegration(r *http.Request) (httpapi.Response, error) {
	in, err := a.store.IntegrationByName(r.Context(), "", r.PathValue("id"), r.PathValue("version"), true)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"integration": in.HubAnswer()}), nil
}
