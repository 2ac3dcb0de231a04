package chatdata

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
)

// State is a named payload a bot keeps on a conversation, user, the bot
// itself, a task, a workflow or an integration.
type State struct {
	ID             string         `json:"id"`
	CreatedAt      string         `json:"createdAt"`
	UpdatedAt      string         `json:"updatedAt"`
	BotID          string         `json:"botId"`
	ConversationID string         `json:"conversationId,omitempty"`
	UserID         string         `json:"userId,omitempty"`
	Name           string         `json:"name"`
	Type           string         `json:"type"`
	Payload        map[string]any `json:"payload"`
}

// MaxStatePayload bounds a state's payload (its JSON size); a bigger one is
// 413 PayloadTooLarge.
const MaxStatePayload = 128 << 10

// StateTypes are the kinds of owner a state can have.
var StateTypes = []string{"conversation", "user", "bot", "task", "integration", "workflow"}

// StateRef names a state.
type StateRef struct {
	Bot, Type, ID, Name string
}

// Expiry bookkeeping. A state's expiry is measured from its last write:
// every write sets expiresAtMs (what reads check, since TTL deletes late or,
// in emulators, never) and expiresAt (epoch seconds, the table's TTL
// attribute) from the stored offsets, so a patch, which doesn't know the
// expiry, can still move them in its one UpdateItem. A state without expiry
// has expiryMs 0 and a TTL offset far beyond any retention.
const noExpiryTTL = 100 * 365 * 24 * 3600

func (r StateRef) key() map[string]types.AttributeValue {
	if r.Type == "conversation" {
		return ds.Key(convPK(r.Bot, r.ID), "STATE#"+r.Name)
	}
	return ds.Key(botPK(r.Bot), "STATE#"+r.Type+"#"+r.ID+"#"+r.Name)
}

func readState(item map[string]types.AttributeValue, now time.Time) (State, bool, error) {
	var st struct {
		State
		ExpiryMs    int64 `json:"expiryMs"`
		ExpiresAtMs int64 `json:"expiresAtMs"`
	}
	if item == nil {
		return State{}, false, nil
	}
	if err := ds.Unmarshal(item, &st); err != nil {
		return State{}, false, err
	}
	if st.ExpiryMs > 0 && st.ExpiresAtMs <= now.UnixMilli() {
		return State{}, false, nil
	}
	if st.State.Payload == nil {
		st.State.Payload = map[string]any{}
	}
	return st.State, true, nil
}

// live is the condition "the state exists and has not expired".
func live(now time.Time) expression.ConditionBuilder {
	return expression.AttributeExists(expression.Name(ds.PK)).And(
		expression.Name("expiryMs").Equal(expression.Value(0)).Or(expression.Name("expiresAtMs").GreaterThan(expression.Value(now.UnixMilli()))))
}

// expirySet sets the expiry bookkeeping for a known expiry (0: none).
func expirySet(ub expression.UpdateBuilder, expiryMs int64, now time.Time) expression.UpdateBuilder {
	ttl := int64(noExpiryTTL)
	if expiryMs > 0 {
		ttl = (expiryMs + 999) / 1000
	}
	return ub.Set(expression.Name("expiryMs"), expression.Value(expiryMs)).
		Set(expression.Name("ttlOffset"), expression.Value(ttl)).
		Set(expression.Name("expiresAtMs"), expression.Value(now.UnixMilli()+expiryMs)).
		Set(expression.Name("expiresAt"), expression.Value(now.Unix()+ttl))
}

// tooLarge maps DynamoDB's refusal of an item over its size limit (a patch
// can grow a state past it) to PayloadTooLarge.
func tooLarge(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" && strings.Contains(strings.ToLower(api.ErrorMessage()), "size") {
		return apperr.New(apperr.PayloadTooLarge, "the state would exceed the maximum item size")
	}
	return err
}

// fresh is the update writing a whole new state.
func (s *Store) fresh(r StateRef, payload map[string]any, expiryMs int64, now time.Time, keepIdentity bool) expression.UpdateBuilder {
	at := clock.Format(now)
	newID := id.NewAt("state", now)
	ub := expression.Set(expression.Name("payload"), expression.Value(payload)).
		Set(expression.Name("updatedAt"), expression.Value(at)).
		Set(expression.Name("botId"), expression.Value(r.Bot)).
		Set(expression.Name("name"), expression.Value(r.Name)).
		Set(expression.Name("type"), expression.Value(r.Type))
	if keepIdentity {
		ub = ub.Set(expression.Name("id"), expression.IfNotExists(expression.Name("id"), expression.Value(newID))).
			Set(expression.Name("createdAt"), expression.IfNotExists(expression.Name("createdAt"), expression.Value(at)))
	} else {
		ub = ub.Set(expression.Name("id"), expression.Value(newID)).Set(expression.Name("createdAt"), expression.Value(at))
	}
	switch r.Type {
	case "conversation":
		ub = ub.Set(expression.Name("conversationId"), expression.Value(r.ID))
	case "user":
		ub = ub.Set(expression.Name("userId"), expression.Value(r.ID))
	}
	return expirySet(ub, expiryMs, now)
}

func (s *Store) updateState(ctx context.Context, r StateRef, ub expression.UpdateBuilder, cond expression.ConditionBuilder, onFail types.ReturnValuesOnConditionCheckFailure) (map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().WithUpdate(ub).WithCondition(cond).Build()
	if err != nil {
		return nil, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: r.key(),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew, ReturnValuesOnConditionCheckFailure: onFail,
	})
	if err != nil {
		return nil, tooLarge(err)
	}
	return out.Attributes, nil
}

// State returns a live state: one GetItem, or for a conversation's state
// one BatchGetItem of the state and the conversation (a deleted
// conversation's partition outlives it until the lifecycle erases it).
func (s *Store) State(ctx context.Context, r StateRef, now time.Time) (State, error) {
	var item map[string]types.AttributeValue
	if r.Type == "conversation" {
		got, err := s.batchGet(ctx, []map[string]types.AttributeValue{r.key(), convKey(r.Bot, r.ID)})
		if err != nil {
			return State{}, err
		}
		if got[keyName(convKey(r.Bot, r.ID))] != nil {
			item = got[keyName(r.key())]
		}
	} else {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: r.key(), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return State{}, err
		}
		item = out.Item
	}
	st, ok, err := readState(item, now)
	if err == nil && !ok {
		err = apperr.NotFound("state", r.Name)
	}
	return st, err
}

// SetState overrides a state: one UpdateItem keeping the id and creation
// time of a live state (an expired one is replaced by a new state, which
// takes a second write).
func (s *Store) SetState(ctx context.Context, r StateRef, payload map[string]any, expiryMs int64, now time.Time) (State, error) {
	item, err := s.updateState(ctx, r, s.fresh(r, payload, expiryMs, now, true),
		expression.AttributeNotExists(expression.Name(ds.PK)).Or(live(now)), "")
	if ds.IsConditionFailed(err) {
		item, err = s.updateState(ctx, r, s.fresh(r, payload, expiryMs, now, false), expression.AttributeExists(expression.Name(ds.PK)), "")
	}
	if err != nil {
		return State{}, err
	}
	st, _, err := readState(item, now)
	return st, err
}

// DeleteState removes a state (setState with a null payload): one
// DeleteItem answering the removed state.
func (s *Store) DeleteState(ctx context.Context, r StateRef, now time.Time) (State, error) {
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: r.key(), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return State{}, err
	}
	st, ok, err := readState(out.Attributes, now)
	if err == nil && !ok {
		err = apperr.NotFound("state", r.Name)
	}
	return st, err
}

// GetOrSetState returns the live state, or sets it when missing or
// expired: one conditional PutItem that answers the existing item when its
// condition fails, so concurrent callers all see the one value written.
func (s *Store) GetOrSetState(ctx context.Context, r StateRef, payload map[string]any, expiryMs int64, now time.Time) (State, error) {
	at := clock.Format(now)
	st := State{ID: id.NewAt("state", now), CreatedAt: at, UpdatedAt: at, BotID: r.Bot, Name: r.Name, Type: r.Type, Payload: payload}
	switch r.Type {
	case "conversation":
		st.ConversationID = r.ID
	case "user":
		st.UserID = r.ID
	}
	item := ds.Item(st, nil)
	for k, v := range r.key() {
		item[k] = v
	}
	ttl := int64(noExpiryTTL)
	if expiryMs > 0 {
		ttl = (expiryMs + 999) / 1000
	}
	item["expiryMs"], item["ttlOffset"] = n(expiryMs), n(ttl)
	item["expiresAtMs"], item["expiresAt"] = n(now.UnixMilli()+expiryMs), n(now.Unix()+ttl)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(pk) OR (expiryMs > :zero AND expiresAtMs <= :now)"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":zero": n(0), ":now": n(now.UnixMilli())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ccf.Item == nil { // an emulator may leave the old item out: read it
			return s.State(ctx, r, now)
		}
		old, _, err := readState(ccf.Item, now)
		return old, err
	}
	if err != nil {
		return State{}, tooLarge(err)
	}
	return st, nil
}

// PatchState merges payload's keys into a live state and restarts its
// expiry: one conditional UpdateItem.
func (s *Store) PatchState(ctx context.Context, r StateRef, payload map[string]any, now time.Time) (State, error) {
	at := clock.Format(now)
	ub := expression.Set(expression.Name("updatedAt"), expression.Value(at)).
		Set(expression.Name("expiresAtMs"), expression.Name("expiryMs").Plus(expression.Value(now.UnixMilli()))).
		Set(expression.Name("expiresAt"), expression.Name("ttlOffset").Plus(expression.Value(now.Unix())))
	for k, v := range payload {
		ub = ub.Set(expression.Name("payload").AppendName(expression.NameNoDotSplit(k)), expression.Value(v))
	}
	item, err := s.updateState(ctx, r, ub, live(now), "")
	if ds.IsConditionFailed(err) {
		return State{}, apperr.NotFound("state", r.Name)
	}
	if err != nil {
		return State{}, err
	}
	st, _, err := readState(item, now)
	return st, err
}

// SetStateExpiry changes a live state's expiry (0: none), measured from now.
func (s *Store) SetStateExpiry(ctx context.Context, r StateRef, expiryMs int64, now time.Time) (State, error) {
	ub := expirySet(expression.Set(expression.Name("updatedAt"), expression.Value(clock.Format(now))), expiryMs, now)
	item, err := s.updateState(ctx, r, ub, live(now), "")
	if ds.IsConditionFailed(err) {
		return State{}, apperr.NotFound("state", r.Name)
	}
	if err != nil {
		return State{}, err
	}
	st, _, err := readState(item, now)
	return st, err
}
