package compliance_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/receipt"
	"github.com/parley-dev/parley/pkg/testenv"
)

// people is a workspace with two bots; on each, Ann and Bob: a conversation
// Ann alone takes part in (messages, a state, an event), one she shares
// with Bob (messages of both), and a state of Ann's.
type people struct {
	env          *testenv.Env
	token, ws    string
	bots         []string
	ann, bob     map[string]string // bot → user id
	alone, share map[string]string // bot → conversation id
}

func newPeople(t *testing.T) *people {
	env := testenv.Stack(t)
	w := &people{env: env, token: env.NewAccount(t), ann: map[string]string{}, bob: map[string]string{}, alone: map[string]string{}, share: map[string]string{}}
	w.ws = env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: w.token, Body: map[string]any{"name": "dpo"}}).Body["id"].(string)
	for range 2 {
		bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: w.token, Headers: w.wh(), Body: map[string]any{"name": "b"}}).Body["bot"].(map[string]any)["id"].(string)
		w.bots = append(w.bots, bot)
		do := func(method, path string, body map[string]any, status int) map[string]any {
			res := env.Do(t, R{Method: method, Path: path, Token: w.token, Headers: map[string]string{"x-bot-id": bot}, Body: body})
			testenv.Want(t, res, status, "")
			return res.Body
		}
		w.ann[bot] = do("POST", "/v1/chat/users", map[string]any{"tags": map[string]any{"email": "ann@example.com"}}, 201)["user"].(map[string]any)["id"].(string)
		w.bob[bot] = do("POST", "/v1/chat/users", map[string]any{"tags": map[string]any{"email": "bob@example.com"}}, 201)["user"].(map[string]any)["id"].(string)
		do("POST", "/v1/chat/states/user/"+w.ann[bot]+"/profile", map[string]any{"payload": map[string]any{"city": "Lyon"}}, 200)
		for _, c := range []string{"alone", "share"} {
			conv := do("POST", "/v1/chat/conversations", map[string]any{"channel": "web", "tags": map[string]any{}}, 201)["conversation"].(map[string]any)["id"].(string)
			do("POST", "/v1/chat/conversations/"+conv+"/participants", map[string]any{"userId": w.ann[bot]}, 200)
			do("POST", "/v1/chat/messages", map[string]any{"conversationId": conv, "userId": w.ann[bot], "type": "text", "payload": map[string]any{"text": "ann says hi"}, "tags": map[string]any{}}, 201)
			if c == "alone" {
				w.alone[bot] = conv
				do("POST", "/v1/chat/states/conversation/"+conv+"/ctx", map[string]any{"payload": map[string]any{"step": 1}}, 200)
				do("POST", "/v1/chat/events", map[string]any{"type": "custom", "payload": map[string]any{}, "conversationId": conv, "userId": w.ann[bot]}, 201)
				continue
			}
			w.share[bot] = conv
			do("POST", "/v1/chat/conversations/"+conv+"/participants", map[string]any{"userId": w.bob[bot]}, 200)
			do("POST", "/v1/chat/messages", map[string]any{"conversationId": conv, "userId": w.bob[bot], "type": "text", "payload": map[string]any{"text": "bob answers"}, "tags": map[string]any{}}, 201)
		}
	}
	return w
}

func (w *people) wh() map[string]string { return map[string]string{"x-workspace-id": w.ws} }

// request submits a data request and waits for it to finish.
func (w *people) request(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	res := w.env.Do(t, R{Method: "POST", Path: "/api/v1/data-requests", Token: w.token, Headers: w.wh(), Body: body})
	testenv.Want(t, res, 200, "")
	id := res.Body["id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := w.env.Do(t, R{Method: "GET", Path: "/api/v1/data-requests/" + id, Token: w.token, Headers: w.wh()})
		testenv.Want(t, st, 200, "")
		if s := st.Body["status"]; s == "completed" || s == "failed" {
			return st.Body
		}
		if time.Now().After(deadline) {
			t.Fatalf("data request %s still %v", id, st.Body["status"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mentions lists, reading every table, bucket and vector index of the
// stack directly, what holds any of the needles, but receipts and audit
// records.
func mentions(t *testing.T, env *testenv.Env, needles ...string) []string {
	t.Helper()
	var out []string
	for _, st := range env.Everything(t) {
		if st.Item != nil && (strings.HasPrefix(ds.String(st.Item, ds.PK), "RCPT#") || strings.HasPrefix(ds.String(st.Item, ds.SK), "AUDIT#")) {
			continue
		}
		for _, n := range needles {
			if strings.Contains(st.Text, n) {
				out = append(out, st.Where)
				break
			}
		}
	}
	return out
}

// unzipped is the text of a zip's entries ("" for anything else).
func unzipped(b []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return ""
	}
	var sb strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			continue
		}
		raw, _ := io.ReadAll(rc)
		rc.Close()
		sb.Write(raw)
	}
	return sb.String()
}

// An export holds exactly the person's data; an erasure then leaves no
// item and no object holding the person's ids or tag values (but receipts
// and audit records), the other person's data intact; the receipt verifies.
func TestExportThenErasureOfAPersonAcrossBots(t *testing.T) {
	w := newPeople(t)
	var annIDs, bobIDs []string
	for _, b := range w.bots {
		annIDs, bobIDs = append(annIDs, w.ann[b]), append(bobIDs, w.bob[b])
	}
	bobBefore := mentions(t, w.env, bobIDs...)

	exp := w.request(t, map[string]any{"type": "export", "subject": map[string]any{"tags": map[string]any{"email": "ann@example.com"}}})
	if exp["status"] != "completed" || exp["downloadUrl"] == nil {
		t.Fatalf("export: %v", exp)
	}
	res, err := http.Get(exp["downloadUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	archive, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := unzipped(archive)
	for _, want := range append(append([]string{"ann says hi", "Lyon", "ann@example.com"}, annIDs...), w.alone[w.bots[0]], w.share[w.bots[1]]) {
		if !strings.Contains(text, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	for _, not := range append([]string{"bob answers", "bob@example.com"}, bobIDs...) {
		if strings.Contains(text, not) {
			t.Errorf("the export holds the other person's %q", not)
		}
	}
	if c := exp["counts"].(map[string]any); c["user"].(map[string]any)["exported"] != float64(2) || c["conversation"].(map[string]any)["exported"] != float64(4) {
		t.Fatalf("export counts %v", c)
	}

	erased := w.request(t, map[string]any{"type": "erasure", "subject": map[string]any{"tags": map[string]any{"email": "ann@example.com"}}})
	if erased["status"] != "completed" {
		t.Fatalf("erasure: %v", erased)
	}
	if left := mentions(t, w.env, append(annIDs, "ann@example.com", "ann says hi", "Lyon")...); len(left) > 0 {
		t.Fatalf("the person is still in %v", left)
	}
	// The other person: everything as before, and the shared conversations.
	if after := mentions(t, w.env, bobIDs...); strings.Join(after, "\n") != strings.Join(bobBefore, "\n") {
		t.Fatalf("the other person's data changed:\nbefore %v\nafter  %v", bobBefore, after)
	}
	for _, b := range w.bots {
		msgs := w.env.Do(t, R{Method: "GET", Path: "/v1/chat/messages?conversationId=" + w.share[b], Token: w.token, Headers: map[string]string{"x-bot-id": b}})
		testenv.Want(t, msgs, 200, "")
		if l := msgs.Body["messages"].([]any); len(l) != 1 || l[0].(map[string]any)["userId"] != w.bob[b] {
			t.Fatalf("shared conversation after the erasure: %s", msgs.Raw)
		}
		testenv.Want(t, w.env.Do(t, R{Method: "GET", Path: "/v1/chat/conversations/" + w.alone[b], Token: w.token, Headers: map[string]string{"x-bot-id": b}}), 404, "ResourceNotFound")
	}

	// The receipt lists every item and verifies with the published key.
	rc := w.env.Do(t, R{Method: "GET", Path: "/api/v1/receipts/" + erased["receiptId"].(string), Token: w.token, Headers: w.wh()})
	testenv.Want(t, rc, 200, "")
	keys := w.env.Do(t, R{Method: "GET", Path: "/api/v1/receipts/public-key", Token: w.token})
	testenv.Want(t, keys, 200, "")
	if err := check(t, keys.Raw, rc.Raw); err != nil {
		t.Fatalf("the receipt does not verify: %v", err)
	}
	items := rc.Body["items"].([]any)
	got := map[string]int{}
	for _, it := range items {
		m := it.(map[string]any)
		got[m["kind"].(string)+"/"+m["disposition"].(string)]++
	}
	if got["conversation/deleted"] != 4 || got["user/deleted"] != 2 || got["export/deleted"] != 1 {
		t.Fatalf("receipt items %v", got)
	}
	// Altering the receipt in storage is detected.
	lc := w.env.Env["TABLE_LIFECYCLE"]
	page, err := w.env.Deps.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &lc, Key: ds.Key("RCPT#"+erased["receiptId"].(string), "ITEMS#exports-00000")})
	if err != nil || page.Item == nil {
		t.Fatalf("receipt page: %v", err)
	}
	page.Item["items"] = ds.S(strings.Replace(ds.String(page.Item, "items"), `"deleted"`, `"skipped"`, 1))
	if _, err := w.env.Deps.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &lc, Item: page.Item}); err != nil {
		t.Fatal(err)
	}
	rc = w.env.Do(t, R{Method: "GET", Path: "/api/v1/receipts/" + erased["receiptId"].(string), Token: w.token, Headers: w.wh()})
	if err := check(t, keys.Raw, rc.Raw); err == nil {
		t.Fatal("an altered receipt still verifies")
	}
}

// check verifies a receipt answer with a public key answer, as the
// verify-receipt command does.
func check(t *testing.T, keysRaw, receiptRaw []byte) error {
	t.Helper()
	var keys struct {
		Keys []struct{ KeyID, PublicKey string } `json:"keys"`
	}
	var rc struct {
		Summary     map[string]any   `json:"summary"`
		SignedBytes string           `json:"signedBytes"`
		Signature   string           `json:"signature"`
		Items       []map[string]any `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(receiptRaw))
	dec.UseNumber()
	if err := json.Unmarshal(keysRaw, &keys); err != nil || dec.Decode(&rc) != nil {
		t.Fatalf("answers: %s %s", keysRaw, receiptRaw)
	}
	pub, _ := base64.StdEncoding.DecodeString(keys.Keys[0].PublicKey)
	signed, _ := base64.StdEncoding.DecodeString(rc.SignedBytes)
	sig, _ := base64.StdEncoding.DecodeString(rc.Signature)
	return receipt.Check(ed25519.PublicKey(pub), rc.Summary, signed, sig, rc.Items)
}

// A legal hold beats an erasure, a deletion job and a bot delete; released,
// the erasure goes through.
func TestALegalHoldBeatsErasureJobsAndBotDelete(t *testing.T) {
	w := newPeople(t)
	bot := w.bots[0]
	hold := w.env.Do(t, R{Method: "POST", Path: "/api/v1/legal-holds", Token: w.token, Headers: w.wh(),
		Body: map[string]any{"reason": "litigation 2026-17", "userTags": map[string]any{"email": "ann@example.com"}}})
	testenv.Want(t, hold, 200, "")
	holdID := hold.Body["hold"].(map[string]any)["id"].(string)

	erased := w.request(t, map[string]any{"type": "erasure", "subject": map[string]any{"userIds": []string{w.ann[bot]}}, "botIds": []string{bot}})
	rc := w.env.Do(t, R{Method: "GET", Path: "/api/v1/receipts/" + erased["receiptId"].(string), Token: w.token, Headers: w.wh()})
	testenv.Want(t, rc, 200, "")
	for _, it := range rc.Body["items"].([]any) {
		m := it.(map[string]any)
		if m["disposition"] != "skipped" || m["reason"] != "legalHold" || m["holdId"] != holdID {
			t.Fatalf("held item erased: %v", m)
		}
	}
	testenv.Want(t, w.env.Do(t, R{Method: "GET", Path: "/v1/chat/conversations/" + w.alone[bot], Token: w.token, Headers: map[string]string{"x-bot-id": bot}}), 200, "")

	// A deletion job skips the held conversation.
	job := w.env.Do(t, R{Method: "POST", Path: "/api/public/bot/" + bot + "/conversations/delete", Token: w.token, Headers: w.wh(),
		Body: map[string]any{"conversationIds": []string{w.alone[bot], w.share[bot]}}})
	testenv.Want(t, job, 200, "")
	jobID := job.Body["jobId"].(string)
	if err := w.env.Fire(context.Background(), "offpeak"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var st testenv.Response
	for {
		st = w.env.Do(t, R{Method: "GET", Path: "/api/public/bot/" + bot + "/conversations/delete/" + jobID, Token: w.token, Headers: w.wh()})
		if st.Body["status"] == "completed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res := st.Body["result"].(map[string]any); res["skippedCount"] != float64(2) || res["deletedCount"] != float64(0) {
		t.Fatalf("job under a hold: %s", st.Raw)
	}
	jr := w.env.Do(t, R{Method: "GET", Path: "/api/v1/receipts/" + jobID, Token: w.token, Headers: w.wh()})
	testenv.Want(t, jr, 200, "")
	for _, it := range jr.Body["items"].([]any) {
		if m := it.(map[string]any); m["holdId"] != holdID {
			t.Fatalf("job receipt item %v does not name the hold", m)
		}
	}

	// The bot cannot be deleted while the hold stands.
	del := w.env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + bot, Token: w.token, Headers: w.wh(), Body: map[string]any{}})
	testenv.Want(t, del, 409, "ResourceLockedConflict")
	if !strings.Contains(del.Body["message"].(string), holdID) {
		t.Fatalf("the refusal does not name the hold: %s", del.Raw)
	}

	testenv.Want(t, w.env.Do(t, R{Method: "POST", Path: "/api/v1/legal-holds/" + holdID + "/release", Token: w.token, Headers: w.wh(), Body: map[string]any{}}), 200, "")
	erased = w.request(t, map[string]any{"type": "erasure", "subject": map[string]any{"userIds": []string{w.ann[bot]}}, "botIds": []string{bot}})
	if c := erased["counts"].(map[string]any); c["user"].(map[string]any)["deleted"] != float64(1) {
		t.Fatalf("erasure after release: %v", erased)
	}
	testenv.Want(t, w.env.Do(t, R{Method: "DELETE", Path: "/v1/admin/bots/" + bot, Token: w.token, Headers: w.wh(), Body: map[string]any{}}), 200, "")
}

func TestBadHoldsAndRequestsWriteNothing(t *testing.T) {
	w := newPeople(t)
	for _, body := range []map[string]any{
		{}, {"reason": ""}, {"reason": "x"}, {"reason": "x", "userIds": []string{"not an id"}},
		{"reason": "x", "botId": "bot_01JZZZZZZZZZZZZZZZZZZZZZZZ"},
	} {
		res := w.env.Do(t, R{Method: "POST", Path: "/api/v1/legal-holds", Token: w.token, Headers: w.wh(), Body: body})
		if res.Status != 400 && res.Status != 404 {
			t.Errorf("hold %v: %d %s", body, res.Status, res.Raw)
		}
	}
	for _, body := range []map[string]any{
		{}, {"type": "shred", "subject": map[string]any{"userIds": []string{"user_01JZZZZZZZZZZZZZZZZZZZZZZZ"}}},
		{"type": "export"}, {"type": "export", "subject": map[string]any{}},
		{"type": "export", "subject": map[string]any{"userIds": []string{"user_01JZZZZZZZZZZZZZZZZZZZZZZZ"}, "tags": map[string]any{"a": "b"}}},
	} {
		res := w.env.Do(t, R{Method: "POST", Path: "/api/v1/data-requests", Token: w.token, Headers: w.wh(), Body: body})
		testenv.Want(t, res, 400, "InvalidPayload")
	}
	holds := w.env.Do(t, R{Method: "GET", Path: "/api/v1/legal-holds", Token: w.token, Headers: w.wh()})
	if l := holds.Body["holds"].([]any); len(l) != 0 {
		t.Fatalf("refused holds were stored: %s", holds.Raw)
	}
	// Another workspace's receipt or request is missing, not forbidden.
	other := w.env.NewAccount(t)
	ows := w.env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: other, Body: map[string]any{"name": "o"}}).Body["id"].(string)
	testenv.Want(t, w.env.Do(t, R{Method: "GET", Path: "/api/v1/receipts/" + w.bots[0], Token: other, Headers: map[string]string{"x-workspace-id": ows}}), 404, "ResourceNotFound")
}

// A legal hold beats a due retention policy: the held conversation stays,
// the run's receipt names the hold, the others go.
func TestALegalHoldBeatsADuePolicy(t *testing.T) {
	w := newPeople(t)
	bot := w.bots[0]
	hold := w.env.Do(t, R{Method: "POST", Path: "/api/v1/legal-holds", Token: w.token, Headers: w.wh(),
		Body: map[string]any{"reason": "audit", "botId": bot, "conversationIds": []string{w.alone[bot]}}})
	testenv.Want(t, hold, 200, "")
	holdID := hold.Body["hold"].(map[string]any)["id"].(string)
	pol := w.env.Do(t, R{Method: "POST", Path: "/api/v1/policy/create", Token: w.token, Headers: w.wh(), Body: map[string]any{
		"name": "fast", "description": "delete at once", "type": "retention",
		"config": map[string]any{"maxAge": "PT1S", "action": "delete", "basis": "createdAt", "scope": map[string]any{"botIds": []string{bot}}}}})
	testenv.Want(t, pol, 200, "")
	time.Sleep(1100 * time.Millisecond)
	if err := w.env.Fire(context.Background(), "offpeak"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var run map[string]any
	for run == nil || run["status"] == "in_progress" {
		if time.Now().After(deadline) {
			t.Fatalf("run: %v", run)
		}
		time.Sleep(100 * time.Millisecond)
		runs := w.env.Do(t, R{Method: "GET", Path: "/api/v1/policy/" + pol.Body["id"].(string) + "/runs", Token: w.token, Headers: w.wh()})
		if items, _ := runs.Body["items"].([]any); len(items) > 0 {
			run = items[0].(map[string]any)
		}
	}
	if run["deletedCount"] != float64(1) || run["skippedReasons"].(map[string]any)["legalHold"] != float64(1) {
		t.Fatalf("run under a hold: %v", run)
	}
	testenv.Want(t, w.env.Do(t, R{Method: "GET", Path: "/v1/chat/conversations/" + w.alone[bot], Token: w.token, Headers: map[string]string{"x-bot-id": bot}}), 200, "")
	testenv.Want(t, w.env.Do(t, R{Method: "GET", Path: "/v1/chat/conversations/" + w.share[bot], Token: w.token, Headers: map[string]string{"x-bot-id": bot}}), 404, "ResourceNotFound")
	rc := w.env.Do(t, R{Method: "GET", Path: "/api/v1/receipts/" + run["id"].(string), Token: w.token, Headers: w.wh()})
	testenv.Want(t, rc, 200, "")
	named := false
	for _, it := range rc.Body["items"].([]any) {
		m := it.(map[string]any)
		named = named || (m["id"] == w.alone[bot] && m["holdId"] == holdID && m["reason"] == "legalHold")
	}
	if !named {
		t.Fatalf("the run's receipt does not name the hold: %s", rc.Raw)
	}
}
