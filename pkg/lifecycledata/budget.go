package lifecycledata

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// budgetKey is a workspace's throughput budget: WS#<ws> / BUDGET, holding
// nextAt, the epoch millisecond from which its next items may go.
func budgetKey(ws string) map[string]types.AttributeValue { return ds.Key(PolicyPK(ws), "BUDGET") }

// MaxBudgetWait is the longest a chunk waits in the worker for its turn;
// a chunk whose turn is further away is deferred on the queue instead.
const MaxBudgetWait = 10 * time.Second

// Budgets are the per-workspace throughput budgets of the lifecycle worker
// (a virtual schedule per workspace, GCRA without burst): items drawn at a
// rate of PerSecond push the workspace's nextAt forward by n/PerSecond, so
// every worker instance shares one pace for the workspace.
type Budgets struct {
	db        ds.Client
	table     string
	clock     clock.Clock
	PerSecond float64
	// MaxWait overrides MaxBudgetWait (tests).
	MaxWait time.Duration
}

// NewBudgets returns the budgets on the lifecycle table at perSecond items
// per second and workspace.
func NewBudgets(db ds.Client, table string, c clock.Clock, perSecond float64) *Budgets {
	return &Budgets{db: db, table: table, clock: c, PerSecond: perSecond, MaxWait: MaxBudgetWait}
}

// For is a workspace's budget: a lifecycle.Budget for the chunk pipeline.
func (b *Budgets) For(ws string) WorkspaceBudget { return WorkspaceBudget{b: b, ws: ws} }

// WorkspaceBudget is one workspace's budget.
type WorkspaceBudget struct {
	b  *Budgets
	ws string
}

// Reserve implements lifecycle.Budget: one GetItem of the workspace's
// nextAt and one conditional UpdateItem moving it (read again and retried
// when another worker moved it first, at most 5 times).
func (w WorkspaceBudget) Reserve(ctx context.Context, n int) (time.Duration, bool, error) {
	b := w.b
	if b == nil || b.PerSecond <= 0 || n <= 0 {
		return 0, true, nil
	}
	cost := int64(math.Ceil(float64(n) * 1000 / b.PerSecond))
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var out *dynamodb.GetItemOutput
		out, err = b.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &b.table, Key: budgetKey(w.ws), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, false, err
		}
		now := b.clock.Now().UnixMilli()
		prev, hasPrev := int64(0), false
		if v, ok := out.Item["nextAt"].(*types.AttributeValueMemberN); ok {
			prev, _ = strconv.ParseInt(v.Value, 10, 64)
			hasPrev = true
		}
		start := max(prev, now)
		wait := time.Duration(start-now) * time.Millisecond
		if wait > b.MaxWait {
			return wait, false, nil
		}
		in := &dynamodb.UpdateItemInput{
			TableName: &b.table, Key: budgetKey(w.ws),
			UpdateExpression:          aws.String("SET nextAt = :next"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":next": &types.AttributeValueMemberN{Value: strconv.FormatInt(start+cost, 10)}},
		}
		if hasPrev {
			in.ConditionExpression = aws.String("nextAt = :prev")
			in.ExpressionAttributeValues[":prev"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(prev, 10)}
		} else {
			in.ConditionExpression = aws.String("attribute_not_exists(nextAt)")
		}
		_, err = b.db.UpdateItem(ctx, in)
		if err == nil {
			return wait, true, nil
		}
		if !ds.IsConditionFailed(err) {
			return 0, false, err
		}
	}
	return 0, false, err
}
