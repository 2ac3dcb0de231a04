package compliance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/compliance"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var want = testenv.Want

// world is an account with a workspace and a bot.
type world struct {
	env            *testenv.Env
	token, ws, bot string
}

func newWorld(t testing.TB, env *testenv.Env) world {
	t.Helper()
	w := world{env: env, token: env.NewAccount(t)}
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: w.token, Body: map[string]any{"name": "w"}})
	want(t, ws, 200, "")
	w.ws = ws.Body["id"].(string)
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: w.token, Headers: w.h(), Body: map[string]any{"name": "b"}})
	want(t, bot, 200, "")
	w.bot = bot.Body["bot"].(map[string]any)["id"].(string)
	return w
}

func (w world) h() map[string]string { return map[string]string{"x-workspace-id": w.ws} }

func (w world) do(t testing.TB, method, path string, body any) testenv.Response {
	t.Helper()
	return w.env.Do(t, R{Method: method, Path: path, Token: w.token, Headers: w.h(), Body: body})
}

func (w world) chat(t testing.TB, method, path string, body any) testenv.Response {
	t.Helper()
	return w.env.Do(t, R{Method: method, Path: path, Token: w.token, Headers: map[string]string{"x-bot-id": w.bot}, Body: body})
}

func (w world) export(t testing.TB) []compliance.ExportLine {
	t.Helper()
	res := w.do(t, "GET", "/api/v1/audit/export", nil)
	want(t, res, 200, "")
	var out []compliance.ExportLine
	sc := bufio.NewScanner(bytes.NewReader(res.Raw))
	for sc.Scan() {
		var l compliance.ExportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func (w world) verify(t testing.TB) map[string]any {
	t.Helper()
	res := w.do(t, "GET", "/api/v1/audit/verify", nil)
	want(t, res, 200, "")
	return res.Body
}

func db(env *testenv.Env) *dynamodb.Client { return dynamodb.NewFromConfig(env.AWS) }

func adminTable(env *testenv.Env) string { return env.Env["TABLE_ADMIN"] }

// wantInvalidAt checks that verify reports the chain broken at seq.
func wantInvalidAt(t *testing.T, w world, what string, seq int) {
	t.Helper()
	v := w.verify(t)
	if v["valid"] != false || v["firstInvalidSeq"] != float64(seq) {
		t.Fatalf("%s: verify answered %v, want invalid at %d", what, v, seq)
	}
}

// Every audited change is a link of the workspace's chain; verify finds a
// record whose content was altered directly in DynamoDB, one deleted and
// two whose order was swapped, and the chain verifies again once they are
// put back. getAuditRecords answers as before.
func TestAuditChainDetectsTampering(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	for i := 0; i < 3; i++ {
		want(t, w.do(t, "PUT", "/v1/admin/workspaces/"+w.ws, map[string]any{"name": fmt.Sprint("w", i)}), 200, "")
	}
	lines := w.export(t)
	if len(lines) != 5 { // workspace, bot, three updates
		t.Fatalf("export: %d lines, want 5: %+v", len(lines), lines)
	}
	for i, l := range lines {
		if l.Seq != int64(i+1) || (i > 0 && l.PrevHash != lines[i-1].Hash) || len(l.Hash) != 64 {
			t.Fatalf("line %d: %+v", i, l)
		}
	}
	verify := w.verify(t)
	if verify["valid"] != true || verify["records"] != float64(5) || verify["firstInvalidSeq"] != nil {
		t.Fatalf("verify: %v", verify)
	}
	want(t, w.do(t, "GET", "/v1/admin/workspaces/"+w.ws+"/audit-records", nil), 200, "")

	ctx := context.Background()
	client, table := db(env), adminTable(env)
	get := func(id string) map[string]types.AttributeValue {
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: admindata.AuditRecordKey(w.ws, id)})
		if err != nil || out.Item == nil {
			t.Fatalf("read record %s: %v", id, err)
		}
		return out.Item
	}
	put := func(item map[string]types.AttributeValue) {
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}

	// Content: one attribute of record 3 changed.
	third := get(lines[2].ID)
	altered := map[string]types.AttributeValue{}
	for k, v := range third {
		altered[k] = v
	}
	altered["resourceName"] = ds.S("someone else")
	put(altered)
	wantInvalidAt(t, w, "record 3 altered", 3)
	put(third)
	if v := w.verify(t); v["valid"] != true {
		t.Fatalf("record 3 put back: %v", v)
	}

	// Deletion: record 2 removed.
	second := get(lines[1].ID)
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: admindata.AuditRecordKey(w.ws, lines[1].ID)}); err != nil {
		t.Fatal(err)
	}
	wantInvalidAt(t, w, "record 2 deleted", 2)
	put(second)

	// Order: records 2 and 4 trade places (seq and index position).
	fourth := get(lines[3].ID)
	swapped2, swapped4 := map[string]types.AttributeValue{}, map[string]types.AttributeValue{}
	for k, v := range second {
		swapped2[k] = v
	}
	for k, v := range fourth {
		swapped4[k] = v
	}
	swapped2["seq"], swapped4["seq"] = fourth["seq"], second["seq"]
	swapped2[ds.GSI1SK], swapped4[ds.GSI1SK] = fourth[ds.GSI1SK], second[ds.GSI1SK]
	put(swapped2)
	put(swapped4)
	wantInvalidAt(t, w, "records 2 and 4 swapped", 2)
	put(second)
	put(fourth)

	// The last record removed: the head still names it.
	last := get(lines[4].ID)
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: admindata.AuditRecordKey(w.ws, lines[4].ID)}); err != nil {
		t.Fatal(err)
	}
	wantInvalidAt(t, w, "last record deleted", 5)
	put(last)
	if v := w.verify(t); v["valid"] != true || v["records"] != float64(5) {
		t.Fatalf("all put back: %v", v)
	}

	// The chain is the workspace's own: another workspace's is separate.
	other := newWorld(t, env)
	if v := other.verify(t); v["valid"] != true || v["records"] != float64(2) {
		t.Fatalf("other workspace: %v", v)
	}
	// A member without audit.read is refused.
	want(t, env.Do(t, R{Method: "GET", Path: "/api/v1/audit/verify", Token: other.token, Headers: w.h()}), 403, "Forbidden")
}

// Twenty audited changes at once (policy creations: a policy and its
// record in one transaction across two tables) make one chain: seqs 1..21
// without fork or gap, every record linked to the one before.
func TestConcurrentAuditedChangesMakeOneChain(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	before := admindata.ChainRetries()
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res := w.do(t, "POST", "/api/v1/policy/create", map[string]any{"name": fmt.Sprint("p", i), "description": "d", "type": "retention",
				"config": map[string]any{"maxAge": "P30D"}})
			statuses[i] = res.Status
		}(i)
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Fatalf("change %d answered %d", i, s)
		}
	}
	retries := admindata.ChainRetries() - before
	t.Logf("%d concurrent audited changes: %d transactions run again because the head had moved (%.2f extra head reads and transactions per change)", n, retries, float64(retries)/n)
	lines := w.export(t)
	if len(lines) != n+2 {
		t.Fatalf("export: %d lines, want %d", len(lines), n+2)
	}
	ids := map[string]bool{}
	for i, l := range lines {
		if l.Seq != int64(i+1) || (i > 0 && l.PrevHash != lines[i-1].Hash) || ids[l.ID] {
			t.Fatalf("line %d of the chain: %+v", i, l)
		}
		ids[l.ID] = true
	}
	if v := w.verify(t); v["valid"] != true || v["records"] != float64(n+2) {
		t.Fatalf("verify: %v", v)
	}
}

// A conversation archived by a real retention policy run comes back with
// its ids, messages in order, tags, participants and states, read through
// the chat API equal to what was there before; restoring it again is 409;
// the restore is in the audit chain.
func TestRestoreArchivedConversation(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	obj := func(res testenv.Response, key string) map[string]any {
		t.Helper()
		if res.Status >= 300 {
			t.Fatalf("%d %s", res.Status, res.Raw)
		}
		return res.Body[key].(map[string]any)
	}
	user := obj(w.chat(t, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{}}), "user")["id"].(string)
	conv := obj(w.chat(t, "POST", "/v1/chat/conversations/get-or-create", map[string]any{"channel": "web", "tags": map[string]any{"topic": "billing"}}), "conversation")["id"].(string)
	want(t, w.chat(t, "POST", "/v1/chat/conversations/"+conv+"/participants", map[string]any{"userId": user}), 200, "")
	for i := 0; i < 25; i++ {
		want(t, w.chat(t, "POST", "/v1/chat/messages", map[string]any{"conversationId": conv, "userId": user, "type": "text",
			"payload": map[string]any{"text": fmt.Sprint("message ", i)}, "tags": map[string]any{"n": fmt.Sprint(i)}}), 201, "")
	}
	want(t, w.chat(t, "POST", "/v1/chat/states/conversation/"+conv+"/ctx", map[string]any{"payload": map[string]any{"step": 3, "name": "ann"}}), 200, "")
	kept := obj(w.chat(t, "POST", "/v1/chat/conversations", map[string]any{"channel": "web", "tags": map[string]any{}}), "conversation")["id"].(string)

	read := func() map[string]any {
		t.Helper()
		got := map[string]any{
			"conversation": obj(w.chat(t, "GET", "/v1/chat/conversations/"+conv, nil), "conversation"),
			"state":        obj(w.chat(t, "GET", "/v1/chat/states/conversation/"+conv+"/ctx", nil), "state"),
			"participants": w.chat(t, "GET", "/v1/chat/conversations/"+conv+"/participants", nil).Body["participants"],
		}
		var msgs []any
		token := ""
		for {
			path := "/v1/chat/messages?conversationId=" + conv
			if token != "" {
				path += "&nextToken=" + token
			}
			res := w.chat(t, "GET", path, nil)
			want(t, res, 200, "")
			msgs = append(msgs, res.Body["messages"].([]any)...)
			token, _ = res.Body["meta"].(map[string]any)["nextToken"].(string)
			if token == "" {
				break
			}
		}
		got["messages"] = msgs
		return got
	}
	before := read()
	if n := len(before["messages"].([]any)); n != 25 {
		t.Fatalf("%d messages before", n)
	}

	// A policy archives it (idle past PT1S); the other conversation is
	// tagged on hold, so it stays.
	want(t, w.chat(t, "PUT", "/v1/chat/conversations/"+kept, map[string]any{"tags": map[string]any{"legalHold": "true"}}), 200, "")
	time.Sleep(1100 * time.Millisecond)
	pol := w.do(t, "POST", "/api/v1/policy/create", map[string]any{"name": "archive", "description": "d", "type": "retention",
		"config": map[string]any{"maxAge": "PT1S", "action": "archive", "scope": map[string]any{"botIds": []string{w.bot}}}})
	want(t, pol, 200, "")
	if err := env.Fire(context.Background(), "offpeak"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for w.chat(t, "GET", "/v1/chat/conversations/"+conv, nil).Status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("the policy run did not archive the conversation")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for env.ConversationItems(t, w.bot, conv) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the conversation's partition was not erased")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Refused: another workspace's bot (404), a conversation never archived (404).
	other := newWorld(t, env)
	want(t, other.do(t, "POST", "/api/v1/archives/restore", map[string]any{"botId": w.bot, "conversationId": conv}), 404, "ResourceNotFound")
	want(t, w.do(t, "POST", "/api/v1/archives/restore", map[string]any{"botId": w.bot, "conversationId": "conv_01JAAAAAAAAAAAAAAAAAAAAAAA"}), 404, "ResourceNotFound")

	res := w.do(t, "POST", "/api/v1/archives/restore", map[string]any{"botId": w.bot, "conversationId": conv})
	want(t, res, 200, "")
	t.Logf("restore: %s (AWS calls %+v)", res.Raw, res.Calls)
	after := read()
	if !reflect.DeepEqual(before, after) {
		b, _ := json.MarshalIndent(before, "", " ")
		a, _ := json.MarshalIndent(after, "", " ")
		t.Fatalf("restored conversation differs\nbefore %s\nafter %s", b, a)
	}
	// get-or-create finds it again through its restored claim.
	again := obj(w.chat(t, "POST", "/v1/chat/conversations/get-or-create", map[string]any{"channel": "web", "tags": map[string]any{"topic": "billing"}}), "conversation")
	if again["id"] != conv {
		t.Fatalf("get-or-create after the restore answered %v, want %s", again["id"], conv)
	}
	// Its id is live now: refused.
	want(t, w.do(t, "POST", "/api/v1/archives/restore", map[string]any{"botId": w.bot, "conversationId": conv}), 409, "AlreadyExists")
	want(t, w.do(t, "POST", "/api/v1/archives/restore", map[string]any{"botId": w.bot, "conversationId": kept}), 409, "AlreadyExists")

	lines := w.export(t)
	lastRestore := compliance.ExportLine{}
	for _, l := range lines {
		if l.Action == "RESTORE_CONVERSATION" {
			lastRestore = l
		}
	}
	if lastRestore.ResourceID != conv {
		t.Fatalf("no restore in the audit chain: %+v", lines)
	}
	if v := w.verify(t); v["valid"] != true {
		t.Fatalf("verify: %v", v)
	}
}
