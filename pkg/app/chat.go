package app

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/topology"
)

// The chat table's store is what the chat API and its worker declare.
var (
	_ chat.Data       = (*chatdata.Store)(nil)
	_ chat.Deliveries = (*chatdata.Store)(nil)
	_ chat.Eraser     = eraser{}
	_ chat.Bots       = botRecords{}
)

// eraser is the chat API's Eraser: intents go to the lifecycle table's
// outbox, kicks to the lifecycle queue.
type eraser struct {
	outbox   *lifecycledata.Outbox
	queue    lifecycle.Queue
	queueURL string
}

func chatEraser(d Deps) eraser {
	return eraser{
		outbox:   lifecycledata.NewOutbox(d.DB, d.Config.Table(topology.LifecycleTable)),
		queue:    d.SQS,
		queueURL: d.Config.Env[topology.EnvVar("queue", topology.LifecycleQueue)],
	}
}

func (e eraser) EraseIntent(bot, kind, id string, at time.Time) types.TransactWriteItem {
	return e.outbox.EraseIntent(bot, kind, id, at)
}

func (e eraser) Kick(ctx context.Context, bot, kind, id string) error {
	return lifecycle.Enqueue(ctx, e.queue, e.queueURL, lifecycle.EraseKind, []any{lifecycle.EraseWork{Kind: kind, BotID: bot, IDs: []string{id}}})
}

// botRecords reads bot records from the admin table for the delivery
// worker: one GetItem.
type botRecords struct {
	db    dynamostore.Client
	table string
}

func (b botRecords) BotRecord(ctx context.Context, bot string) (auth.BotRecord, error) {
	out, err := b.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &b.table, Key: admindata.BotKey(bot), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return auth.BotRecord{}, err
	}
	return admindata.BotRecordOf(out.Item)
}
