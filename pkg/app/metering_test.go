package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
	"github.com/parley-dev/parley/pkg/usage"
)

// TestMeteringAndAnalyticsOfAScriptedHistory writes a known history through
// the chat table's store, metered into the admin table, and checks the
// monthly counters and the day counters against hand-computed figures,
// including a retried message and a redelivered delivery that must not
// count twice.
func TestMeteringAndAnalyticsOfAScriptedHistory(t *testing.T) {
	env := testenv.Stack(t)
	admin := admindata.NewStore(env.Deps.DB, env.Deps.Config.Table(topology.AdminTable), nil)
	chat := chatdata.NewStore(env.Deps.DB, env.Deps.Config.Table(topology.ChatTable), nil)
	chat.Meter = app.Meter(admin)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	ws, bot := "wkspace_meter"+suffix, "bot_meter"+suffix
	ctx := usage.WithWorkspace(context.Background(), ws)
	day1 := time.Date(2026, 4, 10, 10, 0, 0, 0, time.UTC)
	day2 := day1.Add(23 * time.Hour) // 2026-04-11 09:00
	at := func(d time.Duration) time.Time { return day1.Add(d) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
	user := func(id string, t time.Time) {
		must(chat.CreateUser(ctx, bot, chatdata.User{ID: id, CreatedAt: stamp(t), UpdatedAt: stamp(t), Tags: map[string]string{}}, "", t))
	}
	user("user_a", at(0))
	user("user_b", at(0))
	must(chat.CreateConversation(ctx, bot, chatdata.Conversation{ID: "conv_1", CreatedAt: stamp(at(0)), UpdatedAt: stamp(at(0)), Channel: "web", Tags: map[string]string{}}))
	n := 0
	msg := func(userID, dir string, t time.Time) chatdata.Message {
		n++
		m := chatdata.Message{ID: fmt.Sprintf("msg_%02d", n), CreatedAt: stamp(t), UpdatedAt: stamp(t), Type: "text", Direction: dir,
			UserID: userID, ConversationID: "conv_1", Payload: map[string]any{"text": "x"}, Tags: map[string]string{}}
		must(chat.CreateMessage(ctx, bot, m, t))
		return m
	}
	first := msg("user_a", chatdata.Incoming, at(0))                   // session 1
	msg("user_a", chatdata.Incoming, at(20*time.Minute))               // same session
	msg("user_a", chatdata.Incoming, at(60*time.Minute))               // 40 min of silence: session 2
	msg("user_b", chatdata.Incoming, at(5*time.Minute))                // session 3
	msg(bot, chatdata.Outgoing, at(time.Minute))                       // bot replies
	msg(bot, chatdata.Outgoing, at(21*time.Minute))                    //
	msg("user_a", chatdata.Incoming, day2)                             // day 2: session, returning user
	msg("user_a", chatdata.Incoming, day2.Add(10*time.Minute))         // same session
	if err := chat.CreateMessage(ctx, bot, first, at(0)); err == nil { // a retried write of the same message
		t.Fatal("the same message written twice")
	}
	ev := func(id, typ string, c context.Context, status string) chatdata.Event {
		e := chatdata.Event{ID: id, CreatedAt: stamp(at(0)), Type: typ, Payload: map[string]any{}, ConversationID: "conv_1", Status: status}
		must(chat.CreateEvent(c, bot, e, "", at(0)))
		return e
	}
	delivered := ev("evt_1", "message_created", usage.WithIncoming(ctx), chatdata.StatusPending)
	ev("evt_2", "order_paid", ctx, chatdata.StatusIgnored)
	ev("evt_3", "order_paid", ctx, chatdata.StatusIgnored)
	ref := chatdata.EventRefOf(bot, delivered)
	for range 3 { // a delivery redelivered by SQS settles once
		if _, err := chat.SettleDelivery(ctx, bot, ref, chatdata.StatusPending, chatdata.StatusProcessed, "", at(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]float64{usage.IncomingMessages: 6, usage.OutgoingMessages: 2, usage.IncomingEvents: 1, usage.OutgoingEvents: 2,
		usage.InvocationCalls: 1, usage.StorageCount: 2 + 8 + 3}
	for _, target := range []string{ws, bot} {
		got, err := admin.Counters(context.Background(), target, "2026-04")
		must(err)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s = %v, want %v (all: %v)", target, k, got[k], v, got)
			}
		}
	}

	days, err := chatdata.NewDayStatsReader(env.Deps.DB, env.Deps.Config.Table(topology.ChatTable)).DayStats(context.Background(), bot, "2026-04-10", "2026-04-11")
	must(err)
	d1, d2 := days["2026-04-10"], days["2026-04-11"]
	if d1.NewUsers != 2 || d1.Sessions != 3 || d1.ReturningUsers != 0 || d1.UserMessages != 4 || d1.BotMessages != 2 ||
		d1.Events["order_paid"] != 2 || d1.Events["message_created"] != 1 {
		t.Errorf("day 1 %+v", d1)
	}
	if d2.NewUsers != 0 || d2.Sessions != 1 || d2.ReturningUsers != 1 || d2.UserMessages != 2 || d2.BotMessages != 0 {
		t.Errorf("day 2 %+v", d2)
	}
}
