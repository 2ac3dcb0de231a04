package admindata

import (
	"context"
	"errors"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// BotAPIKey is a bot API key as stored: its secret sealed (the HMAC check
// needs it back, so it can't be hashed). Pkg botkey seals and opens it.
type BotAPIKey struct {
	ID          string `json:"id"`
	CreatedAt   string `json:"createdAt"`
	Note        string `json:"note"`
	BotID       string `json:"botId"`
	WorkspaceID string `json:"workspaceId"`
	Sealed      string `json:"secret"`
	// CreatedBy is the member who created the key and Permission the
	// permission it was created with: the key authenticates only while that
	// member's role in the workspace still holds it.
	CreatedBy  string `json:"createdBy,omitempty"`
	Permission string `json:"permission,omitempty"`
}

// KeyedBot is what checking a bot API key needs of its bot.
type KeyedBot struct {
	// WorkspaceID is "" when the bot doesn't exist.
	WorkspaceID   string
	TransferredAt string
}

func botAPIKeyKey(id string) map[string]types.AttributeValue { return ds.Key("BAK#"+id, "BAK") }

func botAPIKeysIndex(bot string) string { return "BOT#" + bot + "#BAKS" }

// CreateBotAPIKey stores a new key: one conditional PutItem.
func (s *Store) CreateBotAPIKey(ctx context.Context, k BotAPIKey) error {
	item := ds.Item(k, map[string]string{ds.PK: "BAK#" + k.ID, ds.SK: "BAK", ds.GSI1PK: botAPIKeysIndex(k.BotID), ds.GSI1SK: k.ID})
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: notExists(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// The SDK resends a PutItem whose answer was lost; finding exactly
		// the item it wrote is that first attempt's success.
		if reflect.DeepEqual(ccf.Item, item) {
			return nil
		}
		return apperr.New(apperr.AlreadyExists, "bot api key %q already exists", k.ID)
	}
	return err
}

// BotAPIKeys returns the keys of a bot that belong to workspace ws (a bot
// holds a handful: one Query, all pages). Keys of a workspace the bot was
// transferred from are not listed: they no longer authenticate.
func (s *Store) BotAPIKeys(ctx context.Context, ws, botID string) ([]BotAPIKey, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value(botAPIKeysIndex(botID)))).
		WithFilter(expression.Name("workspaceId").Equal(expression.Value(ws))).Build()
	keys, err := ds.QueryAll[BotAPIKey](ctx, s.db, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if keys == nil {
		keys = []BotAPIKey{}
	}
	return keys, err
}

// DeleteBotAPIKey removes a key of the workspace: one conditional
// DeleteItem, so a key of another workspace reads as missing.
func (s *Store) DeleteBotAPIKey(ctx context.Context, ws, keyID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: botAPIKeyKey(keyID),
		ConditionExpression:       aws.String("attribute_exists(pk) AND workspaceId = :ws"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":ws": ds.S(ws)},
	})
	if ds.IsConditionFailed(err) {
		return apperr.NotFound("bot api key", keyID)
	}
	return err
}

// BotAPIKeyAndBot reads a key and the bot it names in one BatchGetItem,
// for the check of a token signed with it (found is false for an unknown
// key; the bot's WorkspaceID is "" when it doesn't exist).
func (s *Store) BotAPIKeyAndBot(ctx context.Context, keyID, botID string) (k BotAPIKey, found bool, bot KeyedBot, err error) {
	items, err := s.batchGet(ctx, botAPIKeyKey(keyID), botKey(botID))
	if err != nil || items[0] == nil {
		return BotAPIKey{}, false, KeyedBot{}, err
	}
	if err := ds.Unmarshal(items[0], &k); err != nil {
		return BotAPIKey{}, false, KeyedBot{}, err
	}
	return k, true, KeyedBot{WorkspaceID: ds.String(items[1], "workspaceId"), TransferredAt: ds.String(items[1], "transferredAt")}, nil
}
