package chatdata

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// recordingDB answers GetItem with item and records the transactions; any
// other call (a Query of the partition, a BatchWriteItem…) fails the test
// through the nil embedded Client.
type recordingDB struct {
	ds.Client
	item map[string]types.AttributeValue
	txs  [][]types.TransactWriteItem
}

func (d *recordingDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: d.item}, nil
}

func (d *recordingDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.txs = append(d.txs, in.TransactItems)
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// Deleting a conversation is one read and one transaction whatever it
// holds: the conversation, its claim (while it names it) and the erase
// intent; never a Query of its partition.
func TestDeleteConversationIsOneTransaction(t *testing.T) {
	db := &recordingDB{item: map[string]types.AttributeValue{ClaimAttribute: ds.S("CONVTAGS#abc")}}
	s := NewStore(db, "chat", nil)
	intent := types.TransactWriteItem{Put: &types.Put{TableName: new(string), Item: ds.Key("BOT#b", "ERASE#conversation#c")}}
	if err := s.DeleteConversation(context.Background(), "b", "c", intent); err != nil {
		t.Fatal(err)
	}
	if len(db.txs) != 1 || len(db.txs[0]) != 3 {
		t.Fatalf("transactions %v, want one of 3 items", db.txs)
	}
	tx := db.txs[0]
	if tx[0].Delete == nil || ds.String(tx[0].Delete.Key, ds.SK) != "CONV#c" || *tx[0].Delete.ConditionExpression != "attribute_exists(pk)" {
		t.Fatalf("first item %+v: want the conditional delete of the conversation", tx[0])
	}
	if tx[1].Put != intent.Put {
		t.Fatal("the erase intent is not in the transaction")
	}
	if tx[2].Delete == nil || ds.String(tx[2].Delete.Key, ds.SK) != "CONVTAGS#abc" {
		t.Fatalf("third item %+v: want the claim's delete", tx[2])
	}

	// A missing conversation: 404 and nothing written.
	db = &recordingDB{}
	if err := NewStore(db, "chat", nil).DeleteConversation(context.Background(), "b", "c", intent); !apperr.Is(err, apperr.ResourceNotFound) || len(db.txs) != 0 {
		t.Fatalf("err %v, %d transactions", err, len(db.txs))
	}
}
