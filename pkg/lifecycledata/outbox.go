// Package lifecycledata owns the lifecycle table's layout: deletion jobs and
// their chunks, retention policies, runs and their chunks, and the outbox of
// erasures and bot purges. It is the only package that builds or parses the
// lifecycle table's keys; the feature packages reach it through interfaces
// they declare, wired in pkg/app.
//
//	deletion job     BOT#<bot>     JOB#<job>        gsi1: DUE / <scheduledAt>#<job> (until finished), PROOF / <at> (proof pending)
//	job chunk        JOB#<job>     CHUNK#<nnnnn>
//	policy           WS#<ws>       POLICY#<id>      gsi1: POLICIES / <id>
//	policy run       WS#<ws>#POLICY#<id>  RUN#<run>  gsi1: RUNS / <startedAt>#<run> (while open), RUNPROOF / <at>#<run> (audit pending)
//	run chunk        RUN#<run>     CHUNK#<nnnnn>
//	erase intent     BOT#<bot>     ERASE#<kind>#<id>  gsi1: OUTBOX / <at>#<bot>#<kind>#<id>
//	purge intent     BOT#<bot>     PURGE            gsi1: OUTBOX / <at>#<bot>#purge
package lifecycledata

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

const outboxIndexKey = "OUTBOX"

// Intent is durable lifecycle work recorded in the transaction of the
// change that needs it (the transactional outbox): the change and its
// intent commit together or not at all, and the intent stays until the
// work is done, however often the steps after the commit fail.
type Intent struct {
	// Kind is the catalogue kind to erase, or "" for a whole bot's purge.
	Kind        string `json:"kind,omitempty"`
	BotID       string `json:"botId"`
	ID          string `json:"id,omitempty"`
	WorkspaceID string `json:"workspaceId,omitempty"`
	At          string `json:"at"`
}

// Outbox records and drains intents.
type Outbox struct {
	db    ds.Client
	table string
}

// NewOutbox returns the outbox in the lifecycle table.
func NewOutbox(db ds.Client, table string) *Outbox { return &Outbox{db: db, table: table} }

func intentSK(kind, id string) string {
	if kind == "" {
		return "PURGE"
	}
	return "ERASE#" + kind + "#" + id
}

func (o *Outbox) put(in Intent) types.TransactWriteItem {
	name := in.Kind
	if name == "" {
		name = "purge"
	}
	item := ds.Item(in, map[string]string{
		ds.PK: "BOT#" + in.BotID, ds.SK: intentSK(in.Kind, in.ID),
		ds.GSI1PK: outboxIndexKey, ds.GSI1SK: in.At + "#" + in.BotID + "#" + name + "#" + in.ID,
	})
	return types.TransactWriteItem{Put: &types.Put{TableName: &o.table, Item: item}}
}

// EraseIntent is the transaction item recording that item id of a kind,
// already gone from every read, must have its contents erased.
func (o *Outbox) EraseIntent(bot, kind, id string, at time.Time) types.TransactWriteItem {
	return o.put(Intent{Kind: kind, BotID: bot, ID: id, At: clock.Format(at)})
}

// PurgeIntent is the transaction item recording that a deleted bot's data
// must be purged.
func (o *Outbox) PurgeIntent(workspaceID, bot string, at time.Time) types.TransactWriteItem {
	return o.put(Intent{BotID: bot, WorkspaceID: workspaceID, At: clock.Format(at)})
}

// Pending lists intents recorded at or before until, oldest first, up to
// limit: one Query of the outbox index per page.
func (o *Outbox) Pending(ctx context.Context, until time.Time, limit int) ([]Intent, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value(outboxIndexKey)).
		And(expression.Key(ds.GSI1SK).LessThanEqual(expression.Value(clock.Format(until) + "#\uffff")))).Build()
	in := &dynamodb.QueryInput{
		TableName: &o.table, IndexName: aws.String(ds.GSI1), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), Limit: aws.Int32(int32(min(limit, 1000))),
	}
	var out []Intent
	pages := dynamodb.NewQueryPaginator(o.db, in)
	for pages.HasMorePages() && len(out) < limit {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var in Intent
			if err := ds.Unmarshal(it, &in); err != nil {
				return nil, err
			}
			out = append(out, in)
		}
	}
	return out[:min(len(out), limit)], nil
}

// Done removes an intent whose work is complete. Removing a missing one is
// a no-op, so a redelivered work item is harmless.
func (o *Outbox) Done(ctx context.Context, in Intent) error {
	_, err := o.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &o.table, Key: ds.Key("BOT#"+in.BotID, intentSK(in.Kind, in.ID))})
	return err
}

// IsPurge reports whether an intent is a bot purge.
func (in Intent) IsPurge() bool { return strings.TrimSpace(in.Kind) == "" }
