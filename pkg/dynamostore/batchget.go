package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BatchGetMax is DynamoDB's limit of keys per BatchGetItem.
const BatchGetMax = 100

// Sleep waits d or until ctx ends, whichever is first: every retry loop that
// waits goes through it (or a replacement of the same shape in tests), so a
// cancelled request or an expiring Lambda stops waiting at once.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Sleeper waits between retries; Sleep is the real one.
type Sleeper func(ctx context.Context, d time.Duration) error

// BatchGet reads keys from one or more tables: at most 100 keys per
// BatchGetItem, unprocessed keys sent again after a growing wait (50 ms,
// doubling, capped at 5 s), at most MaxBatchAttempts times per call, then
// it fails. Each table's request options (projection, consistency) are
// taken from req, whose Keys may hold any number of keys. Items are
// returned per table in no particular order. sleep nil is Sleep.
func BatchGet(ctx context.Context, db Client, req map[string]types.KeysAndAttributes, sleep Sleeper) (map[string][]map[string]types.AttributeValue, error) {
	if sleep == nil {
		sleep = Sleep
	}
	out := map[string][]map[string]types.AttributeValue{}
	// Split into calls of at most 100 keys, in table order.
	type part struct {
		table string
		keys  []map[string]types.AttributeValue
	}
	var parts []part
	for table, ka := range req {
		for start := 0; start < len(ka.Keys); start += BatchGetMax {
			parts = append(parts, part{table, ka.Keys[start:min(start+BatchGetMax, len(ka.Keys))]})
		}
	}
	for len(parts) > 0 {
		call := map[string]types.KeysAndAttributes{}
		n := 0
		for len(parts) > 0 && n < BatchGetMax {
			p := parts[0]
			take := min(len(p.keys), BatchGetMax-n)
			ka := req[p.table]
			ka.Keys = append(append([]map[string]types.AttributeValue(nil), call[p.table].Keys...), p.keys[:take]...)
			call[p.table] = ka
			n += take
			if take == len(p.keys) {
				parts = parts[1:]
			} else {
				parts[0].keys = p.keys[take:]
			}
		}
		wait := 50 * time.Millisecond
		for attempt := 1; len(call) > 0; attempt++ {
			res, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: call})
			if err != nil {
				return nil, err
			}
			for table, items := range res.Responses {
				out[table] = append(out[table], items...)
			}
			call = res.UnprocessedKeys
			if len(call) == 0 {
				break
			}
			if attempt == MaxBatchAttempts {
				return nil, fmt.Errorf("batch get: keys still unprocessed after %d attempts", attempt)
			}
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
	return out, nil
}
