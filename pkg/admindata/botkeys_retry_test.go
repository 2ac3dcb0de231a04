package admindata

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// resentPut is a table where the item was already written: by the first
// attempt of a PutItem whose answer was lost (same item), or by another
// create (a different one).
type resentPut struct {
	ds.Client
	stored map[string]types.AttributeValue
}

func (r resentPut) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, &types.ConditionalCheckFailedException{Item: r.stored}
}

func TestCreateBotAPIKeySurvivesTheSDKsResend(t *testing.T) {
	k := BotAPIKey{ID: "bak_1", BotID: "bot_1", WorkspaceID: "ws_1", CreatedAt: "2026-11-30T00:00:00.000Z"}
	// Capture the item the store writes, then answer its resend with it.
	rec := &capture{}
	if err := NewStore(rec, "admin", nil).CreateBotAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	mine := rec.item
	if err := NewStore(resentPut{stored: mine}, "admin", nil).CreateBotAPIKey(context.Background(), k); err != nil {
		t.Fatalf("a resend that finds its own item: %v", err)
	}
	other := k
	other.BotID = "bot_2"
	if err := NewStore(resentPut{stored: mine}, "admin", nil).CreateBotAPIKey(context.Background(), other); !apperr.Is(err, apperr.AlreadyExists) {
		t.Fatalf("a different key with the same id: %v, want AlreadyExists", err)
	}
}

type capture struct {
	ds.Client
	item map[string]types.AttributeValue
}

func (c *capture) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.item = in.Item
	return &dynamodb.PutItemOutput{}, nil
}
