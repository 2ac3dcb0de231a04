package dynamostore

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type cancelling struct {
	Client
	reasons [][]string // one per call; then success
	calls   int
}

func (c *cancelling) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls++
	if c.calls > len(c.reasons) {
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}
	var rs []types.CancellationReason
	for _, r := range c.reasons[c.calls-1] {
		rs = append(rs, types.CancellationReason{Code: aws.String(r)})
	}
	return nil, &types.TransactionCanceledException{CancellationReasons: rs}
}

func TestRetryConflicts(t *testing.T) {
	cases := []struct {
		name    string
		reasons [][]string
		calls   int
		ok      bool
	}{
		{"conflict then success", [][]string{{"None", "TransactionConflict"}}, 2, true},
		{"condition failed: no retry", [][]string{{"ConditionalCheckFailed", "None"}}, 1, false},
		{"conflict and condition: no retry", [][]string{{"ConditionalCheckFailed", "TransactionConflict"}}, 1, false},
		{"conflicts forever: bounded", [][]string{{"TransactionConflict"}, {"TransactionConflict"}, {"TransactionConflict"}, {"TransactionConflict"}, {"TransactionConflict"}}, conflictAttempts, false},
	}
	for _, c := range cases {
		fake := &cancelling{reasons: c.reasons}
		r := RetryConflicts(fake)
		r.Sleep = func(context.Context, time.Duration) error { return nil }
		_, err := r.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{})
		if (err == nil) != c.ok || fake.calls != c.calls {
			t.Errorf("%s: err %v after %d calls, want ok=%v after %d", c.name, err, fake.calls, c.ok, c.calls)
		}
	}
}
