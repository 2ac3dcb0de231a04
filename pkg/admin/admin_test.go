package admin_test

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var (
	want      = testenv.Want
	wantCalls = testenv.WantCalls
)

func newAccount(t *testing.T, env *testenv.Env) string { return env.NewAccount(t) }

func TestAccountMe(t *testing.T) {
	env := testenv.Stack(t)
	res := env.Do(t, R{Method: "GET", Path: "/v1/admin/account/me", Token: env.PAT})
	want(t, res, 200, "")
	acc := res.Body["account"].(map[string]any)
	if acc["email"] != "admin@localhost" || acc["id"] != env.AccountID {
		t.Fatalf("account %v", acc)
	}
	wantCalls(t, res, 1, "DynamoDB.GetItem=1")

	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/account/me", Token: "wrong"}), 401, "Unauthorized")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/account/me"}), 401, "Unauthorized")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/account/me", Headers: map[string]string{"Authorization": "Basic abc"}}), 401, "Unauthorized")
}

func TestPersonalAccessTokens(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	created := env.Do(t, R{Method: "POST", Path: "/v1/admin/account/pats", Token: owner, Body: map[string]any{"note": "ci"}})
	want(t, created, 200, "")
	wantCalls(t, created, 1, "DynamoDB.PutItem=1")
	pat := created.Body["pat"].(map[string]any)
	value, patID := pat["value"].(string), pat["id"].(string)
	if value == "" || pat["note"] != "ci" {
		t.Fatalf("pat %v", pat)
	}

	// The new token works and is listed without its value.
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/account/me", Token: value}), 200, "")
	list := env.Do(t, R{Method: "GET", Path: "/v1/admin/account/pats", Token: owner})
	want(t, list, 200, "")
	wantCalls(t, list, 1, "DynamoDB.Query=1")
	pats := list.Body["pats"].([]any)
	if len(pats) != 2 {
		t.Fatalf("want the bootstrap token and the new one, got %v", pats)
	}
	for _, p := range pats {
		if _, ok := p.(map[string]any)["value"]; ok {
			t.Fatalf("a listed token shows its value: %v", p)
		}
	}

	// Another account cannot revoke it; its owner can, and then it fails.
	other := newAccount(t, env)
	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/account/pats/" + patID, Token: other, Body: map[string]any{}}), 404, "ResourceNotFound")
	del := env.Do(t, R{Method: "DELETE", Path: "/v1/admin/account/pats/" + patID, Token: owner, Body: map[string]any{}})
	want(t, del, 200, "")
	if string(del.Raw) != "{}\n" {
		t.Fatalf("delete answered %q, want {}", del.Raw)
	}
	wantCalls(t, del, 1, "DynamoDB.DeleteItem=1,DynamoDB.Query=1")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/account/me", Token: value}), 401, "Unauthorized")

	// Bad input writes nothing.
	for _, body := range []any{map[string]any{}, map[string]any{"note": 5}, map[string]any{"note": "x", "extra": 1}, `{"note":`} {
		want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/account/pats", Token: owner, Body: body}), 400, "InvalidPayload")
	}
	if n := len(env.Do(t, R{Method: "GET", Path: "/v1/admin/account/pats", Token: owner}).Body["pats"].([]any)); n != 1 {
		t.Fatalf("%d tokens after bad input, want 1", n)
	}
}

func createWorkspace(t *testing.T, env *testenv.Env, token, name string) string {
	t.Helper()
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": name}})
	want(t, res, 200, "")
	return res.Body["id"].(string)
}

func TestWorkspaces(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	created := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: owner, Body: map[string]any{"name": "Acme"}})
	want(t, created, 200, "")
	wantCalls(t, created, 1, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	ws := created.Body
	if ws["name"] != "Acme" || ws["botCount"] != float64(0) || ws["plan"] != "community" || ws["activeTrialId"] != nil {
		t.Fatalf("workspace %v", ws)
	}
	second := createWorkspace(t, env, owner, "Beta")

	got := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws["id"].(string), Token: owner})
	want(t, got, 200, "")
	wantCalls(t, got, 1, "DynamoDB.BatchGetItem=1")

	list := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces", Token: owner})
	want(t, list, 200, "")
	wantCalls(t, list, 1, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	items := list.Body["workspaces"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["id"] != second {
		t.Fatalf("list %v, want both, newest first", items)
	}

	// Another account sees neither: a workspace it doesn't belong to is missing.
	other := newAccount(t, env)
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + second, Token: other}), 404, "ResourceNotFound")
	if n := len(env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces", Token: other}).Body["workspaces"].([]any)); n != 0 {
		t.Fatalf("other account lists %d workspaces", n)
	}
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: owner, Body: map[string]any{"name": ""}}), 400, "InvalidPayload")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: owner, Body: strings.Repeat(" ", 2<<20)}), 413, "PayloadTooLarge")
}

func TestBots(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Bots")
	h := map[string]string{"x-workspace-id": ws}
	def := map[string]any{
		"name":   "Support",
		"states": map[string]any{"cart": map[string]any{"type": "conversation", "schema": map[string]any{"type": "object"}}},
		"user":   map[string]any{"tags": map[string]any{"email": map[string]any{"title": "Email"}}},
		"tags":   map[string]any{"team": "cx"},
		"dev":    true,
	}
	created := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: def})
	want(t, created, 200, "")
	wantCalls(t, created, 2, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	bot := created.Body["bot"].(map[string]any)
	botID := bot["id"].(string)
	if bot["name"] != "Support" || bot["dev"] != true || bot["signingSecret"] == "" || bot["status"] != "active" {
		t.Fatalf("bot %v", bot)
	}
	if _, leaked := bot["workspaceId"]; leaked {
		t.Fatal("bot answer carries storage fields")
	}
	env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{"name": "Prod"}})

	if n := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws, Token: owner}).Body["botCount"]; n != float64(2) {
		t.Fatalf("botCount %v, want 2", n)
	}
	got := env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + botID, Token: owner, Headers: h})
	want(t, got, 200, "")
	wantCalls(t, got, 2, "DynamoDB.GetItem=1")
	if got.Body["bot"].(map[string]any)["states"].(map[string]any)["cart"] == nil {
		t.Fatalf("definition lost: %s", got.Raw)
	}

	list := env.Do(t, R{Method: "GET", Path: "/v1/admin/bots", Token: owner, Headers: h})
	want(t, list, 200, "")
	wantCalls(t, list, 2, "DynamoDB.Query=1")
	if n := len(list.Body["bots"].([]any)); n != 2 {
		t.Fatalf("%d bots listed, want 2", n)
	}
	dev := env.Do(t, R{Method: "GET", Path: "/v1/admin/bots?dev=true", Token: owner, Headers: h})
	if bots := dev.Body["bots"].([]any); len(bots) != 1 || bots[0].(map[string]any)["id"] != botID {
		t.Fatalf("dev filter: %s", dev.Raw)
	}
	asc := env.Do(t, R{Method: "GET", Path: "/v1/admin/bots?sortField=updatedAt&sortDirection=asc", Token: owner, Headers: h})
	if bots := asc.Body["bots"].([]any); len(bots) != 2 || bots[0].(map[string]any)["id"] != botID {
		t.Fatalf("updatedAt asc: %s", asc.Raw)
	}
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots?sortField=name", Token: owner, Headers: h}), 400, "InvalidQuery")

	// Tenancy: another account's workspace header is forbidden; its bots
	// are missing from ours.
	other := newAccount(t, env)
	otherWS := createWorkspace(t, env, other, "Other")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + botID, Token: other, Headers: h}), 403, "Forbidden")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/" + botID, Token: other, Headers: map[string]string{"x-workspace-id": otherWS}}), 404, "ResourceNotFound")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots", Token: owner}), 400, "InvalidPayload")

	// Bad definitions are refused and nothing is written.
	for _, body := range []any{
		map[string]any{"states": map[string]any{"s": map[string]any{"type": "galaxy", "schema": map[string]any{}}}},
		map[string]any{"name": ""},
		map[string]any{"url": "not a url"},
		map[string]any{"unknown": true},
		map[string]any{"dev": "yes"},
	} {
		want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: body}), 400, "InvalidPayload")
	}
	if n := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws, Token: owner}).Body["botCount"]; n != float64(2) {
		t.Fatalf("botCount %v after bad input, want 2", n)
	}
}

func TestBotListPagination(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Many")
	h := map[string]string{"x-workspace-id": ws}
	for i := 0; i < 23; i++ {
		want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{"name": fmt.Sprint("b", i)}}), 200, "")
	}
	first := env.Do(t, R{Method: "GET", Path: "/v1/admin/bots", Token: owner, Headers: h})
	next, _ := first.Body["meta"].(map[string]any)["nextToken"].(string)
	if len(first.Body["bots"].([]any)) != 20 || next == "" {
		t.Fatalf("first page: %s", first.Raw)
	}
	second := env.Do(t, R{Method: "GET", Path: "/v1/admin/bots?nextToken=" + url.QueryEscape(next), Token: owner, Headers: h})
	if len(second.Body["bots"].([]any)) != 3 {
		t.Fatalf("second page: %s", second.Raw)
	}
	if _, more := second.Body["meta"].(map[string]any)["nextToken"]; more {
		t.Fatalf("last page has a nextToken: %s", second.Raw)
	}
	// The token is bound to this list: another workspace, a tampered copy
	// or other filters are refused.
	otherWS := createWorkspace(t, env, owner, "Few")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots?nextToken=" + url.QueryEscape(next), Token: owner, Headers: map[string]string{"x-workspace-id": otherWS}}), 400, "InvalidQuery")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots?dev=true&nextToken=" + url.QueryEscape(next), Token: owner, Headers: h}), 400, "InvalidQuery")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots?nextToken=" + url.QueryEscape("x"+next), Token: owner, Headers: h}), 400, "InvalidQuery")
}
