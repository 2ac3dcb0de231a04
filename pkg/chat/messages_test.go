package chat_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func text(conv, u, s string) map[string]any {
	return map[string]any{"conversationId": conv, "userId": u, "type": "text", "payload": map[string]any{"text": s}, "tags": map[string]any{}}
}

func TestMessages(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	u, cid := f.newUser(t), f.newConv(t, map[string]any{})
	conv := obj(f.do(t, "GET", "/v1/chat/conversations/"+cid, nil), "conversation")

	created := f.do(t, "POST", "/v1/chat/messages", text(cid, u, "hello"))
	want(t, created, 201, "")
	// The user's first message opens a session: the store reads the user
	// and writes again with the session counted.
	wantCalls(t, created, botAuth, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=2")
	// Within the session a message is one transaction (message, conversation,
	// user activity, day counter, usage counters).
	again := f.do(t, "POST", "/v1/chat/messages", text(cid, u, "again"))
	want(t, again, 201, "")
	wantCalls(t, again, botAuth, "DynamoDB.TransactWriteItems=1")
	m := obj(created, "message")
	mid := m["id"].(string)
	if m["direction"] != "outgoing" || m["payload"].(map[string]any)["text"] != "hello" || m["conversationId"] != cid {
		t.Fatalf("message %v", m)
	}
	if after := obj(f.do(t, "GET", "/v1/chat/conversations/"+cid, nil), "conversation"); after["updatedAt"] == conv["updatedAt"] && after["updatedAt"] != m["createdAt"] {
		t.Fatalf("conversation updatedAt %v did not follow the message %v", after["updatedAt"], m["createdAt"])
	}
	got := f.do(t, "GET", "/v1/chat/messages/"+mid, nil)
	want(t, got, 200, "")
	wantCalls(t, got, botAuth, "DynamoDB.GetItem=1,DynamoDB.Query=1")

	upd := f.do(t, "PUT", "/v1/chat/messages/"+mid, map[string]any{"tags": map[string]any{"seen": "yes"}})
	want(t, upd, 200, "")
	wantCalls(t, upd, botAuth, "DynamoDB.GetItem=1,DynamoDB.Query=1,DynamoDB.UpdateItem=1")
	if obj(upd, "message")["tags"].(map[string]any)["seen"] != "yes" {
		t.Fatalf("update %s", upd.Raw)
	}

	// Every payload type of the seeds, and bad ones.
	for typ, p := range map[string]any{
		"markdown": map[string]any{"markdown": "**hi**"},
		"image":    map[string]any{"imageUrl": "https://x.io/a.png"},
		"audio":    map[string]any{"audioUrl": "https://x.io/a.mp3"},
		"video":    map[string]any{"videoUrl": "https://x.io/a.mp4"},
		"file":     map[string]any{"fileUrl": "https://x.io/a.pdf", "title": "A"},
		"location": map[string]any{"latitude": 45.5, "longitude": -73.6},
		"choice":   map[string]any{"text": "pick", "options": []any{map[string]any{"label": "A", "value": "a"}}},
		"dropdown": map[string]any{"text": "pick", "options": []any{map[string]any{"label": "A", "value": "a"}}},
		"card":     map[string]any{"title": "T", "actions": []any{map[string]any{"action": "url", "label": "go", "value": "https://x.io"}}},
		"carousel": map[string]any{"items": []any{map[string]any{"title": "T", "actions": []any{}}}},
	} {
		body := text(cid, u, "")
		body["type"], body["payload"] = typ, p
		want(t, f.do(t, "POST", "/v1/chat/messages", body), 201, "")
	}
	for typ, p := range map[string]any{
		"text":     map[string]any{"text": 5},
		"image":    map[string]any{},
		"location": map[string]any{"latitude": "north", "longitude": 1},
		"choice":   map[string]any{"text": "pick", "options": "a"},
		"card":     map[string]any{"title": "T", "actions": []any{map[string]any{"action": "jump", "label": "l", "value": "v"}}},
		"hologram": map[string]any{"text": "x"},
	} {
		body := text(cid, u, "")
		body["type"], body["payload"] = typ, p
		want(t, f.do(t, "POST", "/v1/chat/messages", body), 400, "InvalidPayload")
	}

	// References are checked and nothing is written.
	before := len(list(f.do(t, "GET", "/v1/chat/messages?conversationId="+cid+"&pageSize=100", nil), "messages"))
	want(t, f.do(t, "POST", "/v1/chat/messages", text("conv_01JAAAAAAAAAAAAAAAAAAAAAAA", u, "x")), 400, "ReferenceNotFound")
	want(t, f.do(t, "POST", "/v1/chat/messages", text(cid, "user_01JAAAAAAAAAAAAAAAAAAAAAAA", "x")), 400, "ReferenceNotFound")
	if after := len(list(f.do(t, "GET", "/v1/chat/messages?conversationId="+cid+"&pageSize=100", nil), "messages")); after != before {
		t.Fatalf("%d messages after refused ones, %d before", after, before)
	}

	// Lists: newest first, per conversation or bot-wide, tag filter.
	l := f.do(t, "GET", "/v1/chat/messages?conversationId="+cid, nil)
	wantCalls(t, l, botAuth, "DynamoDB.GetItem=1,DynamoDB.Query=1")
	msgs := list(l, "messages")
	if len(msgs) != 12 || msgs[11].(map[string]any)["id"] != mid {
		t.Fatalf("list: %d messages", len(msgs))
	}
	seen := f.do(t, "GET", "/v1/chat/messages?tags.seen=yes", nil)
	wantCalls(t, seen, botAuth, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	if l := list(seen, "messages"); len(l) != 1 {
		t.Fatalf("tag filter: %v", l)
	}

	// get-or-create by tags.
	g := text(cid, u, "once")
	g["tags"], g["discriminateByTags"] = map[string]any{"ext": "e1", "v": "1"}, []string{"ext"}
	a := f.do(t, "POST", "/v1/chat/messages/get-or-create", g)
	want(t, a, 200, "")
	g["tags"] = map[string]any{"ext": "e1", "v": "2"}
	b := f.do(t, "POST", "/v1/chat/messages/get-or-create", g)
	wantCalls(t, b, botAuth, "DynamoDB.GetItem=2")
	if obj(a, "message")["id"] != obj(b, "message")["id"] {
		t.Fatal("get-or-create made two messages")
	}

	del := f.do(t, "DELETE", "/v1/chat/messages/"+mid, nil)
	want(t, del, 200, "")
	wantCalls(t, del, botAuth, "DynamoDB.DeleteItem=1,DynamoDB.GetItem=1,DynamoDB.Query=1")
	want(t, f.do(t, "GET", "/v1/chat/messages/"+mid, nil), 404, "ResourceNotFound")
}

func TestStates(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	cid := f.newConv(t, map[string]any{})
	path := "/v1/chat/states/conversation/" + cid + "/ctx"

	want(t, f.do(t, "GET", path, nil), 404, "ResourceNotFound")
	set := f.do(t, "POST", path, map[string]any{"payload": map[string]any{"step": 1, "lang": "en"}})
	want(t, set, 200, "")
	wantCalls(t, set, botAuth, "DynamoDB.GetItem=1,DynamoDB.UpdateItem=1")
	// A state of a missing conversation is not created.
	want(t, f.do(t, "POST", "/v1/chat/states/conversation/conv_01JAAAAAAAAAAAAAAAAAAAAAAA/ctx", map[string]any{"payload": map[string]any{"a": 1}}), 404, "ResourceNotFound")
	st := obj(set, "state")
	if st["conversationId"] != cid || st["botId"] != f.bot || st["type"] != "conversation" || st["name"] != "ctx" {
		t.Fatalf("state %v", st)
	}
	patch := f.do(t, "PATCH", path, map[string]any{"payload": map[string]any{"step": 2}})
	wantCalls(t, patch, botAuth, "DynamoDB.UpdateItem=1")
	if p := obj(patch, "state")["payload"].(map[string]any); p["step"] != float64(2) || p["lang"] != "en" {
		t.Fatalf("patch: %v", p)
	}
	got := f.do(t, "GET", path, nil)
	wantCalls(t, got, botAuth, "DynamoDB.BatchGetItem=1")
	if obj(got, "state")["id"] != st["id"] || obj(got, "meta")["cached"] != false {
		t.Fatalf("get: %s", got.Raw)
	}
	over := f.do(t, "POST", path, map[string]any{"payload": map[string]any{"fresh": true}})
	if p := obj(over, "state")["payload"].(map[string]any); len(p) != 1 || obj(over, "state")["createdAt"] != st["createdAt"] {
		t.Fatalf("set overrides the payload and keeps the state: %s", over.Raw)
	}

	// Expiry: after it, the state reads as missing (whatever TTL does).
	exp := "/v1/chat/states/user/user_01JAAAAAAAAAAAAAAAAAAAAAAA/brief"
	want(t, f.do(t, "POST", exp, map[string]any{"payload": map[string]any{"a": 1}, "expiry": 300}), 200, "")
	want(t, f.do(t, "GET", exp, nil), 200, "")
	time.Sleep(400 * time.Millisecond)
	want(t, f.do(t, "GET", exp, nil), 404, "ResourceNotFound")
	want(t, f.do(t, "PATCH", exp, map[string]any{"payload": map[string]any{"a": 2}}), 404, "ResourceNotFound")
	// … and the item carries the TTL attribute.
	out, err := env.Deps.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Deps.Config.Table(topology.ChatTable)),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "BOT#" + f.bot},
			"sk": &types.AttributeValueMemberS{Value: "STATE#user#user_01JAAAAAAAAAAAAAAAAAAAAAAA#brief"}},
	})
	if err != nil || out.Item["expiresAt"] == nil {
		t.Fatalf("no expiresAt on the state item (%v)", err)
	}

	// get-or-set is atomic: concurrent callers see one value.
	gos := "/v1/chat/states/bot/" + f.bot + "/lock/get-or-set"
	vals := make([]string, 6)
	var wg sync.WaitGroup
	for i := range vals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.do(t, "POST", gos, map[string]any{"payload": map[string]any{"owner": string(rune('a' + i))}})
			if p, ok := obj(res, "state")["payload"].(map[string]any); ok {
				vals[i], _ = p["owner"].(string)
			} else {
				t.Logf("get-or-set: %d %s", res.Status, res.Raw)
			}
		}()
	}
	wg.Wait()
	for _, v := range vals {
		if v == "" || v != vals[0] {
			t.Fatalf("get-or-set answered %v", vals)
		}
	}
	one := f.do(t, "POST", gos, map[string]any{"payload": map[string]any{"owner": "late"}})
	wantCalls(t, one, botAuth, "DynamoDB.PutItem=1")

	big := map[string]any{"blob": strings.Repeat("x", chat.MaxStatePayload)}
	want(t, f.do(t, "POST", path, map[string]any{"payload": big}), 413, "PayloadTooLarge")
	want(t, f.do(t, "GET", "/v1/chat/states/planet/x/y", nil), 400, "InvalidPayload")
	want(t, f.do(t, "GET", "/v1/chat/states/bot/bot_01JAAAAAAAAAAAAAAAAAAAAAAA/lock", nil), 404, "ResourceNotFound")
}

// hookServer records signed posts and answers with the statuses given, in
// turn (the last one repeats).
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	bad    int
}

func newHook(t *testing.T, secret string, statuses ...int) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Header.Get(chat.SignatureHeader) != chat.Sign(secret, r.Header.Get(chat.TimestampHeader), raw) {
			h.bad++
		}
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		h.bodies = append(h.bodies, body)
		status := statuses[min(len(h.bodies)-1, len(statuses)-1)]
		w.WriteHeader(status)
		if body["type"] == "lookup" {
			_, _ = io.WriteString(w, `{"output":{"found":true}}`)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func waitStatus(t *testing.T, f fixture, evt, status string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e := obj(f.do(t, "GET", "/v1/chat/events/"+evt, nil), "event")
		if e["status"] == status {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s is %v, want %s", evt, e["status"], status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func signingSecret(t *testing.T, f fixture) string {
	bot := f.env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + f.bot, Token: f.token, Headers: map[string]string{"x-workspace-id": f.ws}})
	return obj(bot, "bot")["signingSecret"].(string)
}

func TestEventsAndDelivery(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	u, cid := f.newUser(t), f.newConv(t, map[string]any{})

	// No url: ignored at once.
	ev := f.do(t, "POST", "/v1/chat/events", map[string]any{"type": "ping", "payload": map[string]any{"n": 1}, "conversationId": cid, "userId": u})
	want(t, ev, 201, "")
	wantCalls(t, ev, botAuth, "DynamoDB.TransactWriteItems=1")
	e := obj(ev, "event")
	if e["status"] != "ignored" || e["failureReason"] != nil {
		t.Fatalf("event %v", e)
	}
	got := f.do(t, "GET", "/v1/chat/events/"+e["id"].(string), nil)
	wantCalls(t, got, botAuth, "DynamoDB.GetItem=1,DynamoDB.Query=1")
	want(t, f.do(t, "POST", "/v1/chat/events", map[string]any{"type": "ping", "payload": map[string]any{}, "conversationId": "conv_01JAAAAAAAAAAAAAAAAAAAAAAA"}), 400, "ReferenceNotFound")

	// A dev bot: delivered, signed; a failing url is retried, then processed.
	secret := signingSecret(t, f)
	hook := newHook(t, secret, 500, 200)
	f.setBot(t, hook.URL, map[string]map[string]any{"telegram": {"id": "intg_01JAAAAAAAAAAAAAAAAAAAAAAA", "name": "telegram", "enabled": true, "url": hook.URL}})
	ev = f.do(t, "POST", "/v1/chat/events", map[string]any{"type": "ping", "payload": map[string]any{}})
	wantCalls(t, ev, botAuth, "DynamoDB.TransactWriteItems=1,SQS.SendMessage=1")
	if obj(ev, "event")["status"] != "pending" {
		t.Fatalf("event %s", ev.Raw)
	}
	waitStatus(t, f, obj(ev, "event")["id"].(string), "processed")
	if hook.count() != 2 || hook.bad != 0 {
		t.Fatalf("%d posts, %d badly signed", hook.count(), hook.bad)
	}

	// Permanent failure: failed with its reason.
	refuse := newHook(t, secret, 400)
	f.setBot(t, refuse.URL, nil)
	ev = f.do(t, "POST", "/v1/chat/events", map[string]any{"type": "ping", "payload": map[string]any{}})
	failed := waitStatus(t, f, obj(ev, "event")["id"].(string), "failed")
	if r, _ := failed["failureReason"].(string); !strings.Contains(r, "400") {
		t.Fatalf("failureReason %v", failed["failureReason"])
	}

	// Scheduled: released at its time, cancelable before.
	f.setBot(t, "", nil)
	sch := f.do(t, "POST", "/v1/chat/events", map[string]any{"type": "later", "payload": map[string]any{}, "schedule": map[string]any{"delay": 1500}})
	if obj(sch, "event")["status"] != "scheduled" {
		t.Fatalf("scheduled event %s", sch.Raw)
	}
	waitStatus(t, f, obj(sch, "event")["id"].(string), "ignored")
	cancel := f.do(t, "POST", "/v1/chat/events", map[string]any{"type": "later", "payload": map[string]any{}, "schedule": map[string]any{"delay": 60000}})
	want(t, f.do(t, "DELETE", "/v1/chat/events/scheduled/"+obj(cancel, "event")["id"].(string), nil), 200, "")
	waitStatus(t, f, obj(cancel, "event")["id"].(string), "canceled")

	// Lists and filters.
	l := f.do(t, "GET", "/v1/chat/events?type=later", nil)
	wantCalls(t, l, botAuth, "DynamoDB.Query=1")
	if n := len(list(l, "events")); n != 2 {
		t.Fatalf("%d later events", n)
	}
	if n := len(list(f.do(t, "GET", "/v1/chat/events?conversationId="+cid, nil), "events")); n != 1 {
		t.Fatalf("%d events in the conversation", n)
	}
	if n := len(list(f.do(t, "GET", "/v1/chat/events?status=failed", nil), "events")); n != 1 {
		t.Fatalf("%d failed events", n)
	}

	// An integration's messages are incoming and go to the bot; a scheduled
	// message appears at its time.
	f.setBot(t, hook.URL, map[string]map[string]any{"telegram": {"id": "intg_01JAAAAAAAAAAAAAAAAAAAAAAA", "name": "telegram", "enabled": true, "url": hook.URL}})
	as := func(method, path string, body any) testenv.Response {
		return env.Do(t, R{Method: method, Path: path, Token: f.token, Body: body, Headers: map[string]string{"x-bot-id": f.bot, "x-integration-id": "intg_01JAAAAAAAAAAAAAAAAAAAAAAA"}})
	}
	in := as("POST", "/v1/chat/messages", text(cid, u, "from a user"))
	want(t, in, 201, "")
	// The user's first message opens their session (see TestMessages).
	wantCalls(t, in, botAuth, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=2,SQS.SendMessage=1")
	if obj(in, "message")["direction"] != "incoming" {
		t.Fatalf("message %s", in.Raw)
	}
	sm := text(cid, u, "later")
	sm["schedule"] = map[string]any{"delay": 1000}
	scheduled := f.do(t, "POST", "/v1/chat/messages", sm)
	want(t, scheduled, 201, "")
	wantCalls(t, scheduled, botAuth, "DynamoDB.BatchGetItem=1,SQS.SendMessage=1")
	for deadline := time.Now().Add(15 * time.Second); f.do(t, "GET", "/v1/chat/messages/"+obj(scheduled, "message")["id"].(string), nil).Status != 200; {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled message never appeared")
		}
		time.Sleep(200 * time.Millisecond)
	}
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/chat/messages", Token: f.token, Headers: map[string]string{"x-bot-id": f.bot, "x-integration-id": "intg_01JZZZZZZZZZZZZZZZZZZZZZZZ"}}), 403, "Forbidden")

	// Actions are forwarded to the integration's url.
	act := f.do(t, "POST", "/v1/chat/actions", map[string]any{"type": "telegram:lookup", "input": map[string]any{"q": 1}})
	want(t, act, 200, "")
	if obj(act, "output")["found"] != true {
		t.Fatalf("action %s", act.Raw)
	}
	want(t, f.do(t, "POST", "/v1/chat/actions", map[string]any{"type": "slack:send", "input": map[string]any{}}), 400, "Runtime")
	f.setBot(t, hook.URL, map[string]map[string]any{"telegram": {"id": "intg_01JAAAAAAAAAAAAAAAAAAAAAAA", "name": "telegram", "enabled": true, "url": refuse.URL}})
	want(t, f.do(t, "POST", "/v1/chat/actions", map[string]any{"type": "telegram:lookup", "input": map[string]any{}}), 400, "Runtime")

	// The day's counters (summed over their shards).
	today := time.Now().UTC().Format("2006-01-02")
	days, err := chatdata.NewDayStatsReader(env.Deps.DB, env.Deps.Config.Table(topology.ChatTable)).DayStats(context.Background(), f.bot, today, today)
	if err != nil {
		t.Fatal(err)
	}
	if d := days[today]; d.NewUsers != 1 || d.UserMessages != 1 || d.BotMessages != 1 || d.Events["ping"] != 3 || d.Events["later"] != 2 || d.Sessions != 1 {
		t.Fatalf("counters %+v", d)
	}
}

func TestChatTenancy(t *testing.T) {
	env := testenv.Stack(t)
	token := env.NewAccount(t)
	a, b := newBot(t, env, token), newBot(t, env, token)
	stranger := fixture{env: env, token: env.NewAccount(t), bot: a.bot}
	u, cid := a.newUser(t), a.newConv(t, map[string]any{})
	a.do(t, "POST", "/v1/chat/conversations/"+cid+"/participants", map[string]any{"userId": u})
	mid := obj(a.do(t, "POST", "/v1/chat/messages", text(cid, u, "secret")), "message")["id"].(string)
	eid := obj(a.do(t, "POST", "/v1/chat/events", map[string]any{"type": "x", "payload": map[string]any{}, "conversationId": cid}), "event")["id"].(string)
	a.do(t, "POST", "/v1/chat/states/conversation/"+cid+"/s", map[string]any{"payload": map[string]any{"k": 1}})
	for i := 0; i < 21; i++ {
		a.newConv(t, map[string]any{})
		a.do(t, "POST", "/v1/chat/messages", text(cid, u, "more"))
		a.do(t, "POST", "/v1/chat/events", map[string]any{"type": "x", "payload": map[string]any{}})
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/chat/conversations/" + cid}, {"PUT", "/v1/chat/conversations/" + cid}, {"DELETE", "/v1/chat/conversations/" + cid},
		{"GET", "/v1/chat/conversations/" + cid + "/participants/" + u}, {"DELETE", "/v1/chat/conversations/" + cid + "/participants/" + u},
		{"GET", "/v1/chat/messages/" + mid}, {"PUT", "/v1/chat/messages/" + mid}, {"DELETE", "/v1/chat/messages/" + mid},
		{"GET", "/v1/chat/events/" + eid}, {"DELETE", "/v1/chat/events/scheduled/" + eid},
		{"GET", "/v1/chat/states/conversation/" + cid + "/s"}, {"PATCH", "/v1/chat/states/conversation/" + cid + "/s"},
	} {
		var body any
		switch {
		case r.method == "PATCH":
			body = map[string]any{"payload": map[string]any{"k": 2}}
		case r.method == "PUT":
			body = map[string]any{"tags": map[string]any{"x": "y"}}
		}
		want(t, b.do(t, r.method, r.path, body), 404, "ResourceNotFound")
		want(t, stranger.do(t, r.method, r.path, body), 403, "Forbidden")
	}
	// B cannot add to A's conversation, nor write messages into it.
	want(t, b.do(t, "POST", "/v1/chat/conversations/"+cid+"/participants", map[string]any{"userId": u}), 404, "ResourceNotFound")
	want(t, b.do(t, "POST", "/v1/chat/messages", text(cid, u, "intrusion")), 400, "ReferenceNotFound")
	want(t, stranger.do(t, "POST", "/v1/chat/messages", text(cid, u, "intrusion")), 403, "Forbidden")
	// Lists are empty for B, and A's page tokens don't page B's lists.
	// Sub-resources of A's conversation are 404 for B, like the conversation.
	for _, path := range []string{
		"/v1/chat/messages?conversationId=" + cid, "/v1/chat/events?conversationId=" + cid,
		"/v1/chat/conversations/" + cid + "/participants", "/v1/chat/users?conversationId=" + cid,
	} {
		want(t, b.do(t, "GET", path, nil), 404, "ResourceNotFound")
	}
	for _, p := range []struct{ path, key string }{
		{"/v1/chat/conversations", "conversations"}, {"/v1/chat/messages?conversationId=" + cid, "messages"},
		{"/v1/chat/messages", "messages"}, {"/v1/chat/events", "events"},
	} {
		sep := "?"
		if strings.Contains(p.path, "?") {
			sep = "&"
		}
		mine := !strings.Contains(p.path, "conversationId")
		if n := len(list(b.do(t, "GET", p.path, nil), p.key)); mine && n != 0 {
			t.Fatalf("bot B lists %d of A's %s", n, p.key)
		}
		next := nextToken(a.do(t, "GET", p.path, nil))
		if next == "" {
			t.Fatalf("%s: no second page", p.path)
		}
		if mine {
			want(t, b.do(t, "GET", p.path+sep+"nextToken="+url.QueryEscape(next), nil), 400, "InvalidQuery")
		}
		forged := strings.Replace(next, next[:4], "AAAA", 1)
		want(t, a.do(t, "GET", p.path+sep+"nextToken="+url.QueryEscape(forged), nil), 400, "InvalidQuery")
		want(t, stranger.do(t, "GET", p.path, nil), 403, "Forbidden")
	}
	want(t, a.do(t, "GET", "/v1/chat/messages/"+mid, nil), 200, "")
}
