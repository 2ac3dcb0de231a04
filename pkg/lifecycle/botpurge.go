package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// PurgeBotKind names the work item that erases a deleted bot's chat data.
const PurgeBotKind = "purgeBot"

// purgeStep bounds the conversations one work item erases, so an item
// always fits in the worker's time; a bot with more continues in a new item.
const purgeStep = 100

// BotPurge erases every chat item of a deleted bot through the lifecycle
// queue: its conversations with everything under them, then the rest of its
// partition (users, states, events, counters, claims).
type BotPurge struct {
	purger   *Purger
	queue    Queue
	queueURL string
}

// NewBotPurge returns the bot purge.
func NewBotPurge(p *Purger, q Queue, queueURL string) *BotPurge {
	return &BotPurge{purger: p, queue: q, queueURL: queueURL}
}

type purgeWork struct {
	BotID string `json:"botId"`
}

// PurgeBot queues the erasure of a bot's chat data (admin.BotDataPurger).
func (b *BotPurge) PurgeBot(ctx context.Context, _, botID string) error {
	return Enqueue(ctx, b.queue, b.queueURL, PurgeBotKind, []any{purgeWork{BotID: botID}})
}

// Handle erases up to purgeStep conversations, then either queues the rest
// or, when none are left, the bot's remaining items. Deleting a missing key
// does nothing, so a repeated item is harmless.
func (b *BotPurge) Handle(ctx context.Context, body json.RawMessage, _ int) error {
	var w purgeWork
	if err := json.Unmarshal(body, &w); err != nil || w.BotID == "" {
		return fmt.Errorf("unreadable bot purge: %s", body)
	}
	convs, err := b.keys(ctx, "BOT#"+w.BotID, "CONV#", purgeStep)
	if err != nil {
		return err
	}
	for _, k := range convs {
		conv := ds.String(k, ds.SK)[len("CONV#"):]
		children, err := b.purger.PartitionKeys(ctx, w.BotID, conv)
		if err != nil {
			return err
		}
		// Children first: a retry finds the conversation still listed.
		if err := b.purger.Delete(ctx, children); err != nil {
			return err
		}
		if err := b.purger.Delete(ctx, []map[string]types.AttributeValue{k}); err != nil {
			return err
		}
	}
	if len(convs) == purgeStep {
		return b.PurgeBot(ctx, "", w.BotID)
	}
	rest, err := b.keys(ctx, "BOT#"+w.BotID, "", 0)
	if err != nil {
		return err
	}
	return b.purger.Delete(ctx, rest)
}

// keys lists up to limit (0: all) keys of a partition whose sort key starts
// with prefix: keys-only Queries.
func (b *BotPurge) keys(ctx context.Context, pk, prefix string, limit int) ([]map[string]types.AttributeValue, error) {
	cond := expression.Key(ds.PK).Equal(expression.Value(pk))
	if prefix != "" {
		cond = cond.And(expression.Key(ds.SK).BeginsWith(prefix))
	}
	expr, _ := expression.NewBuilder().WithKeyCondition(cond).
		WithProjection(expression.NamesList(expression.Name(ds.PK), expression.Name(ds.SK))).Build()
	in := &dynamodb.QueryInput{
		TableName: aws.String(b.purger.table), KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(limit))
	}
	var out []map[string]types.AttributeValue
	pages := dynamodb.NewQueryPaginator(b.purger.db, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
	}
	return out, nil
}
