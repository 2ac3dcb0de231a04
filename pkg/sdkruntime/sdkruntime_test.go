// Package sdkruntime runs a bot and an integration written with the
// official @botpress/sdk (pinned in testdata/package-lock.json: 5.4.3, with
// @botpress/client 1.35.0), unchanged, as Node.js processes against the
// local stack, and checks every step through the API. The contract they
// rely on is pkg/chat/SDK.md.
package sdkruntime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestSDKBotAndIntegration: a request to the integration's webhook url
// becomes an incoming message, delivered to the SDK bot as a
// message_created event; the bot's reply (authored with userId:
// ctx.botId) is delivered to the integration's channel; the bot's action
// calls the integration's action.
func TestSDKBotAndIntegration(t *testing.T) {
	dir := npmProject(t)
	env := testenv.Stack(t)
	s := &session{t: t, env: env, tok: env.PAT}
	s.ws = s.ok("POST", "/v1/admin/workspaces", nil, map[string]any{"name": "SDK"})["id"].(string)
	bot := s.ok("POST", "/v1/admin/bots", s.wsH(), map[string]any{"name": "reverser"})["bot"].(map[string]any)["id"].(string)

	intPort, botPort := freePort(t), freePort(t)
	intRec, botRec := filepath.Join(t.TempDir(), "integration.jsonl"), filepath.Join(t.TempDir(), "bot.jsonl")
	nodeEnv := []string{"BP_API_URL=" + env.URL, "BP_TOKEN=" + env.PAT}
	start(t, dir, "integration.js", intPort, intRec, nodeEnv)
	start(t, dir, "bot.js", botPort, botRec, nodeEnv)

	in := s.ok("POST", "/v1/admin/integrations", s.wsH(), map[string]any{
		"name": "echo", "version": "0.1.0", "dev": true, "url": fmt.Sprintf("http://127.0.0.1:%d", intPort),
		"configuration": map[string]any{"schema": map[string]any{}},
		"channels":      map[string]any{"chat": map[string]any{"messages": map[string]any{"text": map[string]any{"schema": map[string]any{}}}}},
		"actions":       map[string]any{"shout": map[string]any{"input": map[string]any{"schema": map[string]any{}}, "output": map[string]any{"schema": map[string]any{}}}},
	})["integration"].(map[string]any)
	intID := in["id"].(string)

	// Setting the bot's url and installing the integration registers both.
	installed := s.ok("PUT", "/v1/admin/bots/"+bot, s.wsH(), map[string]any{
		"url":           fmt.Sprintf("http://127.0.0.1:%d", botPort),
		"configuration": map[string]any{"data": map[string]any{"greeting": "hi"}, "schema": map[string]any{}},
		"integrations":  map[string]any{"echo": map[string]any{"integrationId": intID, "enabled": true, "configuration": map[string]any{"account": "42"}}},
	})["bot"].(map[string]any)["integrations"].(map[string]any)["echo"].(map[string]any)
	webhookID := installed["webhookId"].(string)
	webhookURL := env.URL + "/v1/webhooks/" + webhookID

	reg := waitFor(t, intRec, func(e entry) bool { return e["op"] == "register" })
	if reg["webhookUrl"] != webhookURL {
		t.Errorf("integration registered with webhookUrl %v, want %s", reg["webhookUrl"], webhookURL)
	}
	ctx := reg["ctx"].(map[string]any)
	for k, want := range map[string]any{"botId": bot, "botUserId": bot, "integrationId": intID, "integrationAlias": "echo", "webhookId": webhookID} {
		if ctx[k] != want {
			t.Errorf("integration ctx.%s = %v, want %v", k, ctx[k], want)
		}
	}
	if conf, _ := ctx["configuration"].(map[string]any); conf["account"] != "42" {
		t.Errorf("integration ctx.configuration = %v, want the installation's", ctx["configuration"])
	}
	waitFor(t, botRec, func(e entry) bool { return e["op"] == "register" })
	// register called configureIntegration.
	eventually(t, "configureIntegration stored the identifier", func() bool {
		b := s.ok("GET", "/v1/admin/bots/"+bot, s.wsH(), nil)["bot"].(map[string]any)
		return b["integrations"].(map[string]any)["echo"].(map[string]any)["identifier"] == "account-42"
	})

	// A user writes through the integration's webhook.
	res := s.raw("POST", webhookURL+"/inbound?src=test", `{"from":"ann","chat":"c-1","text":"hello parley"}`)
	if res.StatusCode != 202 || !strings.Contains(res.body, `"received":"msg_`) {
		t.Fatalf("webhook answered %d %s, want the integration's 202 {received}", res.StatusCode, res.body)
	}
	hook := waitFor(t, intRec, func(e entry) bool { return e["op"] == "webhook" })
	if hook["path"] != "/inbound" || hook["query"] != "src=test" || hook["method"] != "POST" {
		t.Errorf("webhook_received req = %v", hook)
	}
	incomingID := hook["messageId"].(string)

	// The bot got it as message_created with the message, user and
	// conversation, and its configuration.
	got := waitFor(t, botRec, func(e entry) bool { return e["op"] == "message" })
	if got["message"].(map[string]any)["id"] != incomingID || got["user"].(map[string]any)["id"] == nil || got["conversation"].(map[string]any)["channel"] != "chat" {
		t.Errorf("bot message handler got %v", got)
	}
	if conf, _ := got["ctx"].(map[string]any)["configuration"].(map[string]any); conf["greeting"] != "hi" {
		t.Errorf("bot ctx.configuration = %v, want the bot's", got["ctx"])
	}
	conv := got["conversation"].(map[string]any)["id"].(string)

	// The bot's reply reached the integration's channel.
	sent := waitFor(t, intRec, func(e entry) bool { return e["op"] == "send" })
	if sent["payload"].(map[string]any)["text"] != "yelrap olleh" || sent["user"].(map[string]any)["id"] != bot ||
		sent["conversation"].(map[string]any)["id"] != conv || sent["message"].(map[string]any)["direction"] != "outgoing" {
		t.Errorf("integration was asked to send %v", sent)
	}

	// Through the API: both messages in order, the event processed, and
	// the integration's ack on the reply.
	chatH := map[string]string{"x-bot-id": bot}
	eventually(t, "the reply acknowledged", func() bool {
		msgs := s.ok("GET", "/v1/chat/messages?conversationId="+conv, chatH, nil)["messages"].([]any)
		return len(msgs) == 2 && msgs[0].(map[string]any)["tags"].(map[string]any)["delivered"] == "yes"
	})
	msgs := s.ok("GET", "/v1/chat/messages?conversationId="+conv, chatH, nil)["messages"].([]any)
	reply, first := msgs[0].(map[string]any), msgs[1].(map[string]any)
	if first["id"] != incomingID || first["direction"] != "incoming" || first["payload"].(map[string]any)["text"] != "hello parley" ||
		reply["userId"] != bot || reply["direction"] != "outgoing" || reply["payload"].(map[string]any)["text"] != "yelrap olleh" {
		t.Errorf("messages (most recent first) = %v", msgs)
	}
	eventually(t, "the message_created event processed", func() bool {
		evs := s.ok("GET", "/v1/chat/events?conversationId="+conv, chatH, nil)["events"].([]any)
		return len(evs) == 1 && evs[0].(map[string]any)["type"] == "message_created" && evs[0].(map[string]any)["status"] == "processed" &&
			evs[0].(map[string]any)["messageId"] == incomingID
	})

	// The bot's action calls the integration's action.
	out := s.ok("POST", "/v1/chat/actions", chatH, map[string]any{"type": "reverseAndShout", "input": map[string]any{"text": "abc"}})
	if o := out["output"].(map[string]any); o["reversed"] != "cba" || o["shouted"] != "ABC" {
		t.Errorf("bot action answered %v", out)
	}
	act := waitFor(t, intRec, func(e entry) bool { return e["op"] == "action" })
	if act["input"].(map[string]any)["text"] != "abc" {
		t.Errorf("integration action got %v", act)
	}

	// Nothing failed: no issue.
	if issues := s.ok("GET", "/v1/admin/bots/"+bot+"/issues", s.wsH(), nil)["issues"].([]any); len(issues) != 0 {
		t.Errorf("issues after a clean run: %v", issues)
	}

	// Uninstalling unregisters, with the same webhook url.
	s.ok("PUT", "/v1/admin/bots/"+bot, s.wsH(), map[string]any{"integrations": map[string]any{"echo": nil}})
	unreg := waitFor(t, intRec, func(e entry) bool { return e["op"] == "unregister" })
	if unreg["webhookUrl"] != webhookURL {
		t.Errorf("unregister webhookUrl = %v, want %s", unreg["webhookUrl"], webhookURL)
	}
	if r := s.raw("POST", webhookURL, `{}`); r.StatusCode != 404 {
		t.Errorf("webhook of an uninstalled integration answered %d", r.StatusCode)
	}
}

// TestFailuresBecomeBotIssues: a bot server answering 500 is retried and
// then fails the event; one answering 400 is not retried; one that is down
// fails as unreachable. Each failure is a bot issue (grouped by cause) with
// its events, and log lines, all readable by the bot's owner.
func TestFailuresBecomeBotIssues(t *testing.T) {
	env := testenv.Stack(t)
	s := &session{t: t, env: env, tok: env.PAT}
	s.ws = s.ok("POST", "/v1/admin/workspaces", nil, map[string]any{"name": "Failures"})["id"].(string)

	var hits500, hits400 atomic.Int32
	failing := func(status int, hits *atomic.Int32) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("x-bp-operation") == "event_received" {
				hits.Add(1)
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"error":"boom"}`)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	cases := []struct {
		name, url, cause string
		hits             *atomic.Int32
		attempts         int32
	}{
		{"500", failing(500, &hits500).URL, "http_500", &hits500, 3},
		{"400", failing(400, &hits400).URL, "http_400", &hits400, 1},
		{"down", down.URL, "unreachable", nil, 0},
	}
	bots := map[string]string{}
	events := map[string]string{}
	for _, c := range cases {
		bot := s.ok("POST", "/v1/admin/bots", s.wsH(), map[string]any{"name": "failing-" + c.name})["bot"].(map[string]any)["id"].(string)
		s.ok("PUT", "/v1/admin/bots/"+bot, s.wsH(), map[string]any{"url": c.url})
		bots[c.name] = bot
		events[c.name] = s.ok("POST", "/v1/chat/events", map[string]string{"x-bot-id": bot},
			map[string]any{"type": "custom", "payload": map[string]any{"n": 1}})["event"].(map[string]any)["id"].(string)
	}
	for _, c := range cases {
		bot, chatH := bots[c.name], map[string]string{"x-bot-id": bots[c.name]}
		eventually(t, c.name+": the event failed", func() bool {
			return s.ok("GET", "/v1/chat/events/"+events[c.name], chatH, nil)["event"].(map[string]any)["status"] == "failed"
		})
		if c.hits != nil && c.hits.Load() != c.attempts {
			t.Errorf("%s: %d deliveries, want %d", c.name, c.hits.Load(), c.attempts)
		}
		var issue map[string]any
		for _, i := range s.ok("GET", "/v1/admin/bots/"+bot+"/issues", s.wsH(), nil)["issues"].([]any) {
			if m := i.(map[string]any); strings.HasPrefix(m["code"].(string), "event_delivery:bot::") {
				issue = m
			}
		}
		if issue == nil || !strings.HasSuffix(issue["code"].(string), c.cause) {
			t.Fatalf("%s: issues = %v, want one of cause %s", c.name, s.ok("GET", "/v1/admin/bots/"+bot+"/issues", s.wsH(), nil), c.cause)
		}
		wantEvents := int(max(c.attempts, 1))
		if c.name == "down" {
			wantEvents = 3
		}
		if n := int(issue["eventsCount"].(float64)); n != wantEvents {
			t.Errorf("%s: issue has %d events, want %d", c.name, n, wantEvents)
		}
		one := s.ok("GET", "/v1/admin/bots/"+bot+"/issues/"+issue["id"].(string), s.wsH(), nil)["issue"].(map[string]any)
		if one["id"] != issue["id"] {
			t.Errorf("%s: getBotIssue = %v", c.name, one)
		}
		evs := s.ok("GET", "/v1/admin/bots/"+bot+"/issues/"+issue["id"].(string)+"/events", s.wsH(), nil)["issueEvents"].([]any)
		if len(evs) != wantEvents || evs[0].(map[string]any)["data"].(map[string]any)["eventId"].(map[string]any)["raw"] != events[c.name] {
			t.Errorf("%s: issue events = %v", c.name, evs)
		}
		logs := s.ok("GET", "/v1/admin/bots/"+bot+"/logs?timeStart="+time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z"), s.wsH(), nil)["logs"].([]any)
		var errorLines int
		for _, l := range logs {
			if m := l.(map[string]any); m["level"] == "error" && strings.Contains(m["message"].(string), "event delivery") {
				errorLines++
			}
		}
		if errorLines != 1 {
			t.Errorf("%s: %d final error lines in the bot's log, want 1: %v", c.name, errorLines, logs)
		}
	}
}

// --- helpers ---

type session struct {
	t       *testing.T
	env     *testenv.Env
	tok, ws string
}

func (s *session) wsH() map[string]string { return map[string]string{"x-workspace-id": s.ws} }

// ok sends a request and fails the test unless it succeeds.
func (s *session) ok(method, path string, headers map[string]string, body any) map[string]any {
	s.t.Helper()
	res := s.env.Do(s.t, testenv.Req{Method: method, Path: path, Token: s.tok, Headers: headers, Body: body})
	if res.Status >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Raw)
	}
	return res.Body
}

type rawResponse struct {
	*http.Response
	body string
}

// raw sends an unauthenticated request, as a third party calling a webhook.
func (s *session) raw(method, url, body string) rawResponse {
	s.t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResponse{res, string(b)}
}

// npmProject installs the pinned SDK from the lock file (once).
func npmProject(t *testing.T) string {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("the SDK runtime test needs Node.js 20+ and npm on PATH")
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@botpress", "sdk")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	return dir
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs an SDK server (node script) on port until the test ends and
// waits for its /health.
func start(t *testing.T, dir, script string, port int, record string, env []string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(env, fmt.Sprintf("PORT=%d", port), "RECORD_FILE="+record)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() || testing.Verbose() {
			t.Logf("%s output:\n%s", script, out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err == nil {
			res.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start: %v\n%s", script, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type entry map[string]any

// waitFor returns the first record of file that matches, waiting for it.
func waitFor(t *testing.T, file string, match func(entry) bool) entry {
	t.Helper()
	var found entry
	eventually(t, "a record in "+filepath.Base(file), func() bool {
		f, err := os.Open(file)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e entry
			if json.Unmarshal(sc.Bytes(), &e) == nil && match(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// eventually polls cond for up to 30 seconds (deliveries go through the
// queue; failed ones back off 2 s, then 4 s).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
