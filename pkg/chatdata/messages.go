package chatdata

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
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

// messageWrites are the items of a message's transaction: the message, the
// conversation's updatedAt (which also checks it exists and is not being
// deleted), a check that the user exists, and the day's counter.
func (s *Store) messageWrites(bot string, m Message, at time.Time) []types.TransactWriteItem {
	counter := counterBotMessages
	if m.Direction == Incoming {
		counter = counterUserMessages
	}
	// The bot itself is a user of every conversation of the bot (it writes
	// its replies with userId = its id, as on Botpress): nothing to check.
	user := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: userKey(bot, m.UserID), ConditionExpression: aws.String("attribute_exists(pk)")}}
	if m.UserID == bot {
		user = s.countIn(bot, at, counter)
		counter = ""
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
	if counter != "" {
		items = append(items, s.countIn(bot, at, counter))
	}
	return items
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
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: s.messageWrites(bot, m, at)})
	return messageError(err, m)
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
		items := append(s.messageWrites(bot, m, at), types.TransactWriteItem{Put: put})
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if reasons := ds.CancellationReasons(err); len(reasons) == len(items) && reasons[len(items)-1] == "ConditionalCheckFailed" {
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
