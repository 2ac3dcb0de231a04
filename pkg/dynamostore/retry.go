package dynamostore

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// conflictAttempts bounds the tries of a transaction that keeps meeting
// another one on the same item.
const conflictAttempts = 4

// ConflictRetrying is a Client that retries a TransactWriteItems cancelled
// only because another transaction was touching one of its items
// (TransactionConflict), which the SDK's retryer does not: hot items such as
// a bot's day counters make that common under load. A condition that
// failed is never retried.
type ConflictRetrying struct {
	Client
	// Sleep waits between tries (replaceable in tests).
	Sleep Sleeper
}

// RetryConflicts wraps c.
func RetryConflicts(c Client) *ConflictRetrying {
	return &ConflictRetrying{Client: c, Sleep: Sleep}
}

// TransactWriteItems implements Client.
func (c *ConflictRetrying) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for attempt := 1; ; attempt++ {
		out, err := c.Client.TransactWriteItems(ctx, in, opts...)
		if err == nil || attempt == conflictAttempts || !onlyConflicts(CancellationReasons(err)) {
			return out, err
		}
		// Jittered, growing waits so the contenders spread out.
		if serr := c.Sleep(ctx, time.Duration(attempt*20+rand.IntN(20))*time.Millisecond); serr != nil {
			return out, err
		}
	}
}

func onlyConflicts(reasons []string) bool {
	conflict := false
	for _, r := range reasons {
		switch r {
		case "TransactionConflict":
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}
