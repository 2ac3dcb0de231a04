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

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

// downQueue is an SQS that refuses every send.
type downQueue struct{ lifecycle.Queue }

func (downQueue) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, errors.New("sqs: service unavailable")
}

// Deleting a bot while SQS is down: the client gets 200 (not a 500 whose
// retry would find the bot gone), and the purge intent committed with the
// deletion is in the lifecycle outbox, for the off-peak window to drain.
func TestDeleteBotKeepsThePurgeWhenSQSFails(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Purge")
	bot := createBot(t, env, owner, ws, map[string]any{"name": "doomed"})["id"].(string)

	d := env.Deps
	store := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey))
	outbox := lifecycledata.NewOutbox(d.DB, d.Config.Table(topology.LifecycleTable))
	purge := lifecycle.NewBotPurge(lifecycle.NewPurger(d.DB, d.Config.Table(topology.ChatTable)), downQueue{}, "https://sqs.invalid/q", nil, "")
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
	for _, in := range pending {
		if in.IsPurge() && in.BotID == bot && in.WorkspaceID == ws {
			return
		}
	}
	t.Fatalf("no purge intent for %s among %+v", bot, pending)
}
