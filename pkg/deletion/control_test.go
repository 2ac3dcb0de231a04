package deletion_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/testenv"
)

func (w world) control(t testing.TB, job, op string) testenv.Response {
	t.Helper()
	return w.env.Do(t, R{Method: "POST", Path: "/api/public/bot/" + w.bot + "/conversations/delete/" + job + "/" + op,
		Headers: map[string]string{"auth": w.jwt(t, w.keySecret, time.Now().Add(time.Hour))}})
}

// auditActions lists the actions of the workspace's audit chain.
func (w world) auditActions(t testing.TB) string {
	t.Helper()
	res := w.env.Do(t, R{Method: "GET", Path: "/api/v1/audit/export", Token: w.token, Headers: map[string]string{"x-workspace-id": w.ws}})
	want(t, res, 200, "")
	return string(res.Raw)
}

// A queued job can be cancelled (and the window never starts it); a job
// in any other state cannot, and a queued one cannot be paused or resumed.
// Control takes the status route's auth (a bot API key's JWT here; a PAT
// of another workspace is refused) and is in the audit chain.
func TestCancelQueuedJob(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	c, n := seed(t, env, w.bot, "user_c", time.Now().Add(-time.Hour), 3, nil)
	job := w.submit(t, map[string]any{"conversationIds": []string{c}}).Body["jobId"].(string)

	want(t, w.control(t, job, "pause"), 409, "ResourceLockedConflict")
	want(t, w.control(t, job, "resume"), 409, "ResourceLockedConflict")
	other := newWorld(t, env)
	want(t, env.Do(t, R{Method: "POST", Path: "/api/public/bot/" + w.bot + "/conversations/delete/" + job + "/cancel", Token: other.token}), 403, "Forbidden")

	res := w.control(t, job, "cancel")
	want(t, res, 200, "")
	if res.Body["status"] != "cancelled" || res.Body["cancelledAt"] == nil {
		t.Fatalf("cancel answered %s", res.Raw)
	}
	if s := w.status(t, job).Body["status"]; s != "cancelled" {
		t.Fatalf("status after cancel: %v", s)
	}
	want(t, w.control(t, job, "cancel"), 409, "ResourceLockedConflict")

	// The window does not start it: the conversation stays.
	r := newRig(t, env, scheduled(t, w, job).Add(time.Minute))
	if err := r.window.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.receive(t).Records {
		if contains(m.Body, job) {
			t.Fatalf("the window queued work for a cancelled job: %s", m.Body)
		}
	}
	if left := stored(t, env, w.bot, c); left != n {
		t.Fatalf("%d of %d items left of a cancelled job's conversation", left, n)
	}
	if !strings.Contains(w.auditActions(t), `"action":"CANCEL_DELETION_JOB"`) {
		t.Fatal("the cancel is not in the audit chain")
	}
}

// A running job paused: the worker takes none of its chunks (they stay
// pending, the conversations stay); resumed, its chunks are queued at once
// and the lifecycle worker finishes it. The status shows each state.
func TestPauseAndResumeRunningJob(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	var ids []string
	total := 0
	for i := 0; i < 3; i++ {
		c, n := seed(t, env, w.bot, "user_p", time.Now().Add(-time.Hour), 10, nil)
		ids, total = append(ids, c), total+n
	}
	job := w.submit(t, map[string]any{"conversationIds": ids}).Body["jobId"].(string)
	r := newRig(t, env, scheduled(t, w, job).Add(time.Minute))
	mine := r.open(t, job) // resolved: in_progress, its chunk queued

	res := w.control(t, job, "pause")
	want(t, res, 200, "")
	if res.Body["status"] != "paused" || res.Body["pausedAt"] == nil {
		t.Fatalf("pause answered %s", res.Raw)
	}
	want(t, w.control(t, job, "pause"), 409, "ResourceLockedConflict")
	want(t, w.control(t, job, "cancel"), 409, "ResourceLockedConflict")
	if r.handle(t, mine) != 0 {
		t.Fatal("a paused job's chunk was reported failed")
	}
	for _, c := range ids {
		if stored(t, env, w.bot, c) == 0 {
			t.Fatal("a paused job's chunk was processed")
		}
	}
	// The window does not queue a paused job's chunks either.
	if err := r.window.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.receive(t).Records {
		if contains(m.Body, job) {
			t.Fatalf("the window queued work for a paused job: %s", m.Body)
		}
	}

	res = w.control(t, job, "resume")
	want(t, res, 200, "")
	if res.Body["status"] != "in_progress" || res.Body["pausedAt"] != nil {
		t.Fatalf("resume answered %s", res.Raw)
	}
	done := await(t, w, job) // the stack's lifecycle worker runs the re-queued chunk
	if got := result(done); done["status"] != "completed" || got["deletedCount"] != 3 || got["deletedRecords"] != total {
		t.Fatalf("after resume: %v", done)
	}
	for _, c := range ids {
		if left := stored(t, env, w.bot, c); left != 0 {
			t.Fatalf("%d items left of %s", left, c)
		}
	}
	// (The rate is measured in TestDeletionJobs, on the stack's own clock:
	// this rig's window ran at a fixed time.)
	if tp := done["throughput"].(map[string]any); tp["budgetItemsPerSecond"] != float64(1000) {
		t.Fatalf("throughput %v", tp)
	}
	actions := w.auditActions(t)
	for _, a := range []string{"PAUSE_DELETION_JOB", "RESUME_DELETION_JOB", "DELETION_JOB_COMPLETED"} {
		if !strings.Contains(actions, `"action":"`+a+`"`) {
			t.Errorf("%s is not in the audit chain", a)
		}
	}
}

// The worker honours the workspace's throughput budget: two jobs of one
// workspace (two chunks of 32 items) at 40 items a second take at least
// the second chunk's turn (32/40 s), and a chunk whose turn is further
// than the budget's longest wait is deferred on the queue, not failed,
// and runs when it comes back.
func TestThroughputBudget(t *testing.T) {
	env := testenv.Stack(t)
	w := newWorld(t, env)
	var jobs []string
	for i := 0; i < 2; i++ {
		c, _ := seed(t, env, w.bot, "user_b", time.Now().Add(-time.Hour), 30, nil)
		jobs = append(jobs, w.submit(t, map[string]any{"conversationIds": []string{c}}).Body["jobId"].(string))
	}
	r := newRig(t, env, scheduled(t, w, jobs[0]).Add(time.Minute))
	budgets := lifecycledata.NewBudgets(env.Deps.DB, env.Env["TABLE_LIFECYCLE"], clock.System{}, 40)
	r.jobs.Paced(budgets)
	first := r.open(t, jobs[0])
	second := r.open(t, jobs[1]) // the window queues the second's chunk again
	start := time.Now()
	if r.handle(t, first) != 0 || r.handle(t, second) != 0 {
		t.Fatal("a chunk failed")
	}
	if took := time.Since(start); took < 700*time.Millisecond {
		t.Fatalf("two chunks of 32 items at 40 items/s took %s, want at least 0.8 s", took)
	}
	for _, j := range jobs {
		if s := w.status(t, j).Body["status"]; s != "completed" {
			t.Fatalf("job %s: %v", j, s)
		}
	}

	// A turn further than the longest wait: deferred, then done.
	budgets.MaxWait = 100 * time.Millisecond
	c, _ := seed(t, env, w.bot, "user_b", time.Now().Add(-time.Hour), 30, nil)
	late := w.submit(t, map[string]any{"conversationIds": []string{c}}).Body["jobId"].(string)
	c2, _ := seed(t, env, w.bot, "user_b", time.Now().Add(-time.Hour), 30, nil)
	later := w.submit(t, map[string]any{"conversationIds": []string{c2}}).Body["jobId"].(string)
	r.handle(t, r.open(t, late))
	ev := r.open(t, later)
	if r.handle(t, ev) != 0 {
		t.Fatal("a deferred chunk was reported failed")
	}
	if s := w.status(t, later).Body["status"]; s != "in_progress" {
		t.Fatalf("the deferred job is %v", s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.status(t, later).Body["status"] != "completed" {
		if time.Now().After(deadline) {
			t.Fatal("the deferred chunk did not come back")
		}
		back := r.receive(t)
		if len(back.Records) > 0 {
			r.handle(t, back)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
