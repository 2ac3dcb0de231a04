package chat_test

import (
	"fmt"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

// Benchmarks report AWS round trips per operation (op-calls/op after
// authentication, auth-calls/op for the credentials check), the figures the
// README's performance table quotes: `make bench`.
func BenchmarkUsers(b *testing.B) {
	env := testenv.Stack(b)
	token := env.NewAccount(b)
	ws := env.Do(b, R{Method: "POST", Path: "/v1/admin/workspaces", Token: token, Body: map[string]any{"name": "bench"}})
	bot := env.Do(b, R{Method: "POST", Path: "/v1/admin/bots", Token: token, Headers: map[string]string{"x-workspace-id": ws.Body["id"].(string)}, Body: map[string]any{}})
	h := map[string]string{"x-bot-id": bot.Body["bot"].(map[string]any)["id"].(string)}
	seed := env.Do(b, R{Method: "POST", Path: "/v1/chat/users", Token: token, Headers: h, Body: map[string]any{"tags": map[string]any{"k": "seed"}}})
	uid := seed.Body["user"].(map[string]any)["id"].(string)
	env.Do(b, R{Method: "POST", Path: "/v1/chat/users/get-or-create", Token: token, Headers: h, Body: map[string]any{"tags": map[string]any{"k": "existing"}}})

	ops := []struct {
		name string
		req  func(i int) R
	}{
		{"createUser", func(i int) R {
			return R{Method: "POST", Path: "/v1/chat/users", Body: map[string]any{"tags": map[string]any{"n": fmt.Sprint(i)}}}
		}},
		{"getUser", func(int) R { return R{Method: "GET", Path: "/v1/chat/users/" + uid} }},
		{"updateUser", func(i int) R {
			return R{Method: "PUT", Path: "/v1/chat/users/" + uid, Body: map[string]any{"name": fmt.Sprint(i)}}
		}},
		{"listUsers", func(int) R { return R{Method: "GET", Path: "/v1/chat/users"} }},
		{"getOrCreateUser/existing", func(int) R {
			return R{Method: "POST", Path: "/v1/chat/users/get-or-create", Body: map[string]any{"tags": map[string]any{"k": "existing"}}}
		}},
		{"getOrCreateUser/new", func(i int) R {
			return R{Method: "POST", Path: "/v1/chat/users/get-or-create", Body: map[string]any{"tags": map[string]any{"k": fmt.Sprint("new-", b.N, "-", i)}}}
		}},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			var calls, auth int
			for i := 0; i < b.N; i++ {
				r := op.req(i)
				r.Token, r.Headers = token, h
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
