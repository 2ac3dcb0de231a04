package deletion

import (
	"context"
	"encoding/json"

	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// WorkKind names deletion chunks on the lifecycle queue.
const WorkKind = "deletionChunk"

// Chunk statuses.
const (
	chunkPending    = lifecycle.ChunkPending
	chunkInProgress = lifecycle.ChunkInProgress
	chunkDone       = lifecycle.ChunkDone
	chunkFailed     = lifecycle.ChunkFailed
)

// Work is the body of a work item: one chunk of a job.
type Work struct {
	JobID           string   `json:"jobId"`
	BotID           string   `json:"botId"`
	WorkspaceID     string   `json:"workspaceId"`
	Chunk           int      `json:"chunk"`
	ConversationIDs []string `json:"conversationIds"`
	// WindowEnd is when the off-peak window that queued it closes; work
	// seen later waits for the next window.
	WindowEnd string `json:"windowEnd"`
}

// Worker deletes the conversations of deletion chunks through the shared
// chunk pipeline, on the catalogue's conversation kind.
type Worker struct {
	store    *Store
	kind     lifecycle.ItemKind
	holds    Holds
	receipts Receipts
	clock    clock.Clock
	finish   *Finisher
	retries  int
	log      *slog.Logger
	budgets  *lifecycledata.Budgets
}

// Paced makes the worker draw each chunk's items from its workspace's
// throughput budget.
func (w *Worker) Paced(b *lifecycledata.Budgets) *Worker {
	w.budgets = b
	return w
}

// NewWorker returns the chunk worker; conversations is the catalogue's
// conversation kind.
func NewWorker(store *Store, conversations lifecycle.ItemKind, holds Holds, receipts Receipts, c clock.Clock, finish *Finisher, log *slog.Logger) *Worker {
	return &Worker{store: store, kind: conversations, holds: holds, receipts: receipts, clock: c, finish: finish, retries: MaxRetries, log: log}
}

// Holds answers a workspace's active legal holds.
type Holds interface {
	Active(ctx context.Context, ws string) ([]lifecycledata.Hold, error)
}

// Receipts writes a job's receipt pages.
type Receipts interface {
	ItemsPut(receiptID, workspaceID, part string, items []lifecycledata.Disposition) types.TransactWriteItem
}

// Handle is the lifecycle handler for WorkKind items.
func (w *Worker) Handle(ctx context.Context, body json.RawMessage, receives int) error {
	var work Work
	if err := json.Unmarshal(body, &work); err != nil {
		return fmt.Errorf("unreadable deletion chunk: %w", err)
	}
	if end, err := clock.Parse(work.WindowEnd); err == nil && w.clock.Now().After(end) {
		return nil // the window closed: the chunk stays pending for the next one
	}
	// One GetItem of the job: a paused or cancelled job's chunks are not
	// processed (they stay pending; a resume queues them again), and the
	// job names the workspace whose budget paces the chunk.
	j, err := w.store.Get(ctx, work.BotID, work.JobID)
	if apperr.Is(err, apperr.ResourceNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if j.Status == Paused || j.Status == Cancelled {
		return nil
	}
	p := w.pipeline()
	if w.budgets != nil {
		p.Budget = w.budgets.For(j.WorkspaceID)
	}
	holds, err := w.holds.Active(ctx, j.WorkspaceID)
	if err != nil {
		return fmt.Errorf("legal holds: %w", err)
	}
	s := w.settlement(work)
	s.holds = holds
	return p.Run(ctx, w.chunk(work), s)
}

func (w *Worker) pipeline() lifecycle.Pipeline {
	return lifecycle.Pipeline{Chunks: w.store.chunkBook(), Retries: w.retries, Clock: w.clock, Log: w.log}
}

func (w *Worker) chunk(work Work) lifecycle.Chunk {
	return lifecycle.Chunk{Key: chunkKey(work.JobID, work.Chunk), Kind: w.kind, BotID: work.BotID, IDs: work.ConversationIDs}
}

func (w *Worker) settlement(work Work) jobChunk { return jobChunk{w: w, work: work} }

// jobChunk is a deletion job's side of a chunk.
type jobChunk struct {
	w     *Worker
	work  Work
	holds []lifecycledata.Hold
}

func (c jobChunk) Decide(id string, f lifecycle.Facts, found bool) lifecycle.Outcome {
	if !found {
		return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipNotFound}
	}
	if f.Held {
		return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipLegalHold, Hold: "tag:" + LegalHoldTag}
	}
	for _, h := range c.holds {
		if h.Covers(c.work.BotID, lifecycle.KindConversation, id, f.Users, f.Tags) {
			return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipLegalHold, Hold: h.ID}
		}
	}
	return lifecycle.Outcome{Action: lifecycle.ActDelete, Facts: f}
}

// Record writes the chunk's page of the job's receipt.
func (c jobChunk) Record(items []lifecycledata.Disposition) types.TransactWriteItem {
	return c.w.receipts.ItemsPut(c.work.JobID, c.work.WorkspaceID, fmt.Sprintf("%05d", c.work.Chunk), items)
}

func (c jobChunk) Tally(plan map[string]lifecycle.Outcome, failing bool, _ string) []types.TransactWriteItem {
	up := count(plan, failing).update(clock.Format(c.w.clock.Now()))
	up.TableName, up.Key = &c.w.store.table, jobKey(c.work.BotID, c.work.JobID)
	return []types.TransactWriteItem{{Update: up}}
}

func (c jobChunk) Failures(_ map[string]lifecycle.Outcome, ids []string, reason string) types.AttributeValue {
	failures := make([]Failure, 0, len(ids))
	for _, id := range ids {
		failures = append(failures, Failure{ConversationID: id, Reason: reason})
	}
	return ds.Value(failures)
}

func (c jobChunk) Export(context.Context, lifecycle.Chunk, []string, map[string]lifecycle.Facts, bool) error {
	return fmt.Errorf("deletion jobs do not archive")
}

// Retrying records how many retries the job has left (best effort: it only
// ever decreases).
func (c jobChunk) Retrying(ctx context.Context, attempt int) {
	if err := c.w.store.lowerRetries(ctx, c.work, c.w.retries-(attempt-1)); err != nil {
		c.w.log.WarnContext(ctx, "retries remaining not recorded", "job", c.work.JobID, "error", err)
	}
}

func (c jobChunk) Settled(ctx context.Context) error {
	return c.w.finish.IfDone(ctx, c.work.BotID, c.work.JobID)
}

// --- store operations on chunks ---

// lowerRetries records how many retries the job has left (best effort: it
// only ever decreases).
func (s *Store) lowerRetries(ctx context.Context, work Work, left int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: jobKey(work.BotID, work.JobID),
		UpdateExpression:          aws.String("SET retriesRemaining = :left"),
		ConditionExpression:       aws.String("retriesRemaining > :left"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":left": &types.AttributeValueMemberN{Value: strconv.Itoa(max(left, 0))}},
	})
	if ds.IsConditionFailed(err) {
		return nil
	}
	return err
}

func (s *Store) chunkBook() lifecycle.Chunks { return lifecycle.Chunks{DB: s.db, Table: s.table} }

type chunkRecord struct {
	Failures []Failure `json:"failures"`
}

type tally struct{ processed, deleted, skipped, failed, records, notFound, legalHold int }

func count(plan map[string]lifecycle.Outcome, failing bool) tally {
	var t tally
	for _, o := range plan {
		t.processed++
		switch {
		case o.Action == lifecycle.ActSkip:
			t.skipped++
			if o.Reason == SkipLegalHold {
				t.legalHold++
			} else {
				t.notFound++
			}
		case failing:
			t.failed++
		default:
			t.deleted++
			t.records += o.Records
		}
	}
	return t
}

func (t tally) update(now string) *types.Update {
	n := func(v int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }
	return &types.Update{
		UpdateExpression: aws.String("ADD processedCount :p, deletedCount :d, skippedCount :s, failedCount :f, deletedRecords :r, " +
			"skippedReasons.#nf :nf, skippedReasons.#lh :lh SET startedAt = if_not_exists(startedAt, :now)"),
		ExpressionAttributeNames: map[string]string{"#nf": SkipNotFound, "#lh": SkipLegalHold},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": n(t.processed), ":d": n(t.deleted), ":s": n(t.skipped), ":f": n(t.failed), ":r": n(t.records),
			":nf": n(t.notFound), ":lh": n(t.legalHold), ":now": ds.S(now),
		},
	}
}

// Failures lists a job's failed conversations from its failed chunks (read
// only for a job that has some).
func (s *Store) Failures(ctx context.Context, job string) ([]Failure, error) {
	expr, _ := expression.NewBuilder().
		WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(lifecycledata.JobChunksPK(job)))).
		WithFilter(expression.Name("status").Equal(expression.Value(chunkFailed))).Build()
	chunks, err := ds.QueryAll[chunkRecord](ctx, s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var out []Failure
	for _, c := range chunks {
		out = append(out, c.Failures...)
	}
	return out, err
}
