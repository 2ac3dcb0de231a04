package deletion

import (
	"context"
	"encoding/json"

	"fmt"
	"sort"
	"strconv"
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
	Chunk           int      `json:"chunk"`
	ConversationIDs []string `json:"conversationIds"`
	// WindowEnd is when the off-peak window that queued it closes; work
	// seen later waits for the next window.
	WindowEnd string `json:"windowEnd"`
}

// outcome is what a chunk decided for one conversation, fixed on the first
// attempt so retries count exactly as it would have.
type outcome struct {
	Action  string `json:"a"` // delete | skip
	Reason  string `json:"r,omitempty"`
	Records int    `json:"n,omitempty"`
	// Claim is the conversation's get-or-create claim, erased after it.
	Claim string `json:"c,omitempty"`
}

// Worker deletes the conversations of deletion chunks.
type Worker struct {
	store   *Store
	purger  *lifecycle.Purger
	clock   clock.Clock
	finish  *Finisher
	retries int
}

// NewWorker returns the chunk worker.
func NewWorker(store *Store, purger *lifecycle.Purger, c clock.Clock, finish *Finisher) *Worker {
	return &Worker{store: store, purger: purger, clock: c, finish: finish, retries: MaxRetries}
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
	err := w.process(ctx, work)
	if err != nil {
		w.store.noteError(ctx, work, err)
	}
	return err
}

func (w *Worker) process(ctx context.Context, work Work) error {
	chunk, convs, err := w.store.readChunk(ctx, w.purger.Table(), work)
	if err != nil {
		return err
	}
	if chunk == nil || chunk.Status == chunkDone || chunk.Status == chunkFailed {
		return nil // finished by an earlier delivery
	}

	// What this attempt finds: conversations to delete and their contents.
	plan := map[string]outcome{}
	keys := map[string][]map[string]types.AttributeValue{}
	for _, id := range work.ConversationIDs {
		conv, found := convs[id]
		switch {
		case !found:
			plan[id] = outcome{Action: "skip", Reason: SkipNotFound}
		case ds.String(mapOf(conv["tags"]), LegalHoldTag) == "true":
			plan[id] = outcome{Action: "skip", Reason: SkipLegalHold}
		default:
			k, err := w.purger.PartitionKeys(ctx, work.BotID, id)
			if err != nil {
				return err
			}
			keys[id] = k
			plan[id] = outcome{Action: "delete", Records: len(k) + 1, Claim: ds.String(conv, lifecycle.ClaimAttribute)}
		}
	}
	// The first attempt's plan wins, so retries count what it found.
	stored, attempts, err := w.store.startAttempt(ctx, work, plan)
	if err != nil {
		return err
	}
	if attempts > w.retries+1 {
		return w.failChunk(ctx, work, stored, chunk.LastError)
	}
	if attempts > 1 {
		w.store.lowerRetries(ctx, work, w.retries-(attempts-1))
	}

	var all []map[string]types.AttributeValue
	var convDeletes []string
	for _, id := range work.ConversationIDs {
		if stored[id].Action == "delete" {
			all = append(all, keys[id]...) // empty when an earlier attempt erased them
			convDeletes = append(convDeletes, id)
		}
	}
	if err := w.purger.Delete(ctx, all); err != nil {
		return err
	}
	done, err := w.store.completeChunk(ctx, w.purger.Table(), work, stored, convDeletes)
	if err != nil || !done {
		return err
	}
	// Best effort, the chunk being done: a message written while the
	// partition was being erased (the conversation still existed) is swept
	// now that the conversation is gone and no new one can join it; a claim
	// left behind is only stale.
	for _, id := range convDeletes {
		if late, err := w.purger.PartitionKeys(ctx, work.BotID, id); err == nil && len(late) > 0 {
			_ = w.purger.Delete(ctx, late)
		}
		if claim := stored[id].Claim; claim != "" {
			_ = w.purger.DeleteClaim(ctx, work.BotID, claim, id)
		}
	}
	return w.finish.IfDone(ctx, work.BotID, work.JobID)
}

// failChunk ends a chunk whose retries are spent: its conversations still
// to delete count as failed, its skips as skipped.
func (w *Worker) failChunk(ctx context.Context, work Work, plan map[string]outcome, reason string) error {
	if reason == "" {
		reason = "retries exhausted"
	}
	if err := w.store.failChunk(ctx, work, plan, reason); err != nil {
		return err
	}
	return w.finish.IfDone(ctx, work.BotID, work.JobID)
}

// --- store operations on chunks ---

type chunkRecord struct {
	Status          string             `json:"status"`
	ConversationIDs []string           `json:"conversationIds"`
	Plan            map[string]outcome `json:"plan"`
	Attempts        int                `json:"attempts"`
	LastError       string             `json:"lastError"`
	Failures        []Failure          `json:"failures"`
}

func mapOf(av types.AttributeValue) map[string]types.AttributeValue {
	if m, ok := av.(*types.AttributeValueMemberM); ok {
		return m.Value
	}
	return nil
}

// readChunk reads the chunk and its conversations in one BatchGetItem
// across the lifecycle and chat tables.
func (s *Store) readChunk(ctx context.Context, chatTable string, work Work) (*chunkRecord, map[string]map[string]types.AttributeValue, error) {
	ck := chunkKey(work.JobID, work.Chunk)
	req := map[string]types.KeysAndAttributes{s.table: {Keys: []map[string]types.AttributeValue{ck}, ConsistentRead: aws.Bool(true)}}
	var convKeys []map[string]types.AttributeValue
	for _, id := range work.ConversationIDs {
		convKeys = append(convKeys, lifecycle.ConversationKey(work.BotID, id))
	}
	if len(convKeys) > 0 {
		req[chatTable] = types.KeysAndAttributes{Keys: convKeys, ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("#pk, #sk, #tags, #claim"), ExpressionAttributeNames: map[string]string{"#pk": ds.PK, "#sk": ds.SK, "#tags": "tags", "#claim": lifecycle.ClaimAttribute}}
	}
	var chunk *chunkRecord
	convs := map[string]map[string]types.AttributeValue{}
	for len(req) > 0 {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, nil, err
		}
		for _, it := range out.Responses[s.table] {
			chunk = &chunkRecord{}
			if err := ds.Unmarshal(it, chunk); err != nil {
				return nil, nil, err
			}
		}
		for _, it := range out.Responses[chatTable] {
			sk := ds.String(it, ds.SK)
			convs[sk[len("CONV#"):]] = it
		}
		req = out.UnprocessedKeys
	}
	return chunk, convs, nil
}

// startAttempt counts an attempt and fixes the plan on the first one, in one
// UpdateItem that returns what is stored.
func (s *Store) startAttempt(ctx context.Context, work Work, plan map[string]outcome) (map[string]outcome, int, error) {
	stored := map[string]outcome{}
	n, err := s.chunkBook().StartAttempt(ctx, chunkKey(work.JobID, work.Chunk), plan, &stored)
	if err != nil {
		return nil, 0, err
	}
	return stored, n, nil
}

func (s *Store) chunkBook() lifecycle.Chunks { return lifecycle.Chunks{DB: s.db, Table: s.table} }

// lowerRetries records how many retries the job has left (best effort: it
// only ever decreases).
func (s *Store) lowerRetries(ctx context.Context, work Work, left int) {
	_, _ = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: jobKey(work.BotID, work.JobID),
		UpdateExpression:          aws.String("SET retriesRemaining = :left"),
		ConditionExpression:       aws.String("retriesRemaining > :left"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":left": &types.AttributeValueMemberN{Value: strconv.Itoa(max(left, 0))}},
	})
}

// noteError keeps the last error of a chunk, to report it if it fails for good.
func (s *Store) noteError(ctx context.Context, work Work, cause error) {
	s.chunkBook().NoteError(ctx, chunkKey(work.JobID, work.Chunk), cause)
}

type tally struct{ processed, deleted, skipped, failed, records, notFound, legalHold int }

func count(plan map[string]outcome, failing bool) tally {
	var t tally
	for _, o := range plan {
		t.processed++
		switch {
		case o.Action == "skip":
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

// completeChunk deletes the chunk's conversation items, marks the chunk done
// and adds its counts to the job, in one transaction conditioned on the
// chunk not being done yet: a second delivery counts nothing. It reports
// false when another delivery finished the chunk first.
func (s *Store) completeChunk(ctx context.Context, chatTable string, work Work, plan map[string]outcome, convDeletes []string) (bool, error) {
	t := count(plan, false)
	now := clock.Format(time.Now())
	jobUpdate := t.update(now)
	jobUpdate.TableName, jobUpdate.Key = &s.table, jobKey(work.BotID, work.JobID)
	items := []types.TransactWriteItem{
		s.chunkBook().Done(chunkKey(work.JobID, work.Chunk)),
		{Update: jobUpdate},
	}
	for _, id := range convDeletes {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(chatTable), Key: lifecycle.ConversationKey(work.BotID, id)}})
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if lifecycle.Settled(err) {
		return false, nil
	}
	return err == nil, err
}

// failChunk ends a chunk as failed and counts it, once.
func (s *Store) failChunk(ctx context.Context, work Work, plan map[string]outcome, reason string) error {
	var failures []Failure
	ids := make([]string, 0, len(plan))
	for id := range plan {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if plan[id].Action == "delete" {
			failures = append(failures, Failure{ConversationID: id, Reason: reason})
		}
	}
	t := count(plan, true)
	jobUpdate := t.update(clock.Format(time.Now()))
	jobUpdate.TableName, jobUpdate.Key = &s.table, jobKey(work.BotID, work.JobID)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		s.chunkBook().Fail(chunkKey(work.JobID, work.Chunk), ds.Value(failures)),
		{Update: jobUpdate},
	}})
	if lifecycle.Settled(err) {
		return nil
	}
	return err
}

// failures lists a job's failed conversations from its failed chunks (read
// only for a job that has some).
func (s *Store) failures(ctx context.Context, job string) ([]Failure, error) {
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
