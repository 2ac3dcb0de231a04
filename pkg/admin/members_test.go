package admin_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/testenv"
)

func addMember(t *testing.T, env *testenv.Env, token, ws, email, role string) map[string]any {
	t.Helper()
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: token, Headers: map[string]string{"x-workspace-id": ws}, Body: map[string]any{"email": email, "role": role}})
	want(t, res, 200, "")
	return res.Body
}

func TestMembersAndLastOwner(t *testing.T) {
	env := testenv.Stack(t)
	owner, second := newAccount(t, env), newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Team")
	h := map[string]string{"x-workspace-id": ws}
	ownerID := accountOf(t, env, owner)["id"].(string)

	email := accountOf(t, env, second)["email"].(string)
	added := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: owner, Headers: h, Body: map[string]any{"email": email, "role": "developer"}})
	want(t, added, 200, "")
	wantCalls(t, added, 2, "DynamoDB.GetItem=2,DynamoDB.TransactWriteItems=1")
	memberID := added.Body["id"].(string)
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: owner, Headers: h, Body: map[string]any{"email": email, "role": "viewer"}}), 409, "AlreadyExists")
	// The member now reaches the workspace with its role.
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots", Token: second, Headers: h}), 200, "")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: second, Headers: h, Body: map[string]any{"email": "x@example.com", "role": "viewer"}}), 403, "Forbidden")

	list := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspace-members", Token: owner, Headers: h})
	want(t, list, 200, "")
	wantCalls(t, list, 2, "DynamoDB.BatchGetItem=1,DynamoDB.Query=1")
	if n := len(list.Body["members"].([]any)); n != 2 {
		t.Fatalf("members %s", list.Raw)
	}

	upd := env.Do(t, R{Method: "PUT", Path: "/v1/admin/workspace-members/" + memberID, Token: owner, Headers: h, Body: map[string]any{"role": "owner"}})
	want(t, upd, 200, "")
	wantCalls(t, upd, 2, "DynamoDB.GetItem=3,DynamoDB.TransactWriteItems=1")
	if upd.Body["role"] != "owner" || upd.Body["email"] != email {
		t.Fatalf("update %s", upd.Raw)
	}
	// Two owners: one may go; then the last one can neither go nor be demoted.
	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/workspace-members/" + memberID, Token: owner, Headers: h}), 200, "")
	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/workspace-members/" + ownerID, Token: owner, Headers: h}), 409, "ReferenceConstraint")
	want(t, env.Do(t, R{Method: "PUT", Path: "/v1/admin/workspace-members/" + ownerID, Token: owner, Headers: h, Body: map[string]any{"role": "viewer"}}), 409, "ReferenceConstraint")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots", Token: second, Headers: h}), 403, "Forbidden")

	// Administrators can't grant the owner role.
	admin2 := newAccount(t, env)
	addMember(t, env, owner, ws, accountOf(t, env, admin2)["email"].(string), "administrator")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: admin2, Headers: h, Body: map[string]any{"email": "boss@example.com", "role": "owner"}}), 403, "Forbidden")

	// Bad input writes nothing; the member quota is enforced in the write.
	for _, body := range []any{map[string]any{"email": "nope", "role": "viewer"}, map[string]any{"email": "a@b.co", "role": "god"}, map[string]any{"email": "a@b.co"}} {
		want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: owner, Headers: h, Body: body}), 400, "InvalidPayload")
	}
	addMember(t, env, owner, ws, "third-"+strings.ToLower(id.New("m"))+"@example.com", "viewer")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: owner, Headers: h, Body: map[string]any{"email": "fourth@example.com", "role": "viewer"}}), 403, "QuotaExceeded")
	if n := len(env.Do(t, R{Method: "GET", Path: "/v1/admin/workspace-members", Token: owner, Headers: h}).Body["members"].([]any)); n != 3 {
		t.Fatalf("%d members after refusal, want 3", n)
	}

	// Tenancy: another workspace's owner can't touch these members.
	other := newAccount(t, env)
	otherWS := createWorkspace(t, env, other, "Other")
	oh := map[string]string{"x-workspace-id": otherWS}
	want(t, env.Do(t, R{Method: "PUT", Path: "/v1/admin/workspace-members/" + ownerID, Token: other, Headers: oh, Body: map[string]any{"role": "viewer"}}), 404, "ResourceNotFound")
	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/workspace-members/" + ownerID, Token: other, Headers: oh}), 404, "ResourceNotFound")
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/workspace-members", Token: other, Headers: h}), 403, "Forbidden")
	if got := strings.Join(auditActions(t, env, owner, ws), ","); !strings.HasPrefix(got, "ADD_WORKSPACE_MEMBER,ADD_WORKSPACE_MEMBER,REMOVE_WORKSPACE_MEMBER,UPDATE_WORKSPACE_MEMBER,ADD_WORKSPACE_MEMBER") {
		t.Fatalf("audit %s", got)
	}
}

func TestInvitation(t *testing.T) {
	env := testenv.Stack(t)
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Invite")
	h := map[string]string{"x-workspace-id": ws}
	email := "new-" + strings.ToLower(id.New("i")) + "@example.com"
	m := addMember(t, env, owner, ws, email, "developer")
	memberID := m["id"].(string)

	inv := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members/" + memberID + "/invitation", Token: owner, Headers: h})
	want(t, inv, 200, "")
	wantCalls(t, inv, 2, "DynamoDB.BatchGetItem=1,DynamoDB.GetItem=2,DynamoDB.TransactWriteItems=1,SESv2.SendEmail=1")
	// The code goes to the invited by email; the inviter never sees it.
	if got := inv.Body["invitation"].(map[string]any); got["code"] != nil || got["sentTo"] != email {
		t.Fatalf("invitation answer %v", got)
	}
	code := mailedCode(t, env, email)
	// A new code replaces the first.
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members/" + memberID + "/invitation", Token: owner, Headers: h}), 200, "")
	code2 := mailedCode(t, env, email)
	if code2 == code {
		t.Fatal("a new invitation mailed the same code")
	}
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/account/invitations/accept", Body: map[string]any{"code": code}}), 401, "Unauthorized")

	acc := env.Do(t, R{Method: "POST", Path: "/v1/admin/account/invitations/accept", Body: map[string]any{"code": code2}})
	want(t, acc, 200, "")
	wantCalls(t, acc, 0, "DynamoDB.GetItem=1,DynamoDB.TransactWriteItems=1")
	pat := acc.Body["pat"].(map[string]any)["value"].(string)
	if me := accountOf(t, env, pat); me["email"] != email || me["id"] != memberID {
		t.Fatalf("invited account %v", me)
	}
	want(t, env.Do(t, R{Method: "GET", Path: "/v1/admin/bots", Token: pat, Headers: h}), 200, "")
	// Once only; and an active account gets no more codes.
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/account/invitations/accept", Body: map[string]any{"code": code2}}), 401, "Unauthorized")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members/" + memberID + "/invitation", Token: owner, Headers: h}), 409, "RelationConflict")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/account/invitations/accept", Body: map[string]any{}}), 400, "InvalidPayload")
}

// TestRolesPerFamily checks every role against a representative admin
// operation of every permission family, reading auth.Matrix: allowed roles
// get past authorization, the others get 403.
func TestRolesPerFamily(t *testing.T) {
	env := testenv.Stack(t)
	saved := admin.Quotas["community"]["workspace_member_count"]
	admin.Quotas["community"]["workspace_member_count"] = 10
	defer func() { admin.Quotas["community"]["workspace_member_count"] = saved }()
	owner := newAccount(t, env)
	ws := createWorkspace(t, env, owner, "Roles")
	h := map[string]string{"x-workspace-id": ws}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{}}).Body["bot"].(map[string]any)["id"].(string)
	tokens := map[auth.Role]string{auth.Owner: owner}
	for _, role := range auth.Roles()[1:] {
		tok := newAccount(t, env)
		addMember(t, env, owner, ws, accountOf(t, env, tok)["email"].(string), string(role))
		tokens[role] = tok
	}
	missing := "bot_01JZZZZZZZZZZZZZZZZZZZZZZZ"
	probes := map[auth.Permission]R{
		auth.WorkspaceRead:     {Method: "GET", Path: "/v1/admin/workspace-members/me", Headers: h},
		auth.WorkspaceWrite:    {Method: "PUT", Path: "/v1/admin/workspaces/" + ws, Body: map[string]any{"name": ""}},
		auth.WorkspaceDelete:   {Method: "DELETE", Path: "/v1/admin/workspaces/" + ws}, // has a bot: 409
		auth.MembersRead:       {Method: "GET", Path: "/v1/admin/workspace-members", Headers: h},
		auth.MembersWrite:      {Method: "POST", Path: "/v1/admin/workspace-members", Headers: h, Body: map[string]any{}},
		auth.AuditRead:         {Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/audit-records"},
		auth.UsageRead:         {Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/quotas"},
		auth.BotsRead:          {Method: "GET", Path: "/v1/admin/bots/" + bot, Headers: h},
		auth.BotsWrite:         {Method: "PUT", Path: "/v1/admin/bots/" + bot, Headers: h, Body: map[string]any{"name": ""}},
		auth.BotsDelete:        {Method: "DELETE", Path: "/v1/admin/bots/" + missing, Headers: h},
		auth.BotsTransfer:      {Method: "POST", Path: "/v1/admin/bots/" + bot + "/transfer", Headers: h, Body: map[string]any{}},
		auth.IntegrationsRead:  {Method: "GET", Path: "/v1/admin/integrations", Headers: h},
		auth.IntegrationsWrite: {Method: "POST", Path: "/v1/admin/integrations", Headers: h, Body: map[string]any{}},
		auth.BillingRead:       {Method: "GET", Path: "/v1/admin/workspaces/" + ws + "/billing/invoices"},
		auth.BillingWrite:      {Method: "PUT", Path: "/v1/admin/workspaces/" + ws + "/change-plan", Body: map[string]any{"plan": "nope"}},
	}
	// Families served by other functions are checked by pkg/auth's
	// TestMatrixEnforced and by their own packages.
	elsewhere := []string{"chat.", "tables.", "files.", "policies.", "deletion.", "compliance.", "archives."}
	for perm, allowed := range auth.Matrix {
		probe, ok := probes[perm]
		if !ok {
			other := false
			for _, p := range elsewhere {
				other = other || strings.HasPrefix(string(perm), p)
			}
			if !other {
				t.Errorf("no admin probe for permission %s", perm)
			}
			continue
		}
		for _, role := range auth.Roles() {
			probe.Token = tokens[role]
			res := env.Do(t, probe)
			may := false
			for _, r := range allowed {
				may = may || r == role
			}
			if forbidden := res.Status == 403 && res.Body["type"] == "Forbidden"; forbidden == may || res.Status >= 500 {
				t.Errorf("%s as %s: %d %s (matrix allows: %v)", perm, role, res.Status, res.Raw, may)
			}
		}
	}
}

// mailedCode is the invitation code in the last email SES sent to addr.
func mailedCode(t *testing.T, env *testenv.Env, addr string) string {
	t.Helper()
	code := ""
	for _, m := range env.SentEmails(t) {
		if len(m.To) == 1 && m.To[0] == addr {
			if match := regexp.MustCompile(`"code": "([^"]+)"`).FindStringSubmatch(m.Body); match != nil {
				code = match[1]
			}
		}
	}
	if code == "" {
		t.Fatalf("no invitation email to %s", addr)
	}
	return code
}
