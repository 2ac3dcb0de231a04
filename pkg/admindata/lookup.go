package admindata

import (
	"time"

	"context"

	"github.com/parley-dev/parley/pkg/clock"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
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

// BotKey is the key of a bot's item in the admin table, for callers that
// read it in a batch with their own items.
func BotKey(botID string) map[string]types.AttributeValue { return botKey(botID) }

var _ auth.BotDirectory = (*Store)(nil)

// TokenAndBot implements auth.BotDirectory: the token and the whole bot
// record (url, signing secret, installed integrations) in one BatchGetItem.
func (s *Store) TokenAndBot(ctx context.Context, hash, botID string) (auth.Token, bool, auth.BotRecord, error) {
	items, err := s.batchGet(ctx, tokenKey(hash), botKey(botID))
	if err != nil || items[0] == nil {
		return auth.Token{}, false, auth.BotRecord{}, err
	}
	rec, err := BotRecordOf(items[1])
	return auth.Token{ID: ds.String(items[0], "id"), AccountID: ds.String(items[0], "accountId")}, true, rec, err
}

// BotRecordOf reads the fields of a stored bot item that the chat API needs
// (empty for a missing bot). Integration urls come from the installation
// entries (key "url"), where dev integrations keep them.
func BotRecordOf(item map[string]types.AttributeValue) (auth.BotRecord, error) {
	if item == nil {
		return auth.BotRecord{}, nil
	}
	var b struct {
		WorkspaceID   string `json:"workspaceId"`
		URL           string `json:"url"`
		SigningSecret string `json:"signingSecret"`
		Configuration struct {
			Data map[string]any `json:"data"`
		} `json:"configuration"`
		Integrations map[string]map[string]any `json:"integrations"`
	}
	if err := ds.Unmarshal(item, &b); err != nil {
		return auth.BotRecord{}, err
	}
	rec := auth.BotRecord{WorkspaceID: b.WorkspaceID, URL: b.URL, SigningSecret: b.SigningSecret,
		Configuration: orEmpty(b.Configuration.Data), Integrations: map[string]auth.Integration{}}
	for key, in := range b.Integrations {
		str := func(k string) string { s, _ := in[k].(string); return s }
		enabled, ok := in["enabled"].(bool)
		conf, _ := in["configuration"].(map[string]any)
		rec.Integrations[key] = auth.Integration{ID: str("id"), Name: str("name"), URL: str("url"), Enabled: enabled || !ok,
			Alias: key, WebhookID: str("webhookId"), ConfigurationType: str("configurationType"), Configuration: orEmpty(conf)}
	}
	return rec, nil
}

// RecordOf is the bot record of a bot as the admin API holds it: what
// BotRecordOf reads from its item.
func RecordOf(ws string, b Bot) auth.BotRecord {
	rec := auth.BotRecord{WorkspaceID: ws, URL: b.URL, SigningSecret: b.SigningSecret,
		Configuration: orEmpty(b.Configuration.Data), Integrations: map[string]auth.Integration{}}
	for key, in := range b.Integrations {
		ct := ""
		if in.ConfigurationType != nil {
			ct = *in.ConfigurationType
		}
		rec.Integrations[key] = auth.Integration{ID: in.ID, Name: in.Name, Enabled: in.Enabled, Alias: key,
			WebhookID: in.WebhookID, ConfigurationType: ct, Configuration: orEmpty(in.Configuration)}
	}
	return rec
}

// IntegrationURL reads the url of an integration (dev integrations have one)
// from its definition: one GetItem.
func (s *Store) IntegrationURL(ctx context.Context, integrationID string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: integrationKey(integrationID)})
	if err != nil {
		return "", err
	}
	return ds.String(out.Item, "url"), nil
}

// BotRecord reads a bot's record (empty for a missing bot): one consistent
// GetItem.
func (s *Store) BotRecord(ctx context.Context, botID string) (auth.BotRecord, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: botKey(botID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return auth.BotRecord{}, err
	}
	return BotRecordOf(out.Item)
}

// ConfigureInstallation sets the identifier of an integration's
// installation on a bot (configureIntegration): one conditional
// UpdateItem of the bot, which must still have the installation.
func (s *Store) ConfigureInstallation(ctx context.Context, botID, alias string, identifier *string, at time.Time) error {
	var value types.AttributeValue = &types.AttributeValueMemberNULL{Value: true}
	if identifier != nil && *identifier != "" {
		value = ds.S(*identifier)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: botKey(botID),
		UpdateExpression:          aws.String("SET integrations.#a.identifier = :id, integrations.#a.updatedAt = :at"),
		ConditionExpression:       aws.String("attribute_exists(integrations.#a)"),
		ExpressionAttributeNames:  map[string]string{"#a": alias},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": value, ":at": ds.S(clock.Format(at))},
	})
	if ds.IsConditionFailed(err) {
		return apperr.New(apperr.ResourceNotFound, "the installation %q is gone", alias)
	}
	return err
}
