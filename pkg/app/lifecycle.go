package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/botkey"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/deletion"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycle"
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
	records := deletion.StoreRecords{Admin: adminStore, Chat: chat.NewStore(d.DB, d.Config.Table(topology.ChatTable), pages)}
	deletion.NewAPI(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), botKeys(d, adminStore), records, authn, d.Clock, window).Register(rt)
	return nil
}

// botPurge erases deleted bots' chat data through the lifecycle queue.
func botPurge(d Deps) *lifecycle.BotPurge {
	var objects lifecycle.Objects
	if d.S3 != nil {
		objects = d.S3
	}
	return lifecycle.NewBotPurge(lifecycle.NewPurger(d.DB, d.Config.Table(topology.ChatTable)),
		d.SQS, d.Config.Env[topology.EnvVar("queue", topology.LifecycleQueue)],
		objects, d.Config.Env[topology.EnvVar("bucket", topology.BotCodeBucket)])
}

func finisher(d Deps) (*deletion.Finisher, error) {
	retention, err := duration(d, "JOB_RETENTION")
	if err != nil {
		return nil, err
	}
	proof := &deletion.Proof{
		Audit:  admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey)),
		Events: d.Events, Bus: d.Config.Setting("EVENT_BUS"), Mail: d.Mail, Sender: d.Config.Setting("SES_SENDER"),
	}
	return deletion.NewFinisher(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), d.Clock, proof, retention, d.Log), nil
}

func lifecycleWorker(d Deps) (WorkerFunc, error) {
	f, err := finisher(d)
	if err != nil {
		return nil, err
	}
	purger := lifecycle.NewPurger(d.DB, d.Config.Table(topology.ChatTable))
	jobs := deletion.NewWorker(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), purger, d.Clock, f)
	w := lifecycle.NewWorker(map[string]lifecycle.Handler{
		deletion.WorkKind:      jobs.Handle,
		lifecycle.PurgeBotKind: botPurge(d).Handle,
		retentionWorkKind:      retentionWorker(d),
	}, d.SQS, d.Config.Env[topology.EnvVar("queue", topology.LifecycleQueue)], d.Log)
	return w.Handle, nil
}

func offpeak(d Deps) (ScheduledFunc, error) {
	f, err := finisher(d)
	if err != nil {
		return nil, err
	}
	length, err := duration(d, topology.EnvVar("window", topology.OffpeakSchedule))
	if err != nil {
		return nil, err
	}
	w := deletion.NewWindow(deletion.NewStore(d.DB, d.Config.Table(topology.LifecycleTable)), d.Config.Table(topology.ChatTable),
		d.SQS, d.Config.Env[topology.EnvVar("queue", topology.LifecycleQueue)], d.Config.Env[topology.EnvVar("queue", topology.LifecycleDLQ)],
		d.Clock, length, f, d.Log)
	sweep, err := retentionSweep(d)
	if err != nil {
		return nil, err
	}
	w.SettleAlso(retentionWorkKind, sweep.SettleDeadLetter)
	// Retention runs after the deletion jobs, in the same window; the
	// event's time names the window, so a retried invocation resumes it.
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		return errors.Join(w.Open(ctx), sweep.Open(ctx, ev.Time))
	}, nil
}
