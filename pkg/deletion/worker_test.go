package deletion_test

import (
	"context"
	"errors"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/deletion"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/testenv"
)

// faulty is a DynamoDB client that fails chosen calls, standing in for a
// worker crash or an emulator outage at the worst moments.
type faulty struct {
	ds.Client
	mu sync.Mutex
	// failBatchAt fails the n-th BatchWriteItem (1-based; 0: never).
	failBatchAt, batches int
	// failTransacts fails that many TransactWriteItems.
	failTransacts int
	// beforeTransact runs before each TransactWriteItems reaches DynamoDB.
	beforeTransact func()
}

var errInjected = errors.New("injected failure: connection reset")

func (f *faulty) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	f.batches++
	fail := f.batches == f.failBatchAt
	f.mu.Unlock()
	if fail {
		return nil, errInjected
	}
	return f.Client.BatchWriteItem(ctx, in, opts...)
}

func (f *faulty) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	fail := f.failTransacts > 0
	if fail {
		f.failTransacts--
	}
	before := f.beforeTransact
	f.mu.Unlock()
	if fail {
		return nil, errInjected
	}
	if before != nil {
		before()
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

// rig runs a window and a worker of its own, on a queue of its own, with a
// faulty client and a clock set inside the window.
type rig struct {
	env      *testenv.Env
	db       *faulty
	clock    *clock.Fixed
	queueURL string
	dlqURL   string
	window   *deletion.Window
	worker   *lifecycle.Worker
	jobs     *deletion.Worker
	sqs      *sqs.Client
}

func newRig(t *testing.T, env *testenv.Env, at time.Time) *rig {
	ctx := context.Background()
	q := sqs.NewFromConfig(env.AWS)
	name := "rig-" + id.New("q")[2:]
	made, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{env: env, db: &faulty{Client: env.Deps.DB}, clock: &clock.Fixed{T: at}, queueURL: *made.QueueUrl, dlqURL: *dlq.QueueUrl, sqs: q}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	store := deletion.NewStore(r.db, env.Env["TABLE_LIFECYCLE"])
	fin := deletion.NewFinisher(store, r.clock, noProof{}, time.Hour, log)
	convs := chatdata.NewConversationKind(r.db, env.Env["TABLE_CHAT"])
	receipts := lifecycledata.NewReceiptStore(r.db, env.Env["TABLE_LIFECYCLE"], cursor.New([]byte("k")))
	r.window = deletion.NewWindow(store, convs, receipts, q, r.queueURL, *dlq.QueueUrl, r.clock, 4*time.Hour, fin, log)
	w := deletion.NewWorker(store, convs, lifecycledata.NewHoldStore(r.db, env.Env["TABLE_LIFECYCLE"]), receipts, r.clock, fin, log)
	r.jobs = w
	r.worker = lifecycle.NewWorker(map[string]lifecycle.Handler{deletion.WorkKind: w.Handle}, q, r.queueURL, log)
	return r
}

type noProof struct{}

func (noProof) JobFinished(context.Context, deletion.Job) error { return nil }

// receive takes every message now visible on the rig's queue.
func (r *rig) receive(t *testing.T) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for {
		out, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &r.queueURL, MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return ev
		}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: *m.MessageId, ReceiptHandle: *m.ReceiptHandle, Body: *m.Body, Attributes: m.Attributes})
		}
	}
}

// open opens the rig's window and returns the work items it queued for
// job (other tests' jobs may be due too).
func (r *rig) open(t *testing.T, job string) events.SQSEvent {
	t.Helper()
	if err := r.window.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mine events.SQSEvent
	for _, m := range r.receive(t).Records {
		if contains(m.Body, job) {
			mine.Records = append(mine.Records, m)
		}
	}
	if len(mine.Records) == 0 {
		t.Fatalf("the window queued nothing for %s", job)
	}
	return mine
}

func (r *rig) handle(t *testing.T, ev events.SQSEvent) int {
	t.Helper()
	res, err := r.worker.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return len(res.BatchItemFailures)
}

func scheduled(t *testing.T, w world, job string) time.Time {
	at, err := clock.Parse(w.status(t, job).Body["scheduledAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// A worker that dies half way through deleting, and then a transaction
// that fails, still end with every conversation gone and exact counts; a
// late duplicate of the work item changes nothing.
func TestDeletionSurvivesFailures(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	var ids []string
	total := 0
	for i := 0; i < 3; i++ {
		c, n := seed(t, env, w.bot, "user_f", time.Now().Add(-time.Hour), 30, nil)
		ids, total = append(ids, c), total+n
	}
	job := w.submit(t, map[string]any{"conversationIds": ids}).Body["jobId"].(string)
	r := newRig(t, env, scheduled(t, w, job).Add(time.Minute))
	mine := r.open(t, job)

	r.db.failBatchAt = r.db.batches + 2 // dies after the first batch of deletes
	if r.handle(t, mine) != 1 {
		t.Fatal("the failed item was not reported")
	}
	if n := stored(t, env, w.bot, ids[0]); n == 0 || n == total/3 {
		t.Fatalf("the crash should leave a conversation half deleted, it has %d of %d items", n, total/3)
	}
	r.db.failTransacts = 1 // the retry's final transaction fails too
	if r.handle(t, mine) != 1 {
		t.Fatal("the failed transaction was not reported")
	}
	if r.handle(t, mine) != 0 {
		t.Fatal("the third attempt failed")
	}
	res := result(w.status(t, job).Body)
	if w.status(t, job).Body["status"] != "completed" || res["deletedCount"] != 3 || res["processedCount"] != 3 ||
		res["deletedRecords"] != total || res["failedCount"] != 0 || res["retriesRemaining"] != 1 {
		t.Fatalf("after failures: %v (want 3 deleted, %d records, 1 retry left)", w.status(t, job).Body, total)
	}
	for _, c := range ids {
		if stored(t, env, w.bot, c) != 0 {
			t.Fatalf("conversation %s survived", c)
		}
	}
	r.handle(t, mine) // a late duplicate delivery
	if again := result(w.status(t, job).Body); again["deletedRecords"] != total || again["processedCount"] != 3 {
		t.Fatalf("a duplicate delivery moved the counts: %v", again)
	}
}

// A chunk that keeps failing is retried three times, then the job ends
// failed with the conversations listed.
func TestDeletionGivesUpAfterRetries(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	c, _ := seed(t, env, w.bot, "user_g", time.Now().Add(-time.Hour), 2, nil)
	job := w.submit(t, map[string]any{"conversationIds": []string{c}}).Body["jobId"].(string)
	r := newRig(t, env, scheduled(t, w, job).Add(time.Minute))
	mine := r.open(t, job)
	r.db.failTransacts = 4 // the first attempt and its three retries
	for i := 0; i < 4; i++ {
		if r.handle(t, mine) != 1 {
			t.Fatalf("attempt %d did not fail", i+1)
		}
	}
	if r.handle(t, mine) != 0 {
		t.Fatal("the exhausted chunk is still retried")
	}
	body := w.status(t, job).Body
	res := result(body)
	failures := body["failures"].([]any)
	if body["status"] != "failed" || res["failedCount"] != 1 || res["processedCount"] != 1 || res["retriesRemaining"] != 0 || len(failures) != 1 ||
		failures[0].(map[string]any)["conversationId"] != c || !contains(failures[0].(map[string]any)["reason"].(string), "injected") {
		t.Fatalf("exhausted job: %v", body)
	}
}

// Work seen after its window closed waits, and the next window resumes it.
func TestDeletionWaitsForTheNextWindow(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	c, _ := seed(t, env, w.bot, "user_h", time.Now().Add(-time.Hour), 2, nil)
	job := w.submit(t, map[string]any{"conversationIds": []string{c}}).Body["jobId"].(string)
	opens := scheduled(t, w, job).Add(time.Minute)
	r := newRig(t, env, opens)
	if err := r.window.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := r.receive(t)
	r.clock.T = opens.Add(5 * time.Hour) // past the 4 h window
	if r.handle(t, first) != 0 {
		t.Fatal("late work was reported as failed")
	}
	if body := w.status(t, job).Body; body["status"] != "in_progress" || stored(t, env, w.bot, c) == 0 {
		t.Fatalf("late work ran: %v", body)
	}
	r.clock.T = opens.Add(24 * time.Hour) // the next window
	if err := r.window.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.handle(t, r.receive(t))
	if body := w.status(t, job).Body; body["status"] != "completed" || stored(t, env, w.bot, c) != 0 {
		t.Fatalf("the next window did not resume the job: %v", body)
	}
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }

// A work item that crashed the worker until SQS moved it to the DLQ ends its
// chunk as failed at the next window, and the job says so.
func TestDeletionSettlesDeadLetters(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	c, _ := seed(t, env, w.bot, "user_d", time.Now().Add(-time.Hour), 2, nil)
	job := w.submit(t, map[string]any{"conversationIds": []string{c}}).Body["jobId"].(string)
	r := newRig(t, env, scheduled(t, w, job).Add(time.Minute))
	// Redrive by hand: the job's work item goes to the DLQ unprocessed.
	for _, m := range r.open(t, job).Records {
		if _, err := r.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &r.dlqURL, MessageBody: aws.String(m.Body)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.window.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := w.status(t, job).Body
	failures, _ := body["failures"].([]any)
	if body["status"] != "failed" || result(body)["failedCount"] != 1 || len(failures) != 1 ||
		!contains(failures[0].(map[string]any)["reason"].(string), "dead-lettered") {
		t.Fatalf("after the dead letter: %v", body)
	}
	if stored(t, env, w.bot, c) == 0 {
		t.Fatal("a dead-lettered conversation was deleted")
	}
}

// A message written while the worker erases its conversation (after the
// partition was listed, before the conversation item goes) is swept too.
func TestDeletionSweepsLateWrites(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	c, _ := seed(t, env, w.bot, "user_l", time.Now().Add(-time.Hour), 3, nil)
	job := w.submit(t, map[string]any{"conversationIds": []string{c}}).Body["jobId"].(string)
	r := newRig(t, env, scheduled(t, w, job).Add(time.Minute))
	mine := r.open(t, job)
	r.db.beforeTransact = func() {
		late := ds.Item(map[string]any{"type": "text"}, map[string]string{ds.PK: "BOT#" + w.bot + "#CONV#" + c, ds.SK: "MSG#" + id.New(id.Message)})
		write(t, env, []map[string]types.AttributeValue{late})
		r.db.beforeTransact = nil
	}
	if r.handle(t, mine) != 0 {
		t.Fatal("the chunk failed")
	}
	if n := stored(t, env, w.bot, c); n != 0 {
		t.Fatalf("%d items of the deleted conversation remain", n)
	}
}
