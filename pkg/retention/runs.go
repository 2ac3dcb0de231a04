package retention

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Run statuses.
const (
	Planning   = "planning"
	InProgress = "in_progress"
	Completed  = "completed"
	Failed     = "failed"
)

// Skip reasons counted on a run.
const (
	SkipNotFound      = "notFound"
	SkipLegalHold     = "legalHold"
	SkipNotDue        = "notDue"
	SkipPolicyDeleted = "policyDeleted"
)

var skipReasons = []string{SkipNotFound, SkipLegalHold, SkipNotDue, SkipPolicyDeleted}

// Index partitions (gsi1 of the lifecycle table) of runs with work left:
// unfinished ones, and finished ones whose audit record is not written yet.
const (
	openRunsKey  = lifecycledata.OpenRunsIndex
	proofRunsKey = lifecycledata.RunProofIndex
)

// Run is one evaluation of one policy, as stored and answered. The config
// is the policy's at the evaluation: changing the policy later does not
// change a run.
type Run struct {
	ID             string                     `json:"id"`
	PolicyID       string                     `json:"policyId"`
	PolicyName     string                     `json:"policyName"`
	Status         string                     `json:"status"`
	Config         lifecycledata.PolicyConfig `json:"config"`
	Cutoff         string                     `json:"cutoff"`
	StartedAt      string                     `json:"startedAt"`
	FinishedAt     *string                    `json:"finishedAt"`
	TotalCount     int                        `json:"totalCount"`
	ProcessedCount int                        `json:"processedCount"`
	ArchivedCount  int                        `json:"archivedCount"`
	DeletedCount   int                        `json:"deletedCount"`
	SkippedCount   int                        `json:"skippedCount"`
	FailedCount    int                        `json:"failedCount"`
	SkippedReasons map[string]int             `json:"skippedReasons"`
	// ErasedRecords counts every item removed from the live tables.
	ErasedRecords int `json:"erasedRecords"`
	// CandidatesRead is how many index entries the evaluation read;
	// Yielded how many due items went to a policy due earlier.
	CandidatesRead int      `json:"candidatesRead"`
	Yielded        int      `json:"yieldedToOtherPolicies"`
	Errors         []string `json:"errors"`

	WorkspaceID string `json:"workspaceId"`
	Chunks      int    `json:"chunks"`
}

// Runs keeps runs and their chunks in the lifecycle table:
//
//	run    WS#<ws>#POLICY#<policy>  RUN#<run>      gsi1 while unfinished: RUNS / <startedAt>#<run>
//	                                               gsi1 until proven:     RUNPROOF / <finishedAt>#<run>
//	chunk  RUN#<run>                CHUNK#<nnnnn>  bot, items, plan, status, attempts
//
// A run's key holds its workspace, so a workspace reads only its own runs,
// and they stay readable after the policy is deleted.
type Runs struct {
	db       ds.Client
	table    string
	pages    *cursor.Codec
	audit    audit.Trail
	receipts Receipts
	clock    clock.Clock
	log      *slog.Logger
	// Retention is how long a finished run stays readable.
	Retention time.Duration
}

// NewRuns returns the run store.
func NewRuns(db ds.Client, table string, pages *cursor.Codec, trail audit.Trail, receipts Receipts, c clock.Clock, log *slog.Logger) *Runs {
	return &Runs{db: db, table: table, pages: pages, audit: trail, receipts: receipts, clock: c, log: log, Retention: 365 * 24 * time.Hour}
}

func runKey(ws, pol, run string) map[string]types.AttributeValue {
	return lifecycledata.RunKey(ws, pol, run)
}

func chunkKey(run string, n int) map[string]types.AttributeValue {
	return lifecycledata.RunChunkKey(run, n)
}

func (r *Runs) book() lifecycle.Chunks { return lifecycle.Chunks{DB: r.db, Table: r.table} }

// runID is the id of a policy's run in the window opened at t: the same
// window evaluated twice (a retried invocation) names the same run.
func runID(policyID string, t time.Time) string {
	sum := sha256.Sum256([]byte(policyID + "|" + clock.Format(t)))
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t))
	copy(u[6:], sum[:10])
	return "run_" + u.String()
}

func readRun(it map[string]types.AttributeValue) (Run, error) {
	var r Run
	if err := ds.Unmarshal(it, &r); err != nil {
		return r, err
	}
	if r.SkippedReasons == nil {
		r.SkippedReasons = map[string]int{}
	}
	if r.Errors == nil {
		r.Errors = []string{}
	}
	return r, nil
}

// claim creates a run in the planning state; false when the run exists
// (this window already evaluated the policy).
func (r *Runs) claim(ctx context.Context, run Run) (bool, error) {
	it := ds.Item(run, map[string]string{ds.PK: lifecycledata.RunsPK(run.WorkspaceID, run.PolicyID), ds.SK: lifecycledata.RunSKPrefix + run.ID,
		ds.GSI1PK: openRunsKey, ds.GSI1SK: run.StartedAt + "#" + run.ID})
	delete(it, "finishedAt")
	reasons := map[string]types.AttributeValue{}
	for _, k := range skipReasons {
		reasons[k] = num(0)
	}
	it["skippedReasons"] = &types.AttributeValueMemberM{Value: reasons}
	_, err := r.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &r.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if ds.IsConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

func num(n int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }

// chunkRow is a stored chunk.
type chunkRow struct {
	Number int    `json:"number"`
	Status string `json:"status"`
	BotID  string `json:"botId"`
	Items  []Item `json:"items"`
}

// plan writes a run's chunks and moves it from planning to in progress
// with its totals. Chunks are written before the run can be resumed, so
// a resumed run always has all of them.
func (r *Runs) plan(ctx context.Context, run Run, chunks []chunkRow) error {
	var puts []types.WriteRequest
	for _, c := range chunks {
		it := ds.Item(c, map[string]string{ds.PK: lifecycledata.RunChunksPK(run.ID), ds.SK: lifecycledata.ChunkSK(c.Number)})
		puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	if err := ds.BatchWrite(ctx, r.db, r.table, puts, nil); err != nil {
		return err
	}
	_, err := r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &r.table, Key: runKey(run.WorkspaceID, run.PolicyID, run.ID),
		UpdateExpression:          aws.String("SET #status = :inprog, totalCount = :total, chunks = :chunks"),
		ConditionExpression:       aws.String("#status = :planning"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inprog": ds.S(InProgress), ":planning": ds.S(Planning), ":total": num(run.TotalCount), ":chunks": num(len(chunks))},
	})
	return err
}

// open returns the runs with work left under an index partition.
func (r *Runs) open(ctx context.Context, key string) ([]Run, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value(key))).Build()
	pages := dynamodb.NewQueryPaginator(r.db, &dynamodb.QueryInput{
		TableName: &r.table, IndexName: aws.String(ds.GSI1),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var runs []Run
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			run, err := readRun(it)
			if err != nil {
				return nil, err
			}
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// chunks lists a run's chunks.
func (r *Runs) chunks(ctx context.Context, run string) ([]chunkRow, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(lifecycledata.RunChunksPK(run)))).Build()
	return ds.QueryAll[chunkRow](ctx, r.db, &dynamodb.QueryInput{
		TableName: &r.table, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
}

// Get reads a run: one consistent GetItem.
func (r *Runs) Get(ctx context.Context, ws, pol, run string) (Run, error) {
	out, err := r.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &r.table, Key: runKey(ws, pol, run), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Run{}, err
	}
	if out.Item == nil {
		return Run{}, apperr.NotFound("policy run", run)
	}
	return readRun(out.Item)
}

// List returns one page of a policy's runs, newest first unless order is
// asc: one Query of the policy's run partition within the workspace.
func (r *Runs) List(ctx context.Context, ws, pol, token string, take int, order string) ([]Run, string, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(lifecycledata.RunsPK(ws, pol))).
		And(expression.Key(ds.SK).BeginsWith(lifecycledata.RunSKPrefix))).Build()
	page, err := ds.QueryPage(ctx, r.db, r.pages, "runs|"+ws+"|"+pol+"|"+order, token, take, &dynamodb.QueryInput{
		TableName: &r.table, ScanIndexForward: aws.Bool(order == "asc"),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		if apperr.Is(err, apperr.InvalidQuery) {
			return nil, "", apperr.New(apperr.InvalidQuery, "cursor is invalid, or belongs to another list")
		}
		return nil, "", err
	}
	out := make([]Run, 0, len(page.Items))
	for _, it := range page.Items {
		run, err := readRun(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, run)
	}
	return out, page.NextToken, nil
}

// tally is what a chunk adds to its run.
type tally struct {
	processed, archived, deleted, skipped, failed, erased int
	reasons                                               map[string]int
}

func (t tally) update(ws, pol, run string, errs []string) *types.Update {
	values := map[string]types.AttributeValue{
		":p": num(t.processed), ":a": num(t.archived), ":d": num(t.deleted), ":s": num(t.skipped), ":f": num(t.failed), ":e": num(t.erased),
	}
	names := map[string]string{}
	expr := "ADD processedCount :p, archivedCount :a, deletedCount :d, skippedCount :s, failedCount :f, erasedRecords :e"
	for i, k := range skipReasons {
		names[fmt.Sprintf("#r%d", i)] = k
		values[fmt.Sprintf(":r%d", i)] = num(t.reasons[k])
		expr += fmt.Sprintf(", skippedReasons.#r%d :r%d", i, i)
	}
	if len(errs) > 0 {
		expr += " SET #errors = list_append(if_not_exists(#errors, :none), :errs)"
		names["#errors"] = "errors"
		values[":none"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		values[":errs"] = ds.Value(errs)
	}
	return &types.Update{TableName: nil, Key: runKey(ws, pol, run), UpdateExpression: aws.String(expr),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values}
}

// IfDone finishes a run whose every item was processed: its status moves
// once (a conditional update), then its audit record is written.
func (r *Runs) IfDone(ctx context.Context, ws, pol, id string) error {
	run, err := r.Get(ctx, ws, pol, id)
	if err != nil {
		return err
	}
	if run.Status != InProgress || run.ProcessedCount < run.TotalCount {
		return nil
	}
	status := Completed
	if run.FailedCount > 0 {
		status = Failed
	}
	now := clock.Format(r.clock.Now())
	_, err = r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &r.table, Key: runKey(ws, pol, id),
		UpdateExpression:          aws.String("SET #status = :s, finishedAt = :now, gsi1pk = :proof, gsi1sk = :sk"),
		ConditionExpression:       aws.String("#status = :inprog AND processedCount >= totalCount"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": ds.S(status), ":now": ds.S(now), ":proof": ds.S(proofRunsKey), ":sk": ds.S(now + "#" + id), ":inprog": ds.S(InProgress)},
	})
	if ds.IsConditionFailed(err) {
		return nil // another delivery finished it
	}
	if err != nil {
		return err
	}
	run.Status, run.FinishedAt = status, &now
	return r.prove(ctx, run)
}

// end closes a run that cannot go on (interrupted while planning) as
// failed, with the reason.
func (r *Runs) end(ctx context.Context, run Run, reason string) error {
	now := clock.Format(r.clock.Now())
	_, err := r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &r.table, Key: runKey(run.WorkspaceID, run.PolicyID, run.ID),
		UpdateExpression:          aws.String("SET #status = :failed, finishedAt = :now, gsi1pk = :proof, gsi1sk = :sk, #errors = :errs"),
		ConditionExpression:       aws.String("#status = :planning"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#errors": "errors"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": ds.S(Failed), ":now": ds.S(now), ":proof": ds.S(proofRunsKey), ":sk": ds.S(now + "#" + run.ID), ":planning": ds.S(Planning), ":errs": ds.Value([]string{reason})},
	})
	if ds.IsConditionFailed(err) {
		return nil
	}
	if err != nil {
		return err
	}
	run.Status, run.FinishedAt, run.Errors = Failed, &now, []string{reason}
	return r.prove(ctx, run)
}

// prove writes a finished run's audit record (its id derives from the run,
// so writing it twice collides instead of duplicating), then takes the run
// off the proof index and sets its expiry. A failure leaves it on the index
// for the next window.
func (r *Runs) prove(ctx context.Context, run Run) error {
	finished, _ := clock.Parse(*run.FinishedAt)
	counts, _ := json.Marshal(map[string]any{
		"policyId": run.PolicyID, "action": run.Config.Action, "resources": run.Config.Resources, "cutoff": run.Cutoff,
		"total": run.TotalCount, "archived": run.ArchivedCount, "deleted": run.DeletedCount, "skipped": run.SkippedCount,
		"failed": run.FailedCount, "skippedReasons": run.SkippedReasons, "errors": run.Errors,
	})
	if err := r.receipts.Issue(ctx, run.ID, run.WorkspaceID, "retentionRun", map[string]any{
		"policyId": run.PolicyID, "policyName": run.PolicyName, "status": run.Status, "action": run.Config.Action, "resources": run.Config.Resources,
		"cutoff": run.Cutoff, "startedAt": run.StartedAt, "finishedAt": *run.FinishedAt, "total": run.TotalCount, "archived": run.ArchivedCount,
		"deleted": run.DeletedCount, "skipped": run.SkippedCount, "failed": run.FailedCount, "skippedReasons": run.SkippedReasons,
		"erasedRecords": run.ErasedRecords,
	}); err != nil {
		r.log.WarnContext(ctx, "policy run receipt failed; the next window retries it", "run", run.ID, "error", err)
		return nil
	}
	rec := audit.New(run.WorkspaceID, "", audit.PolicyRun(run.Status), run.ID, run.PolicyName, finished)
	rec.ID = audit.IDFor(finished, "audit|"+run.ID)
	rec.Value = string(counts)
	if err := r.audit.Put(ctx, rec); err != nil {
		r.log.WarnContext(ctx, "policy run audit failed; the next window retries it", "run", run.ID, "error", err)
		return nil
	}
	_, err := r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &r.table, Key: runKey(run.WorkspaceID, run.PolicyID, run.ID),
		UpdateExpression:          aws.String("REMOVE gsi1pk, gsi1sk SET expiresAt = :exp"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":exp": &types.AttributeValueMemberN{Value: strconv.FormatInt(r.clock.Now().Add(r.Retention).Unix(), 10)}},
	})
	return err
}
