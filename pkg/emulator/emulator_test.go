package emulator

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// The emulator's faster Query and item-snapshot transactions keep
// DynamoDB's semantics: a key Query answers its partition in order with its
// range condition, and a cancelled transaction leaves nothing behind.
func TestEmulatorKeepsDynamoDBSemantics(t *testing.T) {
	ctx := context.Background()
	srv, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cfg, err := Config(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("t"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < 3; p++ {
		for i := 0; i < 5; i++ {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint("P", p)), "sk": s(fmt.Sprint("S", 4-i))}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("t"), KeyConditionExpression: aws.String("pk = :p AND sk >= :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("P1"), ":s": s("S2")}, ScanIndexForward: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range out.Items {
		got = append(got, it["pk"].(*types.AttributeValueMemberS).Value+"/"+it["sk"].(*types.AttributeValueMemberS).Value)
	}
	if fmt.Sprint(got) != "[P1/S4 P1/S3 P1/S2]" {
		t.Fatalf("query answered %v", got)
	}
	if out, _ := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("t"), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("none")}}); len(out.Items) != 0 {
		t.Fatalf("an empty partition answered %d items", len(out.Items))
	}

	// A put, an update and a delete, then a failing condition: all undone.
	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"pk": s("P9"), "sk": s("new")}}},
		{Update: &types.Update{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"pk": s("P0"), "sk": s("S0")}, UpdateExpression: aws.String("SET x = :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": s("changed")}}},
		{Delete: &types.Delete{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"pk": s("P0"), "sk": s("S1")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"pk": s("P2"), "sk": s("S0")}, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}})
	if err == nil {
		t.Fatal("the transaction's condition did not fail")
	}
	get := func(pk, sk string) map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	if get("P9", "new") != nil || get("P0", "S1") == nil || get("P0", "S0")["x"] != nil {
		t.Fatal("a cancelled transaction left changes behind")
	}

	// A transaction with a ClientRequestToken is idempotent, as on DynamoDB:
	// the SDK's retry of a call whose answer was lost (same token, same
	// parameters) succeeds without running again; other parameters under
	// the same token are refused.
	create := func(sk string) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("tok-1"), TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"pk": s("P8"), "sk": s(sk)}, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		}})
		return err
	}
	if err := create("once"); err != nil {
		t.Fatal(err)
	}
	if err := create("once"); err != nil {
		t.Fatalf("the resent transaction ran again: %v", err)
	}
	var mismatch *types.IdempotentParameterMismatchException
	if err := create("other"); !errors.As(err, &mismatch) || get("P8", "other") != nil {
		t.Fatalf("another transaction under the same token: %v", err)
	}
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"pk": s("P8"), "sk": s("once")}, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}}); err == nil {
		t.Fatal("without its token, the same write ran again")
	}
}
