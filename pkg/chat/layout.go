package chat

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Key layout of the chat table beyond users (see Store). Every key starts
// with the bot; everything that belongs to a conversation lives in its
// partition, so deleting a conversation is deleting one partition and one
// item, and the bot-level indexes over messages and events are projections
// of items in that partition.
//
//	conversation   BOT#<bot>             CONV#<conv>        gsi2: BOT#<bot>#CONVS / <updatedAt>#<conv>
//	conv claim     BOT#<bot>             CONVTAGS#<digest>  → conversationId (get-or-create)
//	message        BOT#<bot>#CONV#<conv> MSG#<msg>          gsi2: BOT#<bot>#MSGS / <msg>
//	message claim  BOT#<bot>#CONV#<conv> MSGTAGS#<digest>   → messageId (get-or-create)
//	participant    BOT#<bot>#CONV#<conv> PART#<user>        gsi1: BOT#<bot>#USER#<user>#CONVS / <conv createdAt>#<conv>
//	conv state     BOT#<bot>#CONV#<conv> STATE#<name>
//	event (conv)   BOT#<bot>#CONV#<conv> EVT#<evt>          gsi2: BOT#<bot>#EVTS / <evt>
//	event (other)  BOT#<bot>             EVT#<evt>          gsi2: BOT#<bot>#EVTS / <evt>
//	other state    BOT#<bot>             STATE#<type>#<id>#<name>
//	day counters   BOT#<bot>             STAT#<yyyy-mm-dd>  newUsers, userMessages, botMessages, events{type: n}
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
	counterNewUsers     = "newUsers"
	counterUserMessages = "userMessages"
	counterBotMessages  = "botMessages"
)

func statKey(bot string, at time.Time) map[string]types.AttributeValue {
	return ds.Key(botPK(bot), "STAT#"+at.UTC().Format("2006-01-02"))
}

// countIn is the transaction item that adds one to a day counter. It also
// makes sure the events map exists, so that event counts (a nested ADD,
// which needs the map) usually succeed on the first try.
func (s *Store) countIn(bot string, at time.Time, counter string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: statKey(bot, at),
		UpdateExpression:          aws.String("ADD #c :one SET #e = if_not_exists(#e, :empty)"),
		ExpressionAttributeNames:  map[string]string{"#c": counter, "#e": "events"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}},
	}}
}

// countEventIn adds one to the day's count of an event type. A nested ADD
// needs the events map: the first try assumes it exists (the condition says
// so); when it doesn't, the caller retries with first set, which creates it.
func (s *Store) countEventIn(bot string, at time.Time, eventType string, first bool) types.TransactWriteItem {
	u := &types.Update{
		TableName: &s.table, Key: statKey(bot, at),
		ExpressionAttributeNames: map[string]string{"#e": "events", "#t": eventType},
	}
	if first {
		u.UpdateExpression = aws.String("SET #e = :m")
		u.ConditionExpression = aws.String("attribute_not_exists(#e)")
		u.ExpressionAttributeValues = map[string]types.AttributeValue{":m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{eventType: n(1)}}}
		delete(u.ExpressionAttributeNames, "#t")
	} else {
		u.UpdateExpression = aws.String("ADD #e.#t :one")
		u.ConditionExpression = aws.String("attribute_exists(#e)")
		u.ExpressionAttributeValues = map[string]types.AttributeValue{":one": n(1)}
	}
	return types.TransactWriteItem{Update: u}
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
