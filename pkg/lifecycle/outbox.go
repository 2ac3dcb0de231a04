package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// EraseKind names the work item that erases the contents of items already
// gone from every read (a deleted conversation's partition).
const EraseKind = "eraseItems"

// Intents is the outbox: durable intents written in the transaction of the
// change that needs them (pkg/lifecycledata).
type Intents interface {
	Pending(ctx context.Context, until time.Time, limit int) ([]lifecycledata.Intent, error)
	Done(ctx context.Context, in lifecycledata.Intent) error
}

// EraseWork is the body of an EraseKind work item.
type EraseWork struct {
	Kind  string   `json:"kind"`
	BotID string   `json:"botId"`
	IDs   []string `json:"ids"`
}

// Outbox drives intents to completion: the request that wrote an intent
// queues its work at once (best effort), and the off-peak window queues
// again whatever is still pending, so the work is done even if every step
// after the commit fails once.
type Outbox struct {
	catalogue *Catalogue
	intents   Intents
	queue     Queue
	queueURL  string
}

// NewOutbox returns the outbox's driver.
func NewOutbox(c *Catalogue, in Intents, q Queue, queueURL string) *Outbox {
	return &Outbox{catalogue: c, intents: in, queue: q, queueURL: queueURL}
}

// drainLimit bounds the intents one window queues; the rest wait for the
// next window.
const drainLimit = 10000

// Drain queues the work of every intent recorded before now.
func (o *Outbox) Drain(ctx context.Context, now time.Time) (int, error) {
	pending, err := o.intents.Pending(ctx, now, drainLimit)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	var purges, erases []any
	for _, in := range pending {
		if in.IsPurge() {
			purges = append(purges, purgeWork{BotID: in.BotID, WorkspaceID: in.WorkspaceID})
		} else {
			erases = append(erases, EraseWork{Kind: in.Kind, BotID: in.BotID, IDs: []string{in.ID}})
		}
	}
	return len(pending), errors.Join(
		Enqueue(ctx, o.queue, o.queueURL, PurgeBotKind, purges),
		Enqueue(ctx, o.queue, o.queueURL, EraseKind, erases))
}

// PurgeDone implements PurgeDone: the bot's purge intent is removed.
func (o *Outbox) PurgeDone(ctx context.Context, bot string) error {
	return o.intents.Done(ctx, lifecycledata.Intent{BotID: bot})
}

// HandleErase is the lifecycle handler for EraseKind items: each item's
// contents are erased a page at a time, what was written meanwhile is
// swept, and the intent is removed.
func (o *Outbox) HandleErase(ctx context.Context, body json.RawMessage, _ int) error {
	var w EraseWork
	if err := json.Unmarshal(body, &w); err != nil || w.BotID == "" || w.Kind == "" {
		return fmt.Errorf("unreadable erase work: %s", body)
	}
	k, ok := o.catalogue.ItemKind(w.Kind)
	if !ok {
		return fmt.Errorf("no item kind %q in the catalogue", w.Kind)
	}
	for _, id := range w.IDs {
		if err := k.EraseContents(ctx, w.BotID, id); err != nil {
			return fmt.Errorf("erase %s %s: %w", w.Kind, id, err)
		}
		if err := k.Sweep(ctx, w.BotID, id, Facts{}); err != nil {
			return fmt.Errorf("sweep %s %s: %w", w.Kind, id, err)
		}
		if err := o.intents.Done(ctx, lifecycledata.Intent{Kind: w.Kind, BotID: w.BotID, ID: id}); err != nil {
			return err
		}
	}
	return nil
}
