// Package testenv gives integration tests a running local stack (emulator,
// provisioned resources, every handler behind the local API Gateway) shared
// by one test binary, and a client that reports, for each request, the AWS
// round trips the handler's log line recorded.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/emulator"

	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/localrun"
)

var (
	once    sync.Once
	shared  *Env
	initErr error
)

// Env is a running stack plus the recorder of its request log lines.
type Env struct {
	*localrun.Stack
	rec *recorder
}

// Main runs a package's tests and then stops the shared stack:
// func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	return code
}

// Stack returns the binary's shared stack, starting it on first use. It
// uses the emulator at PARLEY_TEST_ENDPOINT when set, else starts its own.
// Tables are named for a stage unique to this binary, so packages tested in
// parallel against one emulator do not meet.
func Stack(t testing.TB) *Env {
	t.Helper()
	once.Do(func() {
		rec := &recorder{byID: map[string]Calls{}}
		stack, err := localrun.Start(context.Background(), localrun.Options{
			Addr:     "127.0.0.1:0",
			Endpoint: os.Getenv("PARLEY_TEST_ENDPOINT"),
			Stage:    fmt.Sprintf("t%d", time.Now().UnixNano()%1e9),
			Getenv:   func(k string) string { return map[string]string{"SES_SENDER": "parley@localhost"}[k] },
			Log:      slog.New(rec),
		})
		if err != nil {
			initErr = err
			return
		}
		shared = &Env{Stack: stack, rec: rec}
	})
	if errors.Is(initErr, emulator.ErrNotInstalled) && os.Getenv("PARLEY_TEST_ENDPOINT") == "" {
		// Unit tests still run; say how to run these.
		t.Skip("integration test skipped: it needs moto_server (pip install 'moto[server]') or an emulator at PARLEY_TEST_ENDPOINT")
	}
	if initErr != nil {
		t.Fatalf("local stack: %v", initErr)
	}
	return shared
}

// Calls are the AWS round trips one request made.
type Calls struct {
	Total, Auth int
	// Ops are "DynamoDB.GetItem=1,…" for the calls after authentication.
	Ops string
}

// Op is the calls after authentication.
func (c Calls) Op() int { return c.Total - c.Auth }

// Response is an API answer.
type Response struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Calls  Calls
}

// Req describes a request.
type Req struct {
	Method, Path, Token string
	Headers             map[string]string
	Body                any
}

// Do sends a request to the stack and returns the answer with its cost.
func (e *Env) Do(t testing.TB, r Req) Response {
	t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(r.Method, e.URL+r.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := Response{Status: res.StatusCode, Raw: raw, Calls: e.rec.get(res.Header.Get("X-Request-Id"))}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// recorder is a slog handler keeping the AWS call counts of each request
// log line by request id, and the totals of the workers' batch lines.
type recorder struct {
	mu      sync.Mutex
	byID    map[string]Calls
	workOps map[string]int
}

func (r *recorder) addBatch(rec slog.Record) {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "ops" && a.Value.String() != "" {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.workOps == nil {
				r.workOps = map[string]int{}
			}
			for _, kv := range strings.Split(a.Value.String(), ",") {
				k, v, _ := strings.Cut(kv, "=")
				var n int
				fmt.Sscan(v, &n)
				r.workOps[k] += n
			}
		}
		return true
	})
}

// WorkerOps returns the AWS calls the queue workers made so far, by
// operation ("DynamoDB.BatchWriteItem": 21, …), and resets the tally.
func (e *Env) WorkerOps() map[string]int {
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	ops := e.rec.workOps
	e.rec.workOps = nil
	return ops
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "batch" {
		r.addBatch(rec)
		return nil
	}
	if rec.Level >= slog.LevelWarn && os.Getenv("PARLEY_TEST_LOG") != "" {
		// PARLEY_TEST_LOG=1 shows the stack's warnings and errors.
		var b strings.Builder
		rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		fmt.Fprintf(os.Stderr, "%s %s%s\n", rec.Level, rec.Message, b.String())
	}
	if rec.Message != "request" {
		return nil
	}
	var id string
	var c Calls
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "request_id":
			id = a.Value.String()
		case "aws_calls":
			c.Total = int(a.Value.Int64())
		case "auth_calls":
			c.Auth = int(a.Value.Int64())
		case "ops":
			c.Ops = a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	r.byID[id] = c
	r.mu.Unlock()
	return nil
}

func (r *recorder) get(id string) Calls {
	// The log line is written after the response; wait for it briefly.
	for i := 0; i < 100; i++ {
		r.mu.Lock()
		c, ok := r.byID[id]
		r.mu.Unlock()
		if ok {
			return c
		}
		time.Sleep(2 * time.Millisecond)
	}
	return Calls{Total: -1}
}

// NewAccount bootstraps a fresh account and returns its token.
func (e *Env) NewAccount(t testing.TB) string {
	t.Helper()
	email := strings.ToLower(id.New("t")) + "@example.com"
	_, pat, err := localrun.Bootstrap(context.Background(), e.Deps, email, "")
	if err != nil {
		t.Fatal(err)
	}
	return pat
}

// Want fails the test unless res has status and, when errType is set, a
// Botpress error body of that type.
func Want(t testing.TB, res Response, status int, errType string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Raw)
	}
	if errType != "" {
		if res.Body["type"] != errType || res.Body["code"] != float64(status) || !strings.HasPrefix(fmt.Sprint(res.Body["id"]), "err_") || res.Body["message"] == "" {
			t.Fatalf("error body %s, want type %s", res.Raw, errType)
		}
	}
}

// WantCalls fails the test unless the request spent auth round trips on
// authentication and then made exactly ops ("DynamoDB.GetItem=1,…").
func WantCalls(t testing.TB, res Response, auth int, ops string) {
	t.Helper()
	if res.Calls.Auth != auth || res.Calls.Ops != ops {
		t.Fatalf("AWS calls: auth %d, ops %q; want auth %d, ops %q", res.Calls.Auth, res.Calls.Ops, auth, ops)
	}
}

// Email is a message the emulator's SES sent.
type Email struct {
	To      []string
	Subject string
	Body    string
}

// SentEmails lists the emails SES sent, as moto records them.
func (e *Env) SentEmails(t testing.TB) []Email {
	t.Helper()
	res, err := http.Get(e.Endpoint + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var data struct {
		SES struct {
			Message []struct {
				Destinations struct {
					ToAddresses []string `json:"ToAddresses"`
				} `json:"destinations"`
				Subject string `json:"subject"`
				Body    string `json:"body"`
			} `json:"Message"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(res.Body).Decode(&data); err != nil {
		t.Fatal(err)
	}
	var out []Email
	for _, m := range data.SES.Message {
		out = append(out, Email{To: m.Destinations.ToAddresses, Subject: m.Subject, Body: m.Body})
	}
	return out
}

// PutChatItems writes items straight into the chat table, 25 per
// BatchWriteItem, for tests that seed data the way the chat API stores it.
func (e *Env) PutChatItems(t testing.TB, items []map[string]types.AttributeValue) {
	t.Helper()
	var reqs []types.WriteRequest
	for _, it := range items {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	if err := dynamostore.BatchWrite(context.Background(), e.Deps.DB, e.Env["TABLE_CHAT"], reqs, nil); err != nil {
		t.Fatal(err)
	}
}

// ConversationItems counts what is left of a conversation: its item and
// everything in its partition.
func (e *Env) ConversationItems(t testing.TB, bot, conv string) int {
	t.Helper()
	ctx := context.Background()
	table := e.Env["TABLE_CHAT"]
	key, partition := chatdata.ConversationKeys(bot, conv)
	out, err := e.Deps.DB.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": dynamostore.S(partition)}, Select: types.SelectCount})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Deps.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	n := int(out.Count)
	if got.Item != nil {
		n++
	}
	return n
}
