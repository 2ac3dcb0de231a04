package botkey_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/botkey"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/deletion"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/localrun"
	"github.com/parley-dev/parley/pkg/seal"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var want = testenv.Want

func sign(t *testing.T, keyID, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"appId": keyID, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authenticates reports whether the deletion API accepts a JWT for bot: an
// unknown job is a 404 once authenticated, a 401 before.
func authenticates(t *testing.T, env *testenv.Env, bot, token string) bool {
	t.Helper()
	res := env.Do(t, R{Method: "GET", Path: "/api/public/bot/" + bot + "/conversations/delete/cdj-unknown", Headers: map[string]string{"auth": token}})
	switch res.Status {
	case 404:
		return true
	case 401:
		return false
	}
	t.Fatalf("unexpected answer %d %s", res.Status, res.Raw)
	return false
}

func workspace(t *testing.T, env *testenv.Env, token string) string {
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "w"}})
	want(t, res, 200, "")
	return res.Body["id"].(string)
}

func newKey(t *testing.T, env *testenv.Env, token, ws, bot string) (id, secret string) {
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/baks", Token: token, Headers: map[string]string{"x-workspace-id": ws}, Body: map[string]any{"botId": bot}})
	want(t, res, 200, "")
	return res.Body["id"].(string), res.Body["value"].(string)
}

// Keys live only while their bot is in their workspace: a transfer revokes
// them (the new owner neither sees them nor needs to), a deletion kills them.
func TestKeysDieWithTheirBotAndAreRevokedOnTransfer(t *testing.T) {
	env := testenv.Stack(t)
	owner := env.NewAccount(t)
	ws1, ws2 := workspace(t, env, owner), workspace(t, env, owner)
	h1, h2 := map[string]string{"x-workspace-id": ws1}, map[string]string{"x-workspace-id": ws2}
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h1, Body: map[string]any{"name": "b"}})
	want(t, res, 200, "")
	bot := res.Body["bot"].(map[string]any)["id"].(string)

	k1, s1 := newKey(t, env, owner, ws1, bot)
	old := sign(t, k1, s1)
	if !authenticates(t, env, bot, old) {
		t.Fatal("a fresh key does not authenticate")
	}
	// Its secret is sealed with the keyring, naming the key that sealed it.
	d := env.Deps
	store := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey))
	stored, err := store.BotAPIKeys(t.Context(), ws1, bot)
	if err != nil || len(stored) != 1 || seal.KeyID(stored[0].Sealed) != d.Config.Sealing.Current() {
		t.Fatalf("stored %+v %v", stored, err)
	}

	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/" + bot + "/transfer", Token: owner, Headers: h1, Body: map[string]any{"targetWorkspaceId": ws2}}), 200, "")
	if authenticates(t, env, bot, old) {
		t.Fatal("the old workspace's key still submits jobs after the transfer")
	}
	list := env.Do(t, R{Method: "GET", Path: "/v1/admin/bots/baks?botId=" + bot, Token: owner, Headers: h2})
	want(t, list, 200, "")
	if n := len(list.Body["baks"].([]any)); n != 0 {
		t.Fatalf("the new owner sees %d keys of the old workspace", n)
	}
	k2, s2 := newKey(t, env, owner, ws2, bot)
	if !authenticates(t, env, bot, sign(t, k2, s2)) {
		t.Fatal("the new owner's key does not authenticate")
	}

	// Back to the first workspace: its old key stays revoked.
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/" + bot + "/transfer", Token: owner, Headers: h2, Body: map[string]any{"targetWorkspaceId": ws1}}), 200, "")
	if authenticates(t, env, bot, old) {
		t.Fatal("a key revoked by a transfer came back with the bot")
	}
	k3, s3 := newKey(t, env, owner, ws1, bot)
	fresh := sign(t, k3, s3)
	if !authenticates(t, env, bot, fresh) {
		t.Fatal("a key made after the return does not authenticate")
	}

	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + bot, Token: owner, Headers: h1, Body: map[string]any{}}), 200, "")
	if authenticates(t, env, bot, fresh) {
		t.Fatal("a key authenticates deletion jobs after its bot was deleted")
	}
}

func TestValid(t *testing.T) {
	k := admindata.BotAPIKey{WorkspaceID: "ws_a", CreatedAt: "2026-05-02T00:00:00.000Z"}
	for _, c := range []struct {
		bot  admindata.KeyedBot
		want bool
	}{
		{admindata.KeyedBot{WorkspaceID: "ws_a"}, true},
		{admindata.KeyedBot{}, false},                                                               // deleted
		{admindata.KeyedBot{WorkspaceID: "ws_b"}, false},                                            // transferred away
		{admindata.KeyedBot{WorkspaceID: "ws_a", TransferredAt: "2026-05-03T00:00:00.000Z"}, false}, // and back
		{admindata.KeyedBot{WorkspaceID: "ws_a", TransferredAt: "2026-05-01T00:00:00.000Z"}, true},  // key made after
	} {
		if got := botkey.Valid(k, c.bot); got != c.want {
			t.Errorf("%+v: %v", c.bot, got)
		}
	}
}

// Fault 2: a developer (no deletion.write) could create a key and delete
// conversations with it, and a key outlived its creator's membership.
// Keys now need deletion.write to be created, carry their creator and
// permission, and authenticate only while the creator holds it; jobs
// record who submitted them and with which key; exp is bounded.
func TestKeysActForTheirMember(t *testing.T) {
	env := testenv.Stack(t)
	ctx := context.Background()
	owner := env.NewAccount(t)
	ws := workspace(t, env, owner)
	h := map[string]string{"x-workspace-id": ws}
	res := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: owner, Headers: h, Body: map[string]any{"name": "b"}})
	want(t, res, 200, "")
	bot := res.Body["bot"].(map[string]any)["id"].(string)
	member := func(role string) (acc, token string) {
		email := strings.ToLower(id.New("m")) + "@example.com"
		acc, tok, err := localrun.Bootstrap(ctx, env.Deps, email, "")
		if err != nil {
			t.Fatal(err)
		}
		want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/workspace-members", Token: owner, Headers: h, Body: map[string]any{"email": email, "role": role}}), 200, "")
		return acc, tok
	}
	_, dev := member("developer")
	want(t, env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/baks", Token: dev, Headers: h, Body: map[string]any{"botId": bot}}), 403, "Forbidden")

	mgrID, mgr := member("manager")
	keyID, secret := newKey(t, env, mgr, ws, bot)
	submit := func(token string) testenv.Response {
		return env.Do(t, R{Method: "POST", Path: "/api/public/bot/" + bot + "/conversations/delete", Headers: map[string]string{"auth": token},
			Body: map[string]any{"conversationIds": []string{"conv_01JAAAAAAAAAAAAAAAAAAAAAAA"}}})
	}
	ok := submit(sign(t, keyID, secret))
	want(t, ok, 200, "")
	job, err := deletion.NewStore(env.Deps.DB, env.Deps.Config.Table(topology.LifecycleTable)).Get(ctx, bot, ok.Body["jobId"].(string))
	if err != nil || job.SubmittedBy != mgrID || job.SubmittedWith != keyID {
		t.Fatalf("job submitted by %q with %q (%v), want %s with %s", job.SubmittedBy, job.SubmittedWith, err, mgrID, keyID)
	}
	// exp far ahead: refused (at most botkey.MaxTokenLifetime).
	far, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"appId": keyID, "exp": time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}).SignedString([]byte(secret))
	want(t, submit(far), 401, "Unauthorized")

	// Demoted: the key stops working; promoted back, it works again.
	role := func(r string) {
		want(t, env.Do(t, R{Method: "PUT", Path: "/v1/admin/workspace-members/" + mgrID, Token: owner, Headers: h, Body: map[string]any{"role": r}}), 200, "")
	}
	role("developer")
	want(t, submit(sign(t, keyID, secret)), 403, "Forbidden")
	role("manager")
	want(t, submit(sign(t, keyID, secret)), 200, "")
	// Removed: the key stops working for good.
	want(t, env.Do(t, R{Method: "DELETE", Path: "/v1/admin/workspace-members/" + mgrID, Token: owner, Headers: h}), 200, "")
	want(t, submit(sign(t, keyID, secret)), 403, "Forbidden")
}
