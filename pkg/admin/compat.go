package admin

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Names that moved to pkg/admindata, kept so the packages that still use
// them compile until they switch (deletion, policy, retention, chat,
// localrun). Nothing here builds a key.

// Store is the admin table's store.
//
// Deprecated: use admindata.Store.
type Store = admindata.Store

// NewStore returns the admin table's store.
//
// Deprecated: use admindata.NewStore.
func NewStore(db ds.Client, table string, pages *cursor.Codec) *Store {
	return admindata.NewStore(db, table, pages)
}

// BotKey is the key of a bot's item in the admin table.
//
// Deprecated: use admindata.BotKey.
func BotKey(botID string) map[string]types.AttributeValue { return admindata.BotKey(botID) }

// BotRecordOf reads what the chat API needs of a stored bot item.
//
// Deprecated: use admindata.BotRecordOf.
func BotRecordOf(item map[string]types.AttributeValue) (auth.BotRecord, error) {
	return admindata.BotRecordOf(item)
}
