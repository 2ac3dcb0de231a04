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
	"github.com/parley-dev/parley/pkg/usage"
)

// Event is an event of a bot, delivered to the bot when it has a url.
type Event struct {
	ID             string         `json:"id"`
	CreatedAt      string         `json:"createdAt"`
	Type           string         `json:"type"`
	Payload        map[string]any `json:"payload"`
	ConversationID string         `json:"conversationId,omitempty"`
	UserID         string         `json:"userId,omitempty"`
	MessageID      string         `json:"messageId,omitempty"`
	Status         string         `json:"status"`
	FailureReason  *string        `json:"failureReason"`
}

// Event statuses. Events start scheduled (with a schedule), pending (to be
// delivered to the bot's url) or ignored (the bot has no url).
const (
	StatusScheduled = "scheduled"
	StatusPending   = "pending"
	StatusProcessed = "processed"
	StatusIgnored   = "ignored"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// EventRef locates a stored event. Its fields are opaque outside this
// package; they travel in delivery jobs (as "pk" and "sk") and come back.
type EventRef struct {
	PK, SK string
}

func (r EventRef) key() map[string]types.AttributeValue { return ds.Key(r.PK, r.SK) }

// EventRefOf locates an event: in its conversation's partition when it
// names one (so it goes with the conversation), else in the bot's.
func EventRefOf(bot string, e Event) EventRef {
	if e.ConversationID != "" {
		return EventRef{PK: convPK(bot, e.ConversationID), SK: "EVT#" + e.ID}
	}
	return EventRef{PK: botPK(bot), SK: "EVT#" + e.ID}
}

func readEvent(item map[string]types.AttributeValue) (Event, error) {
	var e Event
	if err := ds.Unmarshal(item, &e); err != nil {
		return Event{}, err
	}
	if e.Payload == nil {
		e.Payload = map[string]any{}
	}
	return e, nil
}

// CreateEvent stores an event and counts it by type in one
// TransactWriteItems, checking that the conversation and user it names
// exist, and meters it.
func (s *Store) CreateEvent(ctx context.Context, bot string, e Event, workflowID string, at time.Time) error {
	ref := EventRefOf(bot, e)
	item := ds.Item(e, map[string]string{ds.PK: ref.PK, ds.SK: ref.SK, gsi2PK: botPK(bot) + "#EVTS", gsi2SK: e.ID})
	if workflowID != "" {
		item["workflowId"] = ds.S(workflowID)
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}
	if e.ConversationID != "" {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: &s.table, Key: convKey(bot, e.ConversationID), ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(deleting)"),
		}})
	}
	if e.UserID != "" {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: &s.table, Key: userKey(bot, e.UserID), ConditionExpression: aws.String("attribute_exists(pk)"),
		}})
	}
	metered := usage.OutgoingEvents
	if usage.Incoming(ctx) {
		metered = usage.IncomingEvents
	}
	meter := s.Meter.MeterItems(ctx, bot, e.ID, at, usage.Counts{metered: 1, usage.StorageCount: 1})
	all := append(append(append([]types.TransactWriteItem(nil), items...), s.countEventIn(bot, at, e.ID, e.Type)), meter...)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all})
	for i, r := range ds.CancellationReasons(err) {
		if r != "ConditionalCheckFailed" || i >= len(items) {
			continue
		}
		switch {
		case i == 0:
			return apperr.New(apperr.AlreadyExists, "event %q already exists", e.ID)
		case items[i].ConditionCheck != nil && strings.HasPrefix(ds.String(items[i].ConditionCheck.Key, ds.SK), "CONV#"):
			return apperr.New(apperr.ReferenceNotFound, "conversation %q doesn't exist", e.ConversationID)
		default:
			return apperr.New(apperr.ReferenceNotFound, "user %q doesn't exist", e.UserID)
		}
	}
	return err
}

// eventByID finds an event by id: one Query on gsi2, and for an event of a
// conversation one GetItem checking that the conversation was not deleted
// (its partition is erased after it).
func (s *Store) eventByID(ctx context.Context, bot, evt string) (map[string]types.AttributeValue, error) {
	item, err := s.byIndex(ctx, botPK(bot)+"#EVTS", evt, "event")
	if err != nil {
		return nil, err
	}
	if conv := ds.String(item, "conversationId"); conv != "" {
		if err := s.conversationExists(ctx, bot, conv); apperr.Is(err, apperr.ResourceNotFound) {
			return nil, apperr.NotFound("event", evt)
		} else if err != nil {
			return nil, err
		}
	}
	return item, nil
}

// Event returns an event of the bot: one Query on gsi2 (and one GetItem for
// an event of a conversation).
func (s *Store) Event(ctx context.Context, bot, evt string) (Event, error) {
	item, err := s.eventByID(ctx, bot, evt)
	if err != nil {
		return Event{}, err
	}
	return readEvent(item)
}

// eventRef finds an event by id (see eventByID).
func (s *Store) eventRef(ctx context.Context, bot, evt string) (EventRef, error) {
	item, err := s.eventByID(ctx, bot, evt)
	if err != nil {
		return EventRef{}, err
	}
	return EventRef{PK: ds.String(item, ds.PK), SK: ds.String(item, ds.SK)}, nil
}

// EventAt reads the event at ref (found false when it is gone, e.g. erased
// with its conversation): one consistent GetItem.
func (s *Store) EventAt(ctx context.Context, ref EventRef) (Event, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: ref.key(), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return Event{}, false, err
	}
	e, err := readEvent(out.Item)
	return e, err == nil, err
}

// SettleDelivery moves a delivered event from one status to another
// (processed or failed) and meters the delivery as an invocation call of
// bot, in one TransactWriteItems conditioned on the first status: a
// redelivered job finds the event already moved and counts nothing.
func (s *Store) SettleDelivery(ctx context.Context, bot string, ref EventRef, from, to, reason string, at time.Time) (bool, error) {
	meter := s.Meter.MeterItems(ctx, bot, ref.SK, at, usage.Counts{usage.InvocationCalls: 1})
	if len(meter) == 0 {
		return s.SetEventStatus(ctx, ref, from, to, reason)
	}
	in := s.statusUpdate(ref, from, to, reason)
	items := append([]types.TransactWriteItem{{Update: &types.Update{
		TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression, ConditionExpression: in.ConditionExpression,
		ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues,
	}}}, meter...)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return false, nil
	}
	return err == nil, err
}

// SetEventStatus moves an event from one status to another (conditioned on
// the first, so a late or repeated delivery changes nothing) and returns
// whether it moved.
func (s *Store) SetEventStatus(ctx context.Context, ref EventRef, from, to, reason string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, s.statusUpdate(ref, from, to, reason))
	if ds.IsConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

func (s *Store) statusUpdate(ref EventRef, from, to, reason string) *dynamodb.UpdateItemInput {
	in := &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: ref.key(),
		UpdateExpression:          aws.String("SET #s = :to, failureReason = :r"),
		ConditionExpression:       aws.String("#s = :from"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":to": ds.S(to), ":from": ds.S(from), ":r": &types.AttributeValueMemberNULL{Value: true}},
	}
	if reason != "" {
		if len(reason) > 2000 {
			reason = reason[:2000]
		}
		in.ExpressionAttributeValues[":r"] = ds.S(reason)
	}
	return in
}

// CancelScheduledEvent cancels an event that has not fired yet: a Query to
// find it, then one conditional UpdateItem.
func (s *Store) CancelScheduledEvent(ctx context.Context, bot, evt string) error {
	ref, err := s.eventRef(ctx, bot, evt)
	if err != nil {
		return err
	}
	moved, err := s.SetEventStatus(ctx, ref, StatusScheduled, StatusCanceled, "")
	if err == nil && !moved {
		return apperr.New(apperr.InvalidPayload, "event %q is not scheduled", evt)
	}
	return err
}

// EventFilter narrows an event list.
type EventFilter struct {
	Type, ConversationID, UserID, MessageID, WorkflowID, Status string
}

// ListEvents returns one page of events, most recent first: one GetItem
// (the conversation exists: else 404) and one Query of its partition, or
// one Query of the bot's event index and, when the page holds events of
// conversations, one BatchGetItem of those (events of deleted ones are left
// out).
func (s *Store) ListEvents(ctx context.Context, bot string, f EventFilter, token string) ([]Event, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(false)}
	var key expression.KeyConditionBuilder
	if f.ConversationID != "" {
		if err := s.conversationExists(ctx, bot, f.ConversationID); err != nil {
			return nil, "", err
		}
		key = expression.Key(ds.PK).Equal(expression.Value(convPK(bot, f.ConversationID))).And(expression.Key(ds.SK).BeginsWith("EVT#"))
	} else {
		in.IndexName = aws.String(gsi2)
		key = expression.Key(gsi2PK).Equal(expression.Value(botPK(bot) + "#EVTS"))
	}
	var filters []expression.ConditionBuilder
	for name, v := range map[string]string{"type": f.Type, "userId": f.UserID, "messageId": f.MessageID, "workflowId": f.WorkflowID, "status": f.Status} {
		if v != "" {
			filters = append(filters, expression.Name(name).Equal(expression.Value(v)))
		}
	}
	scope := fmt.Sprintf("events|%s|%+v", bot, f)
	items, next, err := s.queryPage(ctx, in, key, filters, scope, token, ds.DefaultPageSize)
	if err == nil && f.ConversationID == "" {
		items, err = s.dropOrphans(ctx, bot, items)
	}
	if err != nil {
		return nil, "", err
	}
	events := make([]Event, 0, len(items))
	for _, it := range items {
		e, err := readEvent(it)
		if err != nil {
			return nil, "", err
		}
		events = append(events, e)
	}
	return events, next, nil
}
