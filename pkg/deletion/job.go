// Package deletion implements Kore.ai-style conversation deletion jobs: a
// request is accepted at once and queued; the off-peak window resolves it to
// conversations and hands them, in chunks, to the lifecycle worker, which
// deletes them in batches and keeps exact, idempotent counts; completion
// leaves proof (an audit record, an EventBridge event, an email).
package deletion

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Job statuses.
const (
	Queued     = "queued"
	InProgress = "in_progress"
	Completed  = "completed"
	Failed     = "failed"
	// Cancelled: stopped while queued, before any deletion. Paused: the
	// window queues none of its chunks and the worker takes none until it
	// is resumed.
	Cancelled = "cancelled"
	Paused    = "paused"
)

// Request types.
const (
	ByIDs  = "conversationIds"
	ByUser = "cId"
)

// MaxRetries is how often a failed chunk of conversations is retried.
const MaxRetries = 3

// ChunkSize is how many conversations one work item carries: their deletion
// ends in one TransactWriteItems (conversation items plus the job's
// counters), which holds at most 100 items.
const ChunkSize = 25

// Skip reasons.
const (
	SkipNotFound  = "notFound"
	SkipLegalHold = "legalHold"
)

// LegalHoldTag is the conversation tag that protects a conversation from
// deletion jobs and retention policies alike.
const LegalHoldTag = "legalHold"

// Result is the job's execution summary.
type Result struct {
	TotalConversations int `json:"totalConversations"`
	ProcessedCount     int `json:"processedCount"`
	DeletedCount       int `json:"deletedCount"`
	FailedCount        int `json:"failedCount"`
	SkippedCount       int `json:"skippedCount"`
	RetriesRemaining   int `json:"retriesRemaining"`
	// DeletedRecords counts every item erased: conversations and what they
	// held (messages, participants, states, events).
	DeletedRecords int `json:"deletedRecords"`
}

// Failure names a conversation a job could not delete, and why.
type Failure struct {
	ConversationID string `json:"conversationId"`
	Reason         string `json:"reason"`
}

// Request is what was asked.
type Request struct {
	ConversationIDs []string `json:"conversationIds,omitempty"`
	UserID          string   `json:"cId,omitempty"`
	StartDate       string   `json:"startDate,omitempty"`
	EndDate         string   `json:"endDate,omitempty"`
}

// Job is a deletion job as stored and, but for the internal fields, as
// answered by the status route.
type Job struct {
	JobID          string         `json:"jobId"`
	Status         string         `json:"status"`
	RequestType    string         `json:"requestType"`
	SubmittedAt    string         `json:"submittedAt"`
	ScheduledAt    string         `json:"scheduledAt"`
	StartedAt      *string        `json:"startedAt"`
	CompletedAt    *string        `json:"completedAt"`
	Result         Result         `json:"result"`
	SkippedReasons map[string]int `json:"skippedReasons"`
	Failures       []Failure      `json:"failures"`

	BotID       string  `json:"botId"`
	WorkspaceID string  `json:"workspaceId"`
	Request     Request `json:"request"`
	Chunks      int     `json:"chunks"`
	Resolving   bool    `json:"resolving,omitempty"`
	SubmittedBy string  `json:"submittedBy,omitempty"`
	// PausedAt is set while paused; PausedMs adds up the time spent paused
	// (left out of the measured rate). CancelledAt is when it was cancelled.
	PausedAt    *string `json:"pausedAt,omitempty"`
	PausedMs    int64   `json:"pausedMs,omitempty"`
	CancelledAt *string `json:"cancelledAt,omitempty"`
	// SubmittedWith is the bot API key whose JWT submitted the job (empty
	// for a personal access token); SubmittedBy is then the key's creator.
	SubmittedWith string `json:"submittedWith,omitempty"`
}

// Answer is the status route's body.
type Answer struct {
	JobID          string         `json:"jobId"`
	Status         string         `json:"status"`
	RequestType    string         `json:"requestType"`
	SubmittedAt    string         `json:"submittedAt"`
	ScheduledAt    string         `json:"scheduledAt"`
	StartedAt      *string        `json:"startedAt"`
	CompletedAt    *string        `json:"completedAt"`
	Result         Result         `json:"result"`
	SkippedReasons map[string]int `json:"skippedReasons"`
	Failures       []Failure      `json:"failures"`
	PausedAt       *string        `json:"pausedAt,omitempty"`
	CancelledAt    *string        `json:"cancelledAt,omitempty"`
	Throughput     Throughput     `json:"throughput"`
}

// Throughput is the job's pace: the workspace's budget and the rate
// measured, items erased (deletedRecords) per second of the time the job
// has been running (from startedAt to completedAt, the pause, or now;
// time spent paused left out). Null until the job started.
type Throughput struct {
	BudgetItemsPerSecond   float64  `json:"budgetItemsPerSecond"`
	MeasuredItemsPerSecond *float64 `json:"measuredItemsPerSecond"`
}

func (j Job) answer(now time.Time, budget float64) Answer {
	a := Answer{JobID: j.JobID, Status: j.Status, RequestType: j.RequestType, SubmittedAt: j.SubmittedAt,
		ScheduledAt: j.ScheduledAt, StartedAt: j.StartedAt, CompletedAt: j.CompletedAt, Result: j.Result,
		SkippedReasons: j.SkippedReasons, Failures: j.Failures, PausedAt: j.PausedAt, CancelledAt: j.CancelledAt,
		Throughput: Throughput{BudgetItemsPerSecond: budget, MeasuredItemsPerSecond: j.measuredRate(now)}}
	if a.SkippedReasons == nil {
		a.SkippedReasons = map[string]int{}
	}
	if a.Failures == nil {
		a.Failures = []Failure{}
	}
	return a
}

// Store keeps jobs in the lifecycle table:
//
//	job    BOT#<bot>   JOB#<job>      gsi1 (sparse, while it has work): DUE / <scheduledAt>#<job>
//	chunk  JOB#<job>   CHUNK#<nnnnn>  conversation ids, plan, status, attempts
//
// The job's counters live as top-level numbers (ADD-able) and are read back
// into Result.
type Store struct {
	db    ds.Client
	table string
}

// NewStore returns a job store on the lifecycle table.
func NewStore(db ds.Client, table string) *Store { return &Store{db: db, table: table} }

func jobKey(bot, job string) map[string]types.AttributeValue { return lifecycledata.JobKey(bot, job) }
func chunkKey(job string, n int) map[string]types.AttributeValue {
	return lifecycledata.JobChunkKey(job, n)
}

// dueIndexKey is the sparse index entry of a job that still has work.
const dueIndexKey = lifecycledata.DueIndex

// counters are the numeric attributes a job's Result is made of.
var counters = []string{"totalConversations", "processedCount", "deletedCount", "failedCount", "skippedCount", "retriesRemaining", "deletedRecords"}

// Create stores a new job: one conditional PutItem.
func (s *Store) Create(ctx context.Context, j Job) error {
	item := ds.Item(j, map[string]string{
		ds.PK: lifecycledata.JobPK(j.BotID), ds.SK: lifecycledata.JobSK(j.JobID),
		ds.GSI1PK: dueIndexKey, ds.GSI1SK: j.ScheduledAt + "#" + j.JobID,
	})
	// Absent, not null, so that if_not_exists can set them later.
	delete(item, "result")
	delete(item, "startedAt")
	delete(item, "completedAt")
	for _, c := range counters {
		item[c] = &types.AttributeValueMemberN{Value: "0"}
	}
	item["retriesRemaining"] = &types.AttributeValueMemberN{Value: strconv.Itoa(MaxRetries)}
	item["skippedReasons"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		SkipNotFound: &types.AttributeValueMemberN{Value: "0"}, SkipLegalHold: &types.AttributeValueMemberN{Value: "0"},
	}}
	item["failures"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	return err
}

func readJob(item map[string]types.AttributeValue) (Job, error) {
	var j Job
	if err := ds.Unmarshal(item, &j); err != nil {
		return j, err
	}
	// The counters are top-level attributes, so that workers can ADD to them.
	err := ds.Unmarshal(item, &j.Result)
	return j, err
}

// Get returns a bot's job: one GetItem. A job of another bot is missing.
func (s *Store) Get(ctx context.Context, bot, job string) (Job, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: jobKey(bot, job), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Job{}, err
	}
	if out.Item == nil {
		return Job{}, apperr.NotFound("deletion job", job)
	}
	return readJob(out.Item)
}

// Due returns every job with work, oldest first: a Query of the sparse due
// index, page by page. The schedule fires only when a window opens, and a
// job waits for the next opening after its submission, so when a window
// opens (on schedule, or fired by hand) every job with work is due.
func (s *Store) Due(ctx context.Context) ([]Job, error) {
	keyCond := expression.Key(ds.GSI1PK).Equal(expression.Value(dueIndexKey))
	expr, _ := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var jobs []Job
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			j, err := readJob(it)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// measuredRate is deletedRecords per second of running time (nil before
// the job started or while no time has passed).
func (j Job) measuredRate(now time.Time) *float64 {
	if j.StartedAt == nil {
		return nil
	}
	start, err := clock.Parse(*j.StartedAt)
	if err != nil {
		return nil
	}
	end := now
	for _, at := range []*string{j.CompletedAt, j.PausedAt, j.CancelledAt} {
		if at != nil {
			if t, err := clock.Parse(*at); err == nil {
				end = t
				break
			}
		}
	}
	running := end.Sub(start) - time.Duration(j.PausedMs)*time.Millisecond
	if running <= 0 {
		return nil
	}
	r := math.Round(float64(j.Result.DeletedRecords)/running.Seconds()*10) / 10
	return &r
}
