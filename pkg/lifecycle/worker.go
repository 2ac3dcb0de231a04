package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/parley-dev/parley/pkg/awscalls"
)

// Item is a work item: its kind says which handler runs it.
type Item struct {
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// Handler runs one work item. It must be idempotent: SQS delivers at least
// once. An error asks for the item again later.
type Handler func(ctx context.Context, body json.RawMessage, receiveCount int) error

// Queue is the part of SQS the worker and the producers use.
type Queue interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

var _ Queue = (*sqs.Client)(nil)

// Worker is the lifecycle queue's consumer.
type Worker struct {
	handlers map[string]Handler
	queue    Queue
	queueURL string
	log      *slog.Logger
}

// NewWorker returns a worker running handlers by kind.
func NewWorker(handlers map[string]Handler, queue Queue, queueURL string, log *slog.Logger) *Worker {
	return &Worker{handlers: handlers, queue: queue, queueURL: queueURL, log: log}
}

// Backoff is how long a failed item waits before it is seen again: it grows
// with the number of receives (1, 2, 4 … seconds, capped at 5 minutes).
func Backoff(receiveCount int) time.Duration {
	d := time.Second << min(max(receiveCount-1, 0), 9)
	return min(d, 5*time.Minute)
}

// Handle runs a batch and reports each failed message by id, so SQS
// redelivers only those (partial batch response). A failed message's
// visibility is shortened to its backoff, so retries come sooner than the
// queue's visibility timeout but not at once.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	start := time.Now()
	ctx, calls := awscalls.WithCounter(ctx)
	var res events.SQSEventResponse
	defer func() {
		w.log.InfoContext(ctx, "batch", "messages", len(ev.Records), "failed", len(res.BatchItemFailures),
			"latency_ms", time.Since(start).Milliseconds(), "aws_calls", calls.Total(), "aws_retries", calls.Retries(), "ops", calls.Summary())
	}()
	for _, m := range ev.Records {
		receives := 1
		fmt.Sscan(m.Attributes["ApproximateReceiveCount"], &receives)
		err := w.run(ctx, m.Body, receives)
		if wait, deferred := IsDeferred(err); deferred {
			// The budget has no room now: the same item comes back after
			// the wait, as a new message (no receive counted against it).
			if err = w.requeue(ctx, m.Body, wait); err == nil {
				continue
			}
		}
		if err != nil {
			w.log.WarnContext(ctx, "work item failed", "message_id", m.MessageId, "receives", receives, "error", err)
			res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			// Without the shorter visibility the item still comes back, after
			// the queue's full visibility timeout.
			if _, err := w.queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(w.queueURL), ReceiptHandle: aws.String(m.ReceiptHandle),
				VisibilityTimeout: int32(Backoff(receives).Seconds()),
			}); err != nil {
				w.log.WarnContext(ctx, "backoff not set", "message_id", m.MessageId, "error", err)
			}
		}
	}
	return res, nil
}

func (w *Worker) run(ctx context.Context, body string, receives int) error {
	var it Item
	if err := json.Unmarshal([]byte(body), &it); err != nil {
		return fmt.Errorf("unreadable work item: %w", err)
	}
	h, ok := w.handlers[it.Kind]
	if !ok {
		return fmt.Errorf("no handler for work items of kind %q", it.Kind)
	}
	return h(ctx, it.Body, receives)
}

// requeue sends body again with a delay (SQS allows at most 15 minutes).
func (w *Worker) requeue(ctx context.Context, body string, wait time.Duration) error {
	delay := int32(min(max(wait, time.Second), 15*time.Minute) / time.Second)
	out, err := w.queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(w.queueURL), Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("0"), MessageBody: aws.String(body), DelaySeconds: delay},
	}})
	if err == nil && len(out.Failed) > 0 {
		err = fmt.Errorf("deferred work item not queued: %s", aws.ToString(out.Failed[0].Message))
	}
	return err
}

// Enqueue sends work items, ten per SendMessageBatch, and fails if any was
// not accepted.
func Enqueue(ctx context.Context, q Queue, queueURL, kind string, bodies []any) error {
	for start := 0; start < len(bodies); start += 10 {
		end := min(start+10, len(bodies))
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i, b := range bodies[start:end] {
			raw, err := json.Marshal(b)
			if err != nil {
				return err
			}
			msg, _ := json.Marshal(Item{Kind: kind, Body: raw})
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(string(msg))})
		}
		out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("%d work items were not queued: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

// DeadLetters hands every message waiting in the dead-letter queue to
// settle, and deletes those it settled. It reads until the queue is empty
// or max messages were seen.
func DeadLetters(ctx context.Context, q Queue, dlqURL string, max int, settle func(ctx context.Context, it Item) error) (int, error) {
	seen := 0
	for seen < max {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
		if err != nil {
			return seen, err
		}
		if len(out.Messages) == 0 {
			return seen, nil
		}
		for _, m := range out.Messages {
			seen++
			var it Item
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &it); err == nil {
				if err := settle(ctx, it); err != nil {
					continue // stays in the DLQ for the next window
				}
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlqURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return seen, err
			}
		}
	}
	return seen, nil
}
