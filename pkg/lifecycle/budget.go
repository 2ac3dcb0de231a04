package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Budget paces a workspace's erasures: the per-workspace throughput budget
// (items per second) every chunk of the workspace draws from, whichever
// worker instance runs it.
type Budget interface {
	// Reserve asks for n items. It answers how long to wait before acting
	// on them, and whether they were reserved: a reservation further away
	// than the budget's longest wait is not made, and the chunk is deferred.
	Reserve(ctx context.Context, n int) (wait time.Duration, reserved bool, err error)
}

// Deferred is the error of a chunk the budget could not take now: its work
// item should come back after Wait, without counting as a failure.
type Deferred struct{ Wait time.Duration }

func (d Deferred) Error() string { return fmt.Sprintf("throughput budget spent: deferred %s", d.Wait) }

// IsDeferred reports whether err defers a work item, and for how long.
func IsDeferred(err error) (time.Duration, bool) {
	var d Deferred
	if errors.As(err, &d) {
		return d.Wait, true
	}
	return 0, false
}

// pace draws the items a chunk is about to erase (as this attempt found
// them) from the budget, and waits for their turn.
func (p Pipeline) pace(ctx context.Context, plan map[string]Outcome, facts map[string]Facts) error {
	if p.Budget == nil {
		return nil
	}
	n := 0
	for id, o := range plan {
		if o.Acts() {
			n += max(facts[id].Records, 1)
		}
	}
	if n == 0 {
		return nil
	}
	wait, reserved, err := p.Budget.Reserve(ctx, n)
	if err != nil {
		return fmt.Errorf("throughput budget: %w", err)
	}
	if !reserved {
		return Deferred{Wait: wait}
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
