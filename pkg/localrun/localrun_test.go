package localrun

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/emulator"
	"github.com/parley-dev/parley/pkg/topology"
)

// testTopology adds a worker queue with a DLQ and a fast schedule to the
// real topology, to exercise the runner's AWS stand-ins.
func testTopology() *topology.Topology {
	t := topology.Default()
	t.Functions = append(t.Functions,
		topology.Function{Name: "worker", Kind: topology.Worker},
		topology.Function{Name: "ticker", Kind: topology.Scheduled},
	)
	t.Queues = append(t.Queues,
		topology.Queue{Name: "work-dlq"},
		topology.Queue{Name: "work", DeadLetterQueue: "work-dlq", MaxReceiveCount: 2, VisibilityTimeout: time.Second, Consumer: "worker", BatchSize: 10},
	)
	t.Schedules = append(t.Schedules, topology.Schedule{Name: "tick", Expression: "cron(0 2 * * ? *)", EnvOverride: "TICK_SCHEDULE", Target: "ticker"})
	return &t
}

func TestLocalStack(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	handled := map[string]int{}
	var ticks atomic.Int32
	env := map[string]string{"TICK_SCHEDULE": "rate(1 second)", "DEV_UNUSED": "x"}
	stack, err := Start(ctx, Options{
		Addr: "127.0.0.1:0", Stage: "runner", DevPAT: "fixed-dev-token", Topology: testTopology(),
		Getenv: func(k string) string { return env[k] },
		Workers: map[string]app.WorkerFunc{"worker": func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			var res events.SQSEventResponse
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ev.Records {
				handled[r.Body]++
				if strings.HasPrefix(r.Body, "fail") {
					res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return res, nil
		}},
		Scheduled: map[string]app.ScheduledFunc{"ticker": func(_ context.Context, ev events.EventBridgeEvent) error {
			if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
				return errors.New("not a scheduled event")
			}
			ticks.Add(1)
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()

	// Routes answer through the local API Gateway with the bootstrapped token.
	req, _ := http.NewRequest("GET", stack.URL+"/v1/admin/account/me", nil)
	req.Header.Set("Authorization", "Bearer fixed-dev-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("account/me: %v %v", res, err)
	}
	res, _ = http.Get(stack.URL + "/v1/nowhere")
	if res.StatusCode != 404 {
		t.Fatalf("undeclared route: %d", res.StatusCode)
	}

	// Queue: successes are deleted after one delivery, a failure is
	// redelivered until the redrive moves it to the DLQ.
	q := sqs.NewFromConfig(stack.AWS)
	url := stack.Env["QUEUE_WORK"]
	for _, body := range []string{"ok-1", "ok-2", "fail-1"} {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	dlq := stack.Env["QUEUE_WORK_DLQ"]
	deadline := time.Now().Add(20 * time.Second)
	var inDLQ []string
	for time.Now().Before(deadline) && len(inDLQ) == 0 {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlq, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			inDLQ = append(inDLQ, *m.Body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(inDLQ) != 1 || inDLQ[0] != "fail-1" {
		t.Fatalf("DLQ holds %v, want [fail-1]", inDLQ)
	}
	if handled["ok-1"] != 1 || handled["ok-2"] != 1 || handled["fail-1"] != 2 {
		t.Fatalf("deliveries %v: want each success once and the failure maxReceiveCount (2) times", handled)
	}

	// Schedules: the override fires every second, and Fire runs one now.
	if ticks.Load() == 0 {
		t.Fatal("the rate(1 second) schedule never fired")
	}
	before := ticks.Load()
	fire, _ := http.Post(stack.URL+"/_local/schedules/tick", "application/json", nil)
	if fire.StatusCode != 204 || ticks.Load() <= before {
		t.Fatalf("fire now: %d", fire.StatusCode)
	}
	if res, _ := http.Post(stack.URL+"/_local/schedules/none", "application/json", nil); res.StatusCode != 404 {
		t.Fatalf("unknown schedule: %d", res.StatusCode)
	}

	// Provisioning again reuses what exists, and bootstrapping again keeps
	// the same account and token.
	if _, err := Provision(ctx, stack.AWS, *testTopology(), "runner"); err != nil {
		t.Fatalf("second provisioning: %v", err)
	}
	acc, pat, err := Bootstrap(ctx, stack.Deps, "admin@localhost", "fixed-dev-token")
	if err != nil || acc != stack.AccountID || pat != "fixed-dev-token" {
		t.Fatalf("second bootstrap: %s %s %v", acc, pat, err)
	}
	tables, _ := dynamodb.NewFromConfig(stack.AWS).ListTables(ctx, &dynamodb.ListTablesInput{})
	found := 0
	for _, n := range tables.TableNames {
		if strings.HasPrefix(n, "parley-runner-") {
			found++
		}
	}
	if found != len(testTopology().Tables) {
		t.Fatalf("%d tables, want %d", found, len(testTopology().Tables))
	}
}

func TestNoEmulator(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Getenv: func(string) string { return "" }})
	if !errors.Is(err, emulator.ErrNotInstalled) || !strings.Contains(err.Error(), "pip install 'moto[server]'") {
		t.Fatalf("%v", err)
	}
	// A configured endpoint that doesn't answer says so, with the same advice.
	_, err = Start(context.Background(), Options{Addr: "127.0.0.1:0", Endpoint: "http://127.0.0.1:1", Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "LocalStack") {
		t.Fatalf("%v", err)
	}
}
