package deletion

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/awscalls"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/schedule"
)

// MaxConversationIDs bounds a request by ids, as the seed does.
const MaxConversationIDs = 100

// Tokens verifies the `auth: <JWT>` header against the bot's API keys.
type Tokens interface {
	// Verify checks a JWT for a request needing perm and answers the
	// bot's workspace, the member the key acts for and the key.
	Verify(ctx context.Context, token, botID string, perm auth.Permission) (ws, accountID, keyID string, err error)
}

// Records reads what intake needs to know about bots and users.
type Records interface {
	// BotWorkspace returns the bot's workspace ("" when it doesn't exist).
	BotWorkspace(ctx context.Context, botID string) (string, error)
	// Created returns the creation times of the bot and, when it exists, of
	// the user (zero when missing), in one round trip.
	Created(ctx context.Context, botID, userID string) (bot, user time.Time, err error)
}

// Jobs is the job store the API uses.
type Jobs interface {
	Create(ctx context.Context, j Job) error
	Get(ctx context.Context, bot, job string) (Job, error)
	Failures(ctx context.Context, job string) ([]Failure, error)
}

var _ Jobs = (*Store)(nil)

// API serves job intake and status.
type API struct {
	store   Jobs
	tokens  Tokens
	records Records
	auth    *auth.Authenticator
	clock   clock.Clock
	window  schedule.Expression
	control *Control
}

// NewAPI returns the deletion API; window is the off-peak schedule.
func NewAPI(store Jobs, tokens Tokens, records Records, a *auth.Authenticator, c clock.Clock, window schedule.Expression) *API {
	return &API{store: store, tokens: tokens, records: records, auth: a, clock: c, window: window}
}

// Register adds the routes to rt.
func (a *API) Register(rt *httpapi.Router) {
	rt.Handle("POST", "/api/public/bot/{botId}/conversations/delete", a.submit, a.authorize(auth.DeletionWrite))
	rt.Handle("GET", "/api/public/bot/{botId}/conversations/delete/{jobId}", a.status, a.authorize(auth.DeletionRead))
	a.registerControl(rt)
}

// authorize accepts either the Kore.ai `auth` JWT, signed with an API key of
// the bot in the path, or a bearer personal access token of a member whose
// role holds perm in the bot's workspace.
func (a *API) authorize(perm auth.Permission) httpapi.Middleware {
	return httpapi.Describe(httpapi.Requirement{Scope: "bot-path+jwt", Permission: string(perm)}, func(next httpapi.Handler) httpapi.Handler {
		byToken := a.auth.Require(auth.Bot, perm)(next)
		return func(r *http.Request) (httpapi.Response, error) {
			bot := r.PathValue("botId")
			if jwt := r.Header.Get("auth"); jwt != "" {
				ws, acc, key, err := a.tokens.Verify(r.Context(), jwt, bot, perm)
				if c := awscalls.FromContext(r.Context()); c != nil {
					c.MarkAuth()
				}
				if err != nil {
					return httpapi.Response{}, err
				}
				// The job records the key and the member it acts for.
				return next(r.WithContext(withKey(auth.WithPrincipal(r.Context(), auth.Principal{BotID: bot, WorkspaceID: ws, AccountID: acc}), key)))
			}
			// The bot comes from the path, never from a header the client sets.
			r.Header.Set(auth.BotHeader, bot)
			return byToken(r)
		}
	})
}

type keyID struct{}

func withKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyID{}, key)
}

type submitBody struct {
	ConversationIDs []string `json:"conversationIds"`
	CID             *string  `json:"cId"`
	StartDate       *string  `json:"startDate"`
	EndDate         *string  `json:"endDate"`
}

func (a *API) submit(r *http.Request) (httpapi.Response, error) {
	var in submitBody
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	now := a.clock.Now()
	j := Job{
		JobID: "cdj-" + uuid.NewString(), Status: Queued, SubmittedAt: clock.Format(now),
		ScheduledAt: clock.Format(a.window.Next(now)), BotID: p.BotID, WorkspaceID: p.WorkspaceID, SubmittedBy: p.AccountID,
	}
	j.SubmittedWith, _ = r.Context().Value(keyID{}).(string)
	switch {
	case in.ConversationIDs != nil: // takes precedence over dates, as the seed says
		ids, err := conversationIDs(in.ConversationIDs)
		if err != nil {
			return httpapi.Response{}, err
		}
		j.RequestType, j.Request = ByIDs, Request{ConversationIDs: ids}
	case in.CID != nil:
		req, err := a.userRange(r.Context(), p.BotID, in, now)
		if err != nil {
			return httpapi.Response{}, err
		}
		j.RequestType, j.Request = ByUser, req
	default:
		return httpapi.Response{}, apperr.Invalid("send conversationIds (1 to %d ids) or cId with optional startDate and endDate", MaxConversationIDs)
	}
	if err := a.store.Create(r.Context(), j); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]string{
		"status": Queued, "jobId": j.JobID, "submittedAt": j.SubmittedAt,
		"message": "Deletion job queued successfully. It runs in the next off-peak window (" + j.ScheduledAt + "); the bot owner will be notified by email on completion.",
	}), nil
}

func conversationIDs(ids []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i, id := range ids {
		if strings.TrimSpace(id) == "" || len(id) > 100 {
			return nil, apperr.Invalid("conversationIds[%d] must be a conversation id", i)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	switch {
	case len(out) == 0:
		return nil, apperr.Invalid("conversationIds must name at least one conversation")
	case len(out) > MaxConversationIDs:
		return nil, apperr.Invalid("conversationIds names %d conversations; at most %d per request", len(out), MaxConversationIDs)
	}
	return out, nil
}

// userRange validates a cId request and fills in its defaults: startDate is
// the later of the user's and the bot's creation, endDate is today; both
// are inclusive, and the end may not be in the future.
func (a *API) userRange(ctx context.Context, bot string, in submitBody, now time.Time) (Request, error) {
	user := strings.TrimSpace(*in.CID)
	if user == "" || len(user) > 100 {
		return Request{}, apperr.Invalid("cId must be a user id")
	}
	var start, end time.Time
	var err error
	if in.EndDate != nil {
		if end, err = parseDate("endDate", *in.EndDate, true); err != nil {
			return Request{}, err
		}
		if end.After(endOfDay(now)) {
			return Request{}, apperr.Invalid("endDate %s is in the future", *in.EndDate)
		}
	} else {
		end = now
	}
	if in.StartDate != nil {
		if start, err = parseDate("startDate", *in.StartDate, false); err != nil {
			return Request{}, err
		}
	} else {
		botCreated, userCreated, err := a.records.Created(ctx, bot, user)
		if err != nil {
			return Request{}, err
		}
		start = botCreated
		if userCreated.After(start) {
			start = userCreated
		}
	}
	if start.After(end) {
		return Request{}, apperr.Invalid("startDate (%s) is after endDate (%s)", clock.Format(start), clock.Format(end))
	}
	return Request{UserID: user, StartDate: clock.Format(start), EndDate: clock.Format(end)}, nil
}

// parseDate reads YYYY-MM-DD (the whole day, inclusive) or full ISO 8601.
func parseDate(field, s string, end bool) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			return endOfDay(t), nil
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apperr.Invalid("%s must be YYYY-MM-DD or an ISO 8601 date-time, not %q", field, s)
	}
	return t.UTC(), nil
}

func endOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 23, 59, 59, 999e6, time.UTC)
}

func (a *API) status(r *http.Request) (httpapi.Response, error) {
	j, err := a.store.Get(r.Context(), auth.FromContext(r.Context()).BotID, r.PathValue("jobId"))
	if err != nil {
		return httpapi.Response{}, err
	}
	// Failures are listed in the failed chunks: read only when there are some.
	if j.Result.FailedCount > 0 {
		if j.Failures, err = a.store.Failures(r.Context(), j.JobID); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(j.answer(a.clock.Now(), a.budget())), nil
}
