package deletion

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// proofIndexKey holds finished jobs whose proof is not yet written, so a
// failed notification is retried by the next window.
const proofIndexKey = lifecycledata.ProofIndex

// Notifier leaves the proof of a finished job.
type Notifier interface {
	JobFinished(ctx context.Context, j Job) error
}

// Finisher ends jobs whose every conversation was processed.
type Finisher struct {
	store     *Store
	clock     clock.Clock
	notify    Notifier
	retention time.Duration
	log       *slog.Logger
}

// NewFinisher returns a finisher keeping finished jobs readable for retention.
func NewFinisher(store *Store, c clock.Clock, n Notifier, retention time.Duration, log *slog.Logger) *Finisher {
	return &Finisher{store: store, clock: c, notify: n, retention: retention, log: log}
}

// IfDone finishes the job when all its conversations are processed: the
// status moves once (a conditional update), then the proof is written.
func (f *Finisher) IfDone(ctx context.Context, bot, jobID string) error {
	j, err := f.store.Get(ctx, bot, jobID)
	if err != nil {
		return err
	}
	if j.Status != InProgress || j.Resolving || j.Result.ProcessedCount < j.Result.TotalConversations {
		return nil
	}
	status := Completed
	if j.Result.FailedCount > 0 {
		status = Failed
	}
	now := clock.Format(f.clock.Now())
	_, err = f.store.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &f.store.table, Key: jobKey(bot, jobID),
		UpdateExpression:          aws.String("SET #status = :s, completedAt = :now, gsi1pk = :proof, gsi1sk = :now"),
		ConditionExpression:       aws.String("#status = :inprog AND processedCount >= totalConversations AND attribute_not_exists(resolving)"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": ds.S(status), ":now": ds.S(now), ":proof": ds.S(proofIndexKey), ":inprog": ds.S(InProgress)},
	})
	if ds.IsConditionFailed(err) {
		return nil // another delivery finished it
	}
	if err != nil {
		return err
	}
	j.Status, j.CompletedAt = status, &now
	return f.prove(ctx, j)
}

// prove writes the proof, then takes the job off the proof index and sets
// the expiry of its record. A failure leaves it on the index for the next
// window to retry, so the proof is written at least once.
func (f *Finisher) prove(ctx context.Context, j Job) error {
	if j.Failures == nil && j.Result.FailedCount > 0 {
		j.Failures, _ = f.store.Failures(ctx, j.JobID)
	}
	if err := f.notify.JobFinished(ctx, j); err != nil {
		f.log.WarnContext(ctx, "deletion job proof failed; the next window retries it", "job", j.JobID, "error", err)
		return nil
	}
	expires := f.clock.Now().Add(f.retention).Unix()
	_, err := f.store.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &f.store.table, Key: jobKey(j.BotID, j.JobID),
		UpdateExpression:          aws.String("REMOVE gsi1pk, gsi1sk SET expiresAt = :exp"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":exp": &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)}},
	})
	return err
}

// RetryProofs writes the proof of jobs that finished without it.
func (f *Finisher) RetryProofs(ctx context.Context) error {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value(proofIndexKey))).Build()
	pages := dynamodb.NewQueryPaginator(f.store.db, &dynamodb.QueryInput{
		TableName: &f.store.table, IndexName: aws.String(ds.GSI1),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range out.Items {
			j, err := readJob(it)
			if err != nil {
				return err
			}
			if err := f.prove(ctx, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// Issuer signs a finished job's receipt over its pages.
type Issuer interface {
	Issue(ctx context.Context, receiptID, workspaceID, typ string, fields map[string]any) error
}

// Owners finds who is told of a finished job.
type Owners interface {
	OwnerEmail(ctx context.Context, workspaceID string) (string, error)
}

// Proof is the Notifier of a deployment: an audit record in the bot's
// workspace, a DeletionJobCompleted event on the event bus and, when a
// sender is configured, an email to the workspace owner.
type Proof struct {
	Audit    audit.Trail
	Owners   Owners
	Receipts Issuer
	Events   *eventbridge.Client
	Bus      string
	Mail     *sesv2.Client
	Sender   string
}

// JobFinished implements Notifier. Each part is idempotent or harmless to
// repeat: the audit record's id derives from the job.
func (p *Proof) JobFinished(ctx context.Context, j Job) error {
	finished, _ := clock.Parse(*j.CompletedAt)
	counts, _ := json.Marshal(j.Result)
	if err := p.Receipts.Issue(ctx, j.JobID, j.WorkspaceID, "deletionJob", map[string]any{
		"botId": j.BotID, "status": j.Status, "requestType": j.RequestType, "submittedAt": j.SubmittedAt, "completedAt": *j.CompletedAt,
		"totalConversations": j.Result.TotalConversations, "deletedCount": j.Result.DeletedCount, "skippedCount": j.Result.SkippedCount,
		"failedCount": j.Result.FailedCount, "deletedRecords": j.Result.DeletedRecords, "skippedReasons": j.SkippedReasons,
	}); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	rec := audit.New(j.WorkspaceID, j.SubmittedBy, audit.DeletionJob(j.Status), j.JobID, "conversation deletion job", finished)
	rec.ID = audit.IDFor(finished, j.JobID)
	rec.Value = string(counts)
	if err := p.Audit.Put(ctx, rec); err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	detail, _ := json.Marshal(map[string]any{
		"jobId": j.JobID, "botId": j.BotID, "workspaceId": j.WorkspaceID, "status": j.Status,
		"requestType": j.RequestType, "completedAt": j.CompletedAt, "result": j.Result, "failures": j.Failures,
	})
	out, err := p.Events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(p.Bus), Source: aws.String("parley.deletion"), DetailType: aws.String("DeletionJobCompleted"),
		Detail: aws.String(string(detail)), Resources: []string{j.JobID},
	}}})
	if err != nil {
		return fmt.Errorf("completion event: %w", err)
	}
	if out.FailedEntryCount > 0 {
		return fmt.Errorf("completion event refused: %s", aws.ToString(out.Entries[0].ErrorMessage))
	}
	if p.Sender == "" || p.Mail == nil {
		return nil
	}
	owner, err := p.Owners.OwnerEmail(ctx, j.WorkspaceID)
	if err != nil || owner == "" {
		return err
	}
	body := fmt.Sprintf("Deletion job %s for bot %s is %s.\n\nConversations: %d in total, %d deleted, %d skipped, %d failed (%d records erased).\n",
		j.JobID, j.BotID, j.Status, j.Result.TotalConversations, j.Result.DeletedCount, j.Result.SkippedCount, j.Result.FailedCount, j.Result.DeletedRecords)
	_, err = p.Mail.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(p.Sender), Destination: &sestypes.Destination{ToAddresses: []string{owner}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Parley deletion job " + j.JobID + ": " + j.Status)},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(body)}},
		}},
	})
	if err != nil {
		return fmt.Errorf("owner email: %w", err)
	}
	return nil
}
