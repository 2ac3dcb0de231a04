// Package chatdata owns the chat table's layout: it is the only package
// that builds or parses the chat table's keys. It stores a bot's users,
// conversations, participants, messages, events, states, get-or-create
// claims and day counters, and registers their kinds in the lifecycle
// catalogue (see kinds.go). The chat API (pkg/chat) reaches it through
// interfaces it declares; chatdata never imports a feature package.
//
// Every key starts with the bot; everything that belongs to a conversation
// lives in its partition, so erasing a conversation is erasing one
// partition, one item and its claim, and the bot-level indexes over
// messages and events are projections of items in that partition.
//
//	user           BOT#<bot>             USER#<user>        gsi1: BOT#<bot>#USERS / <updatedAt>#<user>
//	user claim     BOT#<bot>             USERTAGS#<digest>  → userId (get-or-create)
//	conversation   BOT#<bot>             CONV#<conv>        gsi2: BOT#<bot>#CONVS / <updatedAt>#<conv>; claimSk names its claim
//	conv claim     BOT#<bot>             CONVTAGS#<digest>  → conversationId (get-or-create)
//	message        BOT#<bot>#CONV#<conv> MSG#<msg>          gsi2: BOT#<bot>#MSGS / <msg>
//	message claim  BOT#<bot>#CONV#<conv> MSGTAGS#<digest>   → messageId (get-or-create)
//	participant    BOT#<bot>#CONV#<conv> PART#<user>        gsi1: BOT#<bot>#USER#<user>#CONVS / <conv createdAt>#<conv>
//	conv state     BOT#<bot>#CONV#<conv> STATE#<name>
//	event (conv)   BOT#<bot>#CONV#<conv> EVT#<evt>          gsi2: BOT#<bot>#EVTS / <evt>
//	event (other)  BOT#<bot>             EVT#<evt>          gsi2: BOT#<bot>#EVTS / <evt>
//	other state    BOT#<bot>             STATE#<type>#<id>#<name>
//	day counters   BOT#<bot>             STAT#<yyyy-mm-dd>#<shard 0-7>  newUsers, returningUsers, sessions, userMessages, botMessages, ev#<type>
//	                                     (summed per day on read; a write adds to the shard of its id)
//
// User, conversation, message and event ids are ULIDs, so sort keys order
// them by creation.
package chatdata

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/usage"
)

// Store keeps chat data in the chat table.
type Store struct {
	db    ds.Client
	table string
	pages *cursor.Codec
	// Sleep waits between retries of unprocessed batch items (replaceable
	// in tests).
	Sleep ds.Sleeper
	// Meter adds the usage counters of what the store writes to the
	// write's own transaction (usage.NoMeter: none).
	Meter usage.Meter
}

// NewStore returns a store on table; pages signs list tokens (nil for a
// store that only serves background work).
func NewStore(db ds.Client, table string, pages *cursor.Codec) *Store {
	return &Store{db: db, table: table, pages: pages, Sleep: ds.Sleep, Meter: usage.NoMeter{}}
}

// Table is the chat table's name.
func (s *Store) Table() string { return s.table }

func botPK(bot string) string { return "BOT#" + bot }

func userKey(bot, user string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "USER#"+user)
}

func claimKey(bot string, tags map[string]string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "USERTAGS#"+tagDigest(tags))
}

const (
	gsi2   = "gsi2"
	gsi2PK = "gsi2pk"
	gsi2SK = "gsi2sk"
)

func convPK(bot, conv string) string { return botPK(bot) + "#CONV#" + conv }

func convKey(bot, conv string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "CONV#"+conv)
}

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// Analytics counters kept per bot and day.
const (
	counterNewUsers       = "newUsers"
	counterReturningUsers = "returningUsers"
	counterSessions       = "sessions"
	counterUserMessages   = "userMessages"
	counterBotMessages    = "botMessages"
)

// statShards is how many items hold a bot's counters of one day: a write
// adds to the shard of its id, so a bot's busy day is not one hot item.
const statShards = 8

func day(at time.Time) string { return at.UTC().Format("2006-01-02") }

func statKey(bot string, at time.Time, id string) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), fmt.Sprintf("STAT#%s#%d", day(at), usage.Shard(id)%statShards))
}

// countIn is the transaction item that adds one to day counters, on the
// shard of the counted write's id.
func (s *Store) countIn(bot string, at time.Time, id string, counters ...string) types.TransactWriteItem {
	names := map[string]string{}
	adds := make([]string, len(counters))
	for i, c := range counters {
		names[fmt.Sprintf("#c%d", i)] = c
		adds[i] = fmt.Sprintf("#c%d :one", i)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: statKey(bot, at, id),
		UpdateExpression:          aws.String("ADD " + strings.Join(adds, ", ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
	}}
}

// eventCounterPrefix names a day's count of one event type: a top-level
// attribute "ev#<type>", which an ADD creates (a nested map entry would
// need its map to exist first).
const eventCounterPrefix = "ev#"

// countEventIn adds one to the day's count of an event type.
func (s *Store) countEventIn(bot string, at time.Time, id, eventType string) types.TransactWriteItem {
	return s.countIn(bot, at, id, eventCounterPrefix+eventType)
}

// Stats are one bot's counters for one day, for the analytics endpoint.
type Stats struct {
	NewUsers     int64            `json:"newUsers"`
	UserMessages int64            `json:"userMessages"`
	BotMessages  int64            `json:"botMessages"`
	Events       map[string]int64 `json:"events"`
}

// sortRange narrows a key condition to sort keys beginning with prefix and,
// when dates are given, within them (DynamoDB refuses an empty bound, so an
// unbounded range without a prefix adds nothing).
func sortRange(key expression.KeyConditionBuilder, attr, prefix string, after, before *time.Time, bound func(time.Time, bool) string) expression.KeyConditionBuilder {
	switch {
	case after != nil || before != nil:
		lo, hi := prefix+"0", prefix+"\uffff"
		if after != nil {
			lo = prefix + bound(*after, false)
		}
		if before != nil {
			hi = prefix + bound(*before, true)
		}
		return key.And(expression.Key(attr).Between(expression.Value(lo), expression.Value(hi)))
	case prefix != "":
		return key.And(expression.Key(attr).BeginsWith(prefix))
	}
	return key
}

// readItems reads the items of a page whose sort key starts with prefix: a
// page of a bot's partition or a conversation's also holds other kinds.
func readItems[T any](items []map[string]types.AttributeValue, prefix string, read func(map[string]types.AttributeValue) (T, error)) ([]T, error) {
	out := make([]T, 0, len(items))
	for _, it := range items {
		if !strings.HasPrefix(ds.String(it, ds.SK), prefix) {
			continue
		}
		v, err := read(it)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// liveConversations answers which of the conversations named by items'
// conversationId attribute still exist: one BatchGetItem of the distinct
// ones (none when no item names one). A deleted conversation's partition
// outlives it until the lifecycle worker erases it, so reads that reach
// partition items through a bot-wide index drop those whose conversation
// is gone.
func (s *Store) liveConversations(ctx context.Context, bot string, items []map[string]types.AttributeValue) (map[string]bool, error) {
	var keys []map[string]types.AttributeValue
	for _, it := range items {
		if conv := ds.String(it, "conversationId"); conv != "" {
			keys = append(keys, convKey(bot, conv))
		}
	}
	live := map[string]bool{}
	if len(keys) == 0 {
		return live, nil
	}
	got, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, it := range got {
		live[strings.TrimPrefix(ds.String(it, ds.SK), "CONV#")] = true
	}
	return live, nil
}

// dropOrphans keeps the items that name no conversation or a live one.
func (s *Store) dropOrphans(ctx context.Context, bot string, items []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	live, err := s.liveConversations(ctx, bot, items)
	if err != nil {
		return nil, err
	}
	out := items[:0:0]
	for _, it := range items {
		if conv := ds.String(it, "conversationId"); conv == "" || live[conv] {
			out = append(out, it)
		}
	}
	return out, nil
}

// conversationExists checks that a conversation exists: one consistent
// GetItem of its key. A sub-resource of a missing conversation (or of
// another bot's, which is the same key space) is answered 404.
func (s *Store) conversationExists(ctx context.Context, bot, conv string) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: convKey(bot, conv), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("pk"),
	})
	if err != nil {
		return err
	}
	if out.Item == nil {
		return apperr.NotFound("conversation", conv)
	}
	return nil
}

// keyName names an item by its key ("pk|sk"), to find batch answers.
func keyName(item map[string]types.AttributeValue) string {
	return ds.String(item, ds.PK) + "|" + ds.String(item, ds.SK)
}

// batchGet reads keys of the chat table (any number: ds.BatchGet splits
// them into calls of 100 and retries unprocessed keys, bounded), answering
// items by keyName. Duplicate keys are read once.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	seen := map[string]bool{}
	var pending []map[string]types.AttributeValue
	for _, k := range keys {
		if name := keyName(k); !seen[name] {
			seen[name] = true
			pending = append(pending, k)
		}
	}
	got := map[string]map[string]types.AttributeValue{}
	if len(pending) == 0 {
		return got, nil
	}
	out, err := ds.BatchGet(ctx, s.db, map[string]types.KeysAndAttributes{s.table: {Keys: pending, ConsistentRead: aws.Bool(true)}}, s.Sleep)
	if err != nil {
		return nil, err
	}
	for _, it := range out[s.table] {
		got[keyName(it)] = it
	}
	return got, nil
}

// ConversationKeys are where a conversation's item and its partition (its
// messages, participants, states and events) live, for tools and tests
// that count what is left of one.
func ConversationKeys(bot, conv string) (item map[string]types.AttributeValue, partition string) {
	return convKey(bot, conv), convPK(bot, conv)
}
