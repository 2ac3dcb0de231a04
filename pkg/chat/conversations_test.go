package chat_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func obj(res testenv.Response, key string) map[string]any {
	m, _ := res.Body[key].(map[string]any)
	return m
}

func list(res testenv.Response, key string) []any {
	l, _ := res.Body[key].([]any)
	return l
}

func nextToken(res testenv.Response) string {
	s, _ := obj(res, "meta")["nextToken"].(string)
	return s
}

func (f fixture) newUser(t *testing.T) string {
	t.Helper()
	res := f.do(t, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{}})
	want(t, res, 201, "")
	return user(res)["id"].(string)
}

func (f fixture) newConv(t *testing.T, tags map[string]any) string {
	t.Helper()
	res := f.do(t, "POST", "/v1/chat/conversations", map[string]any{"channel": "web", "tags": tags})
	want(t, res, 201, "")
	return obj(res, "conversation")["id"].(string)
}

// setBot changes the stored bot item directly (the admin API owns it): its
// url and installed integrations.
func (f fixture) setBot(t *testing.T, botURL string, integrations map[string]map[string]any) {
	t.Helper()
	item := map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: botURL}}
	ints := map[string]types.AttributeValue{}
	for k, v := range integrations {
		m := map[string]types.AttributeValue{}
		for fk, fv := range v {
			switch x := fv.(type) {
			case string:
				m[fk] = &types.AttributeValueMemberS{Value: x}
			case bool:
				m[fk] = &types.AttributeValueMemberBOOL{Value: x}
			}
		}
		ints[k] = &types.AttributeValueMemberM{Value: m}
	}
	item[":i"] = &types.AttributeValueMemberM{Value: ints}
	_, err := f.env.Deps.DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(f.env.Deps.Config.Table(topology.AdminTable)),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "BOT#" + f.bot}, "sk": &types.AttributeValueMemberS{Value: "BOT"},
		},
		UpdateExpression: aws.String("SET #u = :u, integrations = :i"), ExpressionAttributeNames: map[string]string{"#u": "url"},
		ExpressionAttributeValues: item,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConversationLifecycle(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))

	created := f.do(t, "POST", "/v1/chat/conversations", map[string]any{"channel": "web", "tags": map[string]any{"topic": "billing", "empty": ""}})
	want(t, created, 201, "")
	wantCalls(t, created, botAuth, "DynamoDB.PutItem=1")
	c := obj(created, "conversation")
	cid := c["id"].(string)
	if c["channel"] != "web" || c["integration"] != "" || c["tags"].(map[string]any)["topic"] != "billing" || len(c["tags"].(map[string]any)) != 1 {
		t.Fatalf("conversation %v", c)
	}

	got := f.do(t, "GET", "/v1/chat/conversations/"+cid, nil)
	want(t, got, 200, "")
	wantCalls(t, got, botAuth, "DynamoDB.GetItem=1")

	upd := f.do(t, "PUT", "/v1/chat/conversations/"+cid, map[string]any{"tags": map[string]any{"topic": "", "lang": "fr"}, "currentTaskId": "task_01JAAAAAAAAAAAAAAAAAAAAAAA"})
	want(t, upd, 200, "")
	wantCalls(t, upd, botAuth, "DynamoDB.UpdateItem=1")
	c = obj(upd, "conversation")
	if _, ok := c["tags"].(map[string]any)["topic"]; ok || c["tags"].(map[string]any)["lang"] != "fr" || c["currentTaskId"] != "task_01JAAAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("after update %v", c)
	}
	want(t, f.do(t, "PUT", "/v1/chat/conversations/conv_01JAAAAAAAAAAAAAAAAAAAAAAA", map[string]any{"tags": map[string]any{}}), 404, "ResourceNotFound")
	for _, body := range []any{map[string]any{"tags": map[string]any{}}, map[string]any{"channel": "web"}, map[string]any{"channel": "web", "tags": map[string]any{}, "x": 1}} {
		want(t, f.do(t, "POST", "/v1/chat/conversations", body), 400, "InvalidPayload")
	}
}

func TestGetOrCreateConversation(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	body := map[string]any{"channel": "sms", "tags": map[string]any{"thread": "t-1", "lang": "en"}, "discriminateByTags": []string{"thread"}}
	first := f.do(t, "POST", "/v1/chat/conversations/get-or-create", body)
	want(t, first, 200, "")
	wantCalls(t, first, botAuth, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	body["tags"] = map[string]any{"thread": "t-1", "lang": "de"}
	again := f.do(t, "POST", "/v1/chat/conversations/get-or-create", body)
	wantCalls(t, again, botAuth, "DynamoDB.GetItem=2")
	if obj(again, "conversation")["id"] != obj(first, "conversation")["id"] {
		t.Fatal("same thread gave two conversations")
	}
	body["channel"] = "web"
	if other := f.do(t, "POST", "/v1/chat/conversations/get-or-create", body); obj(other, "conversation")["id"] == obj(first, "conversation")["id"] {
		t.Fatal("another channel matched the same conversation")
	}
	// Concurrent callers get one conversation.
	ids := make([]string, 6)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.do(t, "POST", "/v1/chat/conversations/get-or-create", map[string]any{"channel": "web", "tags": map[string]any{"visitor": "v9"}})
			if res.Status == 200 {
				ids[i] = obj(res, "conversation")["id"].(string)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("concurrent get-or-create: %v", ids)
		}
	}
}

func TestParticipantsAndListing(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	ann, bob := f.newUser(t), f.newUser(t)
	var convs []string
	for i := 0; i < 4; i++ {
		convs = append(convs, f.newConv(t, map[string]any{"n": fmt.Sprint(i)}))
	}
	for i, c := range convs {
		add := f.do(t, "POST", "/v1/chat/conversations/"+c+"/participants", map[string]any{"userId": ann})
		want(t, add, 200, "")
		wantCalls(t, add, botAuth, "DynamoDB.BatchGetItem=1,DynamoDB.TransactWriteItems=1")
		if obj(add, "participant")["id"] != ann {
			t.Fatalf("participant %s", add.Raw)
		}
		if i%2 == 0 {
			f.do(t, "POST", "/v1/chat/conversations/"+c+"/participants", map[string]any{"userId": bob})
		}
	}
	want(t, f.do(t, "POST", "/v1/chat/conversations/"+convs[0]+"/participants", map[string]any{"userId": "user_01JAAAAAAAAAAAAAAAAAAAAAAA"}), 400, "ReferenceNotFound")
	want(t, f.do(t, "POST", "/v1/chat/conversations/conv_01JAAAAAAAAAAAAAAAAAAAAAAA/participants", map[string]any{"userId": ann}), 404, "ResourceNotFound")

	got := f.do(t, "GET", "/v1/chat/conversations/"+convs[0]+"/participants/"+bob, nil)
	want(t, got, 200, "")
	wantCalls(t, got, botAuth, "DynamoDB.BatchGetItem=1")
	parts := f.do(t, "GET", "/v1/chat/conversations/"+convs[0]+"/participants", nil)
	wantCalls(t, parts, botAuth, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	if n := len(list(parts, "participants")); n != 2 {
		t.Fatalf("%d participants", n)
	}
	if users := f.do(t, "GET", "/v1/chat/users?conversationId="+convs[0], nil); len(list(users, "users")) != 2 {
		t.Fatalf("listUsers by conversation: %s", users.Raw)
	}

	// A user's conversations, most recent first, through the index.
	mine := f.do(t, "GET", "/v1/chat/conversations?participantIds="+ann, nil)
	wantCalls(t, mine, botAuth, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	l := list(mine, "conversations")
	if len(l) != 4 || l[0].(map[string]any)["id"] != convs[3] {
		t.Fatalf("ann's conversations: %s", mine.Raw)
	}
	both := f.do(t, "GET", "/v1/chat/conversations?participantIds="+ann+"&participantIds="+bob, nil)
	if l := list(both, "conversations"); len(l) != 2 || l[0].(map[string]any)["id"] != convs[2] {
		t.Fatalf("ann and bob: %s", both.Raw)
	}

	rm := f.do(t, "DELETE", "/v1/chat/conversations/"+convs[0]+"/participants/"+bob, nil)
	want(t, rm, 200, "")
	wantCalls(t, rm, botAuth, "DynamoDB.TransactWriteItems=1")
	want(t, f.do(t, "GET", "/v1/chat/conversations/"+convs[0]+"/participants/"+bob, nil), 404, "ResourceNotFound")
	want(t, f.do(t, "DELETE", "/v1/chat/conversations/"+convs[0]+"/participants/"+bob, nil), 404, "ResourceNotFound")

	// Plain listing: newest first, by update, filters, pagination.
	all := f.do(t, "GET", "/v1/chat/conversations", nil)
	wantCalls(t, all, botAuth, "DynamoDB.Query=1")
	if l := list(all, "conversations"); len(l) != 4 || l[0].(map[string]any)["id"] != convs[3] {
		t.Fatalf("list: %s", all.Raw)
	}
	f.do(t, "PUT", "/v1/chat/conversations/"+convs[1], map[string]any{"tags": map[string]any{"hot": "1"}})
	byUpdate := f.do(t, "GET", "/v1/chat/conversations?sortField=updatedAt", nil)
	wantCalls(t, byUpdate, botAuth, "DynamoDB.Query=1")
	if list(byUpdate, "conversations")[0].(map[string]any)["id"] != convs[1] {
		t.Fatalf("updatedAt order: %s", byUpdate.Raw)
	}
	if l := list(f.do(t, "GET", "/v1/chat/conversations?tags.n=2&channel=web", nil), "conversations"); len(l) != 1 {
		t.Fatalf("tag filter: %v", l)
	}
	if l := list(f.do(t, "GET", "/v1/chat/conversations?channel=sms", nil), "conversations"); len(l) != 0 {
		t.Fatalf("channel filter: %v", l)
	}
	for i := 0; i < 18; i++ {
		f.newConv(t, map[string]any{})
	}
	p1 := f.do(t, "GET", "/v1/chat/conversations", nil)
	p2 := f.do(t, "GET", "/v1/chat/conversations?nextToken="+url.QueryEscape(nextToken(p1)), nil)
	wantCalls(t, p2, botAuth, "DynamoDB.Query=1")
	if len(list(p1, "conversations")) != 20 || len(list(p2, "conversations")) != 2 {
		t.Fatalf("pages of %d and %d", len(list(p1, "conversations")), len(list(p2, "conversations")))
	}
	// A token is bound to its filters.
	want(t, f.do(t, "GET", "/v1/chat/conversations?sortField=updatedAt&nextToken="+url.QueryEscape(nextToken(p1)), nil), 400, "InvalidQuery")
}

// Deleting a conversation is O(1): one read of its claim, one transaction
// (conversation, claim, erase intent) and a kick to the lifecycle queue,
// whatever its size. It is gone from every read at once, though its
// partition is erased later by the lifecycle worker.
func TestDeleteConversationIsImmediateAndConstant(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	u := f.newUser(t)
	res := f.do(t, "POST", "/v1/chat/conversations/get-or-create", map[string]any{"channel": "web", "tags": map[string]any{"k": "gone"}})
	cid := obj(res, "conversation")["id"].(string)
	keep := f.newConv(t, map[string]any{})
	f.do(t, "POST", "/v1/chat/conversations/"+cid+"/participants", map[string]any{"userId": u})
	var msgs []string
	for i := 0; i < 30; i++ {
		m := f.do(t, "POST", "/v1/chat/messages", map[string]any{"conversationId": cid, "userId": u, "type": "text", "payload": map[string]any{"text": fmt.Sprint(i)}, "tags": map[string]any{}})
		want(t, m, 201, "")
		msgs = append(msgs, obj(m, "message")["id"].(string))
	}
	kept := obj(f.do(t, "POST", "/v1/chat/messages", text(keep, u, "stays")), "message")["id"].(string)
	f.do(t, "POST", "/v1/chat/states/conversation/"+cid+"/ctx", map[string]any{"payload": map[string]any{"a": 1}})
	evt := obj(f.do(t, "POST", "/v1/chat/events", map[string]any{"type": "ping", "payload": map[string]any{}, "conversationId": cid}), "event")["id"].(string)
	before := env.ConversationItems(t, f.bot, cid)

	del := f.do(t, "DELETE", "/v1/chat/conversations/"+cid, nil)
	want(t, del, 200, "")
	// GetItem of the conversation (its legal hold), of its claim.
	wantCalls(t, del, botAuth, "DynamoDB.GetItem=2,DynamoDB.TransactWriteItems=1,SQS.SendMessageBatch=1")
	if left := env.ConversationItems(t, f.bot, cid); left != before-1 {
		t.Logf("%d of %d items left for the lifecycle worker", left, before)
	}

	// Gone from every read at once.
	for _, path := range []string{
		"/v1/chat/conversations/" + cid, "/v1/chat/messages/" + msgs[0], "/v1/chat/events/" + evt,
		"/v1/chat/messages?conversationId=" + cid, "/v1/chat/events?conversationId=" + cid,
		"/v1/chat/conversations/" + cid + "/participants", "/v1/chat/conversations/" + cid + "/participants/" + u,
		"/v1/chat/users?conversationId=" + cid, "/v1/chat/states/conversation/" + cid + "/ctx",
	} {
		want(t, f.do(t, "GET", path, nil), 404, "ResourceNotFound")
	}
	all := f.do(t, "GET", "/v1/chat/messages", nil)
	wantCalls(t, all, botAuth, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	if l := list(all, "messages"); len(l) != 1 || l[0].(map[string]any)["id"] != kept {
		t.Fatalf("bot-wide messages after the delete: %s", all.Raw)
	}
	events := f.do(t, "GET", "/v1/chat/events", nil)
	// The page holds the conversation's events (one BatchGetItem drops
	// them) unless the lifecycle worker has already erased them.
	if events.Calls.Ops != "DynamoDB.Query=1" {
		wantCalls(t, events, botAuth, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	}
	if l := list(events, "events"); len(l) != 0 {
		t.Fatalf("bot-wide events after the delete: %s", events.Raw)
	}
	if l := list(f.do(t, "GET", "/v1/chat/conversations?participantIds="+u, nil), "conversations"); len(l) != 0 {
		t.Fatalf("the user still lists %d conversations", len(l))
	}
	// Nothing can be written into it any more.
	want(t, f.do(t, "POST", "/v1/chat/messages", text(cid, u, "late")), 400, "ReferenceNotFound")
	want(t, f.do(t, "POST", "/v1/chat/conversations/"+cid+"/participants", map[string]any{"userId": u}), 404, "ResourceNotFound")
	want(t, f.do(t, "DELETE", "/v1/chat/conversations/"+cid+"/participants/"+u, nil), 404, "ResourceNotFound")
	want(t, f.do(t, "DELETE", "/v1/chat/conversations/"+cid, nil), 404, "ResourceNotFound")
	// Its get-or-create claim went with it: the same tags make a new one.
	again := f.do(t, "POST", "/v1/chat/conversations/get-or-create", map[string]any{"channel": "web", "tags": map[string]any{"k": "gone"}})
	if obj(again, "conversation")["id"] == cid {
		t.Fatal("get-or-create answered a deleted conversation")
	}
	// The lifecycle worker, kicked by the delete, erases the partition and
	// then the erase intent.
	outbox := lifecycledata.NewOutbox(env.Deps.DB, env.Deps.Config.Table(topology.LifecycleTable))
	pending := func() bool {
		intents, err := outbox.Pending(context.Background(), time.Now().Add(time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range intents {
			if in.BotID == f.bot && in.Kind == lifecycle.KindConversation && in.ID == cid {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for env.ConversationItems(t, f.bot, cid) > 0 || pending() {
		if time.Now().After(deadline) {
			t.Fatalf("%d items of the deleted conversation left, intent pending %v", env.ConversationItems(t, f.bot, cid), pending())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A sub-resource of a missing conversation is 404, like the conversation.
func TestSubResourcesOfMissingConversation(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	missing := "conv_01JAAAAAAAAAAAAAAAAAAAAAAA"
	for _, path := range []string{
		"/v1/chat/conversations/" + missing + "/participants", "/v1/chat/messages?conversationId=" + missing,
		"/v1/chat/events?conversationId=" + missing, "/v1/chat/users?conversationId=" + missing,
	} {
		res := f.do(t, "GET", path, nil)
		want(t, res, 404, "ResourceNotFound")
	}
}
