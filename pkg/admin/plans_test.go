package admin_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

func TestChangePlan(t *testing.T) {
	env := testenv.Stack(t)
	owner, biller, dev := newAccount(t, env), newAccount(t, env), newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Plans")
	path := "/v1/admin/workspaces/" + ws + "/change-plan"
	addMember(t, env, owner, ws, accountOf(t, env, biller)["email"].(string), "billing")
	addMember(t, env, owner, ws, accountOf(t, env, dev)["email"].(string), "developer")

	want(t, env.Do(t, R{Method: "PUT", Path: path, Token: dev, Body: map[string]any{"plan": "team"}}), 403, "Forbidden")
	want(t, env.Do(t, R{Method: "PUT", Path: path, Token: biller, Body: map[string]any{"plan": "gold"}}), 400, "InvalidPayload")
	want(t, env.Do(t, R{Method: "PUT", Path: path, Token: biller, Body: map[string]any{}}), 400, "InvalidPayload")

	// Community allows 3 members: the fourth needs a bigger plan.
	fourth := accountOf(t, env, newAccount(t, env))["email"].(string)
	h := map[string]string{"x-workspace-id": ws}
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: owner, Headers: h, Body: map[string]any{"email": fourth, "role": "viewer"}}), 403, "")

	changed := env.Do(t, R{Method: "PUT", Path: path, Token: biller, Body: map[string]any{"plan": "team"}})
	want(t, changed, 200, "")
	if changed.Body["plan"] != "team" || changed.Body["id"] != ws {
		t.Fatalf("changed %s", changed.Raw)
	}
	// The new quotas apply at once.
	quota := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/quota?type=workspace_member_count", Token: owner})
	want(t, quota, 200, "")
	if v := quota.Body["quota"].(map[string]any)["value"]; v != float64(20) {
		t.Fatalf("member quota after the change %v, want 20", v)
	}
	addMember(t, env, owner, ws, fourth, "viewer")
	if acts := auditActions(t, env, owner, ws); !slices.Contains(acts, "UNKNOWN") && !slices.Contains(acts, "CHANGE_PLAN") {
		t.Fatalf("no plan change in the audit trail: %v", acts)
	}

	// Back to community: 4 members are over its 3, and the error says so.
	refused := env.Do(t, R{Method: "PUT", Path: path, Token: biller, Body: map[string]any{"plan": "community"}})
	want(t, refused, 403, "QuotaExceeded")
	if msg := refused.Body["message"].(string); !strings.Contains(msg, "workspace_member_count (4 used, the community plan allows 3)") {
		t.Fatalf("refusal %q doesn't name the quantity over", msg)
	}
	got := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + ws, Token: owner})
	if got.Body["plan"] != "team" {
		t.Fatalf("plan after a refused downgrade %v", got.Body["plan"])
	}
	// A downgrade that fits is fine.
	want(t, env.Do(t, R{Method: "PUT", Path: path, Token: owner, Body: map[string]any{"plan": "plus"}}), 200, "")
}
