package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// Handler unit tests: no emulator, the store and the lifecycle are fakes
// (structs of functions, as in benbjohnson/wtf). A method a test does not
// set panics through the nil embedded interface, so an unexpected call
// fails the test.

type fakeData struct {
	Data
	createUser         func(ctx context.Context, bot string, u User, integration string, at time.Time) error
	user               func(ctx context.Context, bot, id string) (User, error)
	createMessage      func(ctx context.Context, bot string, m Message, at time.Time) error
	deleteConversation func(ctx context.Context, bot, conv string, intent types.TransactWriteItem) error
	conversation       func(ctx context.Context, bot, conv string) (Conversation, error)
	listParticipants   func(ctx context.Context, bot, conv, token string) ([]User, string, error)
}

func (f *fakeData) CreateUser(ctx context.Context, bot string, u User, integration string, at time.Time) error {
	return f.createUser(ctx, bot, u, integration, at)
}
func (f *fakeData) User(ctx context.Context, bot, id string) (User, error) {
	return f.user(ctx, bot, id)
}
func (f *fakeData) CreateMessage(ctx context.Context, bot string, m Message, at time.Time) error {
	return f.createMessage(ctx, bot, m, at)
}
func (f *fakeData) DeleteConversation(ctx context.Context, bot, conv string, intent types.TransactWriteItem) error {
	return f.deleteConversation(ctx, bot, conv, intent)
}
func (f *fakeData) Conversation(ctx context.Context, bot, conv string) (Conversation, error) {
	return f.conversation(ctx, bot, conv)
}
func (f *fakeData) ListParticipants(ctx context.Context, bot, conv, token string) ([]User, string, error) {
	return f.listParticipants(ctx, bot, conv, token)
}

type fakeEraser struct {
	intent func(bot, kind, id string, at time.Time) types.TransactWriteItem
	kick   func(ctx context.Context, bot, kind, id string) error
}

func (f fakeEraser) EraseIntent(bot, kind, id string, at time.Time) types.TransactWriteItem {
	return f.intent(bot, kind, id, at)
}
func (f fakeEraser) Kick(ctx context.Context, bot, kind, id string) error {
	return f.kick(ctx, bot, kind, id)
}

var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func testAPI(d Data, e Eraser, log *slog.Logger) *API {
	return NewAPI(d, nil, &clock.Fixed{T: now}, Outbound{Eraser: e, Log: log})
}

// call runs a handler on a request of the bot "bot_1".
func call(h httpapi.Handler, method, path string, body any, pathValues map[string]string) (httpapi.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range pathValues {
		r.SetPathValue(k, v)
	}
	return h(r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{BotID: "bot_1"})))
}

func TestHandlers(t *testing.T) {
	notFound := apperr.NotFound("conversation", "conv_x")
	cases := []struct {
		name   string
		data   *fakeData
		run    func(a *API) (httpapi.Response, error)
		status int         // when no error
		err    apperr.Type // the error type expected
	}{
		{
			name: "create user",
			data: &fakeData{createUser: func(_ context.Context, bot string, u User, _ string, at time.Time) error {
				if bot != "bot_1" || u.Tags["email"] != "a@x.io" || !at.Equal(now) || u.CreatedAt != clock.Format(now) {
					return errors.New("unexpected user")
				}
				return nil
			}},
			run: func(a *API) (httpapi.Response, error) {
				return call(a.createUser, "POST", "/v1/chat/users", map[string]any{"tags": map[string]any{"email": "a@x.io"}}, nil)
			},
			status: 201,
		},
		{
			name: "get missing user",
			data: &fakeData{user: func(context.Context, string, string) (User, error) { return User{}, apperr.NotFound("user", "u") }},
			run: func(a *API) (httpapi.Response, error) {
				return call(a.getUser, "GET", "/v1/chat/users/user_1", nil, map[string]string{"id": "user_01JAAAAAAAAAAAAAAAAAAAAAAA"})
			},
			err: apperr.ResourceNotFound,
		},
		{
			name: "message to a missing conversation",
			data: &fakeData{createMessage: func(context.Context, string, Message, time.Time) error {
				return apperr.New(apperr.ReferenceNotFound, "conversation doesn't exist")
			}},
			run: func(a *API) (httpapi.Response, error) {
				return call(a.createMessage, "POST", "/v1/chat/messages", map[string]any{
					"conversationId": "conv_01JAAAAAAAAAAAAAAAAAAAAAAA", "userId": "user_01JAAAAAAAAAAAAAAAAAAAAAAA",
					"type": "text", "payload": map[string]any{"text": "hi"}, "tags": map[string]any{},
				}, nil)
			},
			err: apperr.ReferenceNotFound,
		},
		{
			name: "participants of a missing conversation",
			data: &fakeData{listParticipants: func(context.Context, string, string, string) ([]User, string, error) { return nil, "", notFound }},
			run: func(a *API) (httpapi.Response, error) {
				return call(a.listParticipants, "GET", "/v1/chat/conversations/conv_x/participants", nil, map[string]string{"id": "conv_x"})
			},
			err: apperr.ResourceNotFound,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := c.run(testAPI(c.data, nil, nil))
			switch {
			case c.err != "" && !apperr.Is(err, c.err):
				t.Fatalf("err %v, want %s", err, c.err)
			case c.err == "" && (err != nil || res.Status != c.status):
				t.Fatalf("status %d err %v, want %d", res.Status, err, c.status)
			}
		})
	}
}

// Deleting a conversation hands the store one transaction item from the
// eraser and kicks the lifecycle; a failed kick is logged with the request
// id, never answered.
func TestDeleteConversationHandsOverTheErasure(t *testing.T) {
	intent := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{}}
	var got []string
	data := &fakeData{conversation: func(_ context.Context, _, conv string) (Conversation, error) {
		return Conversation{ID: conv}, nil
	}, deleteConversation: func(_ context.Context, bot, conv string, in types.TransactWriteItem) error {
		if in.ConditionCheck != intent.ConditionCheck {
			t.Fatal("the store did not get the eraser's intent")
		}
		got = append(got, "delete "+bot+" "+conv)
		return nil
	}}
	eraser := fakeEraser{
		intent: func(bot, kind, id string, at time.Time) types.TransactWriteItem {
			got = append(got, "intent "+kind+" "+id)
			return intent
		},
		kick: func(_ context.Context, bot, kind, id string) error {
			got = append(got, "kick "+kind+" "+id)
			return errors.New("queue down")
		},
	}
	var logged bytes.Buffer
	a := testAPI(data, eraser, slog.New(slog.NewJSONHandler(&logged, nil)))
	res, err := call(a.deleteConversation, "DELETE", "/v1/chat/conversations/conv_1", nil, map[string]string{"id": "conv_1"})
	if err != nil || res.Status != http.StatusOK {
		t.Fatalf("status %d err %v", res.Status, err)
	}
	want := []string{"intent conversation conv_1", "delete bot_1 conv_1", "kick conversation conv_1"}
	if len(got) != len(want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("calls %v, want %v", got, want)
		}
	}
	if !bytes.Contains(logged.Bytes(), []byte("request_id")) || !bytes.Contains(logged.Bytes(), []byte("queue down")) {
		t.Fatalf("the failed kick was not logged with the request id: %s", logged.String())
	}

	// A missing conversation: 404, nothing kicked.
	got = nil
	data.deleteConversation = func(context.Context, string, string, types.TransactWriteItem) error {
		return apperr.NotFound("conversation", "conv_1")
	}
	if _, err := call(a.deleteConversation, "DELETE", "/v1/chat/conversations/conv_1", nil, map[string]string{"id": "conv_1"}); !apperr.Is(err, apperr.ResourceNotFound) {
		t.Fatalf("err %v", err)
	}
	for _, c := range got {
		if c[:4] == "kick" {
			t.Fatal("a missing conversation was kicked")
		}
	}
}
