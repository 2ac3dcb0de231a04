package security

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/golang-jwt/jwt/v5"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/localrun"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// world is what the sweep attacks: workspace A (owner V, a member of every
// other role, bots A1 and A2, and one of every resource in A1) and
// workspace B of the attacker X (bot B1).
type world struct {
	env *testenv.Env
	url string // the stack's, unless set
	// tokens
	victim, attacker, deleted string
	roles                     map[auth.Role]string
	// scope
	wsA, wsB, botA1, botA2, botB1 string
	// resources of A / A1, by kind
	ids map[string]string
	// JWTs: signed with an API key of A2 (another bot's), and garbage
	jwtA2 string
	// page tokens: of A1's users and conversations, of A2's users
	usersA1, convsA1, usersA2 string
}

func (w *world) do(t testing.TB, method, path, token string, h map[string]string, body any) testenv.Response {
	t.Helper()
	res, err := w.send(method, path, token, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// send is do for the sweep's goroutines: errors are returned, not fatal.
func (w *world) send(method, path, token string, h map[string]string, body any) (testenv.Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	base := w.url
	if base == "" {
		base = w.env.URL
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return testenv.Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		return testenv.Response{}, err
	}
	defer res.Body.Close()
	out := testenv.Response{Status: res.StatusCode}
	out.Raw, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(out.Raw, &out.Body)
	return out, nil
}

var client = &http.Client{Timeout: 20 * time.Second}

func (w *world) must(t testing.TB, method, path, token string, h map[string]string, body any) map[string]any {
	t.Helper()
	res := w.do(t, method, path, token, h, body)
	if res.Status != 200 && res.Status != 201 {
		t.Fatalf("seed %s %s: %d %s", method, path, res.Status, res.Raw)
	}
	return res.Body
}

func account(t testing.TB, env *testenv.Env) (email, accountID, token string) {
	t.Helper()
	email = strings.ToLower(id.New("sw")) + "@example.com"
	accountID, token, err := localrun.Bootstrap(context.Background(), env.Deps, email, "")
	if err != nil {
		t.Fatal(err)
	}
	return email, accountID, token
}

func seed(t *testing.T) *world {
	env := testenv.Stack(t)
	w := &world{env: env, roles: map[auth.Role]string{}, ids: map[string]string{}}
	// A member of every role: more than the community plan's quota.
	admindata.Quotas["community"][admindata.UsageMemberCount] = 100
	_, _, w.victim = account(t, env)
	_, _, w.attacker = account(t, env)
	w.wsA = w.must(t, "POST", "/v1/admin/workspaces", w.victim, nil, map[string]any{"name": "A"})["id"].(string)
	w.wsB = w.must(t, "POST", "/v1/admin/workspaces", w.attacker, nil, map[string]any{"name": "B"})["id"].(string)
	ha, hb := map[string]string{"x-workspace-id": w.wsA}, map[string]string{"x-workspace-id": w.wsB}
	bot := func(h map[string]string, token, name string) string {
		return w.must(t, "POST", "/v1/admin/bots", token, h, map[string]any{"name": name})["bot"].(map[string]any)["id"].(string)
	}
	w.botA1, w.botA2, w.botB1 = bot(ha, w.victim, "A1"), bot(ha, w.victim, "A2"), bot(hb, w.attacker, "B1")
	for _, role := range auth.Roles() {
		if role == auth.Owner {
			continue
		}
		email, acc, token := account(t, env)
		w.must(t, "POST", "/v1/admin/workspace-members", w.victim, ha, map[string]any{"email": email, "role": string(role)})
		w.roles[role], w.ids["member"] = token, acc
	}
	pat := w.must(t, "POST", "/v1/admin/account/pats", w.victim, nil, map[string]any{"note": "doomed"})["pat"].(map[string]any)
	w.deleted = pat["value"].(string)
	w.must(t, "DELETE", "/v1/admin/account/pats/"+pat["id"].(string), w.victim, nil, nil)
	w.ids["pat"] = w.must(t, "POST", "/v1/admin/account/pats", w.victim, nil, map[string]any{"note": "kept"})["pat"].(map[string]any)["id"].(string)

	in := w.must(t, "POST", "/v1/admin/integrations", w.victim, ha, map[string]any{"name": "sweep-" + strings.ToLower(id.New("n")[2:12]), "version": "0.1.0",
		"title": "S", "description": "d", "public": false})["integration"].(map[string]any)
	w.ids["integration"], w.ids["integrationName"], w.ids["integrationVersion"] = in["id"].(string), in["name"].(string), in["version"].(string)
	w.ids["bak"] = w.must(t, "POST", "/v1/admin/bots/baks", w.victim, ha, map[string]any{"botId": w.botA1, "note": "k"})["id"].(string)
	bakA2 := w.must(t, "POST", "/v1/admin/bots/baks", w.victim, ha, map[string]any{"botId": w.botA2, "note": "k"})
	w.jwtA2, _ = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"appId": bakA2["id"], "exp": time.Now().Add(10 * time.Minute).Unix()}).
		SignedString([]byte(bakA2["value"].(string)))

	h1, h2 := map[string]string{"x-bot-id": w.botA1}, map[string]string{"x-bot-id": w.botA2}
	// 21 users and conversations in A1, 21 users in A2: lists of two pages.
	for i := 0; i < 21; i++ {
		u := w.must(t, "POST", "/v1/chat/users", w.victim, h1, map[string]any{"tags": map[string]string{}})["user"].(map[string]any)["id"].(string)
		w.ids["user"] = u
		w.ids["conversation"] = w.must(t, "POST", "/v1/chat/conversations", w.victim, h1, map[string]any{"channel": "web", "tags": map[string]string{}})["conversation"].(map[string]any)["id"].(string)
		w.must(t, "POST", "/v1/chat/users", w.victim, h2, map[string]any{"tags": map[string]string{}})
	}
	conv, user := w.ids["conversation"], w.ids["user"]
	w.must(t, "POST", "/v1/chat/conversations/"+conv+"/participants", w.victim, h1, map[string]any{"userId": user})
	w.ids["message"] = w.must(t, "POST", "/v1/chat/messages", w.victim, h1, map[string]any{"conversationId": conv, "userId": user,
		"type": "text", "payload": map[string]any{"text": "hi"}, "tags": map[string]string{}})["message"].(map[string]any)["id"].(string)
	w.ids["event"] = w.must(t, "POST", "/v1/chat/events", w.victim, h1, map[string]any{"type": "custom", "payload": map[string]any{},
		"conversationId": conv})["event"].(map[string]any)["id"].(string)
	w.must(t, "POST", "/v1/chat/states/conversation/"+conv+"/s", w.victim, h1, map[string]any{"payload": map[string]any{"k": "v"}})
	w.ids["policy"] = w.must(t, "POST", "/api/v1/policy/create", w.victim, ha, map[string]any{"name": "p", "description": "d", "type": "retention",
		"config": map[string]any{"maxAge": "P30D"}})["id"].(string)
	w.ids["table"] = w.must(t, "POST", "/v1/tables", w.victim, h1, map[string]any{"name": "sweepTable",
		"schema": map[string]any{"sku": map[string]any{"type": "string"}}, "keyColumn": "sku"})["table"].(map[string]any)["name"].(string)
	w.must(t, "POST", "/v1/tables/sweepTable/rows", w.victim, h1, map[string]any{"rows": []any{map[string]any{"sku": "a"}}})
	w.ids["job"] = w.must(t, "POST", "/api/public/bot/"+w.botA1+"/conversations/delete", w.victim, nil,
		map[string]any{"conversationIds": []string{conv}})["jobId"].(string)

	next := func(path string, h map[string]string) string {
		tok, _ := w.must(t, "GET", path, w.victim, h, nil)["meta"].(map[string]any)["nextToken"].(string)
		if tok == "" {
			t.Fatalf("%s: no nextToken", path)
		}
		return tok
	}
	w.usersA1, w.convsA1, w.usersA2 = next("/v1/chat/users", h1), next("/v1/chat/conversations", h1), next("/v1/chat/users", h2)
	return w
}

var param = regexp.MustCompile(`\{([^}]+)\}`)

// path fills a route's parameters with A's resources, by the segment that
// precedes each (a route declared later gets a made-up id where none fits:
// it is still swept, with resources that don't exist).
func (w *world) path(route string) string {
	orig := strings.Split(route, "/")
	segs := append([]string(nil), orig...)
	for i, s := range orig {
		m := param.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		prev := orig[i-1]
		v := ""
		switch {
		case prev == "workspaces":
			v = w.wsA
		case prev == "bots" || prev == "usages" || prev == "bot" || m[1] == "botId":
			v = w.botA1
		case prev == "baks":
			v = w.ids["bak"]
		case prev == "workspace-members":
			v = w.ids["member"]
		case prev == "pats":
			v = w.ids["pat"]
		case prev == "integrations" && strings.Contains(route, "/{version}"):
			v = w.ids["integrationName"]
		case prev == "integrations":
			v = w.ids["integration"]
		case prev != "" && param.MatchString(prev) && m[1] == "version":
			v = w.ids["integrationVersion"]
		case prev == "users" || prev == "participants":
			v = w.ids["user"]
		case prev == "conversations":
			v = w.ids["conversation"]
		case prev == "messages":
			v = w.ids["message"]
		case prev == "events" || prev == "scheduled":
			v = w.ids["event"]
		case prev == "states":
			v = "conversation"
		case prev == "policy":
			v = w.ids["policy"]
		case prev == "delete":
			v = w.ids["job"]
		case prev == "tables":
			v = w.ids["table"]
		case m[1] == "type":
			v = "conversation"
		case m[1] == "name":
			v = "s"
		case prev == "{type}":
			v = w.ids["conversation"]
		default:
			v = "x_" + id.ULID(time.Now())
		}
		segs[i] = v
	}
	return strings.Join(segs, "/")
}

// body is a valid body for the route where the sweep knows one, so that a
// handler that forgot a check would act (and the snapshot would show it),
// rather than refuse the body; {} for the others.
func (w *world) body(route string) map[string]any {
	state := map[string]any{"payload": map[string]any{"k": "v"}}
	switch route {
	case "POST /v1/admin/account/invitations/accept":
		return map[string]any{"code": "bp_inv_bogus"}
	case "POST /v1/admin/bots/{id}/transfer":
		return map[string]any{"targetWorkspaceId": w.wsA}
	case "PUT /v1/chat/users/{id}", "PUT /v1/chat/conversations/{id}", "PUT /v1/chat/messages/{id}":
		return map[string]any{"tags": map[string]string{"k": "v"}}
	case "POST /v1/chat/conversations/{id}/participants":
		return map[string]any{"userId": w.ids["user"]}
	case "POST /v1/chat/states/{type}/{id}/{name}", "PATCH /v1/chat/states/{type}/{id}/{name}", "POST /v1/chat/states/{type}/{id}/{name}/get-or-set":
		return state
	case "POST /v1/chat/states/{type}/{id}/{name}/expiry":
		return map[string]any{"expiry": 60000}
	case "PUT /v1/admin/workspace-members/{id}":
		return map[string]any{"role": "viewer"}
	case "PUT /v1/admin/bots/{id}":
		return map[string]any{"name": "renamed"}
	case "PUT /v1/admin/workspaces/{id}":
		return map[string]any{"name": "renamed"}
	case "PUT /v1/admin/integrations/{id}":
		return map[string]any{"title": "renamed"}
	case "POST /api/v1/policy/{policyId}/update":
		return map[string]any{"name": "renamed"}
	case "POST /api/public/bot/{botId}/conversations/delete":
		return map[string]any{"conversationIds": []string{w.ids["conversation"]}}
	case "POST /v1/tables/{table}":
		return map[string]any{"schema": map[string]any{"sku": map[string]any{"type": "string"}}}
	case "PUT /v1/tables/{table}":
		return map[string]any{"name": "sweepRenamedTable"}
	case "POST /v1/tables/{table}/duplicate":
		return map[string]any{"tableName": "sweepCopyTable"}
	case "PUT /v1/tables/{table}/column":
		return map[string]any{"name": "sku", "newName": "code"}
	case "POST /v1/tables/{table}/rows", "POST /v1/tables/{table}/rows/upsert":
		return map[string]any{"rows": []any{map[string]any{"sku": "z"}}}
	case "PUT /v1/tables/{table}/rows":
		return map[string]any{"rows": []any{map[string]any{"id": 1, "sku": "y"}}}
	case "POST /v1/tables/{table}/rows/delete":
		return map[string]any{"ids": []int{1}}
	}
	return map[string]any{}
}

// query is a valid query for the routes that require one, so they reach
// their resource check.
func query(route string) string {
	switch route {
	case "GET /v1/admin/bots/{id}/logs", "GET /v1/admin/integrations/{id}/logs":
		return "?timeStart=2026-01-01T00:00:00.000Z&timeEnd=2026-01-02T00:00:00.000Z"
	case "GET /v1/admin/bots/{id}/analytics":
		return "?startDate=2026-01-01&endDate=2026-01-02"
	case "GET /v1/admin/bots/{id}/webchat":
		return "?type=preconfigured"
	case "GET /v1/tables/{table}/row":
		return "?id=1"
	}
	return ""
}

// attempt is one request the sweep makes and the answers it accepts.
type attempt struct {
	route                     string
	name, method, path, token string
	headers                   map[string]string
	want                      []int
}

// scopeHeaders are the headers naming A's scope for a requirement.
func (w *world) scopeHeaders(req httpapi.Requirement, ws, bot string) map[string]string {
	switch req.Scope {
	case "workspace", "workspace-or-only":
		return map[string]string{"x-workspace-id": ws}
	case "bot":
		return map[string]string{"x-bot-id": bot}
	}
	return map[string]string{}
}

func hasParams(route string) bool { return strings.Contains(route, "{") }

// createsByName are routes whose path names what they create in the
// caller's own scope (getOrCreateTable): the same name elsewhere is no one
// else's resource, so only tokens, scopes and roles are swept.
var createsByName = map[string]bool{"POST /v1/tables/{table}": true}

// attempts generates, for one route, every attack of the matrix.
func (w *world) attempts(r topology.Route, req httpapi.Requirement) []attempt {
	denied := []int{401, 403, 404}
	p := w.path(r.Path) + query(r.Key())
	hA := w.scopeHeaders(req, w.wsA, w.botA1)
	var out []attempt
	add := func(name, token string, h map[string]string) {
		out = append(out, attempt{route: r.Key(), name: name, method: r.Method, path: p, token: token, headers: h, want: denied})
	}
	if req.Scope == "public" {
		// The body is the credential: a made-up one is refused.
		// (A webhook's id is its credential: a made-up one is missing.)
		out = append(out, attempt{route: r.Key(), name: "bogus credential", method: r.Method, path: p, want: []int{401, 404}})
		return out
	}
	add("no token", "", hA)
	add("malformed token", "not-a-token", hA)
	add("deleted token", w.deleted, hA)
	if req.Scope == "bot-path+jwt" {
		jh := map[string]string{"auth": "eyJhbGciOiJub25lIn0.e30."}
		add("malformed jwt", "", jh)
		add("another bot's jwt", "", map[string]string{"auth": w.jwtA2})
	}
	if req.Scope != "account" || hasParams(r.Path) {
		// The attacker, naming A's scope, then his own scope with A's ids.
		add("another workspace's scope", w.attacker, hA)
		if hasParams(r.Path) && !createsByName[r.Key()] {
			add("another workspace's ids", w.attacker, w.scopeHeaders(req, w.wsB, w.botB1))
		}
	}
	if req.Scope == "bot" && hasParams(r.Path) && !createsByName[r.Key()] {
		add("another bot's scope", w.victim, map[string]string{"x-bot-id": w.botA2})
	}
	if req.Permission != "" {
		for role, token := range w.roles {
			if !role.Allows(auth.Permission(req.Permission)) {
				add("role "+string(role), token, hA)
			}
		}
	}
	return out
}

// snapshot reads every table of the stack whole (a Scan: a test's view).
func snapshot(t testing.TB, env *testenv.Env) map[string]string {
	t.Helper()
	out := map[string]string{}
	db := dynamodb.NewFromConfig(env.AWS)
	for k, table := range env.Env {
		if !strings.HasPrefix(k, "TABLE_") {
			continue
		}
		in := &dynamodb.ScanInput{TableName: &table}
		for {
			page, err := db.Scan(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				key := fmt.Sprintf("%s %s %s", k, str(it["pk"]), str(it["sk"]))
				raw, _ := json.Marshal(plain(it))
				out[key] = string(raw)
			}
			if len(page.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = page.LastEvaluatedKey
		}
	}
	return out
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return fmt.Sprint(v)
}

func plain(it map[string]types.AttributeValue) map[string]any {
	out := map[string]any{}
	for k, v := range it {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = x.Value
		case *types.AttributeValueMemberN:
			out[k] = "N" + x.Value
		case *types.AttributeValueMemberBOOL:
			out[k] = x.Value
		case *types.AttributeValueMemberM:
			out[k] = plain(x.Value)
		default:
			raw, _ := json.Marshal(x)
			out[k] = fmt.Sprintf("%T%s", x, raw)
		}
	}
	return out
}

// settled waits until two scans agree (the workers finished with the seed).
func settled(t testing.TB, env *testenv.Env) map[string]string {
	t.Helper()
	prev := snapshot(t, env)
	for i := 0; i < 50; i++ {
		time.Sleep(200 * time.Millisecond)
		cur := snapshot(t, env)
		if fmt.Sprint(cur) == fmt.Sprint(prev) {
			return cur
		}
		prev = cur
	}
	t.Fatal("the tables never settled after seeding")
	return nil
}

func diff(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, "changed or added: "+k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, "deleted: "+k)
		}
	}
	sort.Strings(out)
	return out
}

// requirements reads what every route of every HTTP function declares.
func requirements(t testing.TB, env *testenv.Env) map[string]httpapi.Requirement {
	t.Helper()
	out := map[string]httpapi.Requirement{}
	top := topology.Default()
	for _, fn := range top.Functions {
		if fn.Kind != topology.HTTP {
			continue
		}
		d := env.Deps
		d.Config.Settings = fn.Settings
		h, err := app.HTTPHandler(fn.Name, d)
		if err != nil {
			t.Fatal(err)
		}
		rt := h.(*httpapi.Router)
		for _, r := range top.RoutesOf(fn.Name) {
			req, ok := rt.Requirement(r.MuxKey())
			if !ok {
				t.Errorf("%s declares no requirement", r.Key())
				continue
			}
			out[r.Key()] = req
		}
	}
	return out
}

func wantError(res testenv.Response, want []int) string {
	ok := false
	for _, s := range want {
		ok = ok || res.Status == s
	}
	if !ok {
		return fmt.Sprintf("status %d, want one of %v: %.300s", res.Status, want, res.Raw)
	}
	if res.Body["code"] != float64(res.Status) || !strings.HasPrefix(fmt.Sprint(res.Body["id"]), "err_") ||
		fmt.Sprint(res.Body["type"]) == "" || fmt.Sprint(res.Body["message"]) == "" {
		return fmt.Sprintf("not a Botpress error body: %.300s", res.Raw)
	}
	return ""
}

// run sends attempts on 8 connections and reports every unexpected answer.
func (w *world) run(t *testing.T, as []attempt) {
	var mu sync.Mutex
	var failures []string
	ch := make(chan attempt)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range ch {
				body := any(nil)
				if a.method == "POST" || a.method == "PUT" || a.method == "PATCH" {
					body = w.body(a.route)
				}
				res, err := w.send(a.method, a.path, a.token, a.headers, body)
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					msg = wantError(res, a.want)
				}
				if msg != "" {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s %s [%s]: %s", a.method, a.path, a.name, msg))
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range as {
		ch <- a
	}
	close(ch)
	wg.Wait()
	sort.Strings(failures)
	for _, f := range failures {
		t.Error(f)
	}
}

// TestSweep tries every declared route as an attacker would and every list
// route with foreign and tampered page tokens; nothing may answer anything
// but a Botpress 401/403/404 (400 for page tokens), and no table may change.
func TestSweep(t *testing.T) {
	start := time.Now()
	w := seed(t)
	reqs := requirements(t, w.env)
	before := settled(t, w.env)
	seeded := time.Now()

	var as []attempt
	routes := topology.Default().Routes
	for _, r := range routes {
		if req, ok := reqs[r.Key()]; ok {
			as = append(as, w.attempts(r, req)...)
		}
	}
	// List routes are the GET routes answering a page (Botpress meta or
	// ChatBotKit items) to their owner.
	tampered := tamper(w.usersA1)
	lists := 0
	for _, r := range routes {
		req := reqs[r.Key()]
		if r.Method != "GET" || req.Scope == "public" {
			continue
		}
		p := w.path(r.Path) + query(r.Key())
		h := w.scopeHeaders(req, w.wsA, w.botA1)
		res := w.do(t, "GET", p, w.victim, h, nil)
		if res.Status != 200 || !hasArray(res.Body) {
			continue
		}
		name := ""
		if _, ok := res.Body["meta"]; ok {
			name = "nextToken"
		} else if _, ok := res.Body["nextToken"]; ok {
			name = "nextToken"
		} else if _, ok := res.Body["items"]; ok {
			name = "cursor"
		}
		if name == "" {
			continue
		}
		lists++
		other := w.usersA1
		if r.Path == "/v1/chat/users" {
			other = w.convsA1
		}
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		for label, tok := range map[string]string{"another list's token": other, "another bot's token": w.usersA2, "tampered token": tampered} {
			as = append(as, attempt{name: label, method: "GET", path: p + sep + name + "=" + tok, token: w.victim, headers: h, want: []int{400}})
		}
	}
	if lists < 10 {
		t.Errorf("only %d list routes found", lists)
	}
	w.run(t, as)

	after := snapshot(t, w.env)
	for _, d := range diff(before, after) {
		t.Error(d)
	}
	t.Logf("%d routes, %d list routes, %d attempts; seed %s, sweep %s", len(routes), lists, len(as),
		seeded.Sub(start).Round(time.Millisecond), time.Since(seeded).Round(time.Millisecond))
}

func hasArray(body map[string]any) bool {
	for _, v := range body {
		if _, ok := v.([]any); ok {
			return true
		}
	}
	return false
}

// tamper changes the payload of a page token and keeps its signature.
func tamper(tok string) string {
	b64, sig, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(b64)
	var m map[string]string
	_ = json.Unmarshal(raw, &m)
	for k := range m {
		m[k] += "x"
	}
	raw, _ = json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + sig
}
