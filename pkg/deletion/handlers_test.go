package deletion

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/schedule"
)

// Handler unit tests: no emulator; the job store and the records are fakes
// (structs of functions). A method a test does not set panics through the
// nil embedded interface, so an unexpected call fails the test.

type fakeJobs struct {
	Jobs
	create func(ctx context.Context, j Job) error
	get    func(ctx context.Context, bot, job string) (Job, error)
}

func (f fakeJobs) Create(ctx context.Context, j Job) error { return f.create(ctx, j) }
func (f fakeJobs) Get(ctx context.Context, bot, job string) (Job, error) {
	return f.get(ctx, bot, job)
}

type fakeRecords struct {
	Records
	created func(ctx context.Context, bot, user string) (time.Time, time.Time, error)
}

func (f fakeRecords) Created(ctx context.Context, bot, user string) (time.Time, time.Time, error) {
	return f.created(ctx, bot, user)
}

var at = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func testAPI(t *testing.T, jobs Jobs, records Records) *API {
	window, err := schedule.Parse("cron(0 2 * * ? *)")
	if err != nil {
		t.Fatal(err)
	}
	return NewAPI(jobs, nil, records, nil, &clock.Fixed{T: at}, window)
}

func call(h httpapi.Handler, body any, path map[string]string) (httpapi.Response, error) {
	raw, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", "/api/public/bot/bot_1/conversations/delete", bytes.NewReader(raw))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range path {
		r.SetPathValue(k, v)
	}
	return h(r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{BotID: "bot_1", WorkspaceID: "ws_1", AccountID: "acc_1"})))
}

func TestSubmitRefusesBadBodiesAndWritesNothing(t *testing.T) {
	jobs := fakeJobs{create: func(context.Context, Job) error { t.Fatal("a refused job was stored"); return nil }}
	a := testAPI(t, jobs, nil)
	var tooMany []string
	for i := range MaxConversationIDs + 1 {
		tooMany = append(tooMany, fmt.Sprintf("conv_%026d", i))
	}
	for name, body := range map[string]any{
		"empty":    map[string]any{},
		"no ids":   map[string]any{"conversationIds": []string{}},
		"too many": map[string]any{"conversationIds": tooMany},
		"unknown":  map[string]any{"conversationIds": []string{"conv_1"}, "extra": true},
		"future":   map[string]any{"cId": "user_1", "startDate": "2026-05-01", "endDate": "2026-06-01"},
	} {
		if _, err := call(a.submit, body, nil); !apperr.Is(err, apperr.InvalidPayload) {
			t.Errorf("%s: %v, want InvalidPayload", name, err)
		}
	}
}

func TestSubmitQueuesForTheNextWindow(t *testing.T) {
	var stored Job
	a := testAPI(t, fakeJobs{create: func(_ context.Context, j Job) error { stored = j; return nil }}, nil)
	res, err := call(a.submit, map[string]any{"conversationIds": []string{"conv_a", "conv_a", "conv_b"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 5, 5, 2, 0, 0, 0, time.UTC)
	if stored.Status != Queued || stored.ScheduledAt != clock.Format(want) || len(stored.Request.ConversationIDs) != 2 ||
		stored.BotID != "bot_1" || stored.WorkspaceID != "ws_1" || stored.SubmittedBy != "acc_1" {
		t.Fatalf("stored %+v", stored)
	}
	if body := res.Body.(map[string]string); body["status"] != "queued" || body["jobId"] != stored.JobID {
		t.Fatalf("answer %v", res.Body)
	}
}

func TestSubmitByUserDefaultsTheRange(t *testing.T) {
	var stored Job
	records := fakeRecords{created: func(context.Context, string, string) (time.Time, time.Time, error) {
		return at.Add(-72 * time.Hour), at.Add(-24 * time.Hour), nil
	}}
	a := testAPI(t, fakeJobs{create: func(_ context.Context, j Job) error { stored = j; return nil }}, records)
	if _, err := call(a.submit, map[string]any{"cId": "user_1"}, nil); err != nil {
		t.Fatal(err)
	}
	if stored.RequestType != ByUser || stored.Request.UserID != "user_1" || stored.Request.StartDate == "" || stored.Request.EndDate == "" {
		t.Fatalf("stored %+v", stored.Request)
	}
}

func TestStatusOfAnotherBotsJobIsNotFound(t *testing.T) {
	a := testAPI(t, fakeJobs{get: func(_ context.Context, bot, job string) (Job, error) {
		if bot != "bot_1" {
			t.Fatalf("read the job of %s", bot)
		}
		return Job{}, apperr.NotFound("deletion job", job)
	}}, nil)
	if _, err := call(a.status, nil, map[string]string{"jobId": "cdj-x"}); !apperr.Is(err, apperr.ResourceNotFound) {
		t.Fatalf("%v, want ResourceNotFound", err)
	}
}
