package retention_test

import (
	"context"
	"fmt"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/receipt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/retention"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func TestRetentionWindow(t *testing.T) {
	env := testenv.Stack(t)
	ctx := context.Background()
	w := newWorld(t, env)
	other := newWorld(t, env) // another account's workspace, with no policy
	now := time.Now().UTC()
	days := func(d int) time.Time { return now.AddDate(0, 0, -d).Truncate(time.Second) }

	old := &conv{bot: w.bot, created: days(50), updated: days(40), messages: 4, tags: map[string]string{"topic": "billing"}}
	short := &conv{bot: w.bot, created: days(45), updated: days(40), messages: 2, tags: map[string]string{"kind": "ephemeral"}}
	held := &conv{bot: w.bot, created: days(60), updated: days(45), messages: 1, tags: map[string]string{"legalHold": "true"}}
	fresh := &conv{bot: w.bot, created: days(50), updated: days(2), messages: 2}
	foreign := &conv{bot: other.bot, created: days(90), updated: days(90), messages: 2}
	for _, c := range []*conv{old, short, held, fresh, foreign} {
		seed(t, env, c)
	}

	// An archive policy for everything idle 30 days, and a delete policy
	// for ephemeral conversations idle 10 days: the latter is due earlier
	// for the ephemeral one, so it wins it.
	archivePol := w.create(t, "30DayArchive", map[string]any{"maxAge": "P30D"})
	deletePol := w.create(t, "ephemeral", map[string]any{"maxAge": "P10D", "action": "delete", "scope": map[string]any{"tags": map[string]string{"kind": "ephemeral"}}})

	// Preview says what would happen and changes nothing.
	pre := w.call(t, "POST", "/"+archivePol+"/preview", map[string]any{})
	want(t, pre, 200, "")
	if pre.Body["count"] != float64(1) || pre.Body["archiveCount"] != float64(1) || pre.Body["legalHoldCount"] != float64(1) ||
		pre.Body["yieldedToOtherPolicies"] != float64(1) || !strings.Contains(string(pre.Raw), old.id) {
		t.Fatalf("preview: %s", pre.Raw)
	}
	if stored(t, env, w.bot, old.id) != old.items {
		t.Fatal("preview changed data")
	}
	if runs := w.runs(t, archivePol); len(runs) != 0 {
		t.Fatalf("preview recorded a run: %v", runs)
	}

	if err := env.Fire(ctx, "offpeak"); err != nil {
		t.Fatal(err)
	}
	arun := w.awaitRuns(t, archivePol, 1)[0]
	drun := w.awaitRuns(t, deletePol, 1)[0]
	if got := counts(arun); arun["status"] != "completed" || got != "total=2 archived=1 deleted=0 skipped=1 failed=0 reasons=map[legalHold:1 notDue:0 notFound:0 policyDeleted:0]" {
		t.Fatalf("archive run: %s (%v)", got, arun)
	}
	if arun["yieldedToOtherPolicies"] != float64(1) || arun["erasedRecords"] != float64(old.items) || arun["finishedAt"] == nil {
		t.Fatalf("archive run: %v", arun)
	}
	if got := counts(drun); got != "total=1 archived=0 deleted=1 skipped=0 failed=0 reasons=map[legalHold:0 notDue:0 notFound:0 policyDeleted:0]" {
		t.Fatalf("delete run: %s", got)
	}

	// The archived conversation is in S3, whole and in order, encrypted;
	// it is gone from the live table, like the deleted one.
	key := retention.ArchiveKey(w.ws, w.bot, old.id, old.created)
	if !strings.HasPrefix(key, fmt.Sprintf("%s/%s/%04d/%02d/", w.ws, w.bot, old.created.Year(), old.created.Month())) {
		t.Fatalf("archive key %s", key)
	}
	lines, obj := archive(t, env, key)
	if obj.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("archive encryption %q, want AES256", obj.ServerSideEncryption)
	}
	if len(lines) != old.items || lines[0].Type != "conversation" || lines[0].Data["id"] != old.id ||
		lines[0].Data["tags"].(map[string]any)["topic"] != "billing" || lines[0].PolicyID != archivePol {
		t.Fatalf("archive: %+v", lines)
	}
	for i := 0; i < old.messages; i++ {
		l := lines[1+i]
		if l.Type != "message" || l.Data["payload"].(map[string]any)["text"] != fmt.Sprint("message ", i) || l.Data["tags"].(map[string]any)["n"] != fmt.Sprint(i) {
			t.Fatalf("archive line %d: %+v", 1+i, l)
		}
	}
	if lines[len(lines)-1].Type != "participant" {
		t.Fatalf("archive misses the participant: %+v", lines)
	}
	for _, gone := range []*conv{old, short} {
		if n := stored(t, env, w.bot, gone.id); n != 0 {
			t.Errorf("conversation %s kept %d items", gone.id, n)
		}
	}
	for _, kept := range []*conv{held, fresh, foreign} {
		if n := stored(t, env, kept.bot, kept.id); n != kept.items {
			t.Errorf("conversation %s has %d items, want its %d", kept.id, n, kept.items)
		}
	}
	if _, err := s3Head(env, retention.ArchiveKey(other.ws, other.bot, foreign.id, foreign.created)); err == nil {
		t.Error("another workspace's conversation was archived")
	}

	// Each run left an audit record.
	trail := env.Do(t, R{Method: "GET", Path: "/v1/admin/workspaces/" + w.ws + "/audit-records", Token: w.token})
	want(t, trail, 200, "")
	for _, s := range []string{"POLICY_RUN_COMPLETED " + `{\"action\":\"archive\"`, "POLICY_RUN_COMPLETED " + `{\"action\":\"delete\"`, "CREATE_POLICY"} {
		if !strings.Contains(string(trail.Raw), s) {
			t.Errorf("audit trail lacks %s: %s", s, trail.Raw)
		}
	}

	// A changed policy applies from the next evaluation; the finished run
	// keeps its snapshot. The same window again: no double action.
	want(t, w.call(t, "POST", "/"+archivePol+"/update", map[string]any{"config": map[string]any{"maxAge": "P1D"}}), 200, "")
	if err := env.Fire(ctx, "offpeak"); err != nil {
		t.Fatal(err)
	}
	aruns := w.awaitRuns(t, archivePol, 2)
	// The delete policy has nothing due any more: no run is recorded for it.
	druns := w.awaitRuns(t, deletePol, 1)
	if counts(aruns[1]) != counts(arun) || aruns[1]["config"].(map[string]any)["maxAge"] != "P30D" {
		t.Fatalf("first run changed: %v → %v", arun, aruns[1])
	}
	if aruns[0]["config"].(map[string]any)["maxAge"] != "P1D" {
		t.Fatalf("second run did not use the new config: %v", aruns[0])
	}
	// Now P1D governs the fresh one too (idle 2 days); held stays held.
	if got := counts(aruns[0]); got != "total=2 archived=1 deleted=0 skipped=1 failed=0 reasons=map[legalHold:1 notDue:0 notFound:0 policyDeleted:0]" {
		t.Fatalf("second archive run: %s", got)
	}
	if len(druns) != 1 || druns[0]["id"] != drun["id"] {
		t.Fatalf("a run was recorded for a policy with nothing due: %v", druns)
	}
	if again, _ := archive(t, env, key); len(again) != len(lines) {
		t.Fatal("the first archive was rewritten")
	}
	if stored(t, env, w.bot, held.id) != held.items || stored(t, env, other.bot, foreign.id) != foreign.items {
		t.Fatal("held or foreign data changed")
	}
}

func TestCostGrowsWithDueOnly(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	now := time.Now().UTC()
	for i := 0; i < 60; i++ {
		seed(t, env, &conv{bot: w.bot, created: now.Add(-time.Duration(i+1) * time.Hour)})
	}
	pol := w.create(t, "old", map[string]any{"maxAge": "P7D", "action": "delete"})
	read := func() float64 {
		res := w.call(t, "POST", "/"+pol+"/preview", nil)
		want(t, res, 200, "")
		return res.Body["candidatesRead"].(float64)
	}
	if n := read(); n != 0 {
		t.Fatalf("60 fresh conversations: %v index entries read, want 0", n)
	}
	for i := 0; i < 3; i++ {
		seed(t, env, &conv{bot: w.bot, created: now.AddDate(0, 0, -30-i)})
	}
	if n := read(); n != 3 {
		t.Fatalf("3 old among 63: %v index entries read, want 3", n)
	}
	// By creation too (the key range of time-ordered ids).
	want(t, w.call(t, "POST", "/"+pol+"/update", map[string]any{"config": map[string]any{"maxAge": "P7D", "basis": "createdAt"}}), 200, "")
	if n := read(); n != 3 {
		t.Fatalf("by creation: %v index entries read, want 3", n)
	}
}

// The same window delivered twice (EventBridge retries an invocation) and
// its chunks delivered twice: one run per policy, exact counts.
func TestSameWindowTwice(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	now := time.Now().UTC()
	var convs []*conv
	for i := 0; i < 30; i++ { // two chunks
		c := &conv{bot: w.bot, created: now.AddDate(0, 0, -20), messages: 2}
		seed(t, env, c)
		convs = append(convs, c)
	}
	pol := w.create(t, "dup", map[string]any{"maxAge": "P7D"})
	deps := env.Deps
	deps.Config.Settings, deps.Config.Env = topology.OffpeakSettings, env.Env
	offpeak, err := app.Scheduled(topology.OffpeakFunction, deps)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.EventBridgeEvent{Time: now.Add(time.Minute)}
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { done <- offpeak(context.Background(), ev) }()
	}
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := offpeak(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	runs := w.awaitRuns(t, pol, 1)
	if got := counts(runs[0]); got != "total=30 archived=30 deleted=0 skipped=0 failed=0 reasons=map[legalHold:0 notDue:0 notFound:0 policyDeleted:0]" {
		t.Fatalf("run: %s", got)
	}
	for _, c := range convs {
		if stored(t, env, w.bot, c.id) != 0 {
			t.Fatalf("conversation %s kept", c.id)
		}
		if lines, _ := archive(t, env, retention.ArchiveKey(w.ws, w.bot, c.id, c.created)); len(lines) != c.items {
			t.Fatalf("archive of %s has %d lines, want %d", c.id, len(lines), c.items)
		}
	}
}

func TestEventsArchive(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	now := time.Now().UTC()
	table := env.Env["TABLE_CHAT"]
	put := func(at time.Time) string {
		evt := id.NewAt(id.Event, at)
		item := ds.Item(map[string]any{"id": evt, "type": "custom", "payload": map[string]any{"n": evt}, "createdAt": iso(at)},
			map[string]string{ds.PK: "BOT#" + w.bot, ds.SK: "EVT#" + evt, "gsi2pk": "BOT#" + w.bot + "#EVTS", "gsi2sk": evt})
		if _, err := env.Deps.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			t.Fatal(err)
		}
		return evt
	}
	oldEvt, newEvt := put(now.AddDate(0, 0, -10)), put(now.Add(-time.Hour))
	pol := w.create(t, "events", map[string]any{"maxAge": "P7D", "resources": "events"})
	if err := env.Fire(context.Background(), "offpeak"); err != nil {
		t.Fatal(err)
	}
	run := w.awaitRuns(t, pol, 1)[0]
	if got := counts(run); got != "total=1 archived=1 deleted=0 skipped=0 failed=0 reasons=map[legalHold:0 notDue:0 notFound:0 policyDeleted:0]" {
		t.Fatalf("events run: %s", got)
	}
	get := func(evt string) bool {
		out, err := env.Deps.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: ds.Key("BOT#"+w.bot, "EVT#"+evt)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item != nil
	}
	if get(oldEvt) || !get(newEvt) {
		t.Fatal("the old event should be gone and the new one kept")
	}
	started, _ := time.Parse(time.RFC3339, run["startedAt"].(string))
	key := fmt.Sprintf("%s/%s/events/%04d/%02d/%s-00000.jsonl.gz", w.ws, w.bot, started.Year(), started.Month(), run["id"])
	lines, _ := archive(t, env, key)
	if len(lines) != 1 || lines[0].Data["id"] != oldEvt || lines[0].Data["payload"].(map[string]any)["n"] != oldEvt {
		t.Fatalf("events archive: %+v", lines)
	}
}

// Each chunk delivered twice at once (SQS at-least-once): one action, one count.
func TestDuplicateDelivery(t *testing.T) {
	env := testenv.Stack(t)
	ctx := context.Background()
	w := newWorld(t, env)
	now := time.Now().UTC()
	var convs []*conv
	for i := 0; i < 30; i++ {
		c := &conv{bot: w.bot, created: now.AddDate(0, 0, -20), messages: 3}
		seed(t, env, c)
		convs = append(convs, c)
	}
	pol := w.create(t, "dup", map[string]any{"maxAge": "P7D", "action": "delete"})

	// The window's work goes to a queue nobody polls, so this test delivers it.
	q := sqs.NewFromConfig(env.AWS)
	name := "held-" + strings.ToLower(id.New("q")[2:])
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		t.Fatal(err)
	}
	deps := env.Deps
	deps.Config.Settings, deps.Config.Env = topology.OffpeakSettings, env.Env
	pages := cursor.New([]byte("k"))
	adm := admindata.NewStore(deps.DB, env.Env["TABLE_ADMIN"], pages)
	policies := lifecycledata.NewPolicyStore(deps.DB, env.Env["TABLE_LIFECYCLE"], pages)
	kinds, err := lifecycle.NewCatalogue(chatdata.Kinds(deps.DB, env.Env["TABLE_CHAT"])...)
	if err != nil {
		t.Fatal(err)
	}
	receiptStore := lifecycledata.NewReceiptStore(deps.DB, env.Env["TABLE_LIFECYCLE"], pages)
	signer, err := receipt.NewSigner([]byte("a test receipt signing secret"))
	if err != nil {
		t.Fatal(err)
	}
	runs := retention.NewRuns(deps.DB, env.Env["TABLE_LIFECYCLE"], pages, adm, struct {
		*lifecycledata.ReceiptStore
		lifecycle.ReceiptIssuer
	}{receiptStore, lifecycle.ReceiptIssuer{Store: receiptStore, Signer: signer, Clock: deps.Clock}}, deps.Clock, deps.Log)
	sweep := retention.NewSweep(policies, retention.NewFinder(kinds, adm), runs, q, *created.QueueUrl, deps.Clock, time.Hour, deps.Log)
	if err := sweep.Open(ctx, now); err != nil {
		t.Fatal(err)
	}
	// The shared stack's other policies were evaluated too: deliver all.
	var msgs []sqstypes.Message
	for {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		msgs = append(msgs, out.Messages...)
	}
	mine := 0
	for _, m := range msgs {
		if strings.Contains(*m.Body, pol) {
			mine++
		}
	}
	if mine != 2 {
		t.Fatalf("%d chunks of the policy queued, want 2", mine)
	}
	worker, err := app.Worker(topology.LifecycleFunction, deps)
	if err != nil {
		t.Fatal(err)
	}
	var batch events.SQSEvent
	for i, m := range msgs {
		for copy := 0; copy < 2; copy++ {
			batch.Records = append(batch.Records, events.SQSMessage{MessageId: fmt.Sprint(i, "-", copy), Body: *m.Body, ReceiptHandle: *m.ReceiptHandle})
		}
	}
	done := make(chan events.SQSEventResponse, 2)
	for i := 0; i < 2; i++ {
		go func() { res, _ := worker(ctx, batch); done <- res }()
	}
	for i := 0; i < 2; i++ {
		if res := <-done; len(res.BatchItemFailures) > 0 {
			t.Fatalf("failures: %v", res.BatchItemFailures)
		}
	}
	run := w.awaitRuns(t, pol, 1)[0]
	total := 0
	for _, c := range convs {
		total += c.items
	}
	if got := counts(run); got != "total=30 archived=0 deleted=30 skipped=0 failed=0 reasons=map[legalHold:0 notDue:0 notFound:0 policyDeleted:0]" || run["erasedRecords"] != float64(total) {
		t.Fatalf("run: %s, erased %v (want %d)", got, run["erasedRecords"], total)
	}
	for _, c := range convs {
		if stored(t, env, w.bot, c.id) != 0 {
			t.Fatalf("conversation %s kept", c.id)
		}
	}
}
