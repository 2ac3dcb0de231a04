package policy_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var want = testenv.Want

type caller struct {
	env       *testenv.Env
	token, ws string
}

func newCaller(t testing.TB, env *testenv.Env) caller {
	t.Helper()
	c := caller{env: env, token: env.NewAccount(t)}
	c.ws = c.workspace(t)
	return c
}

func (c caller) workspace(t testing.TB) string {
	t.Helper()
	ws := c.env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: c.token, Body: map[string]any{"name": "w"}})
	want(t, ws, 200, "")
	return ws.Body["id"].(string)
}

func (c caller) do(t testing.TB, method, path string, body any) testenv.Response {
	t.Helper()
	return c.env.Do(t, R{Method: method, Path: "/api/v1/policy" + path, Token: c.token, Headers: map[string]string{"x-workspace-id": c.ws}, Body: body})
}

func TestPolicyCRUD(t *testing.T) {
	env := testenv.Stack(t)
	c := newCaller(t, env)
	other := newCaller(t, env)

	created := c.do(t, "POST", "/create", map[string]any{
		"name": "30DayRetention", "description": "Archive conversations idle 30 days", "type": "retention",
		"config": map[string]any{"maxAge": "P30D"}, "blueprintId": "blueprint_xyz789", "meta": map[string]any{"team": "support", "tier": 2},
	})
	want(t, created, 200, "")
	testenv.WantCalls(t, created, 2, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	pid := created.Body["id"].(string)
	cfg := created.Body["config"].(map[string]any)
	if !strings.HasPrefix(pid, "policy_") || cfg["action"] != "archive" || cfg["basis"] != "updatedAt" || cfg["resources"] != "conversations" ||
		created.Body["createdAt"] == nil || !strings.HasSuffix(created.Body["createdAt"].(string), "Z") {
		t.Fatalf("create: %s", created.Raw)
	}

	got := c.do(t, "GET", "/"+pid+"/fetch", nil)
	want(t, got, 200, "")
	testenv.WantCalls(t, got, 2, "DynamoDB.GetItem=1")
	if got.Body["name"] != "30DayRetention" || got.Body["blueprintId"] != "blueprint_xyz789" || got.Body["meta"].(map[string]any)["team"] != "support" {
		t.Fatalf("fetch: %s", got.Raw)
	}

	// Incremental update: only the name and the config change.
	up := c.do(t, "POST", "/"+pid+"/update", map[string]any{"name": "60DayRetention", "config": map[string]any{"maxAge": "P60D", "action": "delete"}})
	want(t, up, 200, "")
	testenv.WantCalls(t, up, 2, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	got = c.do(t, "GET", "/"+pid+"/fetch", nil)
	if got.Body["name"] != "60DayRetention" || got.Body["description"] != "Archive conversations idle 30 days" ||
		got.Body["config"].(map[string]any)["maxAge"] != "P60D" || got.Body["blueprintId"] != "blueprint_xyz789" || got.Body["updatedAt"] == got.Body["createdAt"] {
		t.Fatalf("after update: %s", got.Raw)
	}

	// Another workspace sees nothing of it.
	want(t, other.do(t, "GET", "/"+pid+"/fetch", nil), 404, "ResourceNotFound")
	want(t, other.do(t, "POST", "/"+pid+"/update", map[string]any{"name": "x"}), 404, "ResourceNotFound")
	want(t, other.do(t, "POST", "/"+pid+"/delete", map[string]any{}), 404, "ResourceNotFound")
	if l := other.do(t, "GET", "/list", nil); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("another workspace lists %s", l.Raw)
	}

	// List: pages with a cursor, filters, order.
	for i := 0; i < 4; i++ {
		bp := "bp_a"
		if i%2 == 1 {
			bp = "bp_b"
		}
		want(t, c.do(t, "POST", "/create", map[string]any{"name": fmt.Sprint("p", i), "description": "", "type": "retention",
			"config": map[string]any{"maxAge": "PT12H"}, "blueprintId": bp, "meta": map[string]any{"n": fmt.Sprint(i)}}), 200, "")
	}
	page := c.do(t, "GET", "/list?take=2", nil)
	want(t, page, 200, "")
	testenv.WantCalls(t, page, 2, "DynamoDB.Query=1")
	items := page.Body["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["name"] != "p3" || page.Body["cursor"] == nil {
		t.Fatalf("first page: %s", page.Raw)
	}
	var names []string
	cur := page.Body["cursor"].(string)
	for _, it := range items {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	for cur != "" {
		p := c.do(t, "GET", "/list?take=2&cursor="+cur, nil)
		want(t, p, 200, "")
		for _, it := range p.Body["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		cur, _ = p.Body["cursor"].(string)
	}
	if strings.Join(names, ",") != "p3,p2,p1,p0,60DayRetention" {
		t.Fatalf("pages: %v", names)
	}
	asc := c.do(t, "GET", "/list?order=asc&take=1", nil)
	if asc.Body["items"].([]any)[0].(map[string]any)["name"] != "60DayRetention" {
		t.Fatalf("asc: %s", asc.Raw)
	}
	filtered := c.do(t, "GET", "/list?blueprintId=bp_b&type=retention", nil)
	if n := len(filtered.Body["items"].([]any)); n != 2 || filtered.Body["cursor"] != nil {
		t.Fatalf("blueprint filter: %s", filtered.Raw)
	}
	meta := c.do(t, "GET", "/list?meta.n=2", nil)
	if its := meta.Body["items"].([]any); len(its) != 1 || its[0].(map[string]any)["name"] != "p2" {
		t.Fatalf("meta filter: %s", meta.Raw)
	}
	if num := c.do(t, "GET", "/list?meta.tier=2", nil); len(num.Body["items"].([]any)) != 1 {
		t.Fatalf("numeric meta filter: %s", num.Raw)
	}
	// A cursor is bound to its workspace and filters.
	want(t, c.do(t, "GET", "/list?take=2&type=retention&cursor="+page.Body["cursor"].(string), nil), 400, "InvalidQuery")
	want(t, other.do(t, "GET", "/list?take=2&cursor="+page.Body["cursor"].(string), nil), 400, "InvalidQuery")
	want(t, c.do(t, "GET", "/list?order=sideways", nil), 400, "InvalidQuery")

	// Delete: gone at once; a second delete is a 404.
	del := c.do(t, "POST", "/"+pid+"/delete", map[string]any{})
	want(t, del, 200, "")
	testenv.WantCalls(t, del, 2, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	want(t, c.do(t, "GET", "/"+pid+"/fetch", nil), 404, "ResourceNotFound")
	want(t, c.do(t, "POST", "/"+pid+"/delete", map[string]any{}), 404, "ResourceNotFound")

	// Every change is in the audit trail.
	trail := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + c.ws + "/audit-records", Token: c.token})
	for _, a := range []string{"CREATE_POLICY", "UPDATE_POLICY", "DELETE_POLICY"} {
		if !strings.Contains(string(trail.Raw), a) {
			t.Errorf("audit trail lacks %s", a)
		}
	}
}

func TestPolicyValidation(t *testing.T) {
	env := testenv.Stack(t)
	c := newCaller(t, env)
	base := func(config any) map[string]any {
		return map[string]any{"name": "n", "description": "d", "type": "retention", "config": config}
	}
	for _, tc := range []struct {
		body any
		msg  string
	}{
		{base(map[string]any{}), "config.maxAge is required"},
		{base(nil), "config is required"},
		{base(map[string]any{"maxAge": "30 days"}), "config.maxAge"},
		{base(map[string]any{"maxAge": "P"}), "config.maxAge"},
		{base(map[string]any{"maxAge": "PT"}), "config.maxAge"},
		{base(map[string]any{"maxAge": "P0D"}), "config.maxAge"},
		{base(map[string]any{"maxAge": "P1DT"}), "config.maxAge"},
		{base(map[string]any{"maxAge": "P30D", "action": "shred"}), "config.action"},
		{base(map[string]any{"maxAge": "P30D", "basis": "lastSeen"}), "config.basis"},
		{base(map[string]any{"maxAge": "P30D", "resources": "files", "scope": map[string]any{"channels": []string{"web"}}}), "config.scope narrows files"},
		{base(map[string]any{"maxAge": "P30D", "resources": "tableRows", "scope": map[string]any{"channels": []any{"web"}}}), "botIds and tableNames only"},
		{base(map[string]any{"maxAge": "P30D", "scope": map[string]any{"tableNames": []any{"ordersTable"}}}), "tableNames applies to resources"},
		{base(map[string]any{"maxAge": "P30D", "resources": "users"}), "config.resources"},
		{base(map[string]any{"maxAge": "P30D", "ttl": 3}), "unknown field \"ttl\""},
		{base(map[string]any{"maxAge": 30}), "config.maxAge"},
		{base(map[string]any{"maxAge": "P30D", "scope": map[string]any{"botIds": []string{""}}}), "config.scope.botIds[0]"},
		{base(map[string]any{"maxAge": "P30D", "resources": "events", "scope": map[string]any{"channels": []string{"web"}}}), "config.scope"},
		{map[string]any{"description": "d", "type": "retention", "config": map[string]any{"maxAge": "P1D"}}, "name is required"},
		{map[string]any{"name": "n", "type": "retention", "config": map[string]any{"maxAge": "P1D"}}, "description is required"},
		{map[string]any{"name": "n", "description": "d", "type": "access", "config": map[string]any{"maxAge": "P1D"}}, "type must be \"retention\""},
		{map[string]any{"name": "n", "description": "d", "type": "retention", "config": map[string]any{"maxAge": "P1D"}, "meta": []int{1}}, "meta must be an object"},
	} {
		res := c.do(t, "POST", "/create", tc.body)
		want(t, res, 400, "InvalidPayload")
		if !strings.Contains(fmt.Sprint(res.Body["message"]), tc.msg) {
			t.Errorf("%v: message %q lacks %q", tc.body, res.Body["message"], tc.msg)
		}
	}
	if l := c.do(t, "GET", "/list", nil); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("a refused create wrote: %s", l.Raw)
	}
	for _, ok := range []string{"PT12H", "P1Y2M", "P2W", "PT1S", "PT0.5S", "P1DT2H30M"} {
		want(t, c.do(t, "POST", "/create", base(map[string]any{"maxAge": ok})), 200, "")
	}
	// An update is validated the same way and changes nothing when refused.
	pid := c.do(t, "POST", "/create", base(map[string]any{"maxAge": "P1D", "resources": []string{"events"}})).Body["id"].(string)
	res := c.do(t, "POST", "/"+pid+"/update", map[string]any{"config": map[string]any{"maxAge": "P1D", "action": "burn"}})
	want(t, res, 400, "InvalidPayload")
	if got := c.do(t, "GET", "/"+pid+"/fetch", nil); got.Body["config"].(map[string]any)["resources"] != "events" || got.Body["config"].(map[string]any)["basis"] != "createdAt" {
		t.Fatalf("events policy: %s", got.Raw)
	}
}

func TestPolicyWorkspace(t *testing.T) {
	env := testenv.Stack(t)
	c := newCaller(t, env)
	// One workspace: the header may be left out.
	res := env.Do(t, R{Method: "POST", Path: "/api/v1/policy/create", Token: c.token,
		Body: map[string]any{"name": "n", "description": "d", "type": "retention", "config": map[string]any{"maxAge": "P1D"}}})
	want(t, res, 200, "")
	testenv.WantCalls(t, res, 2, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	pid := res.Body["id"].(string)
	want(t, c.do(t, "GET", "/"+pid+"/fetch", nil), 200, "")
	// Several: a clear 400 naming the header.
	c.workspace(t)
	res = env.Do(t, R{Method: "GET", Path: "/api/v1/policy/list", Token: c.token})
	want(t, res, 400, "InvalidPayload")
	if !strings.Contains(res.Body["message"].(string), "x-workspace-id") {
		t.Fatalf("message: %s", res.Raw)
	}
	// None: also a 400; no token: 401; a workspace not one's own: 403.
	lonely := env.NewAccount(t)
	want(t, env.Do(t, R{Method: "GET", Path: "/api/v1/policy/list", Token: lonely}), 400, "InvalidPayload")
	want(t, env.Do(t, R{Method: "GET", Path: "/api/v1/policy/list"}), 401, "Unauthorized")
	want(t, env.Do(t, R{Method: "GET", Path: "/api/v1/policy/list", Token: lonely, Headers: map[string]string{"x-workspace-id": c.ws}}), 403, "Forbidden")
}
