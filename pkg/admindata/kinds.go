package admindata

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// The catalogue kinds of the admin table and the code bucket: everything
// kept for a bot except the bot record itself (deleted with the bot) and
// the audit records (the proof, kept). Each implements lifecycle.Kind
// (checked in kinds_test.go, so this package needs no lifecycle import).
//
// Purge erases up to max items per call, in BatchWriteItem calls of 25 (or
// one DeleteObjects); it reports more = true whenever it erased something,
// so the caller's next call confirms that nothing is left.

// Kind names.
const (
	KindBotIssue  = "botIssue"  // issues with their events
	KindBotLog    = "botLog"    // log records
	KindBotAPIKey = "botApiKey" // bot API keys
	KindBotUsage  = "botUsage"  // the bot's usage counters
	KindBotCode   = "botCode"   // code and medias in the code bucket
)

// defaultPurgeStep is the step of a Purge called with max <= 0.
const defaultPurgeStep = 100

// listing is one keys-only Query of a bot's items: on index (or the table
// when ""), partition pk, sort keys starting with skPrefix (table only).
type listing struct {
	index, pk, skPrefix string
}

// TableKind is an admin-table kind: it erases a bot's items found by its listings, in order.
type TableKind struct {
	name     string
	db       ds.Client
	table    string
	listings func(bot string) []listing
	// before, when set, erases what lives under each item first (an
	// issue's events partition).
	before func(ctx context.Context, key map[string]types.AttributeValue) error
}

// Name implements lifecycle.Kind.
func (k *TableKind) Name() string { return k.name }

// Purge implements lifecycle.Kind.
func (k *TableKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	if max <= 0 {
		max = defaultPurgeStep
	}
	for _, l := range k.listings(bot) {
		keys, err := queryKeys(ctx, k.db, k.table, l, max)
		if err != nil {
			return false, err
		}
		if len(keys) == 0 {
			continue
		}
		if k.before != nil && l.index == "" {
			for _, key := range keys {
				if err := k.before(ctx, key); err != nil {
					return false, err
				}
			}
		}
		if err := deleteKeys(ctx, k.db, k.table, keys); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// queryKeys reads up to max (0: all) keys of a listing: keys-only Queries.
func queryKeys(ctx context.Context, db ds.Client, table string, l listing, max int) ([]map[string]types.AttributeValue, error) {
	pkName := ds.PK
	if l.index != "" {
		pkName = ds.GSI1PK
	}
	cond := expression.Key(pkName).Equal(expression.Value(l.pk))
	if l.skPrefix != "" {
		cond = cond.And(expression.Key(ds.SK).BeginsWith(l.skPrefix))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).
		WithProjection(expression.NamesList(expression.Name(ds.PK), expression.Name(ds.SK))).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName: &table, KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	if l.index != "" {
		in.IndexName = aws.String(l.index)
	}
	if max > 0 {
		in.Limit = aws.Int32(int32(max))
	}
	var out []map[string]types.AttributeValue
	pages := dynamodb.NewQueryPaginator(db, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			out = append(out, ds.Key(ds.String(it, ds.PK), ds.String(it, ds.SK)))
		}
		if max > 0 && len(out) >= max {
			return out[:max], nil
		}
	}
	return out, nil
}

func deleteKeys(ctx context.Context, db ds.Client, table string, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(keys))
	for i, key := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}}
	}
	return ds.BatchWrite(ctx, db, table, reqs, nil)
}

// NewIssueKind is the kind of a bot's issues and their events: the events
// on the bot's event index, then each issue with what its events partition
// still holds (events recorded before the index existed).
func NewIssueKind(db ds.Client, table string) *TableKind {
	k := &TableKind{name: KindBotIssue, db: db, table: table, listings: func(bot string) []listing {
		return []listing{
			{index: ds.GSI1, pk: issueEventsIndex(bot)},
			{pk: "BOT#" + bot, skPrefix: "ISSUE#"},
		}
	}}
	k.before = func(ctx context.Context, key map[string]types.AttributeValue) error {
		bot := ds.String(key, ds.PK)[len("BOT#"):]
		issue := ds.String(key, ds.SK)[len("ISSUE#"):]
		for {
			events, err := queryKeys(ctx, db, table, listing{pk: issueEventsKey(bot, issue)}, defaultPurgeStep)
			if err != nil || len(events) == 0 {
				return err
			}
			if err := deleteKeys(ctx, db, table, events); err != nil {
				return err
			}
		}
	}
	return k
}

// NewLogKind is the kind of a bot's log records.
func NewLogKind(db ds.Client, table string) *TableKind {
	return &TableKind{name: KindBotLog, db: db, table: table, listings: func(bot string) []listing {
		return []listing{{pk: logPartition("BOT", bot)}}
	}}
}

// NewAPIKeyKind is the kind of a bot's API keys (of every workspace it
// belonged to).
func NewAPIKeyKind(db ds.Client, table string) *TableKind {
	return &TableKind{name: KindBotAPIKey, db: db, table: table, listings: func(bot string) []listing {
		return []listing{{index: ds.GSI1, pk: botAPIKeysIndex(bot)}}
	}}
}

// NewUsageKind is the kind of a bot's usage counters.
func NewUsageKind(db ds.Client, table string) *TableKind {
	return &TableKind{name: KindBotUsage, db: db, table: table, listings: func(bot string) []listing {
		return []listing{{pk: usagePartition(bot)}}
	}}
}

// BucketObjects is the part of S3 the code kind uses.
type BucketObjects interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ BucketObjects = (*s3.Client)(nil)

// CodeKind is the kind of a bot's code and medias: the objects under
// bots/<bot>/ in the code bucket.
type CodeKind struct {
	objects BucketObjects
	bucket  string
}

// NewCodeKind returns the code kind on bucket.
func NewCodeKind(objects BucketObjects, bucket string) *CodeKind {
	return &CodeKind{objects: objects, bucket: bucket}
}

// Name implements lifecycle.Kind.
func (k *CodeKind) Name() string { return KindBotCode }

// Purge implements lifecycle.Kind: one listing of up to max (at most 1,000)
// objects and one DeleteObjects.
func (k *CodeKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	if max <= 0 || max > 1000 {
		max = 1000
	}
	prefix := botObjectsPrefix(bot)
	page, err := k.objects.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(k.bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(int32(max))})
	if err != nil {
		return false, err
	}
	if len(page.Contents) == 0 {
		return false, nil
	}
	ids := make([]s3types.ObjectIdentifier, 0, len(page.Contents))
	for _, o := range page.Contents {
		ids = append(ids, s3types.ObjectIdentifier{Key: o.Key})
	}
	out, err := k.objects.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(k.bucket), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err != nil {
		return false, err
	}
	if len(out.Errors) > 0 {
		return false, fmt.Errorf("%d objects of %s not deleted: %s", len(out.Errors), prefix, aws.ToString(out.Errors[0].Message))
	}
	return true, nil
}
