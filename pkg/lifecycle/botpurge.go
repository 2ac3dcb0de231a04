package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
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
	objects  Objects
	bucket   string
}

// Objects is the part of S3 the bot purge uses.
type Objects interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

// NewBotPurge returns the bot purge; objects and bucket hold bots' code and
// medias (under bots/<id>/), erased with their chat data.
func NewBotPurge(p *Purger, q Queue, queueURL string, objects Objects, bucket string) *BotPurge {
	return &BotPurge{purger: p, queue: q, queueURL: queueURL, objects: objects, bucket: bucket}
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
	if err := b.purger.Delete(ctx, rest); err != nil {
		return err
	}
	return b.deleteObjects(ctx, "bots/"+w.BotID+"/")
}

// deleteObjects erases every object under prefix: one listing and one
// DeleteObjects per 1,000 objects.
func (b *BotPurge) deleteObjects(ctx context.Context, prefix string) error {
	if b.objects == nil || b.bucket == "" {
		return nil
	}
	pages := s3.NewListObjectsV2Paginator(b.objects, &s3.ListObjectsV2Input{Bucket: aws.String(b.bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		var ids []s3types.ObjectIdentifier
		for _, o := range page.Contents {
			ids = append(ids, s3types.ObjectIdentifier{Key: o.Key})
		}
		out, err := b.objects.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b.bucket), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("%d objects of %s not deleted: %s", len(out.Errors), prefix, aws.ToString(out.Errors[0].Message))
		}
	}
	return nil
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
