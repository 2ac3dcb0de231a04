package admin_test

// Handler tests without the emulator: the admin API over fakes of the
// interfaces it declares (structs of functions, set per test). A method a
// test doesn't set panics, which the router answers 500: a test that sees a
// 500 called something it didn't expect.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// fakeStore implements admin.Storage with the functions a test sets.
type fakeStore struct {
	admin.Storage // nil: an unexpected call panics

	createBot        func(ws string, b admin.Bot, rec audit.Record) (admin.Bot, error)
	bot              func(ws, id string) (admin.Bot, error)
	deleteBot        func(ws, id string, rec audit.Record, extra []types.TransactWriteItem) error
	accountIDByEmail func(email string) (string, error)
	addMember        func(m admin.NewMember, rec audit.Record) error
	member           func(ws, acc string) (admin.Member, error)
	changeMember     func(ws, acc string, from, to auth.Role, rec audit.Record) error
	botIssue         func(ws, bot, issue string) (admin.Issue, error)

	mu    sync.Mutex
	calls []string
}

func (f *fakeStore) called(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakeStore) CreateBot(_ context.Context, ws string, b admin.Bot, _ *string, rec audit.Record) (admin.Bot, error) {
	f.called("CreateBot")
	return f.createBot(ws, b, rec)
}
func (f *fakeStore) Bot(_ context.Context, ws, id string) (admin.Bot, error) {
	f.called("Bot")
	return f.bot(ws, id)
}
func (f *fakeStore) BotAnswer(_ context.Context, b admin.Bot) admin.Bot {
	f.called("BotAnswer")
	return b.Answer()
}
func (f *fakeStore) DeleteBot(_ context.Context, ws, id string, rec audit.Record, extra ...types.TransactWriteItem) error {
	f.called("DeleteBot")
	return f.deleteBot(ws, id, rec, extra)
}
func (f *fakeStore) AccountIDByEmail(_ context.Context, email string) (string, error) {
	f.called("AccountIDByEmail")
	return f.accountIDByEmail(email)
}
func (f *fakeStore) AddMember(_ context.Context, m admin.NewMember, rec audit.Record) error {
	f.called("AddMember")
	return f.addMember(m, rec)
}
func (f *fakeStore) Member(_ context.Context, ws, acc string) (admin.Member, error) {
	f.called("Member")
	return f.member(ws, acc)
}
func (f *fakeStore) ChangeMember(_ context.Context, ws, acc string, from, to auth.Role, rec audit.Record) error {
	f.called("ChangeMember")
	return f.changeMember(ws, acc, from, to, rec)
}
func (f *fakeStore) BotIssue(_ context.Context, ws, bot, issue string) (admin.Issue, error) {
	f.called("BotIssue")
	return f.botIssue(ws, bot, issue)
}

// fakeDirectory authenticates any token as acc_caller, with a role per
// workspace.
type fakeDirectory struct{ roles map[string]auth.Role }

func (d fakeDirectory) Token(context.Context, string) (auth.Token, bool, error) {
	return auth.Token{ID: "pat_1", AccountID: "acc_caller"}, true, nil
}
func (d fakeDirectory) TokenAndBotWorkspace(context.Context, string, string) (auth.Token, bool, string, error) {
	return auth.Token{}, false, "", errors.New("not used")
}
func (d fakeDirectory) Role(_ context.Context, ws, _ string) (auth.Role, error) {
	return d.roles[ws], nil
}

type fakeIntents struct{}

// intentTable marks the fake intent, to find it among the transaction's items.
const intentTable = "lifecycle-intents"

func (fakeIntents) PurgeIntent(ws, bot string, _ time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(intentTable), Item: map[string]types.AttributeValue{
		"botId": &types.AttributeValueMemberS{Value: bot}, "workspaceId": &types.AttributeValueMemberS{Value: ws}}}}
}

type purgerFunc func(ctx context.Context, ws, bot string) error

func (f purgerFunc) PurgeBot(ctx context.Context, ws, bot string) error { return f(ctx, ws, bot) }

type rig struct {
	h     http.Handler
	store *fakeStore
	log   *bytes.Buffer
}

func newRig(store *fakeStore, purger admin.BotDataPurger, roles map[string]auth.Role) rig {
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	rt := httpapi.NewRouter(log)
	if purger == nil {
		purger = purgerFunc(func(context.Context, string, string) error { return nil })
	}
	admin.NewAPI(admin.Deps{Store: store, Intents: fakeIntents{}, Purger: purger, Auth: auth.New(fakeDirectory{roles}),
		Clock: &clock.Fixed{T: time.Date(2026, 5, 8, 6, 0, 0, 0, time.UTC)}, Log: log}).Register(rt)
	return rig{h: rt, store: store, log: logs}
}

func (r rig) do(t *testing.T, method, path, ws string, body any) (int, map[string]any) {
	t.Helper()
	var in io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		in = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, in)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(auth.WorkspaceHeader, ws)
	req.Header.Set(httpapi.RequestIDHeader, "req-42")
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// botsOf is a fake bot lookup: bot id → workspace.
func botsOf(owners map[string]string) func(ws, id string) (admin.Bot, error) {
	return func(ws, id string) (admin.Bot, error) {
		if owners[id] != ws {
			return admin.Bot{}, apperr.NotFound("bot", id)
		}
		return admin.Bot{ID: id, Name: id}, nil
	}
}

func TestCreateBotOverQuotaAnswersTheRefusal(t *testing.T) {
	store := &fakeStore{createBot: func(string, admin.Bot, audit.Record) (admin.Bot, error) {
		return admin.Bot{}, apperr.New(apperr.QuotaExceeded, "the workspace has reached its plan's quota of bots")
	}}
	r := newRig(store, nil, map[string]auth.Role{"ws_a": auth.Owner})
	code, body := r.do(t, "POST", "/v1/admin/bots", "ws_a", map[string]any{"name": "x"})
	if code != 403 || body["type"] != "QuotaExceeded" {
		t.Fatalf("%d %v", code, body)
	}
	if strings.Join(store.calls, ",") != "CreateBot" {
		t.Fatalf("calls %v: only the refused write may happen", store.calls)
	}
}

func TestDeleteBotWritesTheIntentAndSurvivesAFailingKick(t *testing.T) {
	var extras []types.TransactWriteItem
	store := &fakeStore{deleteBot: func(ws, id string, rec audit.Record, extra []types.TransactWriteItem) error {
		if ws != "ws_a" || id != "bot_1" || rec.Action != audit.DeleteBot {
			t.Errorf("DeleteBot(%s, %s, %+v)", ws, id, rec)
		}
		extras = extra
		return nil
	}}
	r := newRig(store, purgerFunc(func(context.Context, string, string) error { return errors.New("sqs is down") }),
		map[string]auth.Role{"ws_a": auth.Owner})
	code, body := r.do(t, "DELETE", "/v1/admin/bots/bot_1", "ws_a", map[string]any{})
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	if len(extras) != 1 || aws.ToString(extras[0].Put.TableName) != intentTable {
		t.Fatalf("the purge intent is not in the deletion's transaction: %+v", extras)
	}
	if !strings.Contains(r.log.String(), "req-42") || !strings.Contains(r.log.String(), "sqs is down") {
		t.Fatalf("the failed kick is not logged with the request id: %s", r.log.String())
	}

	// A failed deletion (missing bot) starts no purge.
	kicked := false
	store.deleteBot = func(string, string, audit.Record, []types.TransactWriteItem) error {
		return apperr.NotFound("bot", "bot_2")
	}
	r = newRig(store, purgerFunc(func(context.Context, string, string) error { kicked = true; return nil }), map[string]auth.Role{"ws_a": auth.Owner})
	if code, _ := r.do(t, "DELETE", "/v1/admin/bots/bot_2", "ws_a", map[string]any{}); code != 404 || kicked {
		t.Fatalf("%d, kicked %v", code, kicked)
	}
}

func TestAnotherWorkspacesBotIsMissing(t *testing.T) {
	store := &fakeStore{bot: botsOf(map[string]string{"bot_b": "ws_b"}),
		botIssue: func(ws, bot, issue string) (admin.Issue, error) {
			if ws != "ws_b" {
				return admin.Issue{}, apperr.NotFound("bot", bot)
			}
			return admin.Issue{ID: issue}, nil
		}}
	r := newRig(store, nil, map[string]auth.Role{"ws_a": auth.Owner, "ws_b": auth.Owner})
	from := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	// The bot itself and every sub-resource list: 404, never an empty 200.
	for _, path := range []string{
		"/v1/admin/bots/bot_b",
		"/v1/admin/bots/bot_b/issues",
		"/v1/admin/bots/bot_b/issues/issue_1",
		"/v1/admin/bots/bot_b/issues/issue_1/events",
		"/v1/admin/bots/bot_b/logs?timeStart=" + from,
		"/v1/admin/bots/bot_b/analytics?startDate=2026-05-01&endDate=2026-05-02",
		"/v1/admin/bots/bot_b/webchat?type=preconfigured",
		"/v1/admin/bots/missing/issues",
	} {
		code, body := r.do(t, "GET", path, "ws_a", nil)
		if code != 404 || body["type"] != "ResourceNotFound" {
			t.Errorf("GET %s from another workspace: %d %v", path, code, body)
		}
	}
	for _, c := range store.calls {
		if c != "Bot" && c != "BotIssue" {
			t.Fatalf("read %s of a bot outside the workspace", c)
		}
	}
	if code, _ := r.do(t, "GET", "/v1/admin/bots/bot_b", "ws_b", nil); code != 200 {
		t.Fatalf("its own workspace: %d", code)
	}
}

func TestOnlyOwnersGrantOwnership(t *testing.T) {
	var added []admin.NewMember
	store := &fakeStore{
		accountIDByEmail: func(string) (string, error) { return "acc_new", nil },
		addMember:        func(m admin.NewMember, _ audit.Record) error { added = append(added, m); return nil },
		member: func(_, acc string) (admin.Member, error) {
			return admin.Member{ID: acc, Role: string(auth.Owner)}, nil
		},
		changeMember: func(string, string, auth.Role, auth.Role, audit.Record) error {
			t.Fatal("an administrator changed an owner")
			return nil
		},
	}
	r := newRig(store, nil, map[string]auth.Role{"ws_admin": auth.Administrator, "ws_owner": auth.Owner})
	for _, c := range []struct {
		ws, role string
		want     int
	}{
		{"ws_admin", "owner", 403}, {"ws_admin", "manager", 200}, {"ws_owner", "owner", 200},
	} {
		code, body := r.do(t, "POST", "/v1/admin/workspace-members", c.ws, map[string]any{"email": "new@example.com", "role": c.role})
		if code != c.want {
			t.Errorf("%s grants %s: %d %v", c.ws, c.role, code, body)
		}
	}
	if len(added) != 2 {
		t.Fatalf("members added %+v", added)
	}
	// An administrator can neither demote nor remove an owner.
	if code, _ := r.do(t, "PUT", "/v1/admin/workspace-members/acc_owner", "ws_admin", map[string]any{"role": "viewer"}); code != 403 {
		t.Fatalf("demote: %d", code)
	}
	if code, _ := r.do(t, "DELETE", "/v1/admin/workspace-members/acc_owner", "ws_admin", map[string]any{}); code != 403 {
		t.Fatalf("remove: %d", code)
	}
	// A viewer may not add members at all.
	r = newRig(store, nil, map[string]auth.Role{"ws_v": auth.Viewer})
	if code, _ := r.do(t, "POST", "/v1/admin/workspace-members", "ws_v", map[string]any{"email": "x@example.com", "role": "viewer"}); code != 403 {
		t.Fatalf("viewer adds: %d", code)
	}
}

// A bot's url that Parley would refuse to call (a private or local address,
// deployed) is refused when written, and nothing is stored.
func TestPrivateBotURLsAreRefusedWhenWritten(t *testing.T) {
	store := &fakeStore{createBot: func(string, admin.Bot, audit.Record) (admin.Bot, error) {
		t.Fatal("a bot with a private url was stored")
		return admin.Bot{}, nil
	}}
	r := newRig(store, nil, map[string]auth.Role{"ws_a": auth.Owner})
	for _, u := range []string{"http://127.0.0.1:8072", "http://169.254.169.254/latest", "http://10.0.0.7", "http://localhost:3000", "http://metadata.internal"} {
		code, body := r.do(t, "POST", "/v1/admin/bots", "ws_a", map[string]any{"name": "x", "url": u})
		if code != 400 || body["type"] != "InvalidPayload" {
			t.Errorf("%s: %d %v", u, code, body)
		}
	}
}
