package admin

import (
	"time"

	"context"
	"github.com/parley-dev/parley/pkg/clock"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// BotWorkspace returns the workspace that owns a bot, or "" when the bot
// doesn't exist: one GetItem of the bot's key attributes.
func (s *Store) BotWorkspace(ctx context.Context, botID string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: botKey(botID), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("workspaceId"),
	})
	if err != nil {
		return "", err
	}
	return ds.String(out.Item, "workspaceId"), nil
}

// OwnerEmail returns the email of a workspace's owner ("" when the workspace
// is gone): two GetItems, used when a job's completion is mailed.
func (s *Store) OwnerEmail(ctx context.Context, workspaceID string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: workspaceKey(workspaceID), ProjectionExpression: aws.String("ownerId")})
	if err != nil || out.Item == nil {
		return "", err
	}
	acc, err := s.Account(ctx, ds.String(out.Item, "ownerId"))
	if err != nil {
		return "", err
	}
	return acc.Email, nil
}

// BotCreated returns when a bot was created (zero when it doesn't exist).
func (s *Store) BotCreated(ctx context.Context, botID string) (time.Time, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: botKey(botID), ProjectionExpression: aws.String("createdAt")})
	if err != nil || out.Item == nil {
		return time.Time{}, err
	}
	return clock.Parse(ds.String(out.Item, "createdAt"))
}
