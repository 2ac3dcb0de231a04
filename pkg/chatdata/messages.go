package chatdata

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/usage"
)

// Message is a message of a conversation.
type Message struct {
	ID             string            `json:"id"`
	CreatedAt      string            `json:"createdAt"`
	UpdatedAt      string            `json:"updatedAt"`
	Type           string            `json:"type"`
	Payload        map[string]any    `json:"payload"`
	Direction      string            `json:"direction"`
	UserID         string            `json:"userId"`
	ConversationID string            `json:"conversationId"`
	Tags           map[string]string `json:"tags"`
	Origin         string            `json:"origin,omitempty"`
}

// Message directions: incoming from a user through an integration, outgoing
// from the bot.
const (
	Incoming = "incoming"
	Outgoing = "outgoing"
)

func (s *Store) messageItem(bot string, m Message) map[string]types.AttributeValue {
	return ds.Item(m, map[string]string{
		ds.PK: convPK(bot, m.ConversationID), ds.SK: "MSG#" + m.ID,
		gsi2PK: botPK(bot) + "#MSGS", gsi2SK: m.ID,
	})
}

func readMessage(item map[string]types.AttributeValue) (Message, error) {
	var m Message
	if err := ds.Unmarshal(item, &m); err != nil {
		return Message{}, err
	}
	if m.Tags == nil {
		m.Tags = map[string]string{}
	}
	if m.Payload == nil {
		m.Payload = map[string]any{}
	}
	return m, nil
}

// activity is what a user's message changes in the analytics: the user
// item keeps the time of the user's last message and the last day they
// were active. nil is the common case, the user already in a session
// (last message at most 30 minutes ago) and already counted active today:
// the transaction's condition on the user item says so, and when it fails
// the store reads the user and writes again with what this message starts.
type activity struct {
	prevAt, prevDay   string // as read ("": none yet)
	session, returned bool   // this message starts a session; makes the user a returning user today
}

// sessionGap is the silence after which a user's message starts a new
// session.
const sessionGap = 30 * time.Minute

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// userActivity is the update of the user item in a message's transaction
// (it also checks that the user exists).
func (s *Store) userActivity(bot, user string, at time.Time, act *activity) types.TransactWriteItem {
	u := &types.Update{
		TableName: &s.table, Key: userKey(bot, user),
		UpdateExpression:         aws.String("SET lastMessageAt = :at, activeDay = :day"),
		ExpressionAttributeNames: map[string]string{},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": ds.S(stamp(at)), ":day": ds.S(day(at)),
		},
	}
	if act == nil {
		u.ConditionExpression = aws.String("attribute_exists(pk) AND lastMessageAt >= :cutoff AND activeDay = :day")
		u.ExpressionAttributeValues[":cutoff"] = ds.S(stamp(at.Add(-sessionGap)))
		u.ExpressionAttributeNames = nil
		return types.TransactWriteItem{Update: u}
	}
	cond := []string{"attribute_exists(pk)"}
	if act.prevAt == "" {
		cond = append(cond, "attribute_not_exists(lastMessageAt)")
	} else {
		cond = append(cond, "lastMessageAt = :prevAt")
		u.ExpressionAttributeValues[":prevAt"] = ds.S(act.prevAt)
	}
	if act.prevDay == "" {
		cond = append(cond, "attribute_not_exists(activeDay)")
	} else {
		cond = append(cond, "activeDay = :prevDay")
		u.ExpressionAttributeValues[":prevDay"] = ds.S(act.prevDay)
	}
	u.ConditionExpression = aws.String(strings.Join(cond, " AND "))
	u.ExpressionAttributeNames = nil
	return types.TransactWriteItem{Update: u}
}

// readActivity reads the user a message's fast path failed on: missing is
// ReferenceNotFound; otherwise what the message starts.
func (s *Store) readActivity(ctx context.Context, bot, user string, at time.Time) (*activity, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: userKey(bot, user), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, apperr.New(apperr.ReferenceNotFound, "user %q doesn't exist", user)
	}
	act := &activity{prevAt: ds.String(out.Item, "lastMessageAt"), prevDay: ds.String(out.Item, "activeDay")}
	act.session = act.prevAt == "" || act.prevAt < stamp(at.Add(-sessionGap))
	today := day(at)
	created := ds.String(out.Item, "createdAt")
	act.returned = act.prevDay != today && len(created) >= 10 && created[:10] < today
	return act, nil
}

// messageWrites are the items of a message's transaction: the message, the
// conversation's updatedAt (which also checks it exists and is not being
// deleted), the user's activity (which checks that the user exists), the
// day's counters and the usage meter's.
func (s *Store) messageWrites(ctx context.Context, bot string, m Message, at time.Time, act *activity) []types.TransactWriteItem {
	counters := []string{counterBotMessages}
	metered := usage.OutgoingMessages
	if m.Direction == Incoming {
		counters, metered = []string{counterUserMessages}, usage.IncomingMessages
	}
	// The bot itself is a user of every conversation of the bot (it writes
	// its replies with userId = its id, as on Botpress): nothing to check.
	var user types.TransactWriteItem
	if m.UserID == bot {
		user = s.countIn(bot, at, m.ID, counters...)
		counters = nil
	} else {
		user = s.userActivity(bot, m.UserID, at, act)
		if act != nil && act.session {
			counters = append(counters, counterSessions)
		}
		if act != nil && act.returned {
			counters = append(counters, counterReturningUsers)
		}
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: s.messageItem(bot, m), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Update: &types.Update{
			TableName: &s.table, Key: convKey(bot, m.ConversationID),
			UpdateExpression:          aws.String("SET updatedAt = :at, gsi2sk = :sk"),
			ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(deleting)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":at": ds.S(m.CreatedAt), ":sk": ds.S(m.CreatedAt + "#" + m.ConversationID)},
		}},
		user, // third: messageError reads its cancellation reason
	}
	if len(counters) > 0 {
		items = append(items, s.countIn(bot, at, m.ID, counters...))
	}
	return append(items, s.Meter.MeterItems(ctx, bot, m.ID, at, usage.Counts{metered: 1, usage.StorageCount: 1})...)
}

// writeMessage writes a message's transaction, with extra items after its
// own. When the user's condition fails it reads the user and writes again
// (a new session or a new active day, counted once: the second write is
// conditioned on what was read). It returns the transaction's error.
func (s *Store) writeMessage(ctx context.Context, bot string, m Message, at time.Time, extra ...types.TransactWriteItem) error {
	var act *activity
	for range 4 {
		items := append(s.messageWrites(ctx, bot, m, at, act), extra...)
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		reasons := ds.CancellationReasons(err)
		if err == nil || m.UserID == bot || len(reasons) < 3 || reasons[2] != "ConditionalCheckFailed" ||
			reasons[0] == "ConditionalCheckFailed" || reasons[1] == "ConditionalCheckFailed" {
			return err
		}
		if act, err = s.readActivity(ctx, bot, m.UserID, at); err != nil {
			return err
		}
	}
	return apperr.New(apperr.ResourceLockedConflict, "the user's messages are being written concurrently; retry")
}

// BotUser is the user a bot writes its messages as: the bot itself, which
// exists implicitly in every conversation of the bot (as on Botpress).
func BotUser(bot string) User {
	return User{ID: bot, CreatedAt: "1970-01-01T00:00:00.000Z", UpdatedAt: "1970-01-01T00:00:00.000Z", Tags: map[string]string{}}
}

// messageError turns the cancellation of a message transaction into the
// reference it failed on.
func messageError(err error, m Message) error {
	reasons := ds.CancellationReasons(err)
	if len(reasons) < 3 {
		return err
	}
	switch {
	case reasons[1] == "ConditionalCheckFailed":
		return apperr.New(apperr.ReferenceNotFound, "conversation %q doesn't exist", m.ConversationID)
	case reasons[2] == "ConditionalCheckFailed":
		return apperr.New(apperr.ReferenceNotFound, "user %q doesn't exist", m.UserID)
	case reasons[0] == "ConditionalCheckFailed":
		return apperr.New(apperr.AlreadyExists, "message %q already exists", m.ID)
	}
	return err
}

// CreateMessage stores a message, moves its conversation's updatedAt and
// counts it, in one TransactWriteItems. A missing conversation or user is
// ReferenceNotFound and nothing is written.
func (s *Store) CreateMessage(ctx context.Context, bot string, m Message, at time.Time) error {
	return messageError(s.writeMessage(ctx, bot, m, at), m)
}

// GetOrCreateMessage returns the conversation's message claimed by the
// discriminating tags, or creates m with the claim in its transaction.
func (s *Store) GetOrCreateMessage(ctx context.Context, bot string, discriminator map[string]string, m Message, at time.Time) (Message, bool, error) {
	claimSK := "MSGTAGS#" + tagDigest(discriminator)
	pk := convPK(bot, m.ConversationID)
	for attempt := 0; attempt < 3; attempt++ {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: ds.Key(pk, claimSK), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return Message{}, false, err
		}
		stale := ""
		if out.Item != nil {
			stale = ds.String(out.Item, "messageId")
			got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: ds.Key(pk, "MSG#"+stale), ConsistentRead: aws.Bool(true)})
			if err != nil {
				return Message{}, false, err
			}
			if got.Item != nil {
				existing, err := readMessage(got.Item)
				if err != nil {
					return Message{}, false, err
				}
				if tagsMatch(existing.Tags, discriminator) {
					return existing, false, nil
				}
			}
		}
		claim := ds.Key(pk, claimSK)
		claim["messageId"] = ds.S(m.ID)
		put := &types.Put{TableName: &s.table, Item: claim, ConditionExpression: aws.String("attribute_not_exists(pk)")}
		if stale != "" {
			put.ConditionExpression = aws.String("messageId = :stale")
			put.ExpressionAttributeValues = map[string]types.AttributeValue{":stale": ds.S(stale)}
		}
		err = s.writeMessage(ctx, bot, m, at, types.TransactWriteItem{Put: put})
		if reasons := ds.CancellationReasons(err); len(reasons) > 3 && reasons[len(reasons)-1] == "ConditionalCheckFailed" {
			continue
		}
		if err != nil {
			return Message{}, false, messageError(err, m)
		}
		return m, true, nil
	}
	return Message{}, false, apperr.New(apperr.ResourceLockedConflict, "the message is being changed concurrently; retry")
}

// messageByID finds a message by id alone: one Query of the bot's message
// index (the id doesn't name the conversation, whose partition holds it),
// then one GetItem checking that its conversation was not deleted (its
// partition is erased after it).
func (s *Store) messageByID(ctx context.Context, bot, msg string) (map[string]types.AttributeValue, error) {
	item, err := s.byIndex(ctx, botPK(bot)+"#MSGS", msg, "message")
	if err != nil {
		return nil, err
	}
	if err := s.conversationExists(ctx, bot, ds.String(item, "conversationId")); apperr.Is(err, apperr.ResourceNotFound) {
		return nil, apperr.NotFound("message", msg)
	} else if err != nil {
		return nil, err
	}
	return item, nil
}

func (s *Store) byIndex(ctx context.Context, pk, sk, kind string) (map[string]types.AttributeValue, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(gsi2),
		KeyConditionExpression:    aws.String("gsi2pk = :pk AND gsi2sk = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ds.S(pk), ":sk": ds.S(sk)},
	})
	if err != nil {
		return nil, err
	}
	if len(out.Items) == 0 {
		return nil, apperr.NotFound(kind, sk)
	}
	return out.Items[0], nil
}

// Message returns a message of the bot: one Query on gsi2 and one GetItem
// (its conversation still exists).
func (s *Store) Message(ctx context.Context, bot, msg string) (Message, error) {
	item, err := s.messageByID(ctx, bot, msg)
	if err != nil {
		return Message{}, err
	}
	return readMessage(item)
}

// UpdateMessage merges tags (empty values unset) and replaces the payload
// when given: a Query to find the message's conversation, then one
// conditional UpdateItem. A new payload must pass check with the message's
// type.
func (s *Store) UpdateMessage(ctx context.Context, bot, msg string, tags map[string]string, payload map[string]any, at string, check func(typ string, payload map[string]any) error) (Message, error) {
	item, err := s.messageByID(ctx, bot, msg)
	if err != nil {
		return Message{}, err
	}
	if payload != nil && check != nil {
		if err := check(ds.String(item, "type"), payload); err != nil {
			return Message{}, err
		}
	}
	ub := setTagsUpdate(expression.Set(expression.Name("updatedAt"), expression.Value(at)), tags)
	if payload != nil {
		ub = ub.Set(expression.Name("payload"), expression.Value(payload))
	}
	out, err := s.update(ctx, ds.Key(ds.String(item, ds.PK), ds.String(item, ds.SK)), ub)
	if ds.IsConditionFailed(err) {
		return Message{}, apperr.NotFound("message", msg)
	}
	if err != nil {
		return Message{}, err
	}
	return readMessage(out)
}

// DeleteMessage deletes a message: a Query to find it, then one
// conditional DeleteItem.
func (s *Store) DeleteMessage(ctx context.Context, bot, msg string) error {
	item, err := s.messageByID(ctx, bot, msg)
	if err != nil {
		return err
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: ds.Key(ds.String(item, ds.PK), ds.String(item, ds.SK)),
		ConditionExpression: aws.String("attribute_exists(pk)"),
	})
	if ds.IsConditionFailed(err) {
		return apperr.NotFound("message", msg)
	}
	return err
}

// MessageFilter narrows a message list.
type MessageFilter struct {
	ConversationID string
	Tags           map[string]string
	After, Before  *time.Time
}

// ListMessages returns one page of messages, most recent first: one GetItem
// (the conversation exists: else 404) and one Query of its partition, or,
// when no conversation is named, one Query of the bot's message index and
// one BatchGetItem of the page's conversations (messages of deleted ones
// are left out). Dates bound the key (ids are ULIDs).
func (s *Store) ListMessages(ctx context.Context, bot string, f MessageFilter, token string) ([]Message, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(false)}
	var key expression.KeyConditionBuilder
	if f.ConversationID != "" {
		if err := s.conversationExists(ctx, bot, f.ConversationID); err != nil {
			return nil, "", err
		}
		key = sortRange(expression.Key(ds.PK).Equal(expression.Value(convPK(bot, f.ConversationID))), ds.SK, "MSG#"+id.Message+"_", f.After, f.Before, ulidBound)
	} else {
		in.IndexName = aws.String(gsi2)
		key = sortRange(expression.Key(gsi2PK).Equal(expression.Value(botPK(bot)+"#MSGS")), gsi2SK, id.Message+"_", f.After, f.Before, ulidBound)
	}
	var filters []expression.ConditionBuilder
	if tf, ok := tagFilter(f.Tags); ok {
		filters = append(filters, tf)
	}
	scope := fmt.Sprintf("messages|%s|%s|%v|%v|%v", bot, f.ConversationID, f.After, f.Before, f.Tags)
	items, next, err := s.queryPage(ctx, in, key, filters, scope, token, ds.DefaultPageSize)
	if err == nil && f.ConversationID == "" {
		items, err = s.dropOrphans(ctx, bot, items)
	}
	if err != nil {
		return nil, "", err
	}
	msgs, err := readItems(items, "MSG#", readMessage)
	return msgs, next, err
}

// CheckReferences checks that a conversation (not being deleted) and a user
// exist: one BatchGetItem.
func (s *Store) CheckReferences(ctx context.Context, bot, conv, user string) error {
	got, err := s.batchGet(ctx, []map[string]types.AttributeValue{convKey(bot, conv), userKey(bot, user)})
	if err != nil {
		return err
	}
	if c := got[botPK(bot)+"|CONV#"+conv]; c == nil || c["deleting"] != nil {
		return apperr.New(apperr.ReferenceNotFound, "conversation %q doesn't exist", conv)
	}
	if got[botPK(bot)+"|USER#"+user] == nil && user != bot {
		return apperr.New(apperr.ReferenceNotFound, "user %q doesn't exist", user)
	}
	return nil
}
