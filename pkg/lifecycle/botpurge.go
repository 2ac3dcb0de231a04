package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/lifecycledata"
)

// PurgeBotKind names the work item that purges a deleted bot's data.
const PurgeBotKind = "purgeBot"

// purgeStep bounds what one work item erases of one kind, so an item
// always fits in the worker's time; a kind with more continues in a new
// item.
const purgeStep = 100

// PurgeDone is told when a bot's purge is complete (its outbox intent is
// removed).
type PurgeDone interface {
	PurgeDone(ctx context.Context, bot string) error
}

// BotPurge erases every kind of data in the catalogue for a deleted bot
// through the lifecycle queue, kind after kind in the catalogue's order,
// purgeStep items at a time. A kind registered in the catalogue is purged
// with no change here.
type BotPurge struct {
	catalogue *Catalogue
	queue     Queue
	queueURL  string
	done      PurgeDone
	receipts  PurgeReceipts
	clock     clock.Clock
	log       *slog.Logger
}

// PurgeReceipts records a purge's receipt: a page per kind erased, then
// the signed summary.
type PurgeReceipts interface {
	PutItems(ctx context.Context, receiptID, workspaceID, part string, items []lifecycledata.Disposition) error
	Issue(ctx context.Context, receiptID, workspaceID, typ string, fields map[string]any) error
}

// NewBotPurge returns the bot purge.
func NewBotPurge(c *Catalogue, q Queue, queueURL string, done PurgeDone, receipts PurgeReceipts, clk clock.Clock, log *slog.Logger) *BotPurge {
	return &BotPurge{catalogue: c, queue: q, queueURL: queueURL, done: done, receipts: receipts, clock: clk, log: log}
}

type purgeWork struct {
	BotID       string `json:"botId"`
	WorkspaceID string `json:"workspaceId,omitempty"`
	// Kind is where a continued purge resumes ("": the first kind).
	Kind string `json:"kind,omitempty"`
}

// QueuePurge sends the first work item of a bot's purge: what a function
// that deletes bots needs of the purge, without the catalogue.
func QueuePurge(ctx context.Context, q Queue, queueURL, ws, botID string) error {
	return Enqueue(ctx, q, queueURL, PurgeBotKind, []any{purgeWork{BotID: botID, WorkspaceID: ws}})
}

// Handle purges up to purgeStep items of each kind from where the item
// resumes; a kind with more queues a continuation and stops. Erasing what
// is gone is a no-op, so a redelivered item is harmless.
func (b *BotPurge) Handle(ctx context.Context, body json.RawMessage, _ int) error {
	var w purgeWork
	if err := json.Unmarshal(body, &w); err != nil || w.BotID == "" {
		return fmt.Errorf("unreadable bot purge: %s", body)
	}
	kinds := b.catalogue.Kinds()
	start := 0
	if w.Kind != "" {
		for i, k := range kinds {
			if k.Name() == w.Kind {
				start = i
			}
		}
	}
	for i, k := range kinds[start:] {
		more, err := k.Purge(ctx, w.BotID, purgeStep)
		if err != nil {
			return fmt.Errorf("purge %s of bot %s: %w", k.Name(), w.BotID, err)
		}
		if more {
			return Enqueue(ctx, b.queue, b.queueURL, PurgeBotKind, []any{purgeWork{BotID: w.BotID, WorkspaceID: w.WorkspaceID, Kind: k.Name()}})
		}
		// The receipt of a purge has one line per kind: every item of the
		// kind is gone (kinds erase in bulk and do not list what they erase).
		if err := b.receipts.PutItems(ctx, w.BotID, w.WorkspaceID, fmt.Sprintf("%02d-%s", start+i, k.Name()), []lifecycledata.Disposition{{
			ID: k.Name(), Kind: k.Name(), BotID: w.BotID, Disposition: lifecycledata.Deleted, Reason: "botDeleted", At: clock.Format(b.clock.Now()),
		}}); err != nil {
			return err
		}
	}
	if err := b.receipts.Issue(ctx, w.BotID, w.WorkspaceID, ReceiptBotPurge, map[string]any{"botId": w.BotID, "status": "completed", "kinds": len(kinds)}); err != nil {
		return fmt.Errorf("purge receipt: %w", err)
	}
	b.log.InfoContext(ctx, "bot purged", "bot", w.BotID, "kinds", len(kinds))
	return b.done.PurgeDone(ctx, w.BotID)
}
