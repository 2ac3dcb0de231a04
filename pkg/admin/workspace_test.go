package admin_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/admindata"
	auditrec "github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

// adminStore is the store the stack's functions use, for what other
// packages (chat, jobs) write through it.
func adminStore(env *testenv.Env) *admindata.Store {
	return admindata.NewStore(env.Deps.DB, env.Deps.Config.Table(topology.AdminTable), cursor.New(env.Deps.Config.SigningKey))
}

func accountOf(t *testing.T, env *testenv.Env, token string) map[string]any {
	t.Helper()
	res := env.Do(t, R{Method: "GET", Path: "/v1/admin/account/me", Token: token})
	want(t, res, 200, "")
	return res.Body["account"].(map[string]any)
}

func auditActions(t *testing.T, env *testenv.Env, token, ws string) []string {
	t.Helper()
	res := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/audit-records", Token: token})
	want(t, res, 200, "")
	var out []string
	for _, r := range res.Body["records"].([]any) {
		out = append(out, r.(map[string]any)["action"].(string))
	}
	return out
}

func TestWorkspaceUpdateDeleteAudit(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Acme")
	path := "/v1/admin/workspaces/" + ws

	upd := env.Do(t, R{Method: "PUT", Path: path, Token: owner, Body: map[string]any{"name": "Acme 2", "spendingLimit": 50, "handle": "acme-two"}})
	want(t, upd, 200, "")
	wantCalls(t, upd, 2, "DynamoDB.GetItem=2,DynamoDB.TransactWriteItems=1")
	if upd.Body["name"] != "Acme 2" || upd.Body["spendingLimit"] != float64(50) || upd.Body["handle"] != "acme-two" {
		t.Fatalf("update answered %s", upd.Raw)
	}
	if got := env.Do(t, R{Method: "GET", Path: path, Token: owner}); got.Body["name"] != "Acme 2" {
		t.Fatalf("update not stored: %s", got.Raw)
	}
	for _, body := range []any{map[string]any{"name": ""}, map[string]any{"spendingLimit": 1}, map[string]any{"handle": "Bad Handle"}, map[string]any{"plan": "enterprise"}} {
		want(t, env.Do(t, R{Method: "PUT", Path: path, Token: owner, Body: body}), 400, "InvalidPayload")
	}

	// Audit: most recent first, one Query, nothing written by bad input.
	audit := env.Do(t, R{Method: "GET", Path: path + "/audit-records", Token: owner})
	want(t, audit, 200, "")
	wantCalls(t, audit, 2, "DynamoDB.Query=1")
	if got := strings.Join(auditActions(t, env, owner, ws), ","); got != "SET_SPENDING_LIMIT,UPDATE_WORKSPACE,CREATE_WORKSPACE" &&
		got != "UPDATE_WORKSPACE,SET_SPENDING_LIMIT,CREATE_WORKSPACE" {
		t.Fatalf("audit actions %s", got)
	}
	rec := audit.Body["records"].([]any)[0].(map[string]any)
	if rec["userId"] != auditrec.UserUUID(accountOf(t, env, owner)["id"].(string)) || rec["resourceId"] != ws {
		t.Fatalf("audit record %v", rec)
	}

	// A workspace with bots can't be deleted; without, it can.
	h := map[string]string{"x-workspace-id": ws}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{"name": "b"}}).Body["bot"].(map[string]any)["id"].(string)
	want(t, env.Do(t, R{Method: "DELETE", Path: path, Token: owner}), 409, "ReferenceConstraint")
	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + bot, Token: owner, Headers: h}), 200, "")
	del := env.Do(t, R{Method: "DELETE", Path: path, Token: owner})
	want(t, del, 200, "")
	wantCalls(t, del, 2, "DynamoDB.GetItem=1,DynamoDB.Query=1,DynamoDB.TransactWriteItems=1")
	want(t, env.Do(t, R{Method: "GET", Path: path, Token: owner}), 404, "ResourceNotFound")
	want(t, env.Do(t, R{Method: "PUT", Path: path, Token: owner, Body: map[string]any{"name": "x"}}), 404, "ResourceNotFound")
}

func TestWorkspaceTenancy(t *testing.T) {
	env := testenv.Stack(t)
	owner, other := newAccount(t, env), newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Mine")
	createWorkspace(t, env, other, "Theirs")
	path := "/v1/admin/workspaces/" + ws
	for _, r := range []R{
		{Method: "PUT", Path: path, Body: map[string]any{"name": "stolen"}},
		{Method: "DELETE", Path: path},
		{Method: "GET", Path: path + "/audit-records"},
		{Method: "GET", Path: path + "/usages?type=bot_count"},
		{Method: "GET", Path: path + "/quota?type=bot_count"},
		{Method: "GET", Path: path + "/quotas"},
		{Method: "GET", Path: "/v1/admin/usages/" + ws + "?type=bot_count"},
	} {
		r.Token = other
		want(t, env.Do(t, r), 404, "ResourceNotFound")
	}
	if got := env.Do(t, R{Method: "GET", Path: path, Token: owner}); got.Body["name"] != "Mine" {
		t.Fatalf("workspace changed by another account: %s", got.Raw)
	}
}

func TestUsageAndQuotas(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Quota")
	h := map[string]string{"x-workspace-id": ws}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{}}).Body["bot"].(map[string]any)["id"].(string)

	u := env.Do(t, R{Method: "GET", Path: "/v1/admin/usages/" + ws + "?type=bot_count", Token: owner})
	want(t, u, 200, "")
	wantCalls(t, u, 2, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	usage := u.Body["usage"].(map[string]any)
	if usage["value"] != float64(1) || usage["quota"] != admin.Quota("community", "bot_count") || usage["type"] != "bot_count" {
		t.Fatalf("usage %v", usage)
	}
	// Counters kept by other APIs are read per bot and period.
	store := adminStore(env)
	if err := store.AddUsage(t.Context(), bot, admin.UsageInvocations, "2026-01", 7); err != nil {
		t.Fatal(err)
	}
	bu := env.Do(t, R{Method: "GET", Path: "/v1/admin/usages/" + bot + "?type=invocation_calls&period=2026-01", Token: owner})
	want(t, bu, 200, "")
	wantCalls(t, bu, 2, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	if v := bu.Body["usage"].(map[string]any)["value"]; v != float64(7) {
		t.Fatalf("bot usage %s", bu.Raw)
	}
	members := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/usages?type=workspace_member_count", Token: owner})
	if v := members.Body["usages"].([]any)[0].(map[string]any)["value"]; v != float64(1) {
		t.Fatalf("member usage %s", members.Raw)
	}
	q := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/quotas", Token: owner})
	want(t, q, 200, "")
	wantCalls(t, q, 2, "DynamoDB.GetItem=1")
	if n := len(q.Body["quotas"].([]any)); n != len(admin.UsageTypes) {
		t.Fatalf("%d quotas", n)
	}
	for _, p := range []string{"?type=nope", "", "?type=bot_count&period=May"} {
		want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/usages/" + ws + p, Token: owner}), 400, "InvalidQuery")
	}

	// Exceeding the bot quota is refused and writes nothing.
	saved := admin.Quotas["community"]["bot_count"]
	admin.Quotas["community"]["bot_count"] = 2
	defer func() { admin.Quotas["community"]["bot_count"] = saved }()
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{}}), 200, "")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{"name": "third"}}), 403, "QuotaExceeded")
	if n := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws, Token: owner}).Body["botCount"]; n != float64(2) {
		t.Fatalf("botCount %v after refusal", n)
	}
	if n := len(env.Do(t, R{Method: "GET", Path: "/v1/admin/bots", Token: owner, Headers: h}).Body["bots"].([]any)); n != 2 {
		t.Fatalf("%d bots listed after refusal", n)
	}
}

func TestAuditPagination(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Busy")
	for i := 0; i < 22; i++ {
		want(t, env.Do(t, R{Method: "PUT", Path: "/v1/admin/workspaces/" + ws, Token: owner, Body: map[string]any{"about": strings.Repeat("x", i)}}), 200, "")
	}
	first := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/audit-records", Token: owner})
	next, _ := first.Body["meta"].(map[string]any)["nextToken"].(string)
	if len(first.Body["records"].([]any)) != 20 || next == "" {
		t.Fatalf("first page %s", first.Raw)
	}
	second := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/audit-records?nextToken=" + url.QueryEscape(next), Token: owner})
	recs := second.Body["records"].([]any)
	if len(recs) != 3 || recs[2].(map[string]any)["action"] != "CREATE_WORKSPACE" {
		t.Fatalf("second page %s", second.Raw)
	}
	other := createWorkspace(t, env, owner, "Quiet")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + other + "/audit-records?nextToken=" + url.QueryEscape(next), Token: owner}), 400, "InvalidQuery")
}
