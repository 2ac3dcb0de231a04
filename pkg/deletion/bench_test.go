package deletion_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/testenv"
)

// BenchmarkDeletionJob runs one cId job over PARLEY_BENCH_CONVERSATIONS
// conversations of 20 messages each through the real
// window, queue and worker, and reports deleted items per second and
// DynamoDB write calls per deleted item (`make bench-deletion`).
func BenchmarkDeletionJob(b *testing.B) {
	n, err := strconv.Atoi(os.Getenv("PARLEY_BENCH_CONVERSATIONS"))
	if err != nil || n <= 0 {
		b.Skip("set PARLEY_BENCH_CONVERSATIONS, or run make bench-deletion")
	}
	env := testenv.Stack(b)
	for i := 0; i < b.N; i++ {
		w := newWorld(b, env)
		user := id.New(id.User)
		start := time.Now().UTC().AddDate(0, 0, -2)
		var items []map[string]types.AttributeValue
		for c := 0; c < n; c++ {
			created := start.Add(time.Duration(c) * time.Second)
			conv := id.NewAt(id.Conversation, created)
			at := created.Format("2006-01-02T15:04:05.000Z")
			part := "BOT#" + w.bot + "#CONV#" + conv
			items = append(items,
				ds.Item(map[string]any{"id": conv, "createdAt": at, "updatedAt": at, "tags": map[string]string{}}, map[string]string{ds.PK: "BOT#" + w.bot, ds.SK: "CONV#" + conv}),
				ds.Item(map[string]any{"userId": user}, map[string]string{ds.PK: part, ds.SK: "PART#" + user, ds.GSI1PK: "BOT#" + w.bot + "#USER#" + user + "#CONVS", ds.GSI1SK: at + "#" + conv}))
			for m := 0; m < 20; m++ {
				items = append(items, ds.Item(map[string]any{"type": "text", "payload": map[string]any{"text": "hello"}}, map[string]string{ds.PK: part, ds.SK: "MSG#" + id.New(id.Message)}))
			}
		}
		seeded := time.Now()
		write(b, env, items)
		b.Logf("seeded %d items in %s", len(items), time.Since(seeded).Round(time.Millisecond))
		job := w.submit(b, map[string]any{"cId": user, "startDate": start.Format("2006-01-02")}).Body["jobId"].(string)
		env.WorkerOps() // reset the tally

		b.ResetTimer()
		began := time.Now()
		if err := env.Fire(context.Background(), "offpeak"); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Minute)
		var res map[string]int
		last := ""
		for time.Now().Before(deadline) {
			body := w.status(b, job).Body
			if fmt := fmtStatus(body); fmt != last {
				b.Logf("%6.1fs %s", time.Since(began).Seconds(), fmt)
				last = fmt
			}
			if body["status"] == "completed" || body["status"] == "failed" {
				res = result(body)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		elapsed := time.Since(began)
		b.StopTimer()
		if res == nil || res["deletedCount"] != n || res["deletedRecords"] != len(items) {
			b.Fatalf("job ended with %v, want %d conversations and %d records deleted", res, n, len(items))
		}
		// The worker logs a batch's calls when the batch ends, just after
		// the job it completes reads as completed.
		time.Sleep(2 * time.Second)
		ops := env.WorkerOps()
		writes := ops["DynamoDB.BatchWriteItem"] + ops["DynamoDB.TransactWriteItems"] + ops["DynamoDB.UpdateItem"] + ops["DynamoDB.PutItem"] + ops["DynamoDB.DeleteItem"]
		calls := 0
		for _, v := range ops {
			calls += v
		}
		b.ReportMetric(float64(len(items))/elapsed.Seconds(), "items/s")
		b.ReportMetric(float64(len(items))/float64(writes), "items/write-call")
		b.ReportMetric(float64(calls)/float64(len(items)), "calls/item")
		b.Logf("%d conversations, %d items in %s; worker calls %v", n, len(items), elapsed.Round(time.Millisecond), ops)
	}
}

func fmtStatus(body map[string]any) string {
	r, _ := body["result"].(map[string]any)
	return strconv.Quote(body["status"].(string)) + " processed " + strconv.Itoa(int(r["processedCount"].(float64)))
}
