package lifecycle_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

// seedBot gives a bot one of everything Parley keeps for a bot, through
// the API: code and medias, users with a get-or-create claim and a state,
// a bot state, conversations (one by get-or-create) with participants,
// messages (one by get-or-create), states and events, a bot event, a
// deleted conversation whose erasure is pending, day counters, a bot API
// key, an issue with its events and log records, a deletion job, and
// tables with rows (a deleted table and a cleared one still being erased),
// files: one indexed (its object, record, key claim, passages and their
// vectors), one replaced (the erasure of its first content pending) and one
// whose upload never came.
func seedBot(t *testing.T, env *testenv.Env, token, ws string) string {
	t.Helper()
	wh := map[string]string{"x-workspace-id": ws}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: wh, Body: map[string]any{
		"code": "exports.bot = {}", "medias": []any{map[string]any{"name": "logo", "url": "data:image/png;base64,aGVsbG8="}},
	}}).Body["bot"].(map[string]any)["id"].(string)
	h := map[string]string{"x-bot-id": bot}
	do := func(method, path string, body map[string]any, status int) map[string]any {
		res := env.Do(t, R{Method: method, Path: path, Token: token, Headers: h, Body: body})
		testenv.Want(t, res, status, "")
		return res.Body
	}
	uid := do("POST", "/v1/chat/users/get-or-create", map[string]any{"tags": map[string]any{"email": "ann@example.com"}}, 200)["user"].(map[string]any)["id"].(string)
	do("POST", "/v1/chat/states/user/"+uid+"/profile", map[string]any{"payload": map[string]any{"a": 1}}, 200)
	do("POST", "/v1/chat/states/bot/"+bot+"/memory", map[string]any{"payload": map[string]any{"a": 1}}, 200)
	var convs []string
	convs = append(convs, do("POST", "/v1/chat/conversations/get-or-create", map[string]any{"channel": "web", "tags": map[string]any{"thread": "1"}}, 200)["conversation"].(map[string]any)["id"].(string))
	for range 2 {
		convs = append(convs, do("POST", "/v1/chat/conversations", map[string]any{"channel": "web", "tags": map[string]any{}}, 201)["conversation"].(map[string]any)["id"].(string))
	}
	for _, cid := range convs {
		do("POST", "/v1/chat/conversations/"+cid+"/participants", map[string]any{"userId": uid}, 200)
		do("POST", "/v1/chat/states/conversation/"+cid+"/progress", map[string]any{"payload": map[string]any{"step": 1}}, 200)
		for range 3 {
			do("POST", "/v1/chat/messages", map[string]any{"conversationId": cid, "userId": uid, "type": "text", "payload": map[string]any{"text": "hi"}, "tags": map[string]any{}}, 201)
		}
		do("POST", "/v1/chat/messages/get-or-create", map[string]any{"conversationId": cid, "userId": uid, "type": "text", "payload": map[string]any{"text": "once"}, "tags": map[string]any{"ref": "1"}}, 200)
		do("POST", "/v1/chat/events", map[string]any{"type": "custom", "payload": map[string]any{}, "conversationId": cid}, 201)
	}
	do("POST", "/v1/chat/events", map[string]any{"type": "custom", "payload": map[string]any{}}, 201)
	do("DELETE", "/v1/chat/conversations/"+convs[2], nil, 200)
	testenv.Want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/baks", Token: token, Headers: wh, Body: map[string]any{"botId": bot, "note": "ci"}}), 200, "")
	testenv.Want(t, env.Do(t, R{Method: "POST", Path: "/api/public/bot/" + bot + "/conversations/delete", Token: token, Headers: wh,
		Body: map[string]any{"conversationIds": []string{convs[1]}}}), 200, "")
	// Tables: one with rows (key claims and index entries), one whose rows
	// were all deleted (a left generation), one deleted (a left table).
	schema := map[string]any{"sku": map[string]any{"type": "string"}, "customer": map[string]any{"type": "string", "x-parley": map[string]any{"index": true}},
		"note": map[string]any{"type": "string", "x-zui": map[string]any{"index": 2, "searchable": true}}}
	for _, name := range []string{"ordersTable", "clearedTable", "droppedTable"} {
		do("POST", "/v1/tables", map[string]any{"name": name, "schema": schema, "keyColumn": "sku"}, 200)
		do("POST", "/v1/tables/"+name+"/rows", map[string]any{"rows": []any{
			map[string]any{"sku": "a", "customer": "ann", "note": "red shoes"}, map[string]any{"sku": "b", "customer": "bob"}}}, 200)
	}
	do("POST", "/v1/tables/clearedTable/rows/delete", map[string]any{"deleteAllRows": true}, 200)
	do("DELETE", "/v1/tables/droppedTable", nil, 200)
	upload := func(key, content string, index bool) string {
		f := do("PUT", "/v1/files", map[string]any{"key": key, "size": len(content), "index": index}, 200)["file"].(map[string]any)
		req, _ := http.NewRequest("PUT", f["uploadUrl"].(string), strings.NewReader(content))
		req.Header.Set("Content-Type", f["contentType"].(string))
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("upload: %v %v", res, err)
		}
		res.Body.Close()
		return f["id"].(string)
	}
	indexed := upload("kb/faq.md", "# FAQ\n\nParcels ship within two days.\n\n## Returns\n\nReturns are free.", true)
	replaced := upload("kb/notes.txt", "first version", true)
	upload("kb/notes.txt", "second version", true)
	do("PUT", "/v1/files", map[string]any{"key": "kb/never.txt", "size": 5}, 200)
	for _, id := range []string{indexed, replaced} {
		for deadline := time.Now().Add(20 * time.Second); ; {
			if do("GET", "/v1/files/"+id, nil, 200)["file"].(map[string]any)["status"] == "indexing_completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("file %s was not indexed", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Issues and logs are written by the platform, not through the API.
	store := admindata.NewStore(env.Deps.DB, env.Env["TABLE_ADMIN"], cursor.New([]byte("k")))
	for range 2 {
		if err := store.RecordIssue(context.Background(), admindata.IssueReport{BotID: bot, Code: "delivery_failed", Title: "Delivery failed", Category: "configuration"}); err != nil {
			t.Fatal(err)
		}
		if err := store.AppendBotLog(context.Background(), bot, admindata.LogRecord{Level: "error", Message: "delivery failed", ConversationID: convs[0]}); err != nil {
			t.Fatal(err)
		}
	}
	return bot
}

// proof is what Parley keeps of a deleted bot on purpose: audit records,
// deletion job records (with their expiry) and receipts, the evidence of
// what was done.
func proof(it map[string]types.AttributeValue) bool {
	sk, pk := ds.String(it, ds.SK), ds.String(it, ds.PK)
	return strings.HasPrefix(sk, "AUDIT#") || strings.HasPrefix(sk, "JOB#") || strings.HasPrefix(pk, "JOB#") || strings.HasPrefix(pk, "RCPT#")
}

// holdings lists, by reading every table, bucket and vector index of the
// stack directly, what mentions a bot (its id anywhere in an item, an
// object's key or content, a vector's key or metadata), but its proof.
func holdings(t *testing.T, env *testenv.Env, bot string) []string {
	t.Helper()
	var out []string
	for _, st := range env.Everything(t) {
		if strings.Contains(st.Text, bot) && (st.Item == nil || !proof(st.Item)) {
			out = append(out, st.Where)
		}
	}
	return out
}

// Deleting a bot purges every kind of data in the catalogue, whatever
// table or bucket holds it, and nothing of another bot.
func TestPurgeEverything(t *testing.T) {
	env := testenv.Stack(t)
	token := env.NewAccount(t)
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "w"}}).Body["id"].(string)
	gone, kept := seedBot(t, env, token, ws), seedBot(t, env, token, ws)
	deadline := time.Now().Add(30 * time.Second)
	seeded := holdings(t, env, gone)
	keep := holdings(t, env, kept)
	for _, want := range []string{"TABLE_CHAT", "TABLE_ADMIN", "TABLE_TABLES", "BUCKET_BOTCODE", "TABLE_FILES", "BUCKET_FILES", "VECTORS_PASSAGES"} {
		if !hasPrefix(seeded, want) {
			t.Fatalf("nothing of the bot seeded in %s: %v", want, seeded)
		}
	}

	testenv.Want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + gone, Token: token, Headers: map[string]string{"x-workspace-id": ws}, Body: map[string]any{}}), 200, "")
	for left := holdings(t, env, gone); len(left) > 0; left = holdings(t, env, gone) {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("%d things of the deleted bot remain: %v", len(left), left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if after := holdings(t, env, kept); strings.Join(after, "\n") != strings.Join(keep, "\n") {
		t.Fatalf("the other bot's data changed:\nbefore %v\nafter  %v", keep, after)
	}
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
