package deletion

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycle"
)

// Job control: cancel a queued job, pause a running one, resume a paused
// one. Each is one conditional UpdateItem of the job, committed with its
// audit record (the workspace's chain) in one TransactWriteItems; a job in
// another state is a 409 naming its status.

// Control is what job control needs beyond the job store.
type Control struct {
	// Trail commits each change with its audit record.
	Trail audit.Trail
	// Queue and QueueURL: a resume queues the job's unfinished chunks at once.
	Queue    lifecycle.Queue
	QueueURL string
	// Window is how long resumed work may run (WINDOW_OFFPEAK): chunks
	// still queued after it wait for the next window.
	Window time.Duration
	// Retention is how long a cancelled job's record stays readable.
	Retention time.Duration
	// Budget is the workspace throughput budget (items per second), shown
	// in the status.
	Budget float64
}

// Controls are the job store's control operations.
type Controls interface {
	Cancel(ctx context.Context, j Job, now time.Time, expires time.Time, commit audit.Commit) error
	Pause(ctx context.Context, j Job, now time.Time, commit audit.Commit) error
	Resume(ctx context.Context, j Job, now time.Time, commit audit.Commit) error
	Pending(ctx context.Context, j Job, windowEnd time.Time) ([]any, error)
}

var _ Controls = (*Store)(nil)

// WithControl enables cancel, pause and resume.
func (a *API) WithControl(c Control) *API {
	a.control = &c
	return a
}

func (a *API) registerControl(rt *httpapi.Router) {
	for op, h := range map[string]httpapi.Handler{"cancel": a.cancel, "pause": a.pause, "resume": a.resume} {
		rt.Handle("POST", "/api/public/bot/{botId}/conversations/delete/{jobId}/"+op, h, a.authorize(auth.DeletionWrite))
	}
}

// controlled reads the job named by the path and prepares its audit record.
func (a *API) controlled(r *http.Request, op string) (Job, audit.Record, error) {
	if a.control == nil {
		return Job{}, audit.Record{}, apperr.New(apperr.MethodNotFound, "job control is not enabled")
	}
	p := auth.FromContext(r.Context())
	j, err := a.store.Get(r.Context(), p.BotID, r.PathValue("jobId"))
	if err != nil {
		return Job{}, audit.Record{}, err
	}
	by := "personal access token"
	if p.AccountID == "" {
		by = "bot API key"
	}
	value, _ := json.Marshal(map[string]string{"botId": j.BotID, "from": j.Status, "by": by})
	rec := audit.New(j.WorkspaceID, p.AccountID, audit.ControlDeletionJob(op), j.JobID, "conversation deletion job", a.clock.Now())
	rec.Value = string(value)
	return j, rec, nil
}

func (a *API) answerJob(r *http.Request, bot, job string) (httpapi.Response, error) {
	j, err := a.store.Get(r.Context(), bot, job)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(j.answer(a.clock.Now(), a.budget())), nil
}

func (a *API) budget() float64 {
	if a.control == nil {
		return 0
	}
	return a.control.Budget
}

// cancel stops a queued job before the window starts it.
func (a *API) cancel(r *http.Request) (httpapi.Response, error) {
	j, rec, err := a.controlled(r, "cancel")
	if err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	if err := a.control.Store(a.store).Cancel(r.Context(), j, now, now.Add(a.control.Retention), audit.With(a.control.Trail, rec)); err != nil {
		return httpapi.Response{}, err
	}
	return a.answerJob(r, j.BotID, j.JobID)
}

// pause stops a running job: chunks not started stay pending.
func (a *API) pause(r *http.Request) (httpapi.Response, error) {
	j, rec, err := a.controlled(r, "pause")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := a.control.Store(a.store).Pause(r.Context(), j, a.clock.Now(), audit.With(a.control.Trail, rec)); err != nil {
		return httpapi.Response{}, err
	}
	return a.answerJob(r, j.BotID, j.JobID)
}

// resume runs a paused job again and queues its unfinished chunks at once
// (for at most one window's length; the rest waits for the next window).
func (a *API) resume(r *http.Request) (httpapi.Response, error) {
	j, rec, err := a.controlled(r, "resume")
	if err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	store := a.control.Store(a.store)
	if err := store.Resume(r.Context(), j, now, audit.With(a.control.Trail, rec)); err != nil {
		return httpapi.Response{}, err
	}
	work, err := store.Pending(r.Context(), j, now.Add(a.control.Window))
	if err != nil {
		return httpapi.Response{}, err
	}
	// A failure to queue is left to the next window, which queues every
	// unfinished chunk of a running job.
	_ = lifecycle.Enqueue(r.Context(), a.control.Queue, a.control.QueueURL, WorkKind, work)
	return a.answerJob(r, j.BotID, j.JobID)
}

// Store returns the control operations of jobs (the job store itself).
func (c Control) Store(jobs Jobs) Controls {
	if s, ok := jobs.(Controls); ok {
		return s
	}
	return noControls{}
}

type noControls struct{}

func (noControls) Cancel(context.Context, Job, time.Time, time.Time, audit.Commit) error {
	return apperr.New(apperr.MethodNotFound, "job control is not enabled")
}
func (noControls) Pause(context.Context, Job, time.Time, audit.Commit) error {
	return apperr.New(apperr.MethodNotFound, "job control is not enabled")
}
func (noControls) Resume(context.Context, Job, time.Time, audit.Commit) error {
	return apperr.New(apperr.MethodNotFound, "job control is not enabled")
}
func (noControls) Pending(context.Context, Job, time.Time) ([]any, error) { return nil, nil }

// --- store ---

func conflict(j Job, op, need string) error {
	return apperr.New(apperr.ResourceLockedConflict, "deletion job %s is %s: only a %s job can be %s", j.JobID, j.Status, need, op)
}

// controlUpdate runs one conditional update of a job with its audit record.
func (s *Store) controlUpdate(ctx context.Context, j Job, up *types.Update, commit audit.Commit, op, need string) error {
	up.TableName, up.Key = &s.table, jobKey(j.BotID, j.JobID)
	err := commit(ctx, []types.TransactWriteItem{{Update: up}})
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		if now, gerr := s.Get(ctx, j.BotID, j.JobID); gerr == nil {
			j = now
		}
		if j.Resolving {
			return apperr.New(apperr.ResourceLockedConflict, "deletion job %s is being resolved by the window; retry in a moment", j.JobID)
		}
		return conflict(j, op, need)
	}
	return err
}

// Cancel ends a queued job (not being resolved): off the due index, with
// the expiry of a finished job.
func (s *Store) Cancel(ctx context.Context, j Job, now, expires time.Time, commit audit.Commit) error {
	at := clock.Format(now)
	return s.controlUpdate(ctx, j, &types.Update{
		UpdateExpression:          aws.String("SET #status = :cancelled, cancelledAt = :now, completedAt = :now, expiresAt = :exp REMOVE gsi1pk, gsi1sk"),
		ConditionExpression:       aws.String("#status = :queued AND attribute_not_exists(resolving)"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":cancelled": ds.S(Cancelled), ":now": ds.S(at), ":queued": ds.S(Queued), ":exp": &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)}},
	}, commit, "cancelled", "queued")
}

// Pause stops a running job (resolved, not finished).
func (s *Store) Pause(ctx context.Context, j Job, now time.Time, commit audit.Commit) error {
	return s.controlUpdate(ctx, j, &types.Update{
		UpdateExpression:          aws.String("SET #status = :paused, pausedAt = :now"),
		ConditionExpression:       aws.String("#status = :inprog AND attribute_not_exists(resolving)"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":paused": ds.S(Paused), ":now": ds.S(clock.Format(now)), ":inprog": ds.S(InProgress)},
	}, commit, "paused", "running (in_progress)")
}

// Resume runs a paused job again, adding the pause to its paused time.
func (s *Store) Resume(ctx context.Context, j Job, now time.Time, commit audit.Commit) error {
	paused := int64(0)
	if j.PausedAt != nil {
		if at, err := clock.Parse(*j.PausedAt); err == nil && now.After(at) {
			paused = now.Sub(at).Milliseconds()
		}
	}
	up := &types.Update{
		UpdateExpression:          aws.String("SET #status = :inprog REMOVE pausedAt ADD pausedMs :d"),
		ConditionExpression:       aws.String("#status = :paused"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":paused": ds.S(Paused), ":inprog": ds.S(InProgress), ":d": &types.AttributeValueMemberN{Value: strconv.FormatInt(paused, 10)}},
	}
	if j.PausedAt != nil {
		// The pause read is the one ended: a concurrent resume and pause
		// don't count another pause's time.
		up.ConditionExpression = aws.String("#status = :paused AND pausedAt = :at")
		up.ExpressionAttributeValues[":at"] = ds.S(*j.PausedAt)
	}
	return s.controlUpdate(ctx, j, up, commit, "resumed", "paused")
}

// Pending are the work items of a job's unfinished chunks: one Query of
// its chunks.
func (s *Store) Pending(ctx context.Context, j Job, windowEnd time.Time) ([]any, error) {
	chunks, err := s.chunks(ctx, j.JobID)
	if err != nil {
		return nil, err
	}
	var work []any
	for _, c := range chunks {
		if c.Status == chunkPending || c.Status == chunkInProgress {
			work = append(work, Work{JobID: j.JobID, BotID: j.BotID, Chunk: c.Number, ConversationIDs: c.ConversationIDs, WindowEnd: clock.Format(windowEnd)})
		}
	}
	return work, nil
}
