package deletion_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/golang-jwt/jwt/v5"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type R = testenv.Req

var want = testenv.Want

// world is an account with a workspace, a bot and a bot API key.
type world struct {
	env              *testenv.Env
	token, ws, bot   string
	keyID, keySecret string
}

func newWorld(t testing.TB, env *testenv.Env) world {
	t.Helper()
	w := world{env: env, token: env.NewAccount(t)}
	ws := env.Do(t, R{Method: "POST", Path: "/v1/admin/workspaces", Token: w.token, Body: map[string]any{"name": "w"}})
	want(t, ws, 200, "")
	w.ws = ws.Body["id"].(string)
	h := map[string]string{"x-workspace-id": w.ws}
	bot := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots", Token: w.token, Headers: h, Body: map[string]any{"name": "b"}})
	want(t, bot, 200, "")
	w.bot = bot.Body["bot"].(map[string]any)["id"].(string)
	key := env.Do(t, R{Method: "POST", Path: "/v1/admin/bots/baks", Token: w.token, Headers: h, Body: map[string]any{"botId": w.bot, "note": "deletions"}})
	want(t, key, 200, "")
	w.keyID, w.keySecret = key.Body["id"].(string), key.Body["value"].(string)
	return w
}

// jwt signs a Kore.ai-style token with the bot's API key.
func (w world) jwt(t testing.TB, secret string, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"appId": w.keyID, "exp": exp.Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w world) submit(t testing.TB, body any) testenv.Response {
	t.Helper()
	return w.env.Do(t, R{Method: "POST", Path: "/api/public/bot/" + w.bot + "/conversations/delete",
		Headers: map[string]string{"auth": w.jwt(t, w.keySecret, time.Now().Add(time.Hour))}, Body: body})
}

func (w world) status(t testing.TB, job string) testenv.Response {
	t.Helper()
	return w.env.Do(t, R{Method: "GET", Path: "/api/public/bot/" + w.bot + "/conversations/delete/" + job,
		Headers: map[string]string{"auth": w.jwt(t, w.keySecret, time.Now().Add(time.Hour))}})
}

// seed writes a conversation the way the chat API stores it: the
// conversation item, n messages and the user's participant entry (indexed
// by the conversation's creation time), returning its id and item count.
func seed(t testing.TB, env *testenv.Env, bot, user string, created time.Time, messages int, tags map[string]string) (string, int) {
	t.Helper()
	conv := id.NewAt(id.Conversation, created)
	at := created.UTC().Format("2006-01-02T15:04:05.000Z")
	part := "BOT#" + bot + "#CONV#" + conv
	convItem := ds.Item(map[string]any{"id": conv, "createdAt": at, "updatedAt": at, "tags": tags, "channel": "web"}, map[string]string{ds.PK: "BOT#" + bot, ds.SK: "CONV#" + conv})
	items := []map[string]types.AttributeValue{
		convItem,
		ds.Item(map[string]any{"userId": user}, map[string]string{ds.PK: part, ds.SK: "PART#" + user, ds.GSI1PK: "BOT#" + bot + "#USER#" + user + "#CONVS", ds.GSI1SK: at + "#" + conv}),
	}
	for i := 0; i < messages; i++ {
		items = append(items, ds.Item(map[string]any{"type": "text", "payload": map[string]any{"text": fmt.Sprint(i)}}, map[string]string{ds.PK: part, ds.SK: "MSG#" + id.New(id.Message)}))
	}
	write(t, env, items)
	return conv, len(items)
}

func write(t testing.TB, env *testenv.Env, items []map[string]types.AttributeValue) {
	t.Helper()
	env.PutChatItems(t, items)
}

// stored counts the items left of a conversation (its item and partition).
func stored(t testing.TB, env *testenv.Env, bot, conv string) int {
	t.Helper()
	return env.ConversationItems(t, bot, conv)
}

// await polls a job until it leaves the queue and the worker for good.
func await(t testing.TB, w world, job string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		res := w.status(t, job)
		if s := res.Body["status"]; s == "completed" || s == "failed" {
			return res.Body
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", job)
	return nil
}

func result(job map[string]any) map[string]int {
	out := map[string]int{}
	for k, v := range job["result"].(map[string]any) {
		out[k] = int(v.(float64))
	}
	return out
}

func TestDeletionJobs(t *testing.T) {
	env := testenv.Stack(t)
	ctx := context.Background()
	w := newWorld(t, env)
	other := newWorld(t, env) // another account's bot
	day := func(d int) time.Time { return time.Now().UTC().AddDate(0, 0, -d).Truncate(time.Hour) }

	// Capture the completion events.
	captured := captureEvents(t, env)

	a1, n1 := seed(t, env, w.bot, "user_a", day(10), 20, nil)
	a2, n2 := seed(t, env, w.bot, "user_a", day(9), 3, nil)
	b1, _ := seed(t, env, w.bot, "user_b", day(9), 4, nil)
	foreign, _ := seed(t, env, other.bot, "user_a", day(9), 2, nil)
	u1, m1 := seed(t, env, w.bot, "user_u", day(5), 5, nil)
	u2, m2 := seed(t, env, w.bot, "user_u", day(3), 6, nil)
	held, _ := seed(t, env, w.bot, "user_u", day(3), 2, map[string]string{"legalHold": "true"})
	early, _ := seed(t, env, w.bot, "user_u", day(20), 2, nil)
	late, _ := seed(t, env, w.bot, "user_u", day(0), 2, nil)
	otherUser, _ := seed(t, env, w.bot, "user_v", day(4), 2, nil)

	// By ids: duplicates collapse; missing and other bots' conversations are skipped.
	byIDs := w.submit(t, map[string]any{"conversationIds": []string{a1, a2, a1, "conv_01JNOTTHERE000000000000000", foreign}})
	want(t, byIDs, 200, "")
	jobA := byIDs.Body["jobId"].(string)
	if byIDs.Body["status"] != "queued" || !strings.HasPrefix(jobA, "cdj-") || len(jobA) != 40 || byIDs.Body["submittedAt"] == nil {
		t.Fatalf("intake answer %s", byIDs.Raw)
	}
	testenv.WantCalls(t, byIDs, 2, "DynamoDB.PutItem=1")
	// By user and dates (inclusive days): the held one is skipped, the ones
	// outside the range and other users' stay.
	byUser := w.submit(t, map[string]any{"cId": "user_u", "startDate": day(6).Format("2006-01-02"), "endDate": day(1).Format("2006-01-02")})
	want(t, byUser, 200, "")
	jobU := byUser.Body["jobId"].(string)

	// Accepted now, executed later: nothing is gone and the job says when.
	queued := w.status(t, jobA)
	want(t, queued, 200, "")
	if queued.Body["status"] != "queued" || queued.Body["startedAt"] != nil || queued.Body["requestType"] != "conversationIds" || queued.Body["scheduledAt"] == nil {
		t.Fatalf("queued job %s", queued.Raw)
	}
	if stored(t, env, w.bot, a1) != n1 {
		t.Fatal("a conversation was deleted at submission")
	}

	if err := env.Fire(ctx, "offpeak"); err != nil {
		t.Fatal(err)
	}
	done := await(t, w, jobA)
	r := result(done)
	if done["status"] != "completed" || r["totalConversations"] != 4 || r["processedCount"] != 4 || r["deletedCount"] != 2 ||
		r["skippedCount"] != 2 || r["failedCount"] != 0 || r["retriesRemaining"] != 3 || r["deletedRecords"] != n1+n2 {
		t.Fatalf("job by ids: %v (want 2 deleted with %d records, 2 skipped)", done, n1+n2)
	}
	if done["skippedReasons"].(map[string]any)["notFound"] != float64(2) || done["startedAt"] == nil || done["completedAt"] == nil {
		t.Fatalf("job by ids: %v", done)
	}
	// The pace: the workspace's budget, and the rate measured over the
	// job's running time.
	if tp := done["throughput"].(map[string]any); tp["budgetItemsPerSecond"] != float64(1000) ||
		tp["measuredItemsPerSecond"] == nil || tp["measuredItemsPerSecond"].(float64) <= 0 {
		t.Fatalf("job by ids: throughput %v", tp)
	}
	doneU := await(t, w, jobU)
	ru := result(doneU)
	if doneU["status"] != "completed" || doneU["requestType"] != "cId" || ru["totalConversations"] != 3 || ru["deletedCount"] != 2 ||
		ru["skippedCount"] != 1 || ru["deletedRecords"] != m1+m2 || doneU["skippedReasons"].(map[string]any)["legalHold"] != float64(1) {
		t.Fatalf("job by user: %v", doneU)
	}

	for _, gone := range []string{a1, a2, u1, u2} {
		if n := stored(t, env, w.bot, gone); n != 0 {
			t.Errorf("conversation %s kept %d items", gone, n)
		}
	}
	for _, kept := range []struct{ bot, conv string }{{w.bot, b1}, {w.bot, held}, {w.bot, early}, {w.bot, late}, {w.bot, otherUser}, {other.bot, foreign}} {
		if stored(t, env, kept.bot, kept.conv) == 0 {
			t.Errorf("conversation %s was deleted but was not asked for", kept.conv)
		}
	}

	// Proof: an audit record each, and DeletionJobCompleted events.
	audit := auditRecords(t, env, w.ws)
	if !strings.Contains(audit, jobA) || !strings.Contains(audit, jobU) || !strings.Contains(audit, "DELETION_JOB_COMPLETED") {
		t.Fatalf("audit trail lacks the jobs: %s", audit)
	}
	events := captured()
	if !strings.Contains(events, jobA) || !strings.Contains(events, jobU) || !strings.Contains(events, "DeletionJobCompleted") {
		t.Fatalf("events: %s", events)
	}

	// The owner was mailed, through SES, once per job.
	if sent := sentEmails(t, env); sent < 2 {
		t.Fatalf("%d emails sent, want one per job", sent)
	}

	// A second window changes nothing.
	if err := env.Fire(ctx, "offpeak"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if again := result(w.status(t, jobA).Body); fmt.Sprint(again) != fmt.Sprint(r) {
		t.Fatalf("counts moved after a second window: %v → %v", r, again)
	}
}

func TestDeletionIntakeRefusals(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	other := newWorld(t, env)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprint("conv_", i)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for _, c := range []struct {
		body any
		msg  string
	}{
		{map[string]any{"conversationIds": many}, "at most 100"},
		{map[string]any{"conversationIds": []string{}}, "at least one"},
		{map[string]any{}, "conversationIds"},
		{map[string]any{"cId": "user_x", "endDate": tomorrow}, "future"},
		{map[string]any{"cId": "user_x", "startDate": "2026-01-10", "endDate": "2026-01-09"}, "after endDate"},
		{map[string]any{"cId": "user_x", "startDate": "last week"}, "YYYY-MM-DD"},
		{map[string]any{"cId": "user_x", "extra": 1}, "unknown field"},
	} {
		res := w.submit(t, c.body)
		want(t, res, 400, "InvalidPayload")
		if !strings.Contains(fmt.Sprint(res.Body["message"]), c.msg) {
			t.Errorf("%v: message %q lacks %q", c.body, res.Body["message"], c.msg)
		}
	}

	path := "/api/public/bot/" + w.bot + "/conversations/delete"
	body := map[string]any{"conversationIds": []string{"conv_x"}}
	for name, h := range map[string]map[string]string{
		"wrong secret":      {"auth": w.jwt(t, "not-the-secret", time.Now().Add(time.Hour))},
		"expired":           {"auth": w.jwt(t, w.keySecret, time.Now().Add(-time.Hour))},
		"another bot's key": {"auth": other.jwt(t, other.keySecret, time.Now().Add(time.Hour))},
		"garbage":           {"auth": "not.a.jwt"},
	} {
		want(t, env.Do(t, R{Method: "POST", Path: path, Headers: h, Body: body}), 401, "Unauthorized")
		_ = name
	}
	want(t, env.Do(t, R{Method: "POST", Path: path, Body: body}), 401, "Unauthorized")
	// A member's PAT works; a stranger's is forbidden.
	want(t, env.Do(t, R{Method: "POST", Path: path, Token: w.token, Body: body}), 200, "")
	want(t, env.Do(t, R{Method: "POST", Path: path, Token: other.token, Body: body}), 403, "Forbidden")
	// Another bot's job reads as missing.
	job := other.submit(t, body).Body["jobId"].(string)
	want(t, w.status(t, job), 404, "ResourceNotFound")
	want(t, w.status(t, "cdj-00000000-0000-0000-0000-000000000000"), 404, "ResourceNotFound")
}

// captureEvents routes Parley's events on the default bus to a queue and
// returns a function reading what arrived.
func captureEvents(t testing.TB, env *testenv.Env) func() string {
	t.Helper()
	ctx := context.Background()
	q := sqs.NewFromConfig(env.AWS)
	name := "capture-" + strings.ToLower(id.New("q")[2:])
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(env.AWS)
	rule := "capture-" + name
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &rule, EventPattern: aws.String(`{"source":["parley.deletion"]}`)}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:sqs:us-east-1:123456789012:" + name
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &rule, Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: &arn}}}); err != nil {
		t.Fatal(err)
	}
	return func() string {
		var b strings.Builder
		for i := 0; i < 5; i++ {
			out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.Messages {
				b.WriteString(*m.Body)
			}
		}
		return b.String()
	}
}

func auditRecords(t testing.TB, env *testenv.Env, ws string) string {
	t.Helper()
	table := env.Env["TABLE_ADMIN"]
	out, err := env.Deps.DB.Query(context.Background(), &dynamodb.QueryInput{TableName: &table,
		KeyConditionExpression:    aws.String("pk = :p AND begins_with(sk, :a)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S("WS#" + ws), ":a": ds.S("AUDIT#")}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, it := range out.Items {
		fmt.Fprintln(&b, ds.String(it, "action"), ds.String(it, "resourceId"), ds.String(it, "value"))
	}
	return b.String()
}

// sentEmails is how many emails SES sent in the last day.
func sentEmails(t testing.TB, env *testenv.Env) int {
	t.Helper()
	out, err := ses.NewFromConfig(env.AWS).GetSendQuota(context.Background(), &ses.GetSendQuotaInput{})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.SentLast24Hours)
}

// A conversation made by get-or-create goes with its claim: nothing of it
// stays, and the next get-or-create starts a new conversation.
func TestDeletionErasesGetOrCreateClaims(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	h := map[string]string{"x-bot-id": w.bot}
	body := map[string]any{"channel": "web", "tags": map[string]any{}}
	first := env.Do(t, R{Method: "POST", Path: "/v1/chat/conversations/get-or-create", Token: w.token, Headers: h, Body: body})
	want(t, first, 200, "")
	conv := first.Body["conversation"].(map[string]any)["id"].(string)
	claims := func() int {
		table := env.Env["TABLE_CHAT"]
		out, err := env.Deps.DB.Query(context.Background(), &dynamodb.QueryInput{TableName: &table,
			KeyConditionExpression:    aws.String("pk = :p AND begins_with(sk, :c)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S("BOT#" + w.bot), ":c": ds.S("CONVTAGS#")}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items)
	}
	if claims() != 1 {
		t.Fatalf("get-or-create left %d claims, want 1", claims())
	}
	job := w.submit(t, map[string]any{"conversationIds": []string{conv}}).Body["jobId"].(string)
	if err := env.Fire(context.Background(), "offpeak"); err != nil {
		t.Fatal(err)
	}
	if done := await(t, w, job); done["status"] != "completed" || result(done)["deletedCount"] != 1 {
		t.Fatalf("job %v", done)
	}
	if n := claims(); n != 0 {
		t.Fatalf("%d claims left after the deletion", n)
	}
	again := env.Do(t, R{Method: "POST", Path: "/v1/chat/conversations/get-or-create", Token: w.token, Headers: h, Body: body})
	if id := again.Body["conversation"].(map[string]any)["id"]; id == conv {
		t.Fatal("get-or-create answered the deleted conversation")
	}
}
