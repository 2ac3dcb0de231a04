package admin_test

import (
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

// BenchmarkAdmin reports AWS round trips per admin operation (`make bench`).
func BenchmarkAdmin(b *testing.B) {
	env := testenv.Stack(b)
	token := env.NewAccount(b)
	ws := env.Do(b, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "bench"}}).Body["id"].(string)
	h := map[string]string{"x-workspace-id": ws}
	bot := env.Do(b, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: h, Body: map[string]any{}}).Body["bot"].(map[string]any)["id"].(string)

	ops := []struct {
		name string
		req  R
	}{
		{"getAccount", R{Method: "GET", Path: "/v1/admin/account/me"}},
		{"createPersonalAccessToken", R{Method: "POST", Path: "/v1/admin/account/pats", Body: map[string]any{"note": "b"}}},
		{"listPersonalAccessTokens", R{Method: "GET", Path: "/v1/admin/account/pats"}},
		{"createWorkspace", R{Method: "POST", Path: "/v1/admin/workspaces", Body: map[string]any{"name": "w"}}},
		{"getWorkspace", R{Method: "GET", Path: "/v1/admin/workspaces/" + ws}},
		{"listWorkspaces", R{Method: "GET", Path: "/v1/admin/workspaces"}},
		{"createBot", R{Method: "POST", Path: "/v1/admin/bots", Headers: h, Body: map[string]any{}}},
		{"getBot", R{Method: "GET", Path: "/v1/admin/bots/" + bot, Headers: h}},
		{"listBots", R{Method: "GET", Path: "/v1/admin/bots", Headers: h}},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			var calls, auth int
			for i := 0; i < b.N; i++ {
				r := op.req
				r.Token = token
				res := env.Do(b, r)
				if res.Status >= 300 {
					b.Fatalf("%s: %d %s", op.name, res.Status, res.Raw)
				}
				calls += res.Calls.Op()
				auth += res.Calls.Auth
			}
			b.ReportMetric(float64(calls)/float64(b.N), "op-calls/op")
			b.ReportMetric(float64(auth)/float64(b.N), "auth-calls/op")
		})
	}
}
