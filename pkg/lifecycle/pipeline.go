package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Actions a chunk takes on an item.
const (
	ActDelete  = "delete"
	ActArchive = "archive"
	ActSkip    = "skip"
)

// Outcome is what a chunk decided for one item. The plan (every item's
// outcome) is fixed on the chunk's first attempt, so retries act and count
// exactly as the first attempt decided.
type Outcome struct {
	Action string `json:"a"`
	Reason string `json:"r,omitempty"`
	// Hold is the legal hold that kept the item (Reason legalHold).
	Hold string `json:"h,omitempty"`
	Facts
}

// Acts reports whether the outcome erases the item.
func (o Outcome) Acts() bool { return o.Action == ActDelete || o.Action == ActArchive }

// Chunk is one stored unit of a job's or a run's work: items of one kind
// of one bot.
type Chunk struct {
	// Key locates the chunk's bookkeeping item in the Chunks table.
	Key   map[string]types.AttributeValue
	Kind  ItemKind
	BotID string
	IDs   []string
}

// Settlement is the side of a chunk that belongs to its job or run: what
// to do with each item, how outcomes are counted, what archiving means and
// what happens when the chunk is settled.
type Settlement interface {
	// Decide maps an item's facts (found reports whether it exists) to an
	// outcome.
	Decide(id string, f Facts, found bool) Outcome
	// Tally returns the transaction items that add the chunk's outcomes to
	// its job or run; failing counts the acting outcomes as failed.
	Tally(plan map[string]Outcome, failing bool, reason string) []types.TransactWriteItem
	// Failures is what the failed chunk records of its acting items.
	Failures(plan map[string]Outcome, ids []string, reason string) types.AttributeValue
	// Export archives the items before they are erased (facts as found by
	// this attempt); retry is true after the first attempt (objects already
	// written are kept).
	Export(ctx context.Context, c Chunk, ids []string, facts map[string]Facts, retry bool) error
	// Retrying is told of every attempt after the first.
	Retrying(ctx context.Context, attempt int)
	// Record is the transaction item writing the chunk's page of the job's
	// or run's receipt: what happened to each item.
	Record(items []lifecycledata.Disposition) types.TransactWriteItem
	// Settled runs once the chunk is done or failed (job or run
	// completion, proof).
	Settled(ctx context.Context) error
}

// dispositions turns a chunk's plan into its receipt page.
func dispositions(c Chunk, plan map[string]Outcome, failing bool, reason string, at string) []lifecycledata.Disposition {
	out := make([]lifecycledata.Disposition, 0, len(c.IDs))
	for _, id := range c.IDs {
		o := plan[id]
		d := lifecycledata.Disposition{ID: id, BotID: c.BotID, At: at, Records: o.Records}
		if c.Kind != nil {
			d.Kind = c.Kind.Name()
		}
		switch {
		case !o.Acts():
			d.Disposition, d.Reason, d.HoldID, d.Records = lifecycledata.Skipped, o.Reason, o.Hold, 0
		case failing:
			d.Disposition, d.Reason, d.Records = lifecycledata.Failed, reason, 0
		case o.Action == ActArchive:
			d.Disposition = lifecycledata.Archived
		default:
			d.Disposition = lifecycledata.Deleted
		}
		out = append(out, d)
	}
	return out
}

// Pipeline runs chunks: plan (fixed on the first attempt), export, erase,
// settle in one transaction with the tally, sweep, and hand over to the
// job or run for proof. Deletion jobs, retention runs and data requests
// share it; bot purge walks the catalogue directly.
type Pipeline struct {
	Chunks  Chunks
	Retries int
	Clock   clock.Clock
	Log     *slog.Logger
	// Budget, when set, paces the chunk: what it is about to erase is
	// drawn from its workspace's throughput budget before its attempt
	// starts (a deferred chunk counts no attempt).
	Budget Budget
}

// Run processes one delivery of a chunk. An error asks for the chunk again
// later; the chunk's last error is kept to report it if it fails for good.
func (p Pipeline) Run(ctx context.Context, c Chunk, s Settlement) error {
	err := p.run(ctx, c, s)
	if _, deferred := IsDeferred(err); err != nil && !deferred {
		if nerr := p.Chunks.NoteError(ctx, c.Key, err); nerr != nil {
			p.Log.WarnContext(ctx, "chunk error not recorded", "kind", c.Kind.Name(), "bot", c.BotID, "error", nerr)
		}
	}
	return err
}

func (p Pipeline) run(ctx context.Context, c Chunk, s Settlement) error {
	facts, err := c.Kind.Inspect(ctx, c.BotID, c.IDs)
	if err != nil {
		return fmt.Errorf("inspect %s items: %w", c.Kind.Name(), err)
	}
	plan := make(map[string]Outcome, len(c.IDs))
	for _, id := range c.IDs {
		f, found := facts[id]
		f.Found = found
		plan[id] = s.Decide(id, f, found)
	}
	if err := p.pace(ctx, plan, facts); err != nil {
		return err
	}
	stored := map[string]Outcome{}
	attempt, lastError, err := p.Chunks.StartAttempt(ctx, c.Key, plan, &stored)
	if ds.IsConditionFailed(err) {
		return nil // settled by an earlier delivery
	}
	if err != nil {
		return fmt.Errorf("start attempt: %w", err)
	}
	if attempt > p.Retries+1 {
		if lastError == "" {
			lastError = "retries exhausted"
		}
		return p.fail(ctx, c, s, stored, lastError)
	}
	if attempt > 1 {
		s.Retrying(ctx, attempt)
	}

	var acting, archiving []string
	for _, id := range c.IDs {
		o := stored[id]
		if !o.Acts() {
			continue
		}
		acting = append(acting, id)
		// Only an item still there is archived: on a retry after its
		// erasure, the first attempt's archive stands.
		if _, still := facts[id]; o.Action == ActArchive && still {
			archiving = append(archiving, id)
		}
	}
	if len(archiving) > 0 {
		if err := s.Export(ctx, c, archiving, facts, attempt > 1); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	for _, id := range acting {
		if err := c.Kind.EraseContents(ctx, c.BotID, id); err != nil {
			return fmt.Errorf("erase %s %s: %w", c.Kind.Name(), id, err)
		}
	}
	items := append([]types.TransactWriteItem{p.Chunks.Done(c.Key)}, s.Tally(stored, false, "")...)
	items = append(items, s.Record(dispositions(c, stored, false, "", clock.Format(p.Clock.Now()))))
	for _, id := range acting {
		items = append(items, c.Kind.Final(c.BotID, id))
	}
	if _, err := p.Chunks.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		if Settled(err) {
			return nil // another delivery settled it first
		}
		return fmt.Errorf("settle: %w", err)
	}
	for _, id := range acting {
		if err := c.Kind.Sweep(ctx, c.BotID, id, stored[id].Facts); err != nil {
			p.Log.WarnContext(ctx, "sweep after erasure failed", "kind", c.Kind.Name(), "bot", c.BotID, "id", id, "error", err)
		}
	}
	return s.Settled(ctx)
}

// fail ends a chunk whose retries are spent: its acting items count as
// failed, once.
func (p Pipeline) fail(ctx context.Context, c Chunk, s Settlement, plan map[string]Outcome, reason string) error {
	ids := make([]string, 0, len(plan))
	for id, o := range plan {
		if o.Acts() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	items := append([]types.TransactWriteItem{p.Chunks.Fail(c.Key, s.Failures(plan, ids, reason))}, s.Tally(plan, true, reason)...)
	items = append(items, s.Record(dispositions(c, plan, true, reason, clock.Format(p.Clock.Now()))))
	if _, err := p.Chunks.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		if Settled(err) {
			return nil
		}
		return fmt.Errorf("fail chunk: %w", err)
	}
	return s.Settled(ctx)
}

// FailDeadLetter settles, as failed, a chunk whose message SQS gave up on,
// counting every item as the plan it never fixed would have: all failed.
func (p Pipeline) FailDeadLetter(ctx context.Context, c Chunk, s Settlement, reason string) error {
	plan := map[string]Outcome{}
	for _, id := range c.IDs {
		plan[id] = Outcome{Action: ActDelete}
	}
	return p.fail(ctx, c, s, plan, reason)
}
