package retention

import (
	"context"

	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// PolicyReader reads the policies enforcement evaluates.
type PolicyReader interface {
	All(ctx context.Context) ([]lifecycledata.Policy, error)
	OfWorkspace(ctx context.Context, ws string) ([]lifecycledata.Policy, error)
}

// Enforcement answers the policy API's runs and preview routes.
type Enforcement struct {
	Policies PolicyReader
	Finder   *Finder
	RunStore *Runs
	Clock    clock.Clock
}

// Runs implements lifecycledata.Enforcement.
func (e Enforcement) Runs(ctx context.Context, ws, policyID, cursor string, take int, order string) (any, string, error) {
	return e.RunStore.List(ctx, ws, policyID, cursor, take, order)
}

// PreviewSample bounds the ids a preview lists.
const PreviewSample = 20

// Ref names an item in a preview.
type Ref struct {
	BotID string `json:"botId"`
	ID    string `json:"id"`
}

// Preview is what a policy would do if the window opened now.
type Preview struct {
	PolicyID    string                     `json:"policyId"`
	EvaluatedAt string                     `json:"evaluatedAt"`
	Config      lifecycledata.PolicyConfig `json:"config"`
	Cutoff      string                     `json:"cutoff"`
	// Count is how many items it would archive or delete.
	Count         int   `json:"count"`
	ArchiveCount  int   `json:"archiveCount"`
	DeleteCount   int   `json:"deleteCount"`
	LegalHold     int   `json:"legalHoldCount"`
	YieldedCount  int   `json:"yieldedToOtherPolicies"`
	Sample        []Ref `json:"sample"`
	CandidateRead int   `json:"candidatesRead"`
}

// Preview implements lifecycledata.Enforcement: the window's evaluation of the
// policy's workspace, without writing anything.
func (e Enforcement) Preview(ctx context.Context, p lifecycledata.Policy) (any, error) {
	ps, err := e.Policies.OfWorkspace(ctx, p.WorkspaceID)
	if err != nil {
		return nil, err
	}
	now := e.Clock.Now()
	as, err := e.Finder.Evaluate(ctx, p.WorkspaceID, ps, now)
	if err != nil {
		return nil, err
	}
	out := Preview{PolicyID: p.ID, EvaluatedAt: clock.Format(now), Config: p.Config, Cutoff: clock.Format(p.Config.Cutoff(now)), Sample: []Ref{}}
	for _, a := range as {
		if a.Policy.ID != p.ID {
			continue
		}
		out.CandidateRead, out.YieldedCount = a.Read, a.Yielded
		for _, it := range a.Items {
			if it.Held {
				out.LegalHold++
				continue
			}
			out.Count++
			if len(out.Sample) < PreviewSample {
				out.Sample = append(out.Sample, Ref{BotID: it.BotID, ID: it.ID})
			}
		}
	}
	if p.Config.Action == lifecycledata.ActionDelete {
		out.DeleteCount = out.Count
	} else {
		out.ArchiveCount = out.Count
	}
	return out, nil
}
