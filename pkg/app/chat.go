package app

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/topology"
	"github.com/parley-dev/parley/pkg/usage"
)

// The chat table's store is what the chat API and its worker declare.
var (
	_ chat.Data          = (*chatdata.Store)(nil)
	_ chat.Deliveries    = (*chatdata.Store)(nil)
	_ chat.Eraser        = eraser{}
	_ chat.Bots          = (*admindata.Store)(nil)
	_ chat.Installations = (*admindata.Store)(nil)
	_ chat.Reporter      = reporter{}
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

// reporter records the chat API's and the delivery worker's failures as
// the bot's issues and log lines, in the admin table.
type reporter struct{ store *admindata.Store }

func (r reporter) Issue(ctx context.Context, f chat.Failure) error {
	return r.store.RecordIssue(ctx, admindata.IssueReport{
		BotID: f.Bot, Code: f.Code, Title: f.Title, Description: f.Description, Category: f.Category, Data: f.Data, At: f.At,
	})
}

func (r reporter) Log(ctx context.Context, bot string, l chat.LogLine) error {
	return r.store.AppendBotLog(ctx, bot, admindata.LogRecord{
		Timestamp: clock.Format(l.At), Level: l.Level, Message: l.Message, ConversationID: l.ConversationID, UserID: l.UserID,
	})
}

// announcer is the admin API's Runtime: it queues, on the delivery queue,
// what a bot's change asks of its server and its integrations'.
type announcer struct{ chat.Announcer }

func (a announcer) BotChanged(ctx context.Context, ws string, before, after admindata.Bot, apiURL string, at time.Time) error {
	return a.Announcer.BotChanged(ctx, after.ID, admindata.RecordOf(ws, before), admindata.RecordOf(ws, after), apiURL, at)
}

// meter is the chat table's usage meter: its counters live in the admin
// table (pkg/admindata), in the counted write's own transaction. The
// workspace charged is the one the worker put on ctx, or the request's
// authenticated bot's.
type meter struct{ store *admindata.Store }

var _ usage.Meter = meter{}

func (m meter) MeterItems(ctx context.Context, bot, id string, at time.Time, c usage.Counts) []types.TransactWriteItem {
	ws := usage.Workspace(ctx)
	if ws == "" {
		ws = auth.FromContext(ctx).WorkspaceID
	}
	return m.store.MeterItems(ws, bot, id, at, c)
}

// Meter is the usage meter the chat table's store is given (chatParts).
func Meter(adminStore *admindata.Store) usage.Meter { return meter{store: adminStore} }
