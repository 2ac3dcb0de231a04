package admin_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func createBot(t *testing.T, env *testenv.Env, token, ws string, body map[string]any) map[string]any {
	t.Helper()
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: map[string]string{"x-workspace-id": ws}, Body: body})
	want(t, res, 200, "")
	return res.Body["bot"].(map[string]any)
}

func TestBotCodeInS3AndUpdate(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Code")
	h := map[string]string{"x-workspace-id": ws}
	created := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{
		"name": "c", "code": "export default {}", "medias": []any{map[string]any{"name": "logo", "url": "data:image/png;base64,aGVsbG8="}},
	}})
	want(t, created, 200, "")
	wantCalls(t, created, 2, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1,S3.PutObject=2")
	bot := created.Body["bot"].(map[string]any)
	botID := bot["id"].(string)
	if _, leaked := bot["code"]; leaked {
		t.Fatal("the answer carries the code")
	}
	if u := bot["medias"].([]any)[0].(map[string]any)["url"].(string); !strings.Contains(u, "/bots/"+botID+"/medias/") {
		t.Fatalf("media url %s", u)
	}
	// The item holds the code's key, not the code; the object holds the code.
	item, err := env.Deps.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(env.Deps.Config.Table(topology.AdminTable)), Key: ds.Key("BOT#"+botID, "BOT")})
	if err != nil || item.Item["code"] != nil || ds.String(item.Item, "codeKey") == "" {
		t.Fatalf("bot item %v %v", item.Item, err)
	}
	obj, err := s3.NewFromConfig(env.AWS, func(o *s3.Options) { o.UsePathStyle = true }).GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(env.Env[topology.EnvVar("bucket", topology.BotCodeBucket)]), Key: aws.String(ds.String(item.Item, "codeKey"))})
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(obj.Body); string(body) != "export default {}" {
		t.Fatalf("code object %q", body)
	}

	path := "/v1/admin/bots/" + botID
	upd := env.Do(t, R{Method: "PUT", Path: path, Token: owner, Headers: h, Body: map[string]any{
		"name": "renamed", "blocked": true, "alwaysAlive": true, "tags": map[string]any{"team": "cx"},
		"states": map[string]any{"s": map[string]any{"type": "user", "schema": map[string]any{}}},
		"url":    nil, "layers": []any{}, "shouldMergePlugins": false,
	}})
	want(t, upd, 200, "")
	wantCalls(t, upd, 2, "DynamoDB.BatchGetItem=1,DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	b := upd.Body["bot"].(map[string]any)
	if b["name"] != "renamed" || b["alwaysAlive"] != true || b["tags"].(map[string]any)["team"] != "cx" || b["states"].(map[string]any)["s"] == nil {
		t.Fatalf("update %s", upd.Raw)
	}
	if _, leaked := b["blocked"]; leaked {
		t.Fatal("blocked is not part of the answer")
	}
	// null removes a key
	b = env.Do(t, R{Method: "PUT", Path: path, Token: owner, Headers: h, Body: map[string]any{"states": map[string]any{"s": nil}}}).Body["bot"].(map[string]any)
	if len(b["states"].(map[string]any)) != 0 {
		t.Fatalf("state not removed: %v", b["states"])
	}
	for _, body := range []any{map[string]any{"name": ""}, map[string]any{"plugins": map[string]any{"p": map[string]any{"id": "x"}}}, map[string]any{"integrations": map[string]any{"intver_01JZZZZZZZZZZZZZZZZZZZZZZZ": map[string]any{}}}, map[string]any{"maxExecutionTime": 0}} {
		res := env.Do(t, R{Method: "PUT", Path: path, Token: owner, Headers: h, Body: body})
		if res.Status != 400 {
			t.Fatalf("%v: %d %s", body, res.Status, res.Raw)
		}
	}
	if got := env.Do(t, R{Method: "GET", Path: path, Token: owner, Headers: h}).Body["bot"].(map[string]any)["name"]; got != "renamed" {
		t.Fatalf("bad input changed the bot: %v", got)
	}
	other := newAccount(t, env)
	otherWS := createWorkspace(t, env, other, "Other")
	oh := map[string]string{"x-workspace-id": otherWS}
	for _, r := range []R{
		{Method: "PUT", Path: path, Body: map[string]any{"name": "x"}}, {Method: "DELETE", Path: path},
		{Method: "GET", Path: path + "/logs?timeStart=2020-01-01"}, {Method: "GET", Path: path + "/webchat?type=preconfigured"},
		{Method: "GET", Path: path + "/analytics?startDate=2026-01-01&endDate=2026-01-02"}, {Method: "GET", Path: path + "/issues"},
		{Method: "GET", Path: path + "/issues/" + admindata.IssueID("x")}, {Method: "DELETE", Path: path + "/issues/" + admindata.IssueID("x")},
		{Method: "GET", Path: path + "/issues/" + admindata.IssueID("x") + "/events"},
	} {
		r.Token, r.Headers = other, oh
		want(t, env.Do(t, r), 404, "ResourceNotFound")
	}
}

func TestBotDeleteAndTransfer(t *testing.T) {
	env := testenv.Stack(t)
	owner, other := newAccount(t, env), newAccount(t, env)
	src, dst := createWorkspace(t, env, owner, "Src"), createWorkspace(t, env, owner, "Dst")
	foreign := createWorkspace(t, env, other, "Foreign")
	hs, hd := map[string]string{"x-workspace-id": src}, map[string]string{"x-workspace-id": dst}
	a, b := createBot(t, env, owner, src, map[string]any{"name": "a"}), createBot(t, env, owner, src, map[string]any{"name": "b"})

	tr := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/" + a["id"].(string) + "/transfer", Token: owner, Headers: hs, Body: map[string]any{"targetWorkspaceId": dst}})
	want(t, tr, 200, "")
	wantCalls(t, tr, 2, "DynamoDB.BatchGetItem=1,DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	count := func(ws string) any {
		return env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws, Token: owner}).Body["botCount"]
	}
	if count(src) != float64(1) || count(dst) != float64(1) {
		t.Fatalf("botCounts %v %v", count(src), count(dst))
	}
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + a["id"].(string), Token: owner, Headers: hd}), 200, "")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + a["id"].(string), Token: owner, Headers: hs}), 404, "ResourceNotFound")
	// Not allowed in the target: 403, nothing moves.
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/" + b["id"].(string) + "/transfer", Token: owner, Headers: hs, Body: map[string]any{"targetWorkspaceId": foreign}}), 403, "Forbidden")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/" + b["id"].(string) + "/transfer", Token: owner, Headers: hs, Body: map[string]any{"targetWorkspaceId": src}}), 400, "InvalidPayload")
	if count(src) != float64(1) {
		t.Fatal("refused transfer changed counts")
	}

	del := env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + b["id"].(string), Token: owner, Headers: hs})
	want(t, del, 200, "")
	// One Query finds the workspace's legal holds, one GetItem the audit
	// chain's head; the bot goes in one transaction with its purge intent
	// and audit record, and the purge is queued (see pkg/lifecycle
	// TestPurgeEverything).
	wantCalls(t, del, 2, "DynamoDB.GetItem=1,DynamoDB.Query=1,DynamoDB.TransactWriteItems=1,SQS.SendMessageBatch=1")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + b["id"].(string), Token: owner, Headers: hs}), 404, "ResourceNotFound")
	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + b["id"].(string), Token: owner, Headers: hs}), 404, "ResourceNotFound")
	if count(src) != float64(0) {
		t.Fatalf("botCount %v after delete", count(src))
	}
	if got := strings.Join(auditActions(t, env, owner, src), ","); got != "DELETE_BOT,TRANSFER_BOT,CREATE_BOT,CREATE_BOT,CREATE_WORKSPACE" {
		t.Fatalf("audit %s", got)
	}
	_ = foreign
}

func TestBotLogsIssuesAnalyticsWebchat(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Ops")
	h := map[string]string{"x-workspace-id": ws}
	botID := createBot(t, env, owner, ws, map[string]any{"name": "ops"})["id"].(string)
	path := "/v1/admin/bots/" + botID
	store, ctx := adminStore(env), context.Background()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	for i, lvl := range []string{"info", "error", "info"} {
		if err := store.AppendBotLog(ctx, botID, admin.LogRecord{Timestamp: clock.Format(base.Add(time.Duration(i) * time.Minute)), Level: lvl, Message: "delivery " + lvl}); err != nil {
			t.Fatal(err)
		}
	}
	logs := env.Do(t, R{Method: "GET", Path: path + "/logs?timeStart=2026-03-01T00:00:00.000Z&timeEnd=2026-03-02T00:00:00.000Z", Token: owner, Headers: h})
	want(t, logs, 200, "")
	wantCalls(t, logs, 2, "DynamoDB.GetItem=1,DynamoDB.Query=1")
	if n := len(logs.Body["logs"].([]any)); n != 3 {
		t.Fatalf("logs %s", logs.Raw)
	}
	errs := env.Do(t, R{Method: "GET", Path: path + "/logs?timeStart=2026-03-01&level=error", Token: owner, Headers: h})
	if n := len(errs.Body["logs"].([]any)); n != 1 {
		t.Fatalf("error logs %s", errs.Raw)
	}
	want(t, env.Do(t, R{Method: "GET", Path: path + "/logs", Token: owner, Headers: h}), 400, "InvalidQuery")

	for i := 0; i < 2; i++ {
		if err := store.RecordIssue(ctx, admin.IssueReport{BotID: botID, Code: "webhook_timeout", Title: "Webhook timed out", Description: "the bot's url didn't answer", Category: "configuration", Data: map[string]string{"url": "https://x"}, At: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	issues := env.Do(t, R{Method: "GET", Path: path + "/issues", Token: owner, Headers: h})
	want(t, issues, 200, "")
	wantCalls(t, issues, 2, "DynamoDB.GetItem=1,DynamoDB.Query=1")
	issue := issues.Body["issues"].([]any)[0].(map[string]any)
	if issue["eventsCount"] != float64(2) || issue["code"] != "webhook_timeout" || issue["lastSeenAt"] != clock.Format(base.Add(time.Second)) {
		t.Fatalf("issue %v", issue)
	}
	got := env.Do(t, R{Method: "GET", Path: path + "/issues/" + issue["id"].(string), Token: owner, Headers: h})
	want(t, got, 200, "")
	wantCalls(t, got, 2, "DynamoDB.BatchGetItem=1")
	events := env.Do(t, R{Method: "GET", Path: path + "/issues/" + issue["id"].(string) + "/events", Token: owner, Headers: h})
	if n := len(events.Body["issueEvents"].([]any)); n != 2 {
		t.Fatalf("events %s", events.Raw)
	}
	del := env.Do(t, R{Method: "DELETE", Path: path + "/issues/" + issue["id"].(string), Token: owner, Headers: h})
	want(t, del, 200, "")
	want(t, env.Do(t, R{Method: "GET", Path: path + "/issues/" + issue["id"].(string), Token: owner, Headers: h}), 404, "ResourceNotFound")

	// Analytics read the chat API's per-day counters with one Query.
	chat := env.Deps.Config.Table(topology.ChatTable)
	_, err := env.Deps.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(chat), Item: map[string]typesAV{
		"pk": ds.S("BOT#" + botID), "sk": ds.S("STAT#2026-03-02"), "newUsers": n(3), "userMessages": n(10), "botMessages": n(12),
		"events": &mapAV{Value: map[string]typesAV{"custom": n(4)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	an := env.Do(t, R{Method: "GET", Path: path + "/analytics?startDate=2026-03-01&endDate=2026-03-04", Token: owner, Headers: h})
	want(t, an, 200, "")
	wantCalls(t, an, 2, "DynamoDB.GetItem=1,DynamoDB.Query=1")
	recs := an.Body["records"].([]any)
	day := recs[1].(map[string]any)
	if len(recs) != 3 || day["newUsers"] != float64(3) || day["messages"] != float64(22) || day["events"] != float64(4) || day["startDateTimeUtc"] != "2026-03-02T00:00:00.000Z" {
		t.Fatalf("analytics %s", an.Raw)
	}
	want(t, env.Do(t, R{Method: "GET", Path: path + "/analytics?startDate=2026-03-03&endDate=2026-03-01", Token: owner, Headers: h}), 400, "InvalidQuery")

	wc := env.Do(t, R{Method: "GET", Path: path + "/webchat?type=preconfigured", Token: owner, Headers: h})
	want(t, wc, 200, "")
	if !strings.Contains(wc.Body["code"].(string), botID) {
		t.Fatalf("webchat %s", wc.Raw)
	}
	want(t, env.Do(t, R{Method: "GET", Path: path + "/webchat?type=nope", Token: owner, Headers: h}), 400, "InvalidQuery")
}

type (
	typesAV = types.AttributeValue
	mapAV   = types.AttributeValueMemberM
)

func n(v int) typesAV { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }
