package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// fakeDirectory is a Directory whose answers each test sets.
type fakeDirectory struct {
	tokens  map[string]string // hash → account
	bots    map[string]string // bot → workspace
	members map[string]Role   // workspace|account → role
}

func (f fakeDirectory) Token(_ context.Context, hash string) (Token, bool, error) {
	acc, ok := f.tokens[hash]
	return Token{AccountID: acc}, ok, nil
}

func (f fakeDirectory) TokenAndBotWorkspace(ctx context.Context, hash, bot string) (Token, bool, string, error) {
	tok, ok, _ := f.Token(ctx, hash)
	return tok, ok, f.bots[bot], nil
}

func (f fakeDirectory) Role(_ context.Context, ws, acc string) (Role, error) {
	return f.members[ws+"|"+acc], nil
}

var _ Directory = fakeDirectory{}

func call(a *Authenticator, scope ScopeKind, perm Permission, headers map[string]string) (Principal, error) {
	var got Principal
	h := a.Require(scope, perm)(func(r *http.Request) (httpapi.Response, error) {
		got = FromContext(r.Context())
		return httpapi.OK(nil), nil
	})
	r := httptest.NewRequest("GET", "/", nil)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	_, err := h(r)
	return got, err
}

func TestAuthenticate(t *testing.T) {
	dir := fakeDirectory{
		tokens:  map[string]string{HashToken("good"): "acc1"},
		bots:    map[string]string{"bot1": "ws1"},
		members: map[string]Role{"ws1|acc1": Developer},
	}
	a := New(dir)
	bearer := map[string]string{"Authorization": "Bearer good"}
	with := func(k, v string) map[string]string { return map[string]string{"Authorization": "Bearer good", k: v} }

	cases := []struct {
		name    string
		scope   ScopeKind
		perm    Permission
		headers map[string]string
		err     apperr.Type
		want    Principal
	}{
		{"no token", Account, "", nil, apperr.Unauthorized, Principal{}},
		{"not bearer", Account, "", map[string]string{"Authorization": "Basic good"}, apperr.Unauthorized, Principal{}},
		{"unknown token", Account, "", map[string]string{"Authorization": "Bearer bad"}, apperr.Unauthorized, Principal{}},
		{"account", Account, "", bearer, "", Principal{AccountID: "acc1"}},
		{"workspace header missing", Workspace, BotsRead, bearer, apperr.InvalidPayload, Principal{}},
		{"workspace member", Workspace, BotsRead, with(WorkspaceHeader, "ws1"), "", Principal{AccountID: "acc1", WorkspaceID: "ws1", Role: Developer}},
		{"not a member", Workspace, BotsRead, with(WorkspaceHeader, "ws2"), apperr.Forbidden, Principal{}},
		{"bot", Bot, ChatWrite, with(BotHeader, "bot1"), "", Principal{AccountID: "acc1", WorkspaceID: "ws1", BotID: "bot1", Role: Developer}},
		{"unknown bot", Bot, ChatRead, with(BotHeader, "bot9"), apperr.Forbidden, Principal{}},
		{"bot header missing", Bot, ChatRead, bearer, apperr.InvalidPayload, Principal{}},
	}
	for _, c := range cases {
		got, err := call(a, c.scope, c.perm, c.headers)
		if c.err != "" {
			if !apperr.Is(err, c.err) {
				t.Errorf("%s: %v, want %s", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.name, got, err, c.want)
		}
	}
}

// TestMatrixEnforced checks every role against every permission, reading
// the matrix itself: what the table says is what Require enforces.
func TestMatrixEnforced(t *testing.T) {
	for perm, allowed := range Matrix {
		for _, role := range Roles() {
			dir := fakeDirectory{tokens: map[string]string{HashToken("t"): "a"}, bots: map[string]string{"b": "w"}, members: map[string]Role{"w|a": role}}
			_, err := call(New(dir), Bot, perm, map[string]string{"Authorization": "Bearer t", BotHeader: "b"})
			want := false
			for _, r := range allowed {
				want = want || r == role
			}
			if (err == nil) != want {
				t.Errorf("%s as %s: allowed=%v, matrix says %v", perm, role, err == nil, want)
			}
			if err != nil && !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s as %s: %v, want Forbidden", perm, role, err)
			}
		}
	}
}

func TestTokens(t *testing.T) {
	a, b := NewTokenValue(), NewTokenValue()
	if a == b || len(a) < 40 || HashToken(a) == a || len(HashToken(a)) != 64 {
		t.Errorf("tokens %q %q", a, b)
	}
}
