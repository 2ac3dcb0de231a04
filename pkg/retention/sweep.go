package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Sweep is the retention part of the off-peak window.
type Sweep struct {
	policies PolicyReader
	finder   *Finder
	runs     *Runs
	queue    lifecycle.Queue
	queueURL string
	clock    clock.Clock
	length   time.Duration
	log      *slog.Logger
}

// NewSweep returns the retention sweep; length is the window's.
func NewSweep(policies PolicyReader, finder *Finder, runs *Runs, q lifecycle.Queue, queueURL string, c clock.Clock, length time.Duration, log *slog.Logger) *Sweep {
	return &Sweep{policies: policies, finder: finder, runs: runs, queue: q, queueURL: queueURL, clock: c, length: length, log: log}
}

// Open runs the window opened at (the schedule's time): it finishes what
// earlier windows left (audit records, pending chunks), then evaluates
// every policy without a run in progress. Errors of one workspace don't
// stop the others.
func (s *Sweep) Open(ctx context.Context, at time.Time) error {
	if at.IsZero() {
		at = s.clock.Now()
	}
	at = at.UTC().Truncate(time.Millisecond)
	end := s.clock.Now().Add(s.length)
	var errs []error
	busy, err := s.resume(ctx, end)
	if err != nil {
		errs = append(errs, err)
	}
	all, err := s.policies.All(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	byWS := map[string][]lifecycledata.Policy{}
	for _, p := range all {
		byWS[p.WorkspaceID] = append(byWS[p.WorkspaceID], p)
	}
	var sum windowSummary
	for ws, ps := range byWS {
		if err := s.evaluate(ctx, ws, ps, busy, at, end, &sum); err != nil {
			s.log.ErrorContext(ctx, "retention evaluation failed", "workspace", ws, "error", err)
			errs = append(errs, fmt.Errorf("workspace %s: %w", ws, err))
		}
	}
	// One line per window says what was evaluated; runs (and their audit
	// records) exist only for policies that had work.
	s.log.InfoContext(ctx, "retention window", "at", clock.Format(at), "policies", len(all), "runs", sum.runs,
		"nothing_due", sum.idle, "busy", sum.busy, "candidates_read", sum.read)
	return errors.Join(errs...)
}

// resume proves finished runs, requeues the unfinished chunks of runs in
// progress and ends runs interrupted while planning. It returns the
// policies whose run is still in progress: they are not evaluated again
// until it ends.
func (s *Sweep) resume(ctx context.Context, end time.Time) (map[string]bool, error) {
	proof, err := s.runs.open(ctx, proofRunsKey)
	if err != nil {
		return nil, err
	}
	for _, run := range proof {
		if err := s.runs.prove(ctx, run); err != nil {
			return nil, err
		}
	}
	open, err := s.runs.open(ctx, openRunsKey)
	if err != nil {
		return nil, err
	}
	busy := map[string]bool{}
	var errs []error
	for _, run := range open {
		if run.Status == Planning {
			// Nothing of it was queued; the policy is evaluated afresh.
			if err := s.runs.end(ctx, run, "interrupted while planning; the policy was evaluated again"); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		busy[run.PolicyID] = true
		if err := s.queueRun(ctx, run, end); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", run.ID, err))
		}
	}
	return busy, errors.Join(errs...)
}

func (s *Sweep) queueRun(ctx context.Context, run Run, end time.Time) error {
	chunks, err := s.runs.chunks(ctx, run.ID)
	if err != nil {
		return err
	}
	var work []any
	for _, c := range chunks {
		if c.Status == lifecycle.ChunkPending || c.Status == lifecycle.ChunkInProgress {
			work = append(work, Work{RunID: run.ID, PolicyID: run.PolicyID, WorkspaceID: run.WorkspaceID, Chunk: c.Number, BotID: c.BotID,
				Items: c.Items, Config: run.Config, Cutoff: run.Cutoff, WindowEnd: clock.Format(end)})
		}
	}
	if err := lifecycle.Enqueue(ctx, s.queue, s.queueURL, WorkKind, work); err != nil {
		return err
	}
	return s.runs.IfDone(ctx, run.WorkspaceID, run.PolicyID, run.ID)
}

// windowSummary counts a window's evaluations.
type windowSummary struct{ runs, idle, busy, read int }

// evaluate evaluates a workspace's policies, records a run for each one
// not busy, and queues the runs' chunks.
func (s *Sweep) evaluate(ctx context.Context, ws string, ps []lifecycledata.Policy, busy map[string]bool, at, end time.Time, sum *windowSummary) error {
	assignments, err := s.finder.Evaluate(ctx, ws, ps, at)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range assignments {
		sum.read += a.Read
		switch {
		case busy[a.Policy.ID]:
			sum.busy++
			continue
		case len(a.Items) == 0 && a.Yielded == 0:
			// Nothing due: no run, no audit record (the window's summary
			// line counts it).
			sum.idle++
			continue
		}
		sum.runs++
		if err := s.start(ctx, a, at, end); err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", a.Policy.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Sweep) start(ctx context.Context, a *Assignment, at, end time.Time) error {
	run := Run{
		ID: runID(a.Policy.ID, at), PolicyID: a.Policy.ID, PolicyName: a.Policy.Name, Status: Planning,
		Config: a.Policy.Config, Cutoff: clock.Format(a.Cutoff), StartedAt: clock.Format(at),
		TotalCount: len(a.Items), CandidatesRead: a.Read, Yielded: a.Yielded, WorkspaceID: a.Policy.WorkspaceID,
		SkippedReasons: map[string]int{}, Errors: []string{},
	}
	created, err := s.runs.claim(ctx, run)
	if err != nil || !created {
		return err // !created: this window already evaluated the policy
	}
	// Chunks hold one bot's items each.
	var chunks []chunkRow
	for i := 0; i < len(a.Items); {
		j := i
		for j < len(a.Items) && j-i < ChunkSize && a.Items[j].BotID == a.Items[i].BotID {
			j++
		}
		chunks = append(chunks, chunkRow{Number: len(chunks), Status: lifecycle.ChunkPending, BotID: a.Items[i].BotID, Items: a.Items[i:j]})
		i = j
	}
	if err := s.runs.plan(ctx, run, chunks); err != nil {
		return err
	}
	run.Status, run.Chunks = InProgress, len(chunks)
	return s.queueRun(ctx, run, end)
}

// SettleDeadLetter ends, as failed, a chunk whose message crashed the
// worker until SQS gave up on it, so its run can finish and say so.
func (s *Sweep) SettleDeadLetter(ctx context.Context, it lifecycle.Item) error {
	var work Work
	if err := json.Unmarshal(it.Body, &work); err != nil {
		return nil // unreadable: nothing to attribute it to
	}
	w := &Worker{runs: s.runs, clock: s.clock, log: s.log}
	c, err := w.chunk(work)
	if err != nil {
		return err
	}
	return w.pipeline().FailDeadLetter(ctx, c, w.settlement(work, true), "dead-lettered: the work item failed on every delivery")
}
