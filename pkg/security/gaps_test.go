package security

import (
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/testenv"
)

// Fault 6: a legalHold tag other than exactly "true" was not honoured and
// deleteConversation deleted a held conversation; a viewer read the bot's
// signingSecret.
func TestSmallerGaps(t *testing.T) {
	env := testenv.Stack(t)
	w := &world{env: env}
	email, _, viewer := account(t, env)
	_, _, tok := account(t, env)
	ws := w.must(t, "POST", "/v1/admin/workspaces", tok, nil, map[string]any{"name": "G"})["id"].(string)
	hw := map[string]string{"x-workspace-id": ws}
	w.must(t, "POST", "/v1/admin/workspace-members", tok, hw, map[string]any{"email": email, "role": "viewer"})
	bot := w.must(t, "POST", "/v1/admin/bots", tok, hw, map[string]any{"name": "b"})["bot"].(map[string]any)["id"].(string)

	if s := w.must(t, "GET", "/v1/admin/bots/"+bot, tok, hw, nil)["bot"].(map[string]any)["signingSecret"]; s == "" || s == nil {
		t.Fatal("the owner does not read the signing secret")
	}
	if s := w.must(t, "GET", "/v1/admin/bots/"+bot, viewer, hw, nil)["bot"].(map[string]any)["signingSecret"]; s != "" {
		t.Fatalf("a viewer reads the signing secret %v", s)
	}

	for v, held := range map[string]bool{"true": true, "TRUE": true, " True ": true, "yes": false, "1": false} {
		if chatdata.Held(map[string]string{"legalHold": v}) != held {
			t.Errorf("legalHold=%q held %v", v, !held)
		}
	}
	h := map[string]string{"x-bot-id": bot}
	conv := w.must(t, "POST", "/v1/chat/conversations", tok, h, map[string]any{"channel": "web", "tags": map[string]string{"legalHold": "TRUE"}})["conversation"].(map[string]any)["id"].(string)
	res := w.do(t, "DELETE", "/v1/chat/conversations/"+conv, tok, h, nil)
	testenv.Want(t, res, 409, "ResourceLockedConflict")
	if !strings.Contains(res.Body["message"].(string), "legal hold") {
		t.Fatalf("409 does not name the hold: %s", res.Raw)
	}
	w.must(t, "GET", "/v1/chat/conversations/"+conv, tok, h, nil)
	// A policy's scope names only the workspace's own bots.
	other := w.must(t, "POST", "/v1/admin/workspaces", tok, nil, map[string]any{"name": "G2"})["id"].(string)
	foreign := w.must(t, "POST", "/v1/admin/bots", tok, map[string]string{"x-workspace-id": other}, map[string]any{"name": "f"})["bot"].(map[string]any)["id"].(string)
	policy := func(botID string) testenv.Response {
		return w.do(t, "POST", "/api/v1/policy/create", tok, hw, map[string]any{"name": "p", "description": "d", "type": "retention",
			"config": map[string]any{"maxAge": "P30D", "scope": map[string]any{"botIds": []string{botID}}}})
	}
	testenv.Want(t, policy(foreign), 400, "InvalidPayload")
	testenv.Want(t, policy(bot), 200, "")

	// Lifted, the conversation can be deleted.
	w.must(t, "PUT", "/v1/chat/conversations/"+conv, tok, h, map[string]any{"tags": map[string]string{"legalHold": ""}})
	w.must(t, "DELETE", "/v1/chat/conversations/"+conv, tok, h, nil)
}
