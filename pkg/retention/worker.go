package retention

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/deletion"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/policy"
)

// WorkKind names policy run chunks on the lifecycle queue.
const WorkKind = "retentionChunk"

// MaxRetries is how often a failing chunk is retried before its items
// count as failed.
const MaxRetries = 3

// ChunkSize is how many items a chunk carries: its end is one
// TransactWriteItems (the items, the chunk and the run's counters).
const ChunkSize = 25

// Work is the body of a work item: one chunk of a run, with the run's
// config snapshot, so a policy changed meanwhile changes nothing here.
type Work struct {
	RunID       string        `json:"runId"`
	PolicyID    string        `json:"policyId"`
	WorkspaceID string        `json:"workspaceId"`
	Chunk       int           `json:"chunk"`
	BotID       string        `json:"botId"`
	Items       []Item        `json:"items"`
	Config      policy.Config `json:"config"`
	Cutoff      string        `json:"cutoff"`
	WindowEnd   string        `json:"windowEnd"`
}

// outcome is what a chunk decided for one item, fixed on the first attempt.
type outcome struct {
	Action string `json:"a"` // archive | delete | skip
	Reason string `json:"r,omitempty"`
	// Records is how many live items acting on it erases, as first found.
	Records int `json:"n,omitempty"`
}

// Objects is the part of S3 the archiver uses.
type Objects interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Worker runs policy run chunks.
type Worker struct {
	runs    *Runs
	purger  *lifecycle.Purger
	objects Objects
	bucket  string
	clock   clock.Clock
}

// NewWorker returns the chunk worker; archives go to bucket.
func NewWorker(runs *Runs, purger *lifecycle.Purger, objects Objects, bucket string, c clock.Clock) *Worker {
	return &Worker{runs: runs, purger: purger, objects: objects, bucket: bucket, clock: c}
}

// Handle is the lifecycle handler for WorkKind items.
func (w *Worker) Handle(ctx context.Context, body json.RawMessage, _ int) error {
	var work Work
	if err := json.Unmarshal(body, &work); err != nil {
		return fmt.Errorf("unreadable retention chunk: %w", err)
	}
	if end, err := clock.Parse(work.WindowEnd); err == nil && w.clock.Now().After(end) {
		return nil // the window closed: the chunk stays pending for the next one
	}
	err := w.process(ctx, work)
	if err != nil {
		w.runs.book().NoteError(ctx, chunkKey(work.RunID, work.Chunk), err)
	}
	return err
}

type chunkState struct {
	Status    string `json:"status"`
	LastError string `json:"lastError"`
}

// read reads, in one BatchGetItem across the lifecycle and chat tables,
// the chunk, the policy (gone: the run stops) and the chunk's items.
func (w *Worker) read(ctx context.Context, work Work) (*chunkState, bool, map[string]map[string]types.AttributeValue, error) {
	lc, chat := w.runs.table, w.purger.Table()
	req := map[string]types.KeysAndAttributes{lc: {Keys: []map[string]types.AttributeValue{
		chunkKey(work.RunID, work.Chunk), policy.Key(work.WorkspaceID, work.PolicyID),
	}, ConsistentRead: aws.Bool(true)}}
	var keys []map[string]types.AttributeValue
	for _, it := range work.Items {
		keys = append(keys, itemKey(work.Config, it))
	}
	if len(keys) > 0 {
		req[chat] = types.KeysAndAttributes{Keys: keys, ConsistentRead: aws.Bool(true)}
	}
	var chunk *chunkState
	policyExists := false
	found := map[string]map[string]types.AttributeValue{}
	for len(req) > 0 {
		out, err := w.runs.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, false, nil, err
		}
		for _, it := range out.Responses[lc] {
			if ds.String(it, ds.PK) == lifecycledata.RunChunksPK(work.RunID) {
				chunk = &chunkState{}
				if err := ds.Unmarshal(it, chunk); err != nil {
					return nil, false, nil, err
				}
			} else {
				policyExists = true
			}
		}
		for _, it := range out.Responses[chat] {
			found[ds.String(it, ds.PK)+"|"+ds.String(it, ds.SK)] = it
		}
		req = out.UnprocessedKeys
	}
	return chunk, policyExists, found, nil
}

func itemKey(c policy.Config, it Item) map[string]types.AttributeValue {
	if c.Resources == policy.ResourceEvents {
		return ds.Key(it.PK, it.SK)
	}
	return lifecycle.ConversationKey(it.BotID, it.ID)
}

func keyString(k map[string]types.AttributeValue) string {
	return ds.String(k, ds.PK) + "|" + ds.String(k, ds.SK)
}

func (w *Worker) process(ctx context.Context, work Work) error {
	chunk, policyExists, found, err := w.read(ctx, work)
	if err != nil {
		return err
	}
	if chunk == nil || chunk.Status == lifecycle.ChunkDone || chunk.Status == lifecycle.ChunkFailed {
		return nil // settled by an earlier delivery
	}
	cutoff, _ := clock.Parse(work.Cutoff)
	plan := map[string]outcome{}
	for _, it := range work.Items {
		item, ok := found[keyString(itemKey(work.Config, it))]
		switch {
		case !policyExists:
			plan[it.ID] = outcome{Action: "skip", Reason: SkipPolicyDeleted}
		case !ok:
			plan[it.ID] = outcome{Action: "skip", Reason: SkipNotFound}
		case work.Config.Resources == policy.ResourceConversations && held(item):
			plan[it.ID] = outcome{Action: "skip", Reason: SkipLegalHold}
		case work.Config.Resources == policy.ResourceConversations && !stillDue(item, work.Config.Basis, cutoff):
			plan[it.ID] = outcome{Action: "skip", Reason: SkipNotDue}
		default:
			plan[it.ID] = outcome{Action: work.Config.Action}
		}
	}
	// What each item holds is read before the plan is fixed, so the first
	// attempt's counts stand however the deliveries interleave.
	contents := map[string][]map[string]types.AttributeValue{}
	for _, it := range work.Items {
		if o := plan[it.ID]; o.Action != "skip" {
			if contents[it.ID], err = w.contents(ctx, work, it, o.Action); err != nil {
				return err
			}
			o.Records = len(contents[it.ID]) + 1
			plan[it.ID] = o
		}
	}
	stored := map[string]outcome{}
	attempts, err := w.runs.book().StartAttempt(ctx, chunkKey(work.RunID, work.Chunk), plan, &stored)
	if ds.IsConditionFailed(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if attempts > MaxRetries+1 {
		reason := chunk.LastError
		if reason == "" {
			reason = "retries exhausted"
		}
		return w.fail(ctx, work, stored, reason)
	}

	var erase []map[string]types.AttributeValue // partition contents
	var finals []map[string]types.AttributeValue
	var archivedEvents []map[string]types.AttributeValue
	erased := 0
	for _, it := range work.Items {
		o := stored[it.ID]
		if o.Action != policy.ActionArchive && o.Action != policy.ActionDelete {
			continue
		}
		erased += o.Records
		k := itemKey(work.Config, it)
		finals = append(finals, k)
		item, ok := found[keyString(k)]
		if work.Config.Resources == policy.ResourceEvents {
			if ok && o.Action == policy.ActionArchive {
				archivedEvents = append(archivedEvents, item)
			}
			continue
		}
		c, read := contents[it.ID]
		if !read { // this attempt saw it differently; the stored plan rules
			if c, err = w.contents(ctx, work, it, o.Action); err != nil {
				return err
			}
		}
		// Only a conversation still there is archived: on a retry after its
		// erasure, the first attempt's object stays.
		if o.Action == policy.ActionArchive && ok {
			if err := w.archiveConversation(ctx, work, item, c, attempts > 1); err != nil {
				return err
			}
		}
		erase = append(erase, c...)
	}
	if len(archivedEvents) > 0 {
		if err := w.archiveEvents(ctx, work, archivedEvents, attempts > 1); err != nil {
			return err
		}
	}
	if err := w.purger.Delete(ctx, erase); err != nil {
		return err
	}
	done, err := w.complete(ctx, work, stored, finals, erased)
	if err != nil || !done {
		return err
	}
	return w.runs.IfDone(ctx, work.WorkspaceID, work.PolicyID, work.RunID)
}

// contents reads what acting on an item erases besides the item itself:
// a conversation's partition (whole items to archive, keys to delete).
func (w *Worker) contents(ctx context.Context, work Work, it Item, action string) ([]map[string]types.AttributeValue, error) {
	switch {
	case work.Config.Resources == policy.ResourceEvents:
		return nil, nil
	case action == policy.ActionArchive:
		return w.partition(ctx, work.BotID, it.ID)
	}
	return w.purger.PartitionKeys(ctx, work.BotID, it.ID)
}

func held(conv map[string]types.AttributeValue) bool {
	if m, ok := conv["tags"].(*types.AttributeValueMemberM); ok {
		return ds.String(m.Value, deletion.LegalHoldTag) == "true"
	}
	return false
}

// stillDue re-checks a conversation against the run's cutoff: one that was
// active since the evaluation is no longer due.
func stillDue(conv map[string]types.AttributeValue, basis string, cutoff time.Time) bool {
	t, err := clock.Parse(ds.String(conv, basis))
	return err == nil && !t.After(cutoff)
}

// partition reads everything under a conversation, in key order (messages
// by their time-ordered ids).
func (w *Worker) partition(ctx context.Context, bot, conv string) ([]map[string]types.AttributeValue, error) {
	table := w.purger.Table()
	pages := dynamodb.NewQueryPaginator(w.runs.db, &dynamodb.QueryInput{
		TableName: &table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :p"),
		ExpressionAttributeNames:  map[string]string{"#pk": ds.PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(lifecycle.ConversationPartition(bot, conv))},
	})
	var items []map[string]types.AttributeValue
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

// ArchiveKey is where a conversation's archive goes:
// <workspace>/<bot>/<yyyy>/<mm>/<conversationId>.jsonl.gz, the month of its
// creation.
func ArchiveKey(ws, bot, conv string, created time.Time) string {
	return fmt.Sprintf("%s/%s/%04d/%02d/%s.jsonl.gz", ws, bot, created.Year(), int(created.Month()), conv)
}

// Line is one line of an archive.
type Line struct {
	// Type is conversation (the first line), message, participant, state,
	// event or record (anything else of the conversation).
	Type string `json:"type"`
	// Key is the item's sort key in the live table (for a restore).
	Key  string         `json:"key"`
	Data map[string]any `json:"data"`
	// On the first line only: where it came from and why it was archived.
	WorkspaceID string `json:"workspaceId,omitempty"`
	BotID       string `json:"botId,omitempty"`
	PolicyID    string `json:"policyId,omitempty"`
	RunID       string `json:"runId,omitempty"`
	ArchivedAt  string `json:"archivedAt,omitempty"`
}

var lineTypes = map[string]string{"MSG#": "message", "PART#": "participant", "STATE#": "state", "EVT#": "event"}

func line(item map[string]types.AttributeValue) (Line, error) {
	data := map[string]any{}
	if err := attributevalue.UnmarshalMap(item, &data); err != nil {
		return Line{}, err
	}
	sk := ds.String(item, ds.SK)
	for _, k := range []string{ds.PK, ds.SK, ds.GSI1PK, ds.GSI1SK, "gsi2pk", "gsi2sk"} {
		delete(data, k)
	}
	l := Line{Type: "record", Key: sk, Data: data}
	for prefix, t := range lineTypes {
		if len(sk) >= len(prefix) && sk[:len(prefix)] == prefix {
			l.Type = t
		}
	}
	return l, nil
}

func gzipLines(lines []Line) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (w *Worker) archiveConversation(ctx context.Context, work Work, conv map[string]types.AttributeValue, contents []map[string]types.AttributeValue, retry bool) error {
	first, err := line(conv)
	if err != nil {
		return err
	}
	first.Type, first.WorkspaceID, first.BotID, first.PolicyID, first.RunID = "conversation", work.WorkspaceID, work.BotID, work.PolicyID, work.RunID
	first.ArchivedAt = clock.Format(w.clock.Now())
	lines := []Line{first}
	// Messages first, in order; then the rest.
	sort.SliceStable(contents, func(i, j int) bool {
		mi, mj := isMessage(contents[i]), isMessage(contents[j])
		if mi != mj {
			return mi
		}
		return ds.String(contents[i], ds.SK) < ds.String(contents[j], ds.SK)
	})
	for _, it := range contents {
		l, err := line(it)
		if err != nil {
			return err
		}
		lines = append(lines, l)
	}
	created, _ := clock.Parse(ds.String(conv, "createdAt"))
	if created.IsZero() {
		created = idTime(ds.String(conv, "id"))
	}
	return w.put(ctx, ArchiveKey(work.WorkspaceID, work.BotID, ds.String(conv, "id"), created.UTC()), lines, retry)
}

func isMessage(it map[string]types.AttributeValue) bool {
	sk := ds.String(it, ds.SK)
	return len(sk) > 4 && sk[:4] == "MSG#"
}

// archiveEvents writes a chunk's events as one object:
// <workspace>/<bot>/events/<yyyy>/<mm>/<run>-<chunk>.jsonl.gz.
func (w *Worker) archiveEvents(ctx context.Context, work Work, items []map[string]types.AttributeValue, retry bool) error {
	var lines []Line
	for _, it := range items {
		l, err := line(it)
		if err != nil {
			return err
		}
		l.Type, l.WorkspaceID, l.BotID, l.PolicyID, l.RunID = "event", work.WorkspaceID, work.BotID, work.PolicyID, work.RunID
		lines = append(lines, l)
	}
	started := idTime(work.RunID)
	key := fmt.Sprintf("%s/%s/events/%04d/%02d/%s-%05d.jsonl.gz", work.WorkspaceID, work.BotID, started.Year(), int(started.Month()), work.RunID, work.Chunk)
	return w.put(ctx, key, lines, retry)
}

// put writes an archive object, encrypted at rest (SSE-S3). On a retry an
// object already written is kept: the first attempt saw the full data.
func (w *Worker) put(ctx context.Context, key string, lines []Line, retry bool) error {
	if retry {
		_, err := w.objects.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &w.bucket, Key: &key})
		if err == nil {
			return nil
		}
		var nf *s3types.NotFound
		if !errors.As(err, &nf) {
			return err
		}
	}
	body, err := gzipLines(lines)
	if err != nil {
		return err
	}
	_, err = w.objects.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &w.bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ContentType: aws.String("application/gzip"), ServerSideEncryption: s3types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", key, err)
	}
	return nil
}

func count(plan map[string]outcome, failing bool) tally {
	t := tally{reasons: map[string]int{}}
	for _, o := range plan {
		t.processed++
		switch {
		case o.Action == "skip":
			t.skipped++
			t.reasons[o.Reason]++
		case failing:
			t.failed++
		case o.Action == policy.ActionArchive:
			t.archived++
		default:
			t.deleted++
		}
	}
	return t
}

// complete erases the chunk's top items (conversations or events), marks
// the chunk done and adds its counts to the run, in one transaction led by
// the chunk's condition: a second delivery counts nothing.
func (w *Worker) complete(ctx context.Context, work Work, plan map[string]outcome, finals []map[string]types.AttributeValue, erased int) (bool, error) {
	t := count(plan, false)
	t.erased = erased
	up := t.update(work.WorkspaceID, work.PolicyID, work.RunID, nil)
	up.TableName = &w.runs.table
	items := []types.TransactWriteItem{w.runs.book().Done(chunkKey(work.RunID, work.Chunk)), {Update: up}}
	chat := w.purger.Table()
	for _, k := range finals {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &chat, Key: k}})
	}
	_, err := w.runs.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if lifecycle.Settled(err) {
		return false, nil
	}
	return err == nil, err
}

// fail ends a chunk whose retries are spent: its items still to act on
// count as failed, with the reason among the run's errors.
func (w *Worker) fail(ctx context.Context, work Work, plan map[string]outcome, reason string) error {
	var failures []string
	for _, it := range work.Items {
		if o := plan[it.ID]; o.Action != "skip" {
			failures = append(failures, it.ID)
		}
	}
	t := count(plan, true)
	up := t.update(work.WorkspaceID, work.PolicyID, work.RunID, []string{fmt.Sprintf("chunk %d (%d items): %s", work.Chunk, len(failures), reason)})
	up.TableName = &w.runs.table
	_, err := w.runs.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		w.runs.book().Fail(chunkKey(work.RunID, work.Chunk), ds.Value(failures)), {Update: up},
	}})
	if lifecycle.Settled(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return w.runs.IfDone(ctx, work.WorkspaceID, work.PolicyID, work.RunID)
}
