package security

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

// noMail serves the admin function of the shared stack without a mail
// transport (SES_SENDER empty: the default locally and deployed).
func noMail(t *testing.T, env *testenv.Env) *world {
	t.Helper()
	d := env.Deps
	fn, _ := topology.Default().Function(topology.AdminFunction)
	d.Config.Settings = map[string]string{}
	for k, v := range fn.Settings {
		d.Config.Settings[k] = v
	}
	d.Config.Settings["SES_SENDER"] = ""
	h, err := app.HTTPHandler(topology.AdminFunction, d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &world{env: env, url: srv.URL}
}

// Fault 1: the owner of another workspace added an email already pending
// in a first workspace, issued an invitation, read the code and took the
// account. Without a mail transport the code now goes only to the
// workspace that created the account, and only while no other has it.
func TestInvitationTakeover(t *testing.T) {
	w := noMail(t, testenv.Stack(t))
	_, _, first := account(t, w.env)
	_, _, attacker := account(t, w.env)
	ws1 := w.must(t, "POST", "/v1/admin/workspaces", first, nil, map[string]any{"name": "first"})["id"].(string)
	ws2 := w.must(t, "POST", "/v1/admin/workspaces", attacker, nil, map[string]any{"name": "attacker"})["id"].(string)
	h1, h2 := map[string]string{"x-workspace-id": ws1}, map[string]string{"x-workspace-id": ws2}
	email := "pending-" + strings.ToLower(ws1[len(ws1)-10:]) + "@example.com"
	member := w.must(t, "POST", "/v1/admin/workspace-members", first, h1, map[string]any{"email": email, "role": "administrator"})["id"].(string)

	// The first inviter gets a code while the account is only theirs …
	code := w.must(t, "POST", "/v1/admin/workspace-members/"+member+"/invitation", first, h1, nil)["invitation"].(map[string]any)["code"].(string)
	// … the attacker adds the same email and asks for a code: refused.
	w.must(t, "POST", "/v1/admin/workspace-members", attacker, h2, map[string]any{"email": email, "role": "viewer"})
	testenv.Want(t, w.do(t, "POST", "/v1/admin/workspace-members/"+member+"/invitation", attacker, h2, nil), 409, "RelationConflict")
	// Nor does the first inviter get a new one, and the code answered
	// earlier no longer works while another workspace has the account.
	testenv.Want(t, w.do(t, "POST", "/v1/admin/workspace-members/"+member+"/invitation", first, h1, nil), 409, "RelationConflict")
	testenv.Want(t, w.do(t, "POST", "/v1/admin/account/invitations/accept", "", nil, map[string]any{"code": code}), 401, "Unauthorized")

	// Once the other workspace removed the account, the creator's code works.
	w.must(t, "DELETE", "/v1/admin/workspace-members/"+member, attacker, h2, nil)
	accepted := w.must(t, "POST", "/v1/admin/account/invitations/accept", "", nil, map[string]any{"code": code})
	if accepted["pat"].(map[string]any)["value"] == "" {
		t.Fatalf("accept: %v", accepted)
	}
}
