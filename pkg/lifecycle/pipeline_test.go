package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// chunkDB keeps one chunk's bookkeeping as DynamoDB would: StartAttempt's
// conditional update and the settling transaction led by the chunk.
type chunkDB struct {
	ds.Client
	status, plan, lastError string
	attempts                int
	settles                 int
	finals                  int
}

func (c *chunkDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if aws.ToString(in.UpdateExpression) == "SET lastError = :e" {
		c.lastError = ds.String(in.ExpressionAttributeValues, ":e")
		return &dynamodb.UpdateItemOutput{}, nil
	}
	if c.status != ChunkPending && c.status != ChunkInProgress {
		return nil, &types.ConditionalCheckFailedException{}
	}
	if c.plan == "" {
		c.plan = ds.String(in.ExpressionAttributeValues, ":plan")
	}
	c.status = ChunkInProgress
	c.attempts++
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{
		"planJSON": ds.S(c.plan), "attempts": &types.AttributeValueMemberN{Value: string(rune('0' + c.attempts))}, "lastError": ds.S(c.lastError),
	}}, nil
}

func (c *chunkDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if c.status != ChunkInProgress && c.status != ChunkPending {
		code := "ConditionalCheckFailed"
		return nil, &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: &code}}}
	}
	c.status = ChunkDone
	if ds.String(in.TransactItems[0].Update.ExpressionAttributeValues, ":failed") != "" {
		c.status = ChunkFailed
	}
	c.settles++
	for _, it := range in.TransactItems {
		if it.Delete != nil {
			c.finals++
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// fakeKind is an item kind whose items are a set of ids.
type fakeKind struct {
	items   map[string]Facts
	erased  []string
	failing error
}

func (k *fakeKind) Name() string                                     { return "thing" }
func (k *fakeKind) Purge(context.Context, string, int) (bool, error) { return false, nil }
func (k *fakeKind) Inspect(_ context.Context, _ string, ids []string) (map[string]Facts, error) {
	out := map[string]Facts{}
	for _, id := range ids {
		if f, ok := k.items[id]; ok {
			out[id] = f
		}
	}
	return out, nil
}
func (k *fakeKind) Export(context.Context, string, string, LineWriter) error { return nil }
func (k *fakeKind) EraseContents(_ context.Context, _, id string) error {
	if k.failing != nil {
		return k.failing
	}
	k.erased = append(k.erased, id)
	return nil
}
func (k *fakeKind) Final(string, string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{}}
}
func (k *fakeKind) Sweep(context.Context, string, string, Facts) error { return nil }

// tallying counts what the pipeline settles.
type tallying struct {
	deleted, skipped, failed, records, settled int
	exported                                   []string
	receipt                                    []lifecycledata.Disposition
}

func (s *tallying) Decide(_ string, f Facts, found bool) Outcome {
	if !found {
		return Outcome{Action: ActSkip, Reason: "notFound"}
	}
	if f.Held {
		return Outcome{Action: ActSkip, Reason: "legalHold"}
	}
	return Outcome{Action: ActArchive, Facts: f}
}
func (s *tallying) Tally(plan map[string]Outcome, failing bool, _ string) []types.TransactWriteItem {
	for _, o := range plan {
		switch {
		case !o.Acts():
			s.skipped++
		case failing:
			s.failed++
		default:
			s.deleted++
			s.records += o.Records
		}
	}
	return nil
}
func (s *tallying) Failures(map[string]Outcome, []string, string) types.AttributeValue {
	return &types.AttributeValueMemberL{}
}
func (s *tallying) Export(_ context.Context, _ Chunk, ids []string, _ map[string]Facts, _ bool) error {
	s.exported = append(s.exported, ids...)
	return nil
}
func (s *tallying) Retrying(context.Context, int) {}
func (s *tallying) Record(items []lifecycledata.Disposition) types.TransactWriteItem {
	s.receipt = append(s.receipt, items...)
	return types.TransactWriteItem{Put: &types.Put{}}
}
func (s *tallying) Settled(context.Context) error { s.settled++; return nil }

func pipelineUnderTest(db *chunkDB) Pipeline {
	return Pipeline{Chunks: Chunks{DB: db, Table: "lc"}, Retries: 2, Clock: &clock.Fixed{T: time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// The plan of the first attempt stands: a retry that finds the items gone
// (erased by the first attempt) still counts them as the first attempt
// decided, and a second delivery after settling counts nothing.
func TestPipelinePlanIsFixedOnTheFirstAttempt(t *testing.T) {
	db := &chunkDB{status: ChunkPending}
	kind := &fakeKind{items: map[string]Facts{"a": {Records: 3}, "b": {Records: 1, Held: true}}, failing: errors.New("throttled")}
	p := pipelineUnderTest(db)
	c := Chunk{Key: ds.Key("c", "1"), Kind: kind, BotID: "bot", IDs: []string{"a", "b", "c"}}
	s := &tallying{}
	if err := p.Run(context.Background(), c, s); err == nil || db.lastError == "" {
		t.Fatalf("first attempt: err %v, last error %q", err, db.lastError)
	}
	if len(s.exported) != 1 {
		t.Fatalf("exported %v before erasing, want [a]", s.exported)
	}
	// The retry finds "a" gone (say the first attempt erased it after all).
	kind.failing, kind.items, s.exported = nil, map[string]Facts{"b": {Held: true}}, nil
	if err := p.Run(context.Background(), c, s); err != nil {
		t.Fatal(err)
	}
	if s.deleted != 1 || s.records != 3 || s.skipped != 2 || db.finals != 1 || s.settled != 1 {
		t.Fatalf("tally %+v finals %d: want a counted as planned (3 records), b and c skipped", s, db.finals)
	}
	if len(s.exported) != 0 {
		t.Fatalf("exported %v: an item already gone is not archived again", s.exported)
	}
	if err := p.Run(context.Background(), c, s); err != nil || db.settles != 1 || s.deleted != 1 {
		t.Fatalf("a redelivery after settling counted again: %v, %d settles", err, db.settles)
	}
	// The receipt page lists every item once, as planned.
	got := map[string]string{}
	for _, d := range s.receipt {
		got[d.ID] = d.Disposition + "/" + d.Reason
	}
	if len(s.receipt) != 3 || got["a"] != "archived/" || got["b"] != "skipped/legalHold" || got["c"] != "skipped/notFound" {
		t.Fatalf("receipt %+v", s.receipt)
	}
}

// After its retries a chunk fails once, its acting items counted failed.
func TestPipelineFailsAfterRetries(t *testing.T) {
	db := &chunkDB{status: ChunkPending}
	kind := &fakeKind{items: map[string]Facts{"a": {}}, failing: errors.New("boom")}
	p := pipelineUnderTest(db)
	c := Chunk{Key: ds.Key("c", "1"), Kind: kind, BotID: "bot", IDs: []string{"a"}}
	s := &tallying{}
	for range 3 {
		if err := p.Run(context.Background(), c, s); err == nil {
			t.Fatal("a failing erase succeeded")
		}
	}
	if err := p.Run(context.Background(), c, s); err != nil {
		t.Fatal(err)
	}
	if db.status != ChunkFailed || s.failed != 1 || s.settled != 1 || s.deleted != 0 {
		t.Fatalf("status %s tally %+v", db.status, s)
	}
}

// fakeBudget answers a fixed wait, reserving when it is within reach.
type fakeBudget struct {
	wait     time.Duration
	reserved bool
	asked    []int
}

func (b *fakeBudget) Reserve(_ context.Context, n int) (time.Duration, bool, error) {
	b.asked = append(b.asked, n)
	return b.wait, b.reserved, nil
}

// The budget is drawn before the attempt starts, for the records the chunk
// is about to erase (skipped items cost nothing): a chunk it cannot take
// now is deferred without counting an attempt or an error; one it can take
// waits its turn, then runs.
func TestPipelineDrawsFromTheBudget(t *testing.T) {
	db := &chunkDB{status: ChunkPending}
	kind := &fakeKind{items: map[string]Facts{"a": {Records: 30}, "b": {Records: 5, Held: true}}}
	p := pipelineUnderTest(db)
	c := Chunk{Key: ds.Key("c", "1"), Kind: kind, BotID: "bot", IDs: []string{"a", "b"}}
	s := &tallying{}
	budget := &fakeBudget{wait: time.Minute}
	p.Budget = budget
	err := p.Run(context.Background(), c, s)
	if wait, deferred := IsDeferred(err); !deferred || wait != time.Minute {
		t.Fatalf("over budget: %v, want deferred a minute", err)
	}
	if db.attempts != 0 || db.lastError != "" || len(kind.erased) != 0 {
		t.Fatalf("a deferred chunk counted an attempt (%d) or an error (%q) or erased %v", db.attempts, db.lastError, kind.erased)
	}
	budget.wait, budget.reserved = 50*time.Millisecond, true
	start := time.Now()
	if err := p.Run(context.Background(), c, s); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond || s.deleted != 1 || db.attempts != 1 {
		t.Fatalf("within budget: took %s, tally %+v, attempts %d", time.Since(start), s, db.attempts)
	}
	if len(budget.asked) != 2 || budget.asked[0] != 30 {
		t.Fatalf("asked the budget for %v, want 30 items (the held item costs nothing)", budget.asked)
	}
}
