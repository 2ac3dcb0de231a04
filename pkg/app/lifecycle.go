package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/botkey"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/compliance"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/deletion"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/schedule"
	"github.com/parley-dev/parley/pkg/topology"
)

// The data-lifecycle functions: deletion job intake, the off-peak window and
// the lifecycle worker.

// botKeys checks the deletion API's JWTs against bot API keys.
func botKeys(d Deps, adminStore *admindata.Store) *botkey.Verifier {
	return botkey.NewVerifier(adminStore, botKeySealer(d))
}

func offpeakExpression(d Deps) (schedule.Expression, error) {
	return schedule.Parse(d.Config.Setting("OFFPEAK_SCHEDULE"))
}

func duration(d Deps, name string) (time.Duration, error) {
	v, err := time.ParseDuration(d.Config.Setting(name))
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%s must be a positive duration such as 4h, not %q", name, d.Config.Setting(name))
	}
	return v, nil
}

func registerDeletions(rt *httpapi.Router, d Deps, adminStore *admindata.Store, authn *auth.Authenticator, pages *cursor.Codec) error {
	window, err := offpeakExpression(d)
	if err != nil {
		return err
	}
	records := deletionRecords{admin: adminStore, chat: chatdata.NewStore(d.DB, d.Config.Table(topology.ChatTable), pages)}
	length, err := duration(d, topology.EnvVar("window", topology.OffpeakSchedule))
	if err != nil {
		return err
	}
	keep, err := duration(d, "JOB_RETENTION")
	if err != nil {
		return err
	}
	rate, err := itemsPerSecond(d)
	if err != nil {
		return err
	}
	deletion.NewAPI(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), botKeys(d, adminStore), records, authn, d.Clock, window).
		WithControl(deletion.Control{Trail: adminStore, Queue: d.SQS, QueueURL: lifecycleQueue(d), Window: length, Retention: keep, Budget: rate}).
		Register(rt)
	return nil
}

// itemsPerSecond is the per-workspace throughput budget of the lifecycle
// worker (DELETION_ITEMS_PER_SECOND).
func itemsPerSecond(d Deps) (float64, error) {
	v, err := strconv.ParseFloat(d.Config.Setting("DELETION_ITEMS_PER_SECOND"), 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("DELETION_ITEMS_PER_SECOND must be a positive number of items per second, not %q", d.Config.Setting("DELETION_ITEMS_PER_SECOND"))
	}
	return v, nil
}

// budgets are the workspaces' throughput budgets the lifecycle worker
// draws from.
func budgets(d Deps) (*lifecycledata.Budgets, error) {
	rate, err := itemsPerSecond(d)
	if err != nil {
		return nil, err
	}
	return lifecycledata.NewBudgets(d.DB, d.Config.Table(topology.LifecycleTable), d.Clock, rate), nil
}

func lifecycleQueue(d Deps) string {
	return d.Config.Env[topology.EnvVar("queue", topology.LifecycleQueue)]
}

// outbox drives the intents written with deletions to completion.
func outbox(d Deps) *lifecycle.Outbox {
	return lifecycle.NewOutbox(catalogue(d), lifecycledata.NewOutbox(d.DB, d.Config.Table(topology.LifecycleTable)), d.SQS, lifecycleQueue(d))
}

// botPurge erases a deleted bot's data, every kind of the catalogue,
// through the lifecycle queue.
func botPurge(d Deps) *lifecycle.BotPurge {
	return lifecycle.NewBotPurge(catalogue(d), d.SQS, lifecycleQueue(d), outbox(d), receipts(d), d.Clock, d.Log)
}

// purgeKick starts a deleted bot's purge from the admin function: one work
// item on the lifecycle queue (the purge intent covers a failed send).
type purgeKick struct {
	queue    lifecycle.Queue
	queueURL string
}

func (p purgeKick) PurgeBot(ctx context.Context, ws, botID string) error {
	return lifecycle.QueuePurge(ctx, p.queue, p.queueURL, ws, botID)
}

// conversations is the catalogue's conversation kind, which deletion jobs
// act on.
func conversations(d Deps) lifecycle.UserKind {
	k, ok := catalogue(d).UserKind(lifecycle.KindConversation)
	if !ok {
		panic("the catalogue has no conversation kind")
	}
	return k
}

// receipts writes receipt pages and signs summaries in the lifecycle table.
func receipts(d Deps) receiptBook {
	store := lifecycledata.NewReceiptStore(d.DB, d.Config.Table(topology.LifecycleTable), cursor.New(d.Config.SigningKey))
	return receiptBook{ReceiptStore: store, ReceiptIssuer: lifecycle.ReceiptIssuer{Store: store, Signer: d.Config.Receipts, Clock: d.Clock}}
}

// receiptBook is both sides of receipts: pages and signed summaries.
type receiptBook struct {
	*lifecycledata.ReceiptStore
	lifecycle.ReceiptIssuer
}

func holds(d Deps) *lifecycledata.HoldStore {
	return lifecycledata.NewHoldStore(d.DB, d.Config.Table(topology.LifecycleTable))
}

func finisher(d Deps) (*deletion.Finisher, error) {
	retention, err := duration(d, "JOB_RETENTION")
	if err != nil {
		return nil, err
	}
	adminStore := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey))
	proof := &deletion.Proof{
		Audit: adminStore, Owners: adminStore, Receipts: receipts(d),
		Events: d.Events, Bus: d.Config.Setting("EVENT_BUS"), Mail: d.Mail, Sender: d.Config.Setting("SES_SENDER"),
	}
	return deletion.NewFinisher(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), d.Clock, proof, retention, d.Log), nil
}

// LifecycleWorker builds the lifecycle queue's worker.
func LifecycleWorker(d Deps) (WorkerFunc, error) {
	f, err := finisher(d)
	if err != nil {
		return nil, err
	}
	b, err := budgets(d)
	if err != nil {
		return nil, err
	}
	jobs := deletion.NewWorker(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), conversations(d), holds(d), receipts(d), d.Clock, f, d.Log).Paced(b)
	w := lifecycle.NewWorker(map[string]lifecycle.Handler{
		deletion.WorkKind:      jobs.Handle,
		lifecycle.PurgeBotKind: botPurge(d).Handle,
		lifecycle.EraseKind:    outbox(d).HandleErase,
		retentionWorkKind:      retentionWorker(d, b),
		compliance.RequestKind: dataRequests(d),
	}, d.SQS, lifecycleQueue(d), d.Log)
	return w.Handle, nil
}

// Offpeak builds the off-peak window's scheduled function.
func Offpeak(d Deps) (ScheduledFunc, error) {
	f, err := finisher(d)
	if err != nil {
		return nil, err
	}
	length, err := duration(d, topology.EnvVar("window", topology.OffpeakSchedule))
	if err != nil {
		return nil, err
	}
	w := deletion.NewWindow(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), conversations(d), receipts(d),
		d.SQS, d.Config.Env[topology.EnvVar("queue", topology.LifecycleQueue)], d.Config.Env[topology.EnvVar("queue", topology.LifecycleDLQ)],
		d.Clock, length, f, d.Log)
	sweep, err := retentionSweep(d)
	if err != nil {
		return nil, err
	}
	w.SettleAlso(retentionWorkKind, sweep.SettleDeadLetter)
	// Retention runs after the deletion jobs, in the same window; the
	// event's time names the window, so a retried invocation resumes it.
	out := outbox(d)
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		// Intents left behind by failed kicks go first: a deleted bot's or
		// conversation's data is erased in the first window after, at worst.
		_, drainErr := out.Drain(ctx, d.Clock.Now())
		return errors.Join(drainErr, resumeRequests(ctx, d), w.Open(ctx), sweep.Open(ctx, ev.Time))
	}, nil
}

// deletionRecords reads, for deletion job intake, bots from the admin
// store and users from the chat store.
type deletionRecords struct {
	admin *admindata.Store
	chat  *chatdata.Store
}

var _ deletion.Records = deletionRecords{}

func (r deletionRecords) BotWorkspace(ctx context.Context, botID string) (string, error) {
	return r.admin.BotWorkspace(ctx, botID)
}

// Created answers the bot's creation, and the user's when the user still
// exists.
func (r deletionRecords) Created(ctx context.Context, botID, userID string) (time.Time, time.Time, error) {
	created, err := r.admin.BotCreated(ctx, botID)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	var user time.Time
	u, err := r.chat.User(ctx, botID, userID)
	switch {
	case err == nil:
		user, _ = clock.Parse(u.CreatedAt)
	case !apperr.Is(err, apperr.ResourceNotFound):
		return time.Time{}, time.Time{}, err
	}
	return created, user, nil
}
