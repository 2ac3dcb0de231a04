// Package usage is the vocabulary of metering shared by the table owners
// that count what they write (pkg/chatdata) and the admin table's owner
// that keeps the counters (pkg/admindata): the metered quantities, the
// workspace a write is charged to, and the Meter that turns counts into
// items of the counted write's own transaction.
//
// Counters live in the admin table, one item per target (workspace or
// bot), month and shard; a write adds to one shard chosen by hashing the
// id of what it writes, and reads sum the shards. See pkg/admindata's
// README (Metering).
package usage

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Metered quantities. The first ones are usage types of @botpress/api
// 1.70.2; the others are Parley's own monthly counters, answered by the
// usage routes and priced by billing.
const (
	InvocationCalls  = "invocation_calls"
	StorageCount     = "storage_count"
	IncomingMessages = "incoming_messages"
	OutgoingMessages = "outgoing_messages"
	IncomingEvents   = "incoming_events"
	OutgoingEvents   = "outgoing_events"
)

// Monthly lists the quantities counted per month by the meter.
var Monthly = []string{InvocationCalls, StorageCount, IncomingMessages, OutgoingMessages, IncomingEvents, OutgoingEvents}

// Shards is how many counter items a target has per month. A write touches
// one, chosen by its id: 1,000 metered writes per second on one workspace
// are about 4 per second per item (14 at the busiest), far below the
// ~1,000 writes per second one item takes, and a transaction meets another
// on its shard about 4% of the time with a 10 ms hold (27% with 32 shards,
// always with one item: BenchmarkConcurrentWriters); those few conflicts
// are retried by dynamostore.RetryConflicts. Reads Query the shards.
const Shards = 256

// Shard is the counter shard of the write of id (stable: a retried write
// meters on the same shard).
func Shard(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % Shards)
}

// Counts are metered quantities to add, by name.
type Counts map[string]int64

// Period is the metering month of t: "2026-05".
func Period(t time.Time) string { return t.UTC().Format("2006-01") }

// Meter turns counts into the items of the counted write's transaction
// (DynamoDB transactions span tables). The workspace charged is the one
// ctx names (WithWorkspace, or the request's authenticated bot); without
// one only the bot's counters move.
type Meter interface {
	MeterItems(ctx context.Context, bot, id string, at time.Time, c Counts) []types.TransactWriteItem
}

// NoMeter counts nothing (stores that serve reads or background erasure).
type NoMeter struct{}

// MeterItems returns none.
func (NoMeter) MeterItems(context.Context, string, string, time.Time, Counts) []types.TransactWriteItem {
	return nil
}

type workspaceKey struct{}

// WithWorkspace names the workspace the writes made with ctx are charged
// to (the delivery worker, which reads it from the bot's record).
func WithWorkspace(ctx context.Context, ws string) context.Context {
	return context.WithValue(ctx, workspaceKey{}, ws)
}

// Workspace is the workspace named by WithWorkspace ("" when none).
func Workspace(ctx context.Context) string {
	ws, _ := ctx.Value(workspaceKey{}).(string)
	return ws
}

type incomingKey struct{}

// WithIncoming says the writes made with ctx come from outside the bot (an
// integration, on a user's behalf): events are metered as incoming.
func WithIncoming(ctx context.Context) context.Context {
	return context.WithValue(ctx, incomingKey{}, true)
}

// Incoming reports whether ctx was made by WithIncoming.
func Incoming(ctx context.Context) bool {
	in, _ := ctx.Value(incomingKey{}).(bool)
	return in
}
