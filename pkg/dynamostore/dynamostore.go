// Package dynamostore holds what every DynamoDB-backed store shares: the
// small client interface the stores call (the injection seam), table name
// resolution, error classification and the provisioning of the topology's
// tables.
package dynamostore

import (
	"context"
	"errors"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Client is the part of the DynamoDB API Parley's stores use.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// Key attribute names shared by every table of the topology.
const (
	PK     = "pk"
	SK     = "sk"
	GSI1   = "gsi1"
	GSI1PK = "gsi1pk"
	GSI1SK = "gsi1sk"
)

// Key builds a primary key.
func Key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		PK: &types.AttributeValueMemberS{Value: pk},
		SK: &types.AttributeValueMemberS{Value: sk},
	}
}

// S is a string attribute value.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// IsConditionFailed reports whether a write was refused by its condition.
func IsConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// CancellationReasons returns the per-item reason codes of a cancelled
// transaction ("ConditionalCheckFailed", "None", …), or nil.
func CancellationReasons(err error) []string {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return nil
	}
	out := make([]string, len(tc.CancellationReasons))
	for i, r := range tc.CancellationReasons {
		if r.Code != nil {
			out[i] = *r.Code
		}
	}
	return out
}

// Records are stored under their JSON field names, so one struct describes a
// resource on the wire and in the table; keys are added beside it.
func useJSONTags(o *attributevalue.EncoderOptions)  { o.TagKey = "json" }
func readJSONTags(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

// Item marshals a record and adds its key attributes (pk, sk, gsi keys…).
// It panics on a programming error: records are plain structs, so
// marshalling cannot fail on data.
func Item(record any, keys map[string]string) map[string]types.AttributeValue {
	item, err := attributevalue.MarshalMapWithOptions(record, useJSONTags)
	if err != nil {
		panic(err)
	}
	for k, v := range keys {
		item[k] = S(v)
	}
	return item
}

// Unmarshal reads an item into a record; key attributes are ignored.
func Unmarshal(item map[string]types.AttributeValue, record any) error {
	return attributevalue.UnmarshalMapWithOptions(item, record, readJSONTags)
}

// String returns a string attribute of an item ("" when absent).
func String(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Value marshals one value (for expression placeholders).
func Value(v any) types.AttributeValue {
	av, err := attributevalue.MarshalWithOptions(v, useJSONTags)
	if err != nil {
		panic(err)
	}
	return av
}

// Int reads a number attribute as an int64 (0 when absent or not an
// integer).
func Int(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}
