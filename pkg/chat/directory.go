package chat

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/auth"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Directory is the chat function's auth directory: the admin store's, plus
// the whole bot record (url, signing secret, installed integrations) read in
// the same BatchGetItem as the token, so chat routes learn them for free.
//
// It reads the admin table's token, bot and integration items by their keys
// (PATHASH#<hash>/PAT, BOT#<bot>/BOT, INT#<id>/INT); the admin store may
// implement auth.BotDirectory itself, and then this wrapper goes.
type Directory struct {
	auth.Directory
	db         ds.Client
	adminTable string
}

// NewDirectory wraps the admin directory dir reading adminTable.
func NewDirectory(dir auth.Directory, db ds.Client, adminTable string) *Directory {
	return &Directory{Directory: dir, db: db, adminTable: adminTable}
}

var _ auth.BotDirectory = (*Directory)(nil)

// TokenAndBot implements auth.BotDirectory with one BatchGetItem.
func (d *Directory) TokenAndBot(ctx context.Context, hash, botID string) (auth.Token, bool, auth.BotRecord, error) {
	tokKey, botKey := ds.Key("PATHASH#"+hash, "PAT"), ds.Key("BOT#"+botID, "BOT")
	out, err := d.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		d.adminTable: {Keys: []map[string]types.AttributeValue{tokKey, botKey}, ConsistentRead: boolPtr(true)},
	}})
	if err != nil {
		return auth.Token{}, false, auth.BotRecord{}, err
	}
	var tok, bot map[string]types.AttributeValue
	for _, it := range out.Responses[d.adminTable] {
		switch ds.String(it, ds.SK) {
		case "PAT":
			tok = it
		case "BOT":
			bot = it
		}
	}
	if tok == nil {
		return auth.Token{}, false, auth.BotRecord{}, nil
	}
	rec, err := botRecord(bot)
	return auth.Token{ID: ds.String(tok, "id"), AccountID: ds.String(tok, "accountId")}, true, rec, err
}

// botRecord reads the fields of a stored bot item the chat API needs.
// Integration urls are read from the installation entries (key "url"),
// where dev integrations keep them.
func botRecord(item map[string]types.AttributeValue) (auth.BotRecord, error) {
	if item == nil {
		return auth.BotRecord{}, nil
	}
	var b struct {
		WorkspaceID   string                    `json:"workspaceId"`
		URL           string                    `json:"url"`
		SigningSecret string                    `json:"signingSecret"`
		Integrations  map[string]map[string]any `json:"integrations"`
	}
	if err := ds.Unmarshal(item, &b); err != nil {
		return auth.BotRecord{}, err
	}
	rec := auth.BotRecord{WorkspaceID: b.WorkspaceID, URL: b.URL, SigningSecret: b.SigningSecret, Integrations: map[string]auth.Integration{}}
	for key, in := range b.Integrations {
		str := func(k string) string { s, _ := in[k].(string); return s }
		enabled, ok := in["enabled"].(bool)
		rec.Integrations[key] = auth.Integration{ID: str("id"), Name: str("name"), URL: str("url"), Enabled: enabled || !ok}
	}
	return rec, nil
}

func boolPtr(b bool) *bool { return &b }

// IntegrationURL reads the url of an integration (dev integrations have
// one) from its definition in the admin table (INT#<id>/INT): one GetItem.
func (d *Directory) IntegrationURL(ctx context.Context, integrationID string) (string, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &d.adminTable, Key: ds.Key("INT#"+integrationID, "INT")})
	if err != nil {
		return "", err
	}
	return ds.String(out.Item, "url"), nil
}
