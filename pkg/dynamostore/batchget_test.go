package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// partialGets answers at most 100 keys per call (refusing more, as DynamoDB
// does) and leaves the last key of each call unprocessed the first times.
type partialGets struct {
	Client
	unprocessedTimes int
	calls            int
}

func (p *partialGets) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	p.calls++
	n := 0
	for _, ka := range in.RequestItems {
		n += len(ka.Keys)
	}
	if n > BatchGetMax {
		return nil, fmt.Errorf("ValidationException: %d keys", n)
	}
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table, ka := range in.RequestItems {
		keys := ka.Keys
		if p.unprocessedTimes > 0 && len(keys) > 0 {
			p.unprocessedTimes--
			out.UnprocessedKeys = map[string]types.KeysAndAttributes{table: {Keys: keys[len(keys)-1:]}}
			keys = keys[:len(keys)-1]
		}
		out.Responses[table] = append(out.Responses[table], keys...)
	}
	return out, nil
}

func TestBatchGetSplitsAndRetries(t *testing.T) {
	var keys []map[string]types.AttributeValue
	for i := range 250 {
		keys = append(keys, Key("p", fmt.Sprint(i)))
	}
	db := &partialGets{unprocessedTimes: 2}
	var waits []time.Duration
	got, err := BatchGet(context.Background(), db, map[string]types.KeysAndAttributes{"t": {Keys: keys}},
		func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got["t"]) != 250 {
		t.Fatalf("got %d items, want 250", len(got["t"]))
	}
	if db.calls != 5 || len(waits) != 2 || waits[1] != 2*waits[0] {
		t.Fatalf("calls %d waits %v: want 3 calls of ≤100 keys plus 2 retries with growing waits", db.calls, waits)
	}
}

func TestBatchGetGivesUpAndHonoursContext(t *testing.T) {
	db := &partialGets{unprocessedTimes: 1000}
	_, err := BatchGet(context.Background(), db, map[string]types.KeysAndAttributes{"t": {Keys: []map[string]types.AttributeValue{Key("p", "1")}}},
		func(context.Context, time.Duration) error { return nil })
	if err == nil || db.calls != MaxBatchAttempts {
		t.Fatalf("err %v after %d calls: want a failure after %d", err, db.calls, MaxBatchAttempts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	db = &partialGets{unprocessedTimes: 1000}
	_, err = BatchGet(ctx, db, map[string]types.KeysAndAttributes{"t": {Keys: []map[string]types.AttributeValue{Key("p", "1")}}}, nil)
	if !errors.Is(err, context.Canceled) || db.calls != 1 {
		t.Fatalf("err %v after %d calls: want context.Canceled after the first", err, db.calls)
	}
}
