package retention

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
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
	RunID       string                     `json:"runId"`
	PolicyID    string                     `json:"policyId"`
	WorkspaceID string                     `json:"workspaceId"`
	Chunk       int                        `json:"chunk"`
	BotID       string                     `json:"botId"`
	Items       []Item                     `json:"items"`
	Config      lifecycledata.PolicyConfig `json:"config"`
	Cutoff      string                     `json:"cutoff"`
	WindowEnd   string                     `json:"windowEnd"`
}

// Objects is the part of S3 the archiver uses: archives are streamed
// (lifecycle.ObjectWriter), and a retry keeps an object already written.
type Objects interface {
	lifecycle.ObjectStore
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Policies tells whether a policy still exists (a deleted policy's run
// stops: its remaining items are skipped).
type Policies interface {
	Exists(ctx context.Context, ws, id string) (bool, error)
}

// Worker runs policy run chunks through the shared chunk pipeline, on the
// catalogue kind the policy governs.
type Worker struct {
	runs     *Runs
	kinds    Kinds
	policies Policies
	holds    Holds
	objects  Objects
	bucket   string
	clock    clock.Clock
	log      *slog.Logger
	budgets  *lifecycledata.Budgets
}

// Paced makes the worker draw each chunk's items from its workspace's
// throughput budget (the one deletion jobs draw from).
func (w *Worker) Paced(b *lifecycledata.Budgets) *Worker {
	w.budgets = b
	return w
}

// Kinds finds the catalogue kind a policy's resources name.
type Kinds interface {
	ItemKind(name string) (lifecycle.ItemKind, bool)
}

// NewWorker returns the chunk worker; archives go to bucket.
func NewWorker(runs *Runs, kinds Kinds, policies Policies, holds Holds, objects Objects, bucket string, c clock.Clock, log *slog.Logger) *Worker {
	return &Worker{runs: runs, kinds: kinds, policies: policies, holds: holds, objects: objects, bucket: bucket, clock: c, log: log}
}

// Holds answers a workspace's active legal holds.
type Holds interface {
	Active(ctx context.Context, ws string) ([]lifecycledata.Hold, error)
}

// Receipts writes a run's receipt pages and signs its summary.
type Receipts interface {
	ItemsPut(receiptID, workspaceID, part string, items []lifecycledata.Disposition) types.TransactWriteItem
	Issue(ctx context.Context, receiptID, workspaceID, typ string, fields map[string]any) error
}

// KindOf is the catalogue kind a policy's resources govern: "conversations"
// governs conversations, "events" events, and so on for every kind.
func KindOf(resources string) string { return strings.TrimSuffix(resources, "s") }

// Handle is the lifecycle handler for WorkKind items.
func (w *Worker) Handle(ctx context.Context, body json.RawMessage, _ int) error {
	var work Work
	if err := json.Unmarshal(body, &work); err != nil {
		return fmt.Errorf("unreadable retention chunk: %w", err)
	}
	if end, err := clock.Parse(work.WindowEnd); err == nil && w.clock.Now().After(end) {
		return nil // the window closed: the chunk stays pending for the next one
	}
	c, err := w.chunk(work)
	if err != nil {
		return err
	}
	exists, err := w.policies.Exists(ctx, work.WorkspaceID, work.PolicyID)
	if err != nil {
		return err
	}
	holds, err := w.holds.Active(ctx, work.WorkspaceID)
	if err != nil {
		return fmt.Errorf("legal holds: %w", err)
	}
	s := w.settlement(work, exists)
	s.holds = holds
	p := w.pipeline()
	if w.budgets != nil {
		p.Budget = w.budgets.For(work.WorkspaceID)
	}
	return p.Run(ctx, c, s)
}

func (w *Worker) pipeline() lifecycle.Pipeline {
	return lifecycle.Pipeline{Chunks: w.runs.book(), Retries: MaxRetries, Clock: w.clock, Log: w.log}
}

func (w *Worker) chunk(work Work) (lifecycle.Chunk, error) {
	c := lifecycle.Chunk{Key: chunkKey(work.RunID, work.Chunk), BotID: work.BotID}
	for _, it := range work.Items {
		c.IDs = append(c.IDs, it.ID)
	}
	if w.kinds == nil {
		return c, nil // settling a dead letter needs no kind
	}
	k, ok := w.kinds.ItemKind(KindOf(work.Config.Resources))
	if !ok {
		return c, fmt.Errorf("no catalogue kind governs %q", work.Config.Resources)
	}
	c.Kind = k
	return c, nil
}

func (w *Worker) settlement(work Work, policyExists bool) runChunk {
	cutoff, _ := clock.Parse(work.Cutoff)
	return runChunk{w: w, work: work, policyExists: policyExists, cutoff: cutoff}
}

// runChunk is a policy run's side of a chunk.
type runChunk struct {
	w            *Worker
	work         Work
	policyExists bool
	cutoff       time.Time
	holds        []lifecycledata.Hold
}

// Record writes the chunk's page of the run's receipt.
func (c runChunk) Record(items []lifecycledata.Disposition) types.TransactWriteItem {
	return c.w.runs.receipts.ItemsPut(c.work.RunID, c.work.WorkspaceID, fmt.Sprintf("%05d", c.work.Chunk), items)
}

func (c runChunk) Decide(id string, f lifecycle.Facts, found bool) lifecycle.Outcome {
	kind := KindOf(c.work.Config.Resources)
	for _, h := range c.holds {
		if found && h.Covers(c.work.BotID, kind, id, f.Users, f.Tags) {
			return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipLegalHold, Hold: h.ID}
		}
	}
	switch {
	case !c.policyExists:
		return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipPolicyDeleted}
	case !found:
		return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipNotFound}
	case f.Held:
		return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipLegalHold, Hold: "tag:legalHold"}
	case !stillDue(f, c.work.Config.Basis, c.cutoff):
		return lifecycle.Outcome{Action: lifecycle.ActSkip, Reason: SkipNotDue}
	}
	return lifecycle.Outcome{Action: c.work.Config.Action, Facts: f}
}

// stillDue re-checks an item against the run's cutoff: one that was
// active since the evaluation is no longer due.
func stillDue(f lifecycle.Facts, basis string, cutoff time.Time) bool {
	t := f.CreatedAt
	if basis == lifecycledata.BasisUpdatedAt && !f.UpdatedAt.IsZero() {
		t = f.UpdatedAt
	}
	return !t.IsZero() && !t.After(cutoff)
}

func (c runChunk) Tally(plan map[string]lifecycle.Outcome, failing bool, reason string) []types.TransactWriteItem {
	t := count(plan, failing)
	var errs []string
	if failing {
		t.erased = 0
		errs = []string{fmt.Sprintf("chunk %d (%d items): %s", c.work.Chunk, t.failed, reason)}
	}
	up := t.update(c.work.WorkspaceID, c.work.PolicyID, c.work.RunID, errs)
	up.TableName = &c.w.runs.table
	return []types.TransactWriteItem{{Update: up}}
}

func (c runChunk) Failures(_ map[string]lifecycle.Outcome, ids []string, _ string) types.AttributeValue {
	return ds.Value(ids)
}

func (c runChunk) Retrying(context.Context, int) {}

func (c runChunk) Settled(ctx context.Context) error {
	return c.w.runs.IfDone(ctx, c.work.WorkspaceID, c.work.PolicyID, c.work.RunID)
}

// Export archives items before they are erased: a conversation (or any
// item with contents) is one object of its own; items of kinds without
// contents (events) are one object per chunk.
func (c runChunk) Export(ctx context.Context, ch lifecycle.Chunk, ids []string, facts map[string]lifecycle.Facts, retry bool) error {
	if ch.Kind.Name() != lifecycle.KindConversation {
		started := idTime(c.work.RunID)
		key := fmt.Sprintf("%s/%s/%ss/%04d/%02d/%s-%05d.jsonl.gz", c.work.WorkspaceID, c.work.BotID, ch.Kind.Name(), started.Year(), int(started.Month()), c.work.RunID, c.work.Chunk)
		return c.archive(ctx, key, retry, false, func(lw lifecycle.LineWriter) error {
			for _, id := range ids {
				if err := ch.Kind.Export(ctx, ch.BotID, id, lw); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, id := range ids {
		created := facts[id].CreatedAt
		if created.IsZero() {
			created = idTime(id)
		}
		key := ArchiveKey(c.work.WorkspaceID, c.work.BotID, id, created.UTC())
		err := c.archive(ctx, key, retry, true, func(lw lifecycle.LineWriter) error {
			return ch.Kind.Export(ctx, ch.BotID, id, lw)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// archive writes one archive object, gzipped JSON lines streamed to S3. On
// a retry an object already written is kept: the first attempt saw the
// full data. firstOnly stamps the origin on the first line only (an
// object per item), otherwise on every line.
func (c runChunk) archive(ctx context.Context, key string, retry, firstOnly bool, write func(lifecycle.LineWriter) error) error {
	w := c.w
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
	obj := lifecycle.NewObjectWriter(ctx, w.objects, w.bucket, key, "application/gzip")
	zw := gzip.NewWriter(obj)
	lines := &stampedLines{enc: json.NewEncoder(zw), firstOnly: firstOnly, stamp: lifecycle.Line{
		WorkspaceID: c.work.WorkspaceID, BotID: c.work.BotID, PolicyID: c.work.PolicyID, RunID: c.work.RunID,
		ArchivedAt: clock.Format(w.clock.Now()),
	}}
	err := write(lines)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if aerr := obj.Abort(); aerr != nil {
			w.log.WarnContext(ctx, "archive upload not aborted", "key", key, "run", c.work.RunID, "error", aerr)
		}
		return fmt.Errorf("archive %s: %w", key, err)
	}
	if err := obj.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", key, err)
	}
	return nil
}

// stampedLines encodes lines, stamping where they came from and why.
type stampedLines struct {
	enc       *json.Encoder
	stamp     lifecycle.Line
	firstOnly bool
	n         int
}

func (s *stampedLines) WriteLine(l lifecycle.Line) error {
	if s.n == 0 || !s.firstOnly {
		l.WorkspaceID, l.BotID, l.PolicyID, l.RunID = s.stamp.WorkspaceID, s.stamp.BotID, s.stamp.PolicyID, s.stamp.RunID
		if s.firstOnly {
			l.ArchivedAt = s.stamp.ArchivedAt
		}
	}
	s.n++
	return s.enc.Encode(l)
}

// ArchiveKey is where a conversation's archive goes:
// <workspace>/<bot>/<yyyy>/<mm>/<conversationId>.jsonl.gz, the month of its
// creation.
func ArchiveKey(ws, bot, conv string, created time.Time) string {
	return lifecycle.ArchiveKey(ws, bot, conv, created)
}

func count(plan map[string]lifecycle.Outcome, failing bool) tally {
	t := tally{reasons: map[string]int{}}
	for _, o := range plan {
		t.processed++
		switch {
		case o.Action == lifecycle.ActSkip:
			t.skipped++
			t.reasons[o.Reason]++
		case failing:
			t.failed++
		case o.Action == lifecycledata.ActionArchive:
			t.archived++
			t.erased += o.Records
		default:
			t.deleted++
			t.erased += o.Records
		}
	}
	return t
}
