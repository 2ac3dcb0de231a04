// Package lifecycle is the batched, at-least-once machinery that erases (and,
// for retention, archives) chat data off-peak: the SQS worker that runs work
// items with per-item failure reporting and backoff, and the purge of a
// conversation with everything under it in BatchWriteItem calls.
package lifecycle

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// BatchSize is DynamoDB's limit of requests per BatchWriteItem.
const BatchSize = ds.BatchSize

// ConversationKey is the key of a conversation item in the chat table.
func ConversationKey(bot, conv string) map[string]types.AttributeValue {
	return ds.Key("BOT#"+bot, "CONV#"+conv)
}

// ConversationPartition is the partition holding everything that belongs to
// a conversation: messages, participants, states, events.
func ConversationPartition(bot, conv string) string { return "BOT#" + bot + "#CONV#" + conv }

// Purger deletes chat data in batches.
type Purger struct {
	db    ds.Client
	table string
	// Sleep waits between retries of unprocessed items (replaceable in tests).
	Sleep ds.Sleeper
}

// NewPurger returns a purger on the chat table.
func NewPurger(db ds.Client, chatTable string) *Purger {
	return &Purger{db: db, table: chatTable, Sleep: ds.Sleep}
}

// Table is the chat table's name.
func (p *Purger) Table() string { return p.table }

// PartitionKeys lists the keys of everything under a conversation: one
// keys-only Query per page.
func (p *Purger) PartitionKeys(ctx context.Context, bot, conv string) ([]map[string]types.AttributeValue, error) {
	expr, _ := expression.NewBuilder().
		WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(ConversationPartition(bot, conv)))).
		WithProjection(expression.NamesList(expression.Name(ds.PK), expression.Name(ds.SK))).Build()
	pages := dynamodb.NewQueryPaginator(p.db, &dynamodb.QueryInput{
		TableName: &p.table, KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var keys []map[string]types.AttributeValue
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		keys = append(keys, out.Items...)
	}
	return keys, nil
}

// Delete erases items by key in BatchWriteItem calls of 25; unprocessed
// items are resent with backoff (see dynamostore.BatchWrite). Deleting a
// missing key is a no-op, so a retry is harmless.
func (p *Purger) Delete(ctx context.Context, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{ds.PK: k[ds.PK], ds.SK: k[ds.SK]}}})
	}
	return ds.BatchWrite(ctx, p.db, p.table, reqs, p.Sleep)
}

// ClaimAttribute is where a conversation made by get-or-create records the
// sort key of its claim item (BOT#<bot> / CONVTAGS#<digest>), which lives
// outside the conversation's partition.
const ClaimAttribute = "claimSk"

// DeleteClaim removes a deleted conversation's get-or-create claim, unless a
// newer conversation took the claim over meanwhile: one conditional
// DeleteItem. A claim left behind (a crash just before) is harmless: the
// next get-or-create finds it stale and replaces it.
func (p *Purger) DeleteClaim(ctx context.Context, bot, claimSK, conv string) error {
	_, err := p.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &p.table, Key: ds.Key("BOT#"+bot, claimSK),
		ConditionExpression:       aws.String("conversationId = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": ds.S(conv)},
	})
	if ds.IsConditionFailed(err) {
		return nil
	}
	return err
}
