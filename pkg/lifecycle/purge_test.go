package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// throttling is a BatchWriteItem that processes only the first request of
// a batch, a number of times, as DynamoDB does under throttling (the
// emulator never does).
type throttling struct {
	ds.Client
	times   int // how many calls leave items unprocessed
	calls   int
	written int
}

func (f *throttling) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.calls++
	reqs := in.RequestItems["chat"]
	if f.times > 0 && len(reqs) > 1 {
		f.times--
		f.written++
		return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{"chat": reqs[1:]}}, nil
	}
	f.written += len(reqs)
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func keys(n int) []map[string]types.AttributeValue {
	out := make([]map[string]types.AttributeValue, n)
	for i := range out {
		out[i] = ds.Key("P", string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	return out
}

func TestDeleteRetriesUnprocessedItemsWithBackoff(t *testing.T) {
	db := &throttling{times: 2}
	p := NewPurger(db, "chat")
	var waits []time.Duration
	p.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if err := p.Delete(context.Background(), keys(60)); err != nil {
		t.Fatal(err)
	}
	// 60 keys: batches of 25, 25, 10; the first batch comes back short twice.
	if db.written != 60 || db.calls != 5 {
		t.Fatalf("wrote %d items in %d calls, want 60 in 5", db.written, db.calls)
	}
	if len(waits) != 2 || waits[1] <= waits[0] {
		t.Fatalf("backoff %v, want two growing waits", waits)
	}
}

func TestDeleteGivesUpOnPersistentThrottling(t *testing.T) {
	db := &throttling{times: 1000}
	p := NewPurger(db, "chat")
	p.Sleep = func(context.Context, time.Duration) error { return nil }
	if err := p.Delete(context.Background(), keys(25)); err == nil {
		t.Fatal("a batch that never completes did not fail")
	}
	if db.calls != ds.MaxBatchAttempts {
		t.Fatalf("%d attempts, want %d", db.calls, ds.MaxBatchAttempts)
	}
}

func TestBackoff(t *testing.T) {
	if Backoff(1) != time.Second || Backoff(3) != 4*time.Second || Backoff(50) != 5*time.Minute {
		t.Fatalf("backoff %v %v %v", Backoff(1), Backoff(3), Backoff(50))
	}
}
