package localrun

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/schedule"
)

// poll plays Lambda's SQS event source mapping for one queue: it receives
// batches, hands them to the worker and deletes what the worker did not
// report as failed. Failed messages stay, reappear after the visibility
// timeout and, past maxReceiveCount, the queue's redrive moves them to the
// DLQ, as in AWS. A handler error fails the whole batch.
func poll(ctx context.Context, client *sqs.Client, queueURL, queueARN string, batch int, fn app.WorkerFunc, log *slog.Logger) {
	if batch <= 0 || batch > 10 {
		batch = 10
	}
	for ctx.Err() == nil {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: int32(batch), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("receive failed", "queue", queueURL, "error", err)
				time.Sleep(time.Second)
			}
			continue
		}
		if len(out.Messages) == 0 {
			continue
		}
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes,
				EventSource: "aws:sqs", EventSourceARN: queueARN, AWSRegion: "us-east-1",
			})
		}
		res, err := fn(ctx, ev)
		if err != nil {
			log.Warn("worker failed the batch", "queue", queueURL, "messages", len(ev.Records), "error", err)
			continue
		}
		failed := map[string]bool{}
		for _, f := range res.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		var done []sqstypes.DeleteMessageBatchRequestEntry
		for i, r := range ev.Records {
			if !failed[r.MessageId] {
				done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r.ReceiptHandle)})
			}
		}
		if len(done) > 0 {
			if _, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: done}); err != nil && ctx.Err() == nil {
				log.Warn("delete batch failed", "queue", queueURL, "error", err)
			}
		}
	}
}

// ScheduledEvent is the event EventBridge sends a scheduled rule's target.
func ScheduledEvent(rule string, at time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version: "0", ID: strconv.FormatInt(at.UnixNano(), 36), DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: "000000000000", Time: at.UTC(), Region: "us-east-1",
		Resources: []string{"arn:aws:events:us-east-1:000000000000:rule/" + rule}, Detail: []byte("{}"),
	}
}

// tick fires fn on every firing of expr until ctx ends.
func tick(ctx context.Context, name string, expr schedule.Expression, fire func(context.Context, string) error, log *slog.Logger) {
	last := time.Now()
	for {
		next := expr.Next(last)
		if next.IsZero() {
			log.Error("schedule never fires", "schedule", name, "expression", expr.String())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		last = next
		if err := fire(ctx, name); err != nil {
			log.Warn("scheduled run failed", "schedule", name, "error", err)
		}
	}
}
