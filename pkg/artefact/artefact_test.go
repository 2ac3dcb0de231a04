package artefact

import (
	"encoding/json"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/topology"
)

// httpAnswer is an HTTP function's answer, with its Botpress error decoded.
type httpAnswer struct {
	events.APIGatewayV2HTTPResponse
}

func (a httpAnswer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.Body), &m); err != nil {
		t.Fatalf("body %q: %v", a.Body, err)
	}
	return m
}

func (r *rig) call(t *testing.T, f *Function, routeKey, path string, headers map[string]string, body string) httpAnswer {
	t.Helper()
	var a httpAnswer
	invoke(t, f, apiEvent(t, routeKey, path, headers, body), &a.APIGatewayV2HTTPResponse)
	return a
}

func (r *rig) bearer(extra ...string) map[string]string {
	h := map[string]string{"authorization": "Bearer " + r.pat}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

// wantUnauthorized checks a Botpress 401 for a bad token.
func wantUnauthorized(t *testing.T, a httpAnswer) {
	t.Helper()
	m := a.json(t)
	if a.StatusCode != 401 || m["type"] != "Unauthorized" || m["code"] != float64(401) || !strings.HasPrefix(m["id"].(string), "err_") {
		t.Fatalf("bad token: %d %s, want a Botpress 401 Unauthorized", a.StatusCode, a.Body)
	}
}

func wantStatus(t *testing.T, a httpAnswer, status int) map[string]any {
	t.Helper()
	if a.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", a.StatusCode, status, a.Body)
	}
	return a.json(t)
}

// TestFunctionsUnderRIE runs every function's real bootstrap (built with
// -tags lambda.norpc) under the Lambda Runtime Interface Emulator, with the
// environment the CDK stack gives it pointed at moto, and checks its answer
// to the events Lambda would send it. Every function of the topology has a
// case; the admin function goes first and makes the workspace and bot the
// others use.
func TestFunctionsUnderRIE(t *testing.T) {
	r := setup(t)
	cases := []struct {
		fn  string
		run func(t *testing.T, r *rig, f *Function)
	}{
		{topology.AdminFunction, testAdmin},
		{topology.ChatFunction, testChat},
		{topology.DeletionsFunction, testDeletions},
		{topology.PoliciesFunction, testPolicies},
		{topology.ComplianceFunction, testCompliance},
		{topology.TablesFunction, testTables},
		// The delivery worker drops an unreadable job (retrying cannot mend
		// it), re-queues one not yet due (a SendMessage to its queue), and
		// reports one whose bot record does not decode.
		{topology.DeliveryFunction, testWorker(topology.DeliveryQueue, map[string]string{
			"m-unreadable": "{not json",
			"m-later":      `{"kind":"message","bot":"bot_x","due":"2099-01-01T00:00:00.000Z","message":{"id":"msg_x","payload":{"text":"later"}}}`,
			"m-failing": `{"kind":"message","bot":"` + malformedBot + `","stored":true,` +
				`"message":{"id":"msg_y","direction":"incoming","type":"text","payload":{"text":"hi"}}}`}, "m-failing")},
		// The lifecycle worker reports an unreadable item and one of no
		// known kind, and only those.
		{topology.LifecycleFunction, testWorker(topology.LifecycleQueue, map[string]string{
			"m-unreadable": "{not json", "m-unknown": `{"kind":"nothing","body":{}}`,
			"m-purge": `{"kind":"` + lifecycle.PurgeBotKind + `","body":{"botId":"bot_01JABCDEF0123456789ABCDEFG"}}`}, "m-unknown", "m-unreadable")},
		{topology.OffpeakFunction, testOffpeak},
		{topology.InvoicingFunction, testInvoicing},
		{topology.FilesFunction, testFiles},
		// The indexer drops what it can never read (an unreadable message,
		// S3's test event) and erases an upload whose file does not exist.
		{topology.IndexerFunction, testWorker(topology.FilesQueue, map[string]string{
			"m-unreadable": "{not json",
			"m-test":       `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`,
			"m-orphan": `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},` +
				`"object":{"key":"bots%2Fbot_01JABCDEF0123456789ABCDEFG%2Ffiles%2Ffile_01JABCDEF0123456789ABCDEFG%2F1","size":3}}}]}`})},
	}
	var covered, declared []string
	for _, c := range cases {
		covered = append(covered, c.fn)
	}
	for _, f := range r.topo.Functions {
		declared = append(declared, f.Name)
	}
	sort.Strings(covered)
	sort.Strings(declared)
	if !slices.Equal(covered, declared) {
		t.Fatalf("functions covered %v, declared %v: give every function a case", covered, declared)
	}
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			fn := r.function(t, c.fn)
			f := r.start(t, c.fn, r.Environment(fn))
			c.run(t, r, f)
			reports := f.Reports(1)
			if len(reports) == 0 || reports[0].Init <= 0 {
				t.Errorf("no init reported by the RIE:\n%s", f.Log())
			}
		})
	}
}

func testAdmin(t *testing.T, r *rig, f *Function) {
	wantUnauthorized(t, r.call(t, f, "GET /v1/admin/account/me", "/v1/admin/account/me",
		map[string]string{"authorization": "Bearer bp_pat_wrong"}, ""))
	me := wantStatus(t, r.call(t, f, "GET /v1/admin/account/me", "/v1/admin/account/me", r.bearer(), ""), 200)
	if acc, _ := me["account"].(map[string]any); acc == nil || acc["email"] != "rie@localhost" {
		t.Fatalf("account/me: %v", me)
	}
	// Writes: a workspace, then a bot in it (transactions on the admin table).
	ws := wantStatus(t, r.call(t, f, "POST /v1/admin/workspaces", "/v1/admin/workspaces", r.bearer(), `{"name":"RIE"}`), 200)
	r.workspace, _ = ws["id"].(string)
	bot := wantStatus(t, r.call(t, f, "POST /v1/admin/bots", "/v1/admin/bots", r.bearer("x-workspace-id", r.workspace), `{"name":"rie"}`), 200)
	if b, _ := bot["bot"].(map[string]any); b != nil {
		r.bot, _ = b["id"].(string)
	}
	if r.workspace == "" || r.bot == "" {
		t.Fatalf("workspace %v, bot %v", ws, bot)
	}
}

func (r *rig) needBot(t *testing.T) {
	t.Helper()
	if r.bot == "" {
		t.Skip("needs the bot the admin function's case creates")
	}
}

func testChat(t *testing.T, r *rig, f *Function) {
	wantUnauthorized(t, r.call(t, f, "GET /v1/chat/users", "/v1/chat/users",
		map[string]string{"authorization": "Bearer bp_pat_wrong", "x-bot-id": "bot_x"}, ""))
	r.needBot(t)
	created := wantStatus(t, r.call(t, f, "POST /v1/chat/users", "/v1/chat/users", r.bearer("x-bot-id", r.bot), `{"tags":{},"name":"Ann"}`), 201)
	u, _ := created["user"].(map[string]any)
	if u == nil || !strings.HasPrefix(u["id"].(string), "user_") {
		t.Fatalf("create user: %v", created)
	}
	got := wantStatus(t, r.call(t, f, "GET /v1/chat/users/{id}", "/v1/chat/users/"+u["id"].(string), r.bearer("x-bot-id", r.bot), ""), 200)
	if g, _ := got["user"].(map[string]any); g == nil || g["name"] != "Ann" {
		t.Fatalf("get user: %v", got)
	}
}

func testFiles(t *testing.T, r *rig, f *Function) {
	wantUnauthorized(t, r.call(t, f, "GET /v1/files", "/v1/files",
		map[string]string{"authorization": "Bearer bp_pat_wrong", "x-bot-id": "bot_x"}, ""))
	r.needBot(t)
	// An upsert reads the plan (admin table), claims the key (files table)
	// and signs the upload; a search embeds locally and queries S3 Vectors.
	up := wantStatus(t, r.call(t, f, "PUT /v1/files", "/v1/files", r.bearer("x-bot-id", r.bot), `{"key":"a.txt","size":3}`), 200)
	if fl, _ := up["file"].(map[string]any); fl == nil || !strings.HasPrefix(fl["uploadUrl"].(string), "http") {
		t.Fatalf("upsert: %v", up)
	}
	wantStatus(t, r.call(t, f, "GET /v1/files", "/v1/files", r.bearer("x-bot-id", r.bot), ""), 200)
	wantStatus(t, r.call(t, f, "GET /v1/files/search", "/v1/files/search?query=hello", r.bearer("x-bot-id", r.bot), ""), 200)
}

func testDeletions(t *testing.T, r *rig, f *Function) {
	const route = "GET /api/public/bot/{botId}/conversations/delete/{jobId}"
	wantUnauthorized(t, r.call(t, f, route, "/api/public/bot/bot_x/conversations/delete/cdj-x",
		map[string]string{"auth": "not-a-jwt"}, ""))
	r.needBot(t)
	// The bot's owner may read jobs; this one does not exist.
	m := wantStatus(t, r.call(t, f, route, "/api/public/bot/"+r.bot+"/conversations/delete/cdj-00000000-0000-4000-8000-000000000000", r.bearer(), ""), 404)
	if m["type"] != "ResourceNotFound" {
		t.Fatalf("missing job: %v", m)
	}
	// A real job, accepted and queued for the window (a PutItem on the
	// lifecycle table).
	job := wantStatus(t, r.call(t, f, "POST /api/public/bot/{botId}/conversations/delete", "/api/public/bot/"+r.bot+"/conversations/delete",
		r.bearer(), `{"conversationIds":["conv_01JABCDEF0123456789ABCDEFG"]}`), 200)
	if job["status"] != "queued" || !strings.HasPrefix(job["jobId"].(string), "cdj-") {
		t.Fatalf("submit: %v", job)
	}
}

func testPolicies(t *testing.T, r *rig, f *Function) {
	wantUnauthorized(t, r.call(t, f, "GET /api/v1/policy/list", "/api/v1/policy/list",
		map[string]string{"authorization": "Bearer bp_pat_wrong"}, ""))
	r.needBot(t)
	m := wantStatus(t, r.call(t, f, "GET /api/v1/policy/list", "/api/v1/policy/list", r.bearer("x-workspace-id", r.workspace), ""), 200)
	if _, ok := m["items"]; !ok {
		t.Fatalf("list: %v", m)
	}
}

func testCompliance(t *testing.T, r *rig, f *Function) {
	wantUnauthorized(t, r.call(t, f, "GET /api/v1/audit/verify", "/api/v1/audit/verify",
		map[string]string{"authorization": "Bearer bp_pat_wrong", "x-workspace-id": "wkspace_01JABCDEF0123456789ABCDEFG"}, ""))
	r.needBot(t)
	m := wantStatus(t, r.call(t, f, "GET /api/v1/audit/verify", "/api/v1/audit/verify", r.bearer("x-workspace-id", r.workspace), ""), 200)
	if m["valid"] != true {
		t.Fatalf("verify: %v", m)
	}
	k := wantStatus(t, r.call(t, f, "GET /api/v1/receipts/public-key", "/api/v1/receipts/public-key", r.bearer(), ""), 200)
	if keys, _ := k["keys"].([]any); len(keys) != 1 {
		t.Fatalf("public keys: %v", k)
	}
}

func testTables(t *testing.T, r *rig, f *Function) {
	wantUnauthorized(t, r.call(t, f, "GET /v1/tables", "/v1/tables",
		map[string]string{"authorization": "Bearer bp_pat_wrong", "x-bot-id": "bot_x"}, ""))
	r.needBot(t)
	h := r.bearer("x-bot-id", r.bot)
	wantStatus(t, r.call(t, f, "POST /v1/tables", "/v1/tables", h, `{"name":"rigTable","schema":{"sku":{"type":"string"}},"keyColumn":"sku"}`), 200)
	rows := wantStatus(t, r.call(t, f, "POST /v1/tables/{table}/rows", "/v1/tables/rigTable/rows", h, `{"rows":[{"sku":"a"},{"sku":"b"}]}`), 200)
	if list, _ := rows["rows"].([]any); len(list) != 2 {
		t.Fatalf("create rows: %v", rows)
	}
	found := wantStatus(t, r.call(t, f, "POST /v1/tables/{table}/rows/find", "/v1/tables/rigTable/rows/find", h, `{"filter":{"sku":"b"}}`), 200)
	if list, _ := found["rows"].([]any); len(list) != 1 {
		t.Fatalf("find rows: %v", found)
	}
}

// testWorker sends a worker a batch: the partial batch response must list
// exactly the failing messages.
func testWorker(queue string, bodies map[string]string, failing ...string) func(t *testing.T, r *rig, f *Function) {
	return func(t *testing.T, r *rig, f *Function) {
		arn := "arn:aws:sqs:us-east-1:123456789012:" + topology.PhysicalName(r.stage, queue)
		var res events.SQSEventResponse
		invoke(t, f, sqsEvent(arn, bodies), &res)
		var got []string
		for _, it := range res.BatchItemFailures {
			got = append(got, it.ItemIdentifier)
		}
		sort.Strings(got)
		sort.Strings(failing)
		if !slices.Equal(got, failing) {
			t.Fatalf("batch item failures %v, want %v", got, failing)
		}
	}
}

func testOffpeak(t *testing.T, r *rig, f *Function) {
	inv := invoke(t, f, sampleEvent(t, "scheduled-offpeak.json"), nil)
	if strings.TrimSpace(string(inv.Body)) != "null" {
		t.Fatalf("scheduled run answered %s, want null (success)\nlog:\n%s", inv.Body, f.Log())
	}
}

func testInvoicing(t *testing.T, r *rig, f *Function) {
	inv := invoke(t, f, sampleEvent(t, "scheduled-invoicing.json"), nil)
	if strings.TrimSpace(string(inv.Body)) != "null" {
		t.Fatalf("scheduled run answered %s, want null (success)\nlog:\n%s", inv.Body, f.Log())
	}
}

// TestMissingEnvironmentFailsInit starts each binary without the variables
// the CDK stack would give it: its init must fail with one error that lists
// every missing variable, and the invocation must report the failure.
func TestMissingEnvironmentFailsInit(t *testing.T) {
	r := setup(t)
	for _, fn := range r.topo.Functions {
		t.Run(fn.Name, func(t *testing.T) {
			env := r.Environment(fn)
			var missing []string
			for k := range r.topo.Environment(r.stage, fn) {
				delete(env, k)
				missing = append(missing, k)
			}
			if fn.Kind == topology.HTTP {
				delete(env, "SIGNING_SECRET_ARN")
				missing = append(missing, "SIGNING_SECRET or SIGNING_SECRET_ARN")
			}
			if fn.Seals {
				delete(env, "SEALING_SECRET_ARN")
				missing = append(missing, "SEALING_SECRET or SEALING_SECRET_ARN")
			}
			if fn.SignsReceipts {
				delete(env, "RECEIPT_SIGNING_KEY_ARN")
				missing = append(missing, "RECEIPT_SIGNING_KEY or RECEIPT_SIGNING_KEY_ARN")
			}
			sort.Strings(missing)
			f := r.start(t, fn.Name, env)
			payload := []byte(`{}`)
			inv, err := f.Invoke(t.Context(), payload)
			if err != nil {
				t.Fatal(err)
			}
			want := fn.Name + ": missing environment: " + strings.Join(missing, ", ")
			if !f.WaitLog(want, 5*time.Second) {
				t.Fatalf("log lacks %q:\n%s", want, f.Log())
			}
			if strings.Count(f.Log(), "missing environment") != 1 {
				t.Errorf("want the missing variables in one error:\n%s", f.Log())
			}
			// The RIE answers an invocation whose init failed with 502.
			if inv.Status != 502 {
				t.Errorf("invocation after a failed init answered %d %s, want 502", inv.Status, inv.Body)
			}
		})
	}
}

// linked lists, per function, the feature packages whose code its binary
// may hold: its own. The wiring is per function (each main calls its own
// builder), so the linker drops every other function's code.
var linked = map[string][]string{
	// The admin function queues the SDK's register and unregister
	// operations through the chat package's delivery dispatcher.
	topology.AdminFunction:      {"admin", "botkey", "chat"},
	topology.ChatFunction:       {"chat"},
	topology.DeletionsFunction:  {"deletion", "botkey"},
	topology.PoliciesFunction:   {"policy", "retention"},
	topology.ComplianceFunction: {"compliance"},
	topology.TablesFunction:     {"tables"},
	topology.FilesFunction:      {"files"},
	topology.IndexerFunction:    {"files"},
	topology.DeliveryFunction:   {"chat"},
	topology.LifecycleFunction:  {"deletion", "retention", "compliance"},
	topology.OffpeakFunction:    {"deletion", "retention"},
	topology.InvoicingFunction:  {},
}

var featurePackages = []string{"admin", "botkey", "chat", "compliance", "deletion", "files", "policy", "retention", "tables"}

// Each binary links the code of its own function only: the chat function
// holds no deletion, retention or policy code, and so on. Read from the
// binaries' symbol tables (go tool nm): functions of a package, not its
// package-level variables' initialisation.
func TestEachBinaryLinksOnlyItsFunction(t *testing.T) {
	r := setup(t)
	for _, fn := range r.topo.Functions {
		allowed, ok := linked[fn.Name]
		if !ok {
			t.Errorf("%s: say which feature packages it may link", fn.Name)
			continue
		}
		out, err := exec.Command("go", "tool", "nm", r.bootstrap[fn.Name]).Output()
		if err != nil {
			t.Fatalf("go tool nm %s: %v", fn.Name, err)
		}
		found := map[string]int{}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || f[1] != "T" {
				continue
			}
			for _, p := range featurePackages {
				sym := f[2]
				if strings.HasPrefix(sym, "github.com/parley-dev/parley/pkg/"+p+".") && !strings.HasPrefix(sym, "github.com/parley-dev/parley/pkg/"+p+".init") {
					found[p]++
				}
			}
		}
		for p, n := range found {
			if !slices.Contains(allowed, p) {
				t.Errorf("%s links %d functions of pkg/%s", fn.Name, n, p)
			}
		}
		for _, p := range allowed {
			if found[p] == 0 && p != "botkey" {
				t.Errorf("%s links nothing of its own pkg/%s: is the check reading the right binary?", fn.Name, p)
			}
		}
	}
}
