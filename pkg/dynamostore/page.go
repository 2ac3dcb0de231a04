package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/cursor"
)

// DefaultPageSize is the Botpress API's default page size.
const DefaultPageSize = 20

// Page is one page of a list.
type Page struct {
	Items     []map[string]types.AttributeValue
	NextToken string
}

// QueryPage runs one Query for one page of a list: the client's token
// becomes the ExclusiveStartKey (verified against scope, which must name the
// list's owner and filters), and LastEvaluatedKey becomes the next token.
// This is the only place pagination happens, and it is always one Query.
func QueryPage(ctx context.Context, db Client, codec *cursor.Codec, scope, token string, limit int, in *dynamodb.QueryInput) (Page, error) {
	start, err := codec.Decode(scope, token)
	if err != nil {
		return Page{}, apperr.New(apperr.InvalidQuery, "nextToken is invalid, or belongs to another list")
	}
	if limit <= 0 {
		limit = DefaultPageSize
	}
	in.ExclusiveStartKey = start
	in.Limit = aws.Int32(int32(limit))
	out, err := db.Query(ctx, in)
	if err != nil {
		return Page{}, err
	}
	return Page{Items: out.Items, NextToken: codec.Encode(scope, out.LastEvaluatedKey)}, nil
}

// QueryAll runs a Query to its last page and unmarshals every item into a
// T: for the small, bounded lists that have no client-facing pagination (a
// job's chunks, an account's tokens, a bot's keys) and for background work.
func QueryAll[T any](ctx context.Context, db Client, in *dynamodb.QueryInput) ([]T, error) {
	var out []T
	pages := dynamodb.NewQueryPaginator(db, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var v T
			if err := Unmarshal(it, &v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}
