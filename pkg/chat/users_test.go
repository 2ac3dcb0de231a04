package chat_test

import (
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var (
	want      = testenv.Want
	wantCalls = testenv.WantCalls
)

// botAuth is a 2-call check: token and bot in one BatchGetItem, then the
// membership.
const botAuth = 2

// fixture is an account with a workspace and a bot.
type fixture struct {
	env   *testenv.Env
	token string
	ws    string
	bot   string
}

func newBot(t *testing.T, env *testenv.Env, token string) fixture {
	t.Helper()
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "w"}})
	want(t, ws, 200, "")
	f := fixture{env: env, token: token, ws: ws.Body["id"].(string)}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: map[string]string{"x-workspace-id": f.ws}, Body: map[string]any{"name": "b"}})
	want(t, bot, 200, "")
	f.bot = bot.Body["bot"].(map[string]any)["id"].(string)
	return f
}

func (f fixture) do(t *testing.T, method, path string, body any) testenv.Response {
	t.Helper()
	return f.env.Do(t, R{Method: method, Path: path, Token: f.token, Headers: map[string]string{"x-bot-id": f.bot}, Body: body})
}

func user(res testenv.Response) map[string]any { return res.Body["user"].(map[string]any) }

func TestUserLifecycle(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))

	created := f.do(t, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{"email": "a@x.io", "empty": ""}, "name": "Ann", "pictureUrl": "https://x.io/a.png"})
	want(t, created, 201, "")
	wantCalls(t, created, botAuth, "DynamoDB.TransactWriteItems=1")
	u := user(created)
	uid := u["id"].(string)
	if len(uid) < 28 || len(uid) > 36 || u["name"] != "Ann" || u["tags"].(map[string]any)["email"] != "a@x.io" {
		t.Fatalf("user %v", u)
	}
	if _, ok := u["tags"].(map[string]any)["empty"]; ok {
		t.Fatal("an empty tag value was stored")
	}

	got := f.do(t, "GET", "/v1/chat/users/"+uid, nil)
	want(t, got, 200, "")
	wantCalls(t, got, botAuth, "DynamoDB.GetItem=1")

	time.Sleep(2 * time.Millisecond)
	updated := f.do(t, "PUT", "/v1/chat/users/"+uid, map[string]any{"tags": map[string]any{"email": "", "plan": "pro"}, "name": nil})
	want(t, updated, 200, "")
	wantCalls(t, updated, botAuth, "DynamoDB.UpdateItem=1")
	u = user(updated)
	tags := u["tags"].(map[string]any)
	if _, ok := tags["email"]; ok || tags["plan"] != "pro" || u["name"] != nil || u["pictureUrl"] != "https://x.io/a.png" {
		t.Fatalf("after update %v", u)
	}
	if u["updatedAt"] == u["createdAt"] {
		t.Fatal("updatedAt did not move")
	}

	del := f.do(t, "DELETE", "/v1/chat/users/"+uid, map[string]any{})
	want(t, del, 200, "")
	wantCalls(t, del, botAuth, "DynamoDB.DeleteItem=1")
	want(t, f.do(t, "GET", "/v1/chat/users/"+uid, nil), 404, "ResourceNotFound")
	want(t, f.do(t, "PUT", "/v1/chat/users/"+uid, map[string]any{"name": "x"}), 404, "ResourceNotFound")
	want(t, f.do(t, "DELETE", "/v1/chat/users/"+uid, map[string]any{}), 404, "ResourceNotFound")
}

func TestUserBadInputWritesNothing(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	for _, body := range []any{
		map[string]any{}, // tags required
		map[string]any{"tags": map[string]any{"k": 5}},            // wrong type
		map[string]any{"tags": map[string]any{}, "nickname": "x"}, // unknown field
		map[string]any{"tags": map[string]any{"k": string(make([]byte, 501))}},
		`{"tags": {}`, // malformed
		`[]`,
	} {
		want(t, f.do(t, "POST", "/v1/chat/users", body), 400, "InvalidPayload")
	}
	want(t, f.do(t, "POST", "/v1/chat/users/get-or-create", map[string]any{"tags": map[string]any{"a": "1"}, "discriminateByTags": []string{"b"}}), 400, "InvalidPayload")
	list := f.do(t, "GET", "/v1/chat/users", nil)
	if n := len(list.Body["users"].([]any)); n != 0 {
		t.Fatalf("%d users after bad input", n)
	}
	want(t, f.do(t, "GET", "/v1/chat/users?sortDirection=up", nil), 400, "InvalidQuery")
	want(t, f.do(t, "GET", "/v1/chat/users?afterDate=yesterday", nil), 400, "InvalidQuery")
}

func TestGetOrCreateUser(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	body := map[string]any{"tags": map[string]any{"phone": "+1555", "channel": "sms"}, "name": "Bo"}

	first := f.do(t, "POST", "/v1/chat/users/get-or-create", body)
	want(t, first, 200, "")
	wantCalls(t, first, botAuth, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	again := f.do(t, "POST", "/v1/chat/users/get-or-create", body)
	wantCalls(t, again, botAuth, "DynamoDB.GetItem=2")
	if user(again)["id"] != user(first)["id"] {
		t.Fatal("get-or-create made a second user")
	}
	// Without discriminateByTags every tag must match: a different channel
	// is another user; with it, only the named tags count.
	other := f.do(t, "POST", "/v1/chat/users/get-or-create", map[string]any{"tags": map[string]any{"phone": "+1555", "channel": "whatsapp"}})
	if user(other)["id"] == user(first)["id"] {
		t.Fatal("tags that differ matched the same user")
	}
	byPhone := map[string]any{"tags": map[string]any{"phone": "+1777", "channel": "sms"}, "discriminateByTags": []string{"phone"}}
	a := f.do(t, "POST", "/v1/chat/users/get-or-create", byPhone)
	byPhone["tags"] = map[string]any{"phone": "+1777", "channel": "web"}
	b := f.do(t, "POST", "/v1/chat/users/get-or-create", byPhone)
	if user(a)["id"] != user(b)["id"] {
		t.Fatal("discriminateByTags: same phone gave two users")
	}
	// A user whose tags changed no longer answers for the old ones.
	f.do(t, "PUT", "/v1/chat/users/"+user(a)["id"].(string), map[string]any{"tags": map[string]any{"phone": "+1888"}})
	c := f.do(t, "POST", "/v1/chat/users/get-or-create", byPhone)
	if user(c)["id"] == user(a)["id"] {
		t.Fatal("a stale claim returned a user whose tags changed")
	}
	want(t, f.do(t, "POST", "/v1/chat/users/get-or-create", map[string]any{"tags": map[string]any{}}), 400, "InvalidPayload")
}

func TestGetOrCreateUserConcurrent(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	const callers = 8
	ids := make([]string, callers)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.do(t, "POST", "/v1/chat/users/get-or-create", map[string]any{"tags": map[string]any{"visitor": "v-42"}})
			if res.Status == 200 {
				ids[i] = user(res)["id"].(string)
			}
		}()
	}
	wg.Wait()
	for _, got := range ids {
		if got == "" || got != ids[0] {
			t.Fatalf("concurrent get-or-create answered %v: want one user for all", ids)
		}
	}
	list := f.do(t, "GET", "/v1/chat/users?tags.visitor=v-42", nil)
	if n := len(list.Body["users"].([]any)); n != 1 {
		t.Fatalf("%d users stored for one tag set, want 1", n)
	}
}

func TestListUsers(t *testing.T) {
	env := testenv.Stack(t)
	f := newBot(t, env, env.NewAccount(t))
	var ids []string
	for i := 0; i < 25; i++ {
		tier := "free"
		if i%5 == 0 {
			tier = "pro"
		}
		res := f.do(t, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{"tier": tier}})
		ids = append(ids, user(res)["id"].(string))
	}
	first := f.do(t, "GET", "/v1/chat/users", nil)
	want(t, first, 200, "")
	wantCalls(t, first, botAuth, "DynamoDB.Query=1")
	users := first.Body["users"].([]any)
	next, _ := first.Body["meta"].(map[string]any)["nextToken"].(string)
	if len(users) != 20 || next == "" || users[0].(map[string]any)["id"] != ids[24] {
		t.Fatalf("first page: %d users, newest %v, next %q", len(users), users[0], next)
	}
	second := f.do(t, "GET", "/v1/chat/users?nextToken="+url.QueryEscape(next), nil)
	wantCalls(t, second, botAuth, "DynamoDB.Query=1")
	if users := second.Body["users"].([]any); len(users) != 5 || users[4].(map[string]any)["id"] != ids[0] {
		t.Fatalf("second page: %s", second.Raw)
	}

	// A tag filter applies within each page's Query (DynamoDB reads the page,
	// then filters), so pages may be short: following nextToken finds all.
	var got []any
	for token, pages := "", 0; ; pages++ {
		pro := f.do(t, "GET", "/v1/chat/users?tags.tier=pro&sortDirection=asc&nextToken="+url.QueryEscape(token), nil)
		wantCalls(t, pro, botAuth, "DynamoDB.Query=1")
		got = append(got, pro.Body["users"].([]any)...)
		token, _ = pro.Body["meta"].(map[string]any)["nextToken"].(string)
		if token == "" || pages > 5 {
			break
		}
	}
	if len(got) != 5 || got[0].(map[string]any)["id"] != ids[0] {
		t.Fatalf("tag filter found %v", got)
	}
	small := f.do(t, "GET", "/v1/chat/users?pageSize=10", nil)
	if len(small.Body["users"].([]any)) != 10 {
		t.Fatalf("pageSize=10: %s", small.Raw)
	}

	// Update order: the user touched last comes first.
	f.do(t, "PUT", "/v1/chat/users/"+ids[3], map[string]any{"name": "touched"})
	byUpdate := f.do(t, "GET", "/v1/chat/users?sortField=updatedAt", nil)
	wantCalls(t, byUpdate, botAuth, "DynamoDB.Query=1")
	if byUpdate.Body["users"].([]any)[0].(map[string]any)["id"] != ids[3] {
		t.Fatalf("updatedAt order: %s", byUpdate.Raw)
	}

	// A date range on createdAt is part of the key condition.
	created := user(f.do(t, "GET", "/v1/chat/users/"+ids[10], nil))["createdAt"].(string)
	after := f.do(t, "GET", "/v1/chat/users?pageSize=100&afterDate="+url.QueryEscape(created), nil)
	if n := len(after.Body["users"].([]any)); n < 15 || n > 25 {
		t.Fatalf("afterDate %s: %d users", created, n)
	}
	future := f.do(t, "GET", "/v1/chat/users?afterDate="+url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil)
	if n := len(future.Body["users"].([]any)); n != 0 {
		t.Fatalf("afterDate in the future: %d users", n)
	}
}

func TestUserTenancy(t *testing.T) {
	env := testenv.Stack(t)
	token := env.NewAccount(t)
	a, b := newBot(t, env, token), newBot(t, env, token)
	uid := user(a.do(t, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{"k": "v"}}))["id"].(string)
	for i := 0; i < 21; i++ {
		a.do(t, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{}})
	}

	// Bot B, same account: A's user is missing everywhere.
	want(t, b.do(t, "GET", "/v1/chat/users/"+uid, nil), 404, "ResourceNotFound")
	want(t, b.do(t, "PUT", "/v1/chat/users/"+uid, map[string]any{"name": "x"}), 404, "ResourceNotFound")
	want(t, b.do(t, "DELETE", "/v1/chat/users/"+uid, map[string]any{}), 404, "ResourceNotFound")
	if n := len(b.do(t, "GET", "/v1/chat/users", nil).Body["users"].([]any)); n != 0 {
		t.Fatalf("bot B lists %d users", n)
	}
	// A page token of A's list does not page B's.
	next := a.do(t, "GET", "/v1/chat/users", nil).Body["meta"].(map[string]any)["nextToken"].(string)
	want(t, b.do(t, "GET", "/v1/chat/users?nextToken="+url.QueryEscape(next), nil), 400, "InvalidQuery")

	// Another account cannot reach bot A at all.
	stranger := env.NewAccount(t)
	s := fixture{env: env, token: stranger, bot: a.bot}
	want(t, s.do(t, "GET", "/v1/chat/users/"+uid, nil), 403, "Forbidden")
	want(t, s.do(t, "GET", "/v1/chat/users", nil), 403, "Forbidden")
	want(t, s.do(t, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{}}), 403, "Forbidden")
	// A bot that doesn't exist reads as one the caller may not use.
	ghost := fixture{env: env, token: token, bot: "bot_01ZZZZZZZZZZZZZZZZZZZZZZZZ"}
	want(t, ghost.do(t, "GET", "/v1/chat/users", nil), 403, "Forbidden")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/chat/users", Token: token}), 400, "InvalidPayload")
	// A's user is untouched.
	want(t, a.do(t, "GET", "/v1/chat/users/"+uid, nil), 200, "")
}
