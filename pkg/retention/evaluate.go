// Package retention enforces retention policies: at each off-peak window
// every policy is evaluated (its due items found through indexes by time,
// never a scan), each due item is given to the one policy that is due
// earliest, and the work is handed to the lifecycle worker in chunks that
// archive (to S3, then erase) or delete, counted exactly once per run.
package retention

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// Item is a governed item found due: an item of the catalogue kind the
// policy's resources name (its id is the kind's).
type Item struct {
	BotID string `json:"botId"`
	ID    string `json:"id"`
	// Basis is the item's basis time for the policy that found it.
	Basis time.Time `json:"-"`
	Held  bool      `json:"-"`
}

// Bots lists a workspace's bots.
type Bots interface {
	WorkspaceBotIDs(ctx context.Context, workspaceID string) ([]string, error)
}

// AgedKinds finds the catalogue kind a policy governs, listed by age.
type AgedKinds interface {
	AgedKind(name string) (lifecycle.AgedKind, bool)
}

// Finder finds due items through the catalogue kinds' indexes by time, so
// what it reads grows with what is due, not with what is stored.
type Finder struct {
	kinds AgedKinds
	bots  Bots
}

// NewFinder returns a finder over the catalogue.
func NewFinder(kinds AgedKinds, bots Bots) *Finder {
	return &Finder{kinds: kinds, bots: bots}
}

// due finds the items of one bot a config governs whose basis time is at
// or before cutoff, and how many index entries were read to find them.
func (f *Finder) due(ctx context.Context, bot string, c lifecycledata.PolicyConfig, cutoff time.Time) ([]Item, int, error) {
	kind, ok := f.kinds.AgedKind(KindOf(c.Resources))
	if !ok {
		return nil, 0, fmt.Errorf("no catalogue kind governs %q by age", c.Resources)
	}
	basis := lifecycle.BasisUpdated
	if c.Basis == lifecycledata.BasisCreatedAt {
		basis = lifecycle.BasisCreated
	}
	var items []Item
	read, err := kind.Due(ctx, bot, basis, cutoff, func(page []lifecycle.Candidate) error {
		for _, cand := range page {
			if !inScope(c.Scope, cand.Attrs["channel"], cand.Attrs["integration"], cand.Tags) {
				continue
			}
			if len(c.Scope.TableNames) > 0 && !contains(c.Scope.TableNames, cand.Attrs["table"]) {
				continue
			}
			t := cand.CreatedAt
			if basis == lifecycle.BasisUpdated && !cand.UpdatedAt.IsZero() {
				t = cand.UpdatedAt
			}
			if t.IsZero() || t.After(cutoff) {
				continue
			}
			items = append(items, Item{BotID: bot, ID: cand.ID, Basis: t, Held: cand.Held})
		}
		return nil
	})
	return items, read, err
}

// idTime is the creation time of a prefixed ULID id.
func idTime(id string) time.Time {
	_, raw, _ := strings.Cut(id, "_")
	u, err := ulid.ParseStrict(raw)
	if err != nil {
		return time.Time{}
	}
	return ulid.Time(u.Time())
}

func inScope(s lifecycledata.PolicyScope, channel, integration string, tags map[string]string) bool {
	if len(s.Channels) > 0 && !contains(s.Channels, channel) {
		return false
	}
	if len(s.IntegrationNames) > 0 && !contains(s.IntegrationNames, integration) {
		return false
	}
	for k, v := range s.Tags {
		if tags[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Assignment is what one policy gets to act on in an evaluation.
type Assignment struct {
	Policy lifecycledata.Policy
	Cutoff time.Time
	// Items are the due items this policy won (held ones included: the
	// worker skips and counts them).
	Items []Item
	// Read counts the index entries read; Yielded counts due items another
	// policy won because it was due earlier.
	Read, Yielded int
}

// Evaluate evaluates a workspace's policies at now: each policy's due items
// are found, and an item governed by several policies goes to the one due
// earliest (basis time plus maxAge; ties to the lower policy id).
func (f *Finder) Evaluate(ctx context.Context, ws string, policies []lifecycledata.Policy, now time.Time) ([]*Assignment, error) {
	bots, err := f.bots.WorkspaceBotIDs(ctx, ws)
	if err != nil {
		return nil, err
	}
	sort.Slice(policies, func(i, j int) bool { return policies[i].ID < policies[j].ID })
	type claim struct {
		a   *Assignment
		due time.Time
		it  Item
	}
	winners := map[string]claim{}
	var out []*Assignment
	for _, p := range policies {
		a := &Assignment{Policy: p, Cutoff: p.Config.Cutoff(now)}
		out = append(out, a)
		d, err := lifecycledata.ParseDuration(p.Config.MaxAge)
		if err != nil {
			continue
		}
		for _, bot := range bots {
			if len(p.Config.Scope.BotIDs) > 0 && !contains(p.Config.Scope.BotIDs, bot) {
				continue
			}
			items, read, err := f.due(ctx, bot, p.Config, a.Cutoff)
			if err != nil {
				return nil, err
			}
			a.Read += read
			for _, it := range items {
				key := p.Config.Resources + "|" + bot + "|" + it.ID
				due := d.After(it.Basis)
				if prev, ok := winners[key]; ok && !due.Before(prev.due) {
					a.Yielded++
					continue
				} else if ok {
					prev.a.Yielded++
				}
				winners[key] = claim{a: a, due: due, it: it}
			}
		}
	}
	for _, c := range winners {
		c.a.Items = append(c.a.Items, c.it)
	}
	for _, a := range out {
		sort.Slice(a.Items, func(i, j int) bool {
			if a.Items[i].BotID != a.Items[j].BotID {
				return a.Items[i].BotID < a.Items[j].BotID
			}
			return a.Items[i].ID < a.Items[j].ID
		})
	}
	return out, nil
}
