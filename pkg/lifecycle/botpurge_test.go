package lifecycle_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

// itemsOf counts a bot's chat items: its partition and its conversations'.
func itemsOf(t *testing.T, env *testenv.Env, bot string, convs []string) int {
	t.Helper()
	table := env.Env["TABLE_CHAT"]
	n := 0
	for _, pk := range append([]string{"BOT#" + bot}, func() []string {
		var out []string
		for _, c := range convs {
			out = append(out, "BOT#"+bot+"#CONV#"+c)
		}
		return out
	}()...) {
		out, err := env.Deps.DB.Query(context.Background(), &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(pk)}, Select: types.SelectCount})
		if err != nil {
			t.Fatal(err)
		}
		n += int(out.Count)
	}
	return n
}

// Deleting a bot erases all its chat data in the background, and nothing
// of another bot.
func TestDeletedBotDataIsPurged(t *testing.T) {
	env := testenv.Stack(t)
	token := env.NewAccount(t)
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "w"}}).Body["id"].(string)
	wh := map[string]string{"x-workspace-id": ws}
	var bots []string
	convs := map[string][]string{}
	for i := 0; i < 2; i++ {
		bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: wh, Body: map[string]any{"code": "exports.bot = {}"}}).Body["bot"].(map[string]any)["id"].(string)
		bots = append(bots, bot)
		h := map[string]string{"x-bot-id": bot}
		user := env.Do(t, R{Method: "POST", Path: "/v1/chat/users", Token: token, Headers: h, Body: map[string]any{"tags": map[string]any{}}})
		testenv.Want(t, user, 201, "")
		uid := user.Body["user"].(map[string]any)["id"].(string)
		for c := 0; c < 3; c++ {
			conv := env.Do(t, R{Method: "POST", Path: "/v1/chat/conversations", Token: token, Headers: h, Body: map[string]any{"channel": "web", "tags": map[string]any{}}})
			testenv.Want(t, conv, 201, "")
			cid := conv.Body["conversation"].(map[string]any)["id"].(string)
			convs[bot] = append(convs[bot], cid)
			for m := 0; m < 4; m++ {
				testenv.Want(t, env.Do(t, R{Method: "POST", Path: "/v1/chat/messages", Token: token, Headers: h, Body: map[string]any{
					"conversationId": cid, "userId": uid, "type": "text", "payload": map[string]any{"text": "hi"}, "tags": map[string]any{},
				}}), 201, "")
			}
		}
	}
	if n := itemsOf(t, env, bots[0], convs[bots[0]]); n < 3*5 {
		t.Fatalf("seeded only %d items", n)
	}
	if objectsOf(t, env, bots[0]) == 0 {
		t.Fatal("the bot's code was not stored in S3")
	}
	keep := itemsOf(t, env, bots[1], convs[bots[1]])

	testenv.Want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + bots[0], Token: token, Headers: wh, Body: map[string]any{}}), 200, "")
	deadline := time.Now().Add(20 * time.Second)
	for itemsOf(t, env, bots[0], convs[bots[0]]) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the deleted bot still has %d chat items", itemsOf(t, env, bots[0], convs[bots[0]]))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := itemsOf(t, env, bots[1], convs[bots[1]]); n != keep {
		t.Fatalf("the other bot has %d items, had %d", n, keep)
	}
	for objectsOf(t, env, bots[0]) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the deleted bot's code is still in S3")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if objectsOf(t, env, bots[1]) == 0 {
		t.Fatal("the other bot's code was erased")
	}
}

// objectsOf counts a bot's objects (code, medias) in the code bucket.
func objectsOf(t *testing.T, env *testenv.Env, bot string) int {
	t.Helper()
	out, err := s3.NewFromConfig(env.AWS, func(o *s3.Options) { o.UsePathStyle = true }).ListObjectsV2(context.Background(),
		&s3.ListObjectsV2Input{Bucket: aws.String(env.Env["BUCKET_BOTCODE"]), Prefix: aws.String("bots/" + bot + "/")})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Contents)
}
