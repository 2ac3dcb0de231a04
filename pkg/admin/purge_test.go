package admin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

// downPurge starts a purge through an SQS that refuses every send.
type downPurge struct{}

func (downPurge) PurgeBot(context.Context, string, string) error {
	return errors.New("sqs: service unavailable")
}

// Deleting a bot while SQS is down: the client gets 200 (not a 500 whose
// retry would find the bot gone), and the purge intent committed with the
// deletion is in the lifecycle outbox; the next off-peak window drains it
// and the bot's data is purged.
func TestDeleteBotKeepsThePurgeWhenSQSFails(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Purge")
	bot := createBot(t, env, owner, ws, map[string]any{"name": "doomed"})["id"].(string)
	user := env.Do(t, R{Method: "POST", Path: "/v1/chat/users", Token: owner, Headers: map[string]string{"x-bot-id": bot}, Body: map[string]any{"tags": map[string]any{}}})
	want(t, user, 201, "")

	d := env.Deps
	store := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey))
	outbox := lifecycledata.NewOutbox(d.DB, d.Config.Table(topology.LifecycleTable))
	purge := downPurge{}
	rt := httpapi.NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	admin.NewAPI(admin.Deps{Store: store, Intents: outbox, Purger: purge, Auth: auth.New(store), Clock: clock.System{}}).Register(rt)

	req := httptest.NewRequest("DELETE", "/v1/admin/bots/"+bot, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+owner)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-workspace-id", ws)
	res := httptest.NewRecorder()
	rt.ServeHTTP(res, req)
	if res.Code != http.StatusOK {
		t.Fatalf("deleteBot with SQS down: %d %s", res.Code, res.Body)
	}
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + bot, Token: owner, Headers: map[string]string{"x-workspace-id": ws}}), 404, "ResourceNotFound")

	pending, err := outbox.Pending(t.Context(), time.Now().Add(time.Minute), 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, in := range pending {
		found = found || (in.IsPurge() && in.BotID == bot && in.WorkspaceID == ws)
	}
	if !found {
		t.Fatalf("no purge intent for %s among %+v", bot, pending)
	}
	chat := func(t *testing.T, env *testenv.Env, bot string) int {
		table := env.Env["TABLE_CHAT"]
		out, err := env.Deps.DB.Query(t.Context(), &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "BOT#" + bot}}, Select: types.SelectCount})
		if err != nil {
			t.Fatal(err)
		}
		return int(out.Count)
	}
	if chat(t, env, bot) == 0 {
		t.Fatal("the bot's user is not in the chat table")
	}
	// The window drains the outbox: the purge runs and its intent goes.
	if err := env.Fire(t.Context(), topology.OffpeakSchedule); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for chat(t, env, bot) > 0 || hasIntent(t, outbox, bot) {
		if time.Now().After(deadline) {
			t.Fatalf("after the window: %d chat items, intent pending %v", chat(t, env, bot), hasIntent(t, outbox, bot))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasIntent(t *testing.T, outbox *lifecycledata.Outbox, bot string) bool {
	pending, err := outbox.Pending(t.Context(), time.Now().Add(time.Minute), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range pending {
		if in.IsPurge() && in.BotID == bot {
			return true
		}
	}
	return false
}
