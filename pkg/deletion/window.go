package deletion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Window opens the off-peak window for deletion jobs: it settles dead
// letters, starts due jobs (resolving them to conversations) and resumes
// jobs an earlier window left unfinished, by queueing their pending chunks.
type Window struct {
	store    *Store
	convs    lifecycle.UserKind
	receipts Receipts
	queue    lifecycle.Queue
	queueURL string
	dlqURL   string
	clock    clock.Clock
	length   time.Duration
	finish   *Finisher
	log      *slog.Logger
	// settlers end dead letters of other work kinds (retention chunks).
	settlers map[string]func(context.Context, lifecycle.Item) error
}

// SettleAlso hands the window's dead letters of another kind to settle,
// since the window drains the shared dead-letter queue.
func (w *Window) SettleAlso(kind string, settle func(context.Context, lifecycle.Item) error) {
	if w.settlers == nil {
		w.settlers = map[string]func(context.Context, lifecycle.Item) error{}
	}
	w.settlers[kind] = settle
}

// NewWindow returns the deletion part of the off-peak handler.
func NewWindow(store *Store, conversations lifecycle.UserKind, receipts Receipts, q lifecycle.Queue, queueURL, dlqURL string, c clock.Clock, length time.Duration, f *Finisher, log *slog.Logger) *Window {
	return &Window{store: store, convs: conversations, receipts: receipts, queue: q, queueURL: queueURL, dlqURL: dlqURL, clock: c, length: length, finish: f, log: log}
}

// Open runs the window's deletion work. Errors of one job don't stop others.
func (w *Window) Open(ctx context.Context) error {
	now := w.clock.Now()
	end := now.Add(w.length)
	var errs []error
	if _, err := lifecycle.DeadLetters(ctx, w.queue, w.dlqURL, 1000, w.settleDeadLetter); err != nil {
		errs = append(errs, fmt.Errorf("dead letters: %w", err))
	}
	if err := w.finish.RetryProofs(ctx); err != nil {
		errs = append(errs, fmt.Errorf("proofs: %w", err))
	}
	jobs, err := w.store.Due(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, j := range jobs {
		if err := w.start(ctx, j, end); err != nil {
			w.log.ErrorContext(ctx, "deletion job did not start", "job", j.JobID, "error", err)
			errs = append(errs, fmt.Errorf("job %s: %w", j.JobID, err))
		}
	}
	return errors.Join(errs...)
}

// settleDeadLetter ends, as failed, a chunk whose message crashed the
// worker until SQS gave up on it, so its job can finish and say so.
func (w *Window) settleDeadLetter(ctx context.Context, it lifecycle.Item) error {
	if it.Kind != WorkKind {
		if settle := w.settlers[it.Kind]; settle != nil {
			return settle(ctx, it)
		}
		return nil
	}
	var work Work
	if err := json.Unmarshal(it.Body, &work); err != nil {
		return nil // unreadable: nothing to attribute it to
	}
	jobs := &Worker{store: w.store, receipts: w.receipts, clock: w.clock, finish: w.finish, retries: MaxRetries, log: w.log}
	return jobs.pipeline().FailDeadLetter(ctx, jobs.chunk(work), jobs.settlement(work), "dead-lettered: the work item failed on every delivery")
}

// start resolves a queued job (or one whose resolution was interrupted) and
// queues every chunk not yet finished.
func (w *Window) start(ctx context.Context, j Job, windowEnd time.Time) error {
	if j.Status == Queued || j.Resolving {
		if err := w.resolve(ctx, &j); err != nil {
			return err
		}
	}
	if j.Status != InProgress {
		return nil
	}
	chunks, err := w.store.chunks(ctx, j.JobID)
	if err != nil {
		return err
	}
	var work []any
	for _, c := range chunks {
		if c.Status == chunkPending || c.Status == chunkInProgress {
			work = append(work, Work{JobID: j.JobID, BotID: j.BotID, WorkspaceID: j.WorkspaceID, Chunk: c.Number, ConversationIDs: c.ConversationIDs, WindowEnd: clock.Format(windowEnd)})
		}
	}
	if err := lifecycle.Enqueue(ctx, w.queue, w.queueURL, WorkKind, work); err != nil {
		return err
	}
	// A job whose conversations were all skipped or gone may already be done.
	return w.finish.IfDone(ctx, j.BotID, j.JobID)
}

// resolve turns the request into conversation ids, stores them as chunks and
// moves the job to in_progress. Claiming the job first (resolving=true)
// keeps two windows from resolving it twice; a crash leaves the claim, and
// the next window resolves again, writing only the chunks still missing.
func (w *Window) resolve(ctx context.Context, j *Job) error {
	now := clock.Format(w.clock.Now())
	_, err := w.store.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &w.store.table, Key: jobKey(j.BotID, j.JobID),
		UpdateExpression:          aws.String("SET resolving = :t, #status = :inprog, startedAt = if_not_exists(startedAt, :now)"),
		ConditionExpression:       aws.String("#status = :queued OR resolving = :t"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":inprog": ds.S(InProgress), ":queued": ds.S(Queued), ":now": ds.S(now)},
	})
	if ds.IsConditionFailed(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ids, err := w.conversations(ctx, *j)
	if err != nil {
		return err
	}
	existing, err := w.store.chunks(ctx, j.JobID)
	if err != nil {
		return err
	}
	have := map[int]bool{}
	for _, c := range existing {
		have[c.Number] = true
	}
	var puts []types.WriteRequest
	n := 0
	for start := 0; start < len(ids); start += ChunkSize {
		if !have[n] {
			item := chunkKey(j.JobID, n)
			item["number"] = &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
			item["status"] = ds.S(chunkPending)
			item["conversationIds"] = ds.Value(ids[start:min(start+ChunkSize, len(ids))])
			puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
		n++
	}
	if err := ds.BatchWrite(ctx, w.store.db, w.store.table, puts, nil); err != nil {
		return err
	}
	_, err = w.store.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &w.store.table, Key: jobKey(j.BotID, j.JobID),
		UpdateExpression:          aws.String("SET totalConversations = :total, chunks = :chunks REMOVE resolving"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":total": &types.AttributeValueMemberN{Value: fmt.Sprint(len(ids))}, ":chunks": &types.AttributeValueMemberN{Value: fmt.Sprint(n)}},
	})
	if err != nil {
		return err
	}
	j.Status, j.Resolving, j.Result.TotalConversations, j.Chunks = InProgress, false, len(ids), n
	return nil
}

// conversations lists a job's conversations: the ids given, or the user's
// conversations created within the range, from the catalogue's index of a
// user's conversations by creation time (never a scan).
func (w *Window) conversations(ctx context.Context, j Job) ([]string, error) {
	if j.RequestType == ByIDs {
		return j.Request.ConversationIDs, nil
	}
	from, err := dayBound(j.Request.StartDate, false)
	if err != nil {
		return nil, fmt.Errorf("job %s startDate: %w", j.JobID, err)
	}
	to, err := dayBound(j.Request.EndDate, true)
	if err != nil {
		return nil, fmt.Errorf("job %s endDate: %w", j.JobID, err)
	}
	seen := map[string]bool{}
	var ids []string
	err = w.convs.ByUser(ctx, j.BotID, j.Request.UserID, from, to, func(page []string) error {
		for _, id := range page {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}

// dayBound reads a stored date: a YYYY-MM-DD day covers the whole day (its
// first or last millisecond), a full ISO 8601 time is itself.
func dayBound(v string, end bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			return d.Add(24*time.Hour - time.Millisecond), nil
		}
		return d, nil
	}
	return clock.Parse(v)
}

type chunkRow struct {
	Number          int      `json:"number"`
	Status          string   `json:"status"`
	ConversationIDs []string `json:"conversationIds"`
}

// chunks lists a job's chunks: one Query per page of its partition.
func (s *Store) chunks(ctx context.Context, job string) ([]chunkRow, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(lifecycledata.JobChunksPK(job)))).Build()
	return ds.QueryAll[chunkRow](ctx, s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
}
