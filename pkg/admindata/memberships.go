package admindata

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/parley-dev/parley/pkg/auth"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Lookups for retention policies: which workspaces an account belongs to
// (to default a policy's workspace) and which bots a workspace holds (to
// evaluate a policy over them).

// Membership is an account's role in a workspace.
type Membership struct {
	WorkspaceID string
	Role        auth.Role
}

// Memberships returns up to limit of the account's memberships: one Query
// of the memberships index (the role is on the membership item).
func (s *Store) Memberships(ctx context.Context, accountID string, limit int) ([]Membership, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value("ACC#" + accountID + "#WS"))).Build()
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), Limit: aws.Int32(int32(limit)),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, err
	}
	ms := make([]Membership, 0, len(out.Items))
	for _, it := range out.Items {
		ms = append(ms, Membership{WorkspaceID: ds.String(it, "workspaceId"), Role: auth.Role(ds.String(it, "role"))})
	}
	return ms, nil
}

// WorkspaceBotIDs lists the ids of every bot of a workspace: keys-only
// Queries of the workspace's bot index, page by page.
func (s *Store) WorkspaceBotIDs(ctx context.Context, workspaceID string) ([]string, error) {
	expr, _ := expression.NewBuilder().
		WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value("WS#" + workspaceID + "#BOTS"))).
		WithProjection(expression.NamesList(expression.Name(ds.GSI1SK))).Build()
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), ProjectionExpression: expr.Projection(),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ids []string
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			ids = append(ids, ds.String(it, ds.GSI1SK))
		}
	}
	return ids, nil
}
