package lifecycle

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Chunk statuses. A chunk is a stored unit of work (a deletion job's or a
// policy run's) whose outcome counts exactly once however often SQS
// delivers it.
const (
	ChunkPending    = "pending"
	ChunkInProgress = "in_progress"
	ChunkDone       = "done"
	ChunkFailed     = "failed"
)

// Chunks keeps the bookkeeping of chunks stored as items of a table:
// status, attempts, the plan fixed on the first attempt and the last error.
type Chunks struct {
	DB    ds.Client
	Table string
}

// StartAttempt counts an attempt on the chunk at key and fixes plan on the
// first one, in one UpdateItem that returns what is stored: the stored plan
// is decoded into stored, so retries act and count as the first attempt
// decided. It answers the attempt's number and the last error an earlier
// attempt noted. It fails with a condition error when the chunk is missing
// or already settled.
func (c Chunks) StartAttempt(ctx context.Context, key map[string]types.AttributeValue, plan, stored any) (int, string, error) {
	raw, err := json.Marshal(plan)
	if err != nil {
		return 0, "", err
	}
	out, err := c.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &c.Table, Key: key,
		UpdateExpression:          aws.String("SET #plan = if_not_exists(#plan, :plan), #status = :inprog ADD attempts :one"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND #status IN (:pending, :inprog)"),
		ExpressionAttributeNames:  map[string]string{"#plan": "planJSON", "#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":plan": ds.S(string(raw)), ":inprog": ds.S(ChunkInProgress), ":pending": ds.S(ChunkPending), ":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return 0, "", err
	}
	if err := json.Unmarshal([]byte(ds.String(out.Attributes, "planJSON")), stored); err != nil {
		return 0, "", err
	}
	n := 0
	if v, ok := out.Attributes["attempts"].(*types.AttributeValueMemberN); ok {
		n, _ = strconv.Atoi(v.Value)
	}
	return n, ds.String(out.Attributes, "lastError"), nil
}

// NoteError keeps the chunk's last error, to report it if the chunk fails
// for good; the caller logs a failure to note it.
func (c Chunks) NoteError(ctx context.Context, key map[string]types.AttributeValue, cause error) error {
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	_, err := c.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &c.Table, Key: key,
		UpdateExpression:          aws.String("SET lastError = :e"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": ds.S(msg)},
	})
	if ds.IsConditionFailed(err) {
		return nil
	}
	return err
}

// Done is the transaction item that marks an in-progress chunk done. Put
// first in the TransactWriteItems that applies the chunk's effects and
// adds its counts, it makes a second delivery count nothing (see Settled).
func (c Chunks) Done(key map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &c.Table, Key: key,
		UpdateExpression:          aws.String("SET #status = :done"),
		ConditionExpression:       aws.String("#status = :inprog"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":done": ds.S(ChunkDone), ":inprog": ds.S(ChunkInProgress)},
	}}
}

// Fail is the transaction item that ends a chunk not yet settled as
// failed, recording failures (a list) with it.
func (c Chunks) Fail(key map[string]types.AttributeValue, failures types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &c.Table, Key: key,
		UpdateExpression:          aws.String("SET #status = :failed, failures = :failures"),
		ConditionExpression:       aws.String("#status IN (:pending, :inprog)"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": ds.S(ChunkFailed), ":pending": ds.S(ChunkPending), ":inprog": ds.S(ChunkInProgress), ":failures": failures},
	}}
}

// Settled reports whether a transaction led by Done or Fail was cancelled
// because another delivery settled the chunk first.
func Settled(err error) bool {
	reasons := ds.CancellationReasons(err)
	return len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed"
}
