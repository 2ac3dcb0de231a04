package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
)

// DynamoDB's limits on one item: 400 KB, and documents nested at most 32
// levels deep. Writes beyond them are refused before they are sent, as a
// 413 or a 400 naming the limit, rather than by DynamoDB as a 500.
const (
	MaxItemBytes = 400 * 1024
	MaxDepth     = 32
)

// Limited is a Client that checks every written item (and the values of
// every update) against DynamoDB's item limits before sending it.
type Limited struct{ Client }

// WithItemLimits wraps c.
func WithItemLimits(c Client) Limited { return Limited{Client: c} }

// CheckItem answers PayloadTooLarge or InvalidPayload for an item DynamoDB
// would refuse.
func CheckItem(item map[string]types.AttributeValue) error {
	size, depth := 0, 0
	for k, v := range item {
		s, d := measure(v, 1)
		size += len(k) + s
		depth = max(depth, d)
	}
	if size > MaxItemBytes {
		return apperr.New(apperr.PayloadTooLarge, "the item would be %d KB; at most %d KB can be stored (reduce tags, text or payload)", size/1024, MaxItemBytes/1024)
	}
	if depth > MaxDepth {
		return apperr.Invalid("the payload is nested %d levels deep; at most %d can be stored", depth, MaxDepth)
	}
	return nil
}

// measure returns an attribute value's size (DynamoDB's rule, closely
// enough: names and string bytes, numbers ~ their digits, 3 bytes of
// overhead per element) and its nesting depth.
func measure(v types.AttributeValue, level int) (size, depth int) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value), level
	case *types.AttributeValueMemberN:
		return len(x.Value)/2 + 1, level
	case *types.AttributeValueMemberB:
		return len(x.Value), level
	case *types.AttributeValueMemberSS:
		for _, s := range x.Value {
			size += len(s)
		}
		return size, level
	case *types.AttributeValueMemberNS:
		for _, s := range x.Value {
			size += len(s)
		}
		return size, level
	case *types.AttributeValueMemberM:
		depth = level
		for k, e := range x.Value {
			s, d := measure(e, level+1)
			size += len(k) + s + 1
			depth = max(depth, d)
		}
		return size + 3, depth
	case *types.AttributeValueMemberL:
		depth = level
		for _, e := range x.Value {
			s, d := measure(e, level+1)
			size += s + 1
			depth = max(depth, d)
		}
		return size + 3, depth
	}
	return 1, level
}

func checkValues(values map[string]types.AttributeValue) error {
	return CheckItem(values)
}

// PutItem implements Client.
func (c Limited) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := CheckItem(in.Item); err != nil {
		return nil, err
	}
	return c.Client.PutItem(ctx, in, opts...)
}

// UpdateItem implements Client: the values it sets are checked (the item
// they land in may hold more; DynamoDB still refuses that case).
func (c Limited) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := checkValues(in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	return c.Client.UpdateItem(ctx, in, opts...)
}

// TransactWriteItems implements Client.
func (c Limited) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		var err error
		switch {
		case it.Put != nil:
			err = CheckItem(it.Put.Item)
		case it.Update != nil:
			err = checkValues(it.Update.ExpressionAttributeValues)
		}
		if err != nil {
			return nil, err
		}
	}
	return c.Client.TransactWriteItems(ctx, in, opts...)
}

// BatchWriteItem implements Client.
func (c Limited) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				if err := CheckItem(r.PutRequest.Item); err != nil {
					return nil, err
				}
			}
		}
	}
	return c.Client.BatchWriteItem(ctx, in, opts...)
}
