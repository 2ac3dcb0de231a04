package chatdata_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// seed writes every kind of chat item for a bot through the store and
// returns the ids of a live conversation and user.
func seed(t *testing.T, ctx context.Context, s *chatdata.Store, outbox *lifecycledata.Outbox, bot string) (string, string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := clock.Format(now)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u := chatdata.User{ID: id.NewAt(id.User, now), CreatedAt: at, UpdatedAt: at, Tags: map[string]string{}}
	must(s.CreateUser(ctx, bot, u, "", now))
	claimed := chatdata.User{ID: id.NewAt(id.User, now), CreatedAt: at, UpdatedAt: at, Tags: map[string]string{"email": "a@x.io"}}
	_, _, err := s.GetOrCreateUser(ctx, bot, claimed.Tags, claimed, "", now)
	must(err)
	var convs []string
	for i := 0; i < 3; i++ {
		c := chatdata.Conversation{ID: id.NewAt(id.Conversation, now), CreatedAt: at, UpdatedAt: at, Channel: "web", Tags: map[string]string{"n": string(rune('a' + i))}}
		if i == 0 {
			must(s.CreateConversation(ctx, bot, c))
		} else {
			_, _, err := s.GetOrCreateConversation(ctx, bot, c.Tags, c)
			must(err)
		}
		convs = append(convs, c.ID)
		_, err := s.AddParticipant(ctx, bot, c.ID, u.ID, at)
		must(err)
		for m := 0; m < 3; m++ {
			msg := chatdata.Message{ID: id.NewAt(id.Message, now), CreatedAt: at, UpdatedAt: at, Type: "text", Payload: map[string]any{"text": "hi"},
				Direction: chatdata.Incoming, UserID: u.ID, ConversationID: c.ID, Tags: map[string]string{}}
			must(s.CreateMessage(ctx, bot, msg, now))
		}
		gm := chatdata.Message{ID: id.NewAt(id.Message, now), CreatedAt: at, UpdatedAt: at, Type: "text", Payload: map[string]any{"text": "once"},
			Direction: chatdata.Outgoing, UserID: u.ID, ConversationID: c.ID, Tags: map[string]string{"ext": "1"}}
		_, _, err = s.GetOrCreateMessage(ctx, bot, gm.Tags, gm, now)
		must(err)
		must(s.CreateEvent(ctx, bot, chatdata.Event{ID: id.NewAt(id.Event, now), CreatedAt: at, Type: "ping", Payload: map[string]any{}, ConversationID: c.ID, Status: chatdata.StatusIgnored}, "", now))
		_, err = s.SetState(ctx, chatdata.StateRef{Bot: bot, Type: "conversation", ID: c.ID, Name: "ctx"}, map[string]any{"a": 1}, 0, now)
		must(err)
	}
	must(s.CreateEvent(ctx, bot, chatdata.Event{ID: id.NewAt(id.Event, now), CreatedAt: at, Type: "bot", Payload: map[string]any{}, Status: chatdata.StatusIgnored}, "", now))
	for _, ref := range []chatdata.StateRef{{Bot: bot, Type: "user", ID: u.ID, Name: "prefs"}, {Bot: bot, Type: "bot", ID: bot, Name: "cfg"}, {Bot: bot, Type: "workflow", ID: "wf_1", Name: "w"}} {
		_, err := s.SetState(ctx, ref, map[string]any{"k": "v"}, 60000, now)
		must(err)
	}
	// A conversation deleted by the API: its partition waits for the
	// lifecycle worker.
	must(s.DeleteConversation(ctx, bot, convs[2], outbox.EraseIntent(bot, lifecycle.KindConversation, convs[2], now)))
	return convs[0], u.ID
}

// itemsOf lists every item of the chat table that belongs to bot by any of
// its keys. A Scan: this is the test's proof, not a request path.
func itemsOf(t *testing.T, ctx context.Context, db ds.Client, table, bot string) []string {
	t.Helper()
	scanner, ok := db.(interface {
		Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	})
	if !ok {
		inner := db
		if r, isR := inner.(*ds.ConflictRetrying); isR {
			inner = r.Client
		}
		if l, isL := inner.(ds.Limited); isL {
			inner = l.Client
		}
		scanner, ok = inner.(interface {
			Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
		})
	}
	if !ok {
		t.Fatal("the client cannot scan")
	}
	var out []string
	in := &dynamodb.ScanInput{TableName: &table}
	for {
		page, err := scanner.Scan(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			for _, k := range []string{ds.PK, ds.GSI1PK, "gsi2pk"} {
				if v := ds.String(it, k); v == "BOT#"+bot || strings.HasPrefix(v, "BOT#"+bot+"#") {
					out = append(out, ds.String(it, ds.PK)+" "+ds.String(it, ds.SK))
					break
				}
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Purging every chat kind of one bot leaves nothing of it in the chat
// table, and everything of another bot.
func TestPurgeEveryKind(t *testing.T) {
	env := testenv.Stack(t)
	ctx := context.Background()
	table := env.Deps.Config.Table(topology.ChatTable)
	store := chatdata.NewStore(env.Deps.DB, table, cursor.New([]byte("k")))
	outbox := lifecycledata.NewOutbox(env.Deps.DB, env.Deps.Config.Table(topology.LifecycleTable))
	gone, kept := id.New("bot"), id.New("bot")
	seed(t, ctx, store, outbox, gone)
	seed(t, ctx, store, outbox, kept)
	keep := itemsOf(t, ctx, env.Deps.DB, table, kept)
	if n := len(itemsOf(t, ctx, env.Deps.DB, table, gone)); n < 30 {
		t.Fatalf("seeded only %d items", n)
	}

	kinds := chatdata.Kinds(env.Deps.DB, table)
	names := map[string]bool{}
	for _, k := range kinds {
		names[k.Name()] = true
		for step := 0; ; step++ {
			more, err := k.Purge(ctx, gone, 2) // small steps: every continuation is exercised
			if err != nil {
				t.Fatalf("%s: %v", k.Name(), err)
			}
			if !more {
				break
			}
			if step > 100 {
				t.Fatalf("%s never finishes", k.Name())
			}
		}
	}
	for _, n := range []string{"conversation", "user", "event", "state", "claim", "counter"} {
		if !names[n] {
			t.Errorf("no %s kind", n)
		}
	}
	if left := itemsOf(t, ctx, env.Deps.DB, table, gone); len(left) > 0 {
		t.Fatalf("%d items of the purged bot remain: %v", len(left), left)
	}
	if after := itemsOf(t, ctx, env.Deps.DB, table, kept); len(after) != len(keep) {
		t.Fatalf("the other bot has %d items, had %d", len(after), len(keep))
	}
}

type lines []lifecycle.Line

func (l *lines) WriteLine(x lifecycle.Line) error { *l = append(*l, x); return nil }

// The conversation kind inspects, exports, lists and erases one
// conversation as the lifecycle drives it.
func TestConversationKind(t *testing.T) {
	env := testenv.Stack(t)
	ctx := context.Background()
	table := env.Deps.Config.Table(topology.ChatTable)
	store := chatdata.NewStore(env.Deps.DB, table, cursor.New([]byte("k")))
	outbox := lifecycledata.NewOutbox(env.Deps.DB, env.Deps.Config.Table(topology.LifecycleTable))
	bot := id.New("bot")
	conv, user := seed(t, ctx, store, outbox, bot)
	k := chatdata.NewConversationKind(env.Deps.DB, table)

	facts, err := k.Inspect(ctx, bot, []string{conv, "conv_01JAAAAAAAAAAAAAAAAAAAAAAA"})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := facts[conv]
	// The conversation, 1 participant, 4 messages, 1 message claim, 1 event, 1 state.
	if len(facts) != 1 || !ok || f.Records != 9 || f.Held || f.Attrs["channel"] != "web" || f.CreatedAt.IsZero() {
		t.Fatalf("facts %+v", facts)
	}
	var ls lines
	if err := k.Export(ctx, bot, conv, &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls) != 9 || ls[0].Type != "conversation" || ls[0].Kind != lifecycle.KindConversation || ls[1].Type != "message" || ls[4].Type != "message" || ls[5].Type != "event" {
		t.Fatalf("export %+v", ls)
	}
	if _, has := ls[1].Data["pk"]; has {
		t.Fatal("export lines keep key attributes")
	}
	var mine []string
	if err := k.ByUser(ctx, bot, user, time.Time{}, time.Time{}, func(ids []string) error { mine = append(mine, ids...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(mine) != 3 {
		t.Fatalf("the user's conversations: %v", mine)
	}
	var due []lifecycle.Candidate
	read, err := k.Due(ctx, bot, lifecycle.BasisUpdated, time.Now().Add(time.Minute), func(c []lifecycle.Candidate) error { due = append(due, c...); return nil })
	if err != nil || len(due) != 2 || read < 2 {
		t.Fatalf("due %v read %d err %v", due, read, err)
	}
	if n, _ := k.Due(ctx, bot, lifecycle.BasisCreated, time.Now().Add(-time.Hour), func([]lifecycle.Candidate) error { t.Fatal("nothing is due"); return nil }); n != 0 {
		t.Fatalf("read %d entries for nothing due", n)
	}

	if err := k.EraseContents(ctx, bot, conv); err != nil {
		t.Fatal(err)
	}
	item := k.Final(bot, conv)
	if _, err := env.Deps.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{item}}); err != nil {
		t.Fatal(err)
	}
	if err := k.Sweep(ctx, bot, conv, f); err != nil {
		t.Fatal(err)
	}
	if n := env.ConversationItems(t, bot, conv); n != 0 {
		t.Fatalf("%d items left of the conversation", n)
	}
}
