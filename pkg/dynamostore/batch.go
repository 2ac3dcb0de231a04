package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BatchSize is DynamoDB's limit of requests per BatchWriteItem.
const BatchSize = 25

// MaxBatchAttempts bounds the sends of one batch whose items DynamoDB keeps
// leaving unprocessed (throttling).
const MaxBatchAttempts = 8

// BatchWrite sends puts and deletes to table, 25 per BatchWriteItem. The
// unprocessed part of a batch is sent again after a growing wait (50 ms,
// doubling, capped at 5 s), at most MaxBatchAttempts times; then it fails.
// Both kinds of request are idempotent, so a retried batch is harmless.
// sleep waits (nil: Sleep, which honours ctx); tests replace it.
func BatchWrite(ctx context.Context, db Client, table string, reqs []types.WriteRequest, sleep Sleeper) error {
	if sleep == nil {
		sleep = Sleep
	}
	for start := 0; start < len(reqs); start += BatchSize {
		batch := reqs[start:min(start+BatchSize, len(reqs))]
		wait := 50 * time.Millisecond
		for attempt := 1; ; attempt++ {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
			if err != nil {
				return err
			}
			batch = out.UnprocessedItems[table]
			if len(batch) == 0 {
				break
			}
			if attempt == MaxBatchAttempts {
				return fmt.Errorf("%d items still unprocessed after %d attempts", len(batch), attempt)
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
	return nil
}
