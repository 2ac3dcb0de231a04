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
)

// Conversation is a conversation of a bot on a channel.
type Conversation struct {
	ID            string            `json:"id"`
	CurrentTaskID string            `json:"currentTaskId,omitempty"`
	CreatedAt     string            `json:"createdAt"`
	UpdatedAt     string            `json:"updatedAt"`
	Channel       string            `json:"channel"`
	Integration   string            `json:"integration"`
	Tags          map[string]string `json:"tags"`
}

func (s *Store) convItem(bot string, c Conversation, claimSK string) map[string]types.AttributeValue {
	item := ds.Item(c, map[string]string{
		ds.PK: botPK(bot), ds.SK: "CONV#" + c.ID,
		gsi2PK: botPK(bot) + "#CONVS", gsi2SK: c.UpdatedAt + "#" + c.ID,
	})
	if claimSK != "" {
		item[ClaimAttribute] = ds.S(claimSK)
	}
	return item
}

func readConversation(item map[string]types.AttributeValue) (Conversation, error) {
	var c Conversation
	if err := ds.Unmarshal(item, &c); err != nil {
		return Conversation{}, err
	}
	if c.Tags == nil {
		c.Tags = map[string]string{}
	}
	return c, nil
}

// CreateConversation stores a new conversation: one conditional PutItem.
func (s *Store) CreateConversation(ctx context.Context, bot string, c Conversation) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: s.convItem(bot, c, ""), ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	return err
}

// Conversation returns a conversation of the bot: one GetItem.
func (s *Store) Conversation(ctx context.Context, bot, conv string) (Conversation, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: convKey(bot, conv), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Conversation{}, err
	}
	if out.Item == nil {
		return Conversation{}, apperr.NotFound("conversation", conv)
	}
	return readConversation(out.Item)
}

// convClaimSK names the claim of a channel and tag set.
func convClaimSK(channel string, tags map[string]string) string {
	withChannel := map[string]string{"\x00channel": channel}
	for k, v := range tags {
		withChannel[k] = v
	}
	return "CONVTAGS#" + tagDigest(withChannel)
}

// GetOrCreateConversation returns the conversation claimed by the channel
// and discriminating tags, or creates c and claims them in one transaction
// (the users' scheme: concurrent callers get one conversation).
func (s *Store) GetOrCreateConversation(ctx context.Context, bot string, discriminator map[string]string, c Conversation) (Conversation, bool, error) {
	claimSK := convClaimSK(c.Channel, discriminator)
	for attempt := 0; attempt < 3; attempt++ {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: ds.Key(botPK(bot), claimSK), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return Conversation{}, false, err
		}
		stale := ""
		if out.Item != nil {
			stale = ds.String(out.Item, "conversationId")
			existing, err := s.Conversation(ctx, bot, stale)
			switch {
			case err == nil && existing.Channel == c.Channel && tagsMatch(existing.Tags, discriminator):
				return existing, false, nil
			case err != nil && !apperr.Is(err, apperr.ResourceNotFound):
				return Conversation{}, false, err
			}
		}
		claim := ds.Key(botPK(bot), claimSK)
		claim["conversationId"] = ds.S(c.ID)
		put := &types.Put{TableName: &s.table, Item: claim, ConditionExpression: aws.String("attribute_not_exists(pk)")}
		if stale != "" {
			put.ConditionExpression = aws.String("conversationId = :stale")
			put.ExpressionAttributeValues = map[string]types.AttributeValue{":stale": ds.S(stale)}
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &s.table, Item: s.convItem(bot, c, claimSK), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			{Put: put},
		}})
		if reasons := ds.CancellationReasons(err); len(reasons) == 2 && reasons[1] == "ConditionalCheckFailed" {
			continue
		}
		if err != nil {
			return Conversation{}, false, err
		}
		return c, true, nil
	}
	return Conversation{}, false, apperr.New(apperr.ResourceLockedConflict, "the conversation is being changed concurrently; retry")
}

// ConversationUpdate is a partial update of a conversation.
type ConversationUpdate struct {
	Tags          map[string]string
	CurrentTaskID *string
	At            string
}

// UpdateConversation applies an update in one conditional UpdateItem and
// returns the conversation as stored afterwards.
func (s *Store) UpdateConversation(ctx context.Context, bot, conv string, up ConversationUpdate) (Conversation, error) {
	ub := expression.Set(expression.Name("updatedAt"), expression.Value(up.At)).
		Set(expression.Name(gsi2SK), expression.Value(up.At+"#"+conv))
	ub = setTagsUpdate(ub, up.Tags)
	if up.CurrentTaskID != nil {
		if *up.CurrentTaskID == "" {
			ub = ub.Remove(expression.Name("currentTaskId"))
		} else {
			ub = ub.Set(expression.Name("currentTaskId"), expression.Value(*up.CurrentTaskID))
		}
	}
	out, err := s.update(ctx, convKey(bot, conv), ub)
	if ds.IsConditionFailed(err) {
		return Conversation{}, apperr.NotFound("conversation", conv)
	}
	if err != nil {
		return Conversation{}, err
	}
	return readConversation(out)
}

// update runs one UpdateItem conditioned on the item existing, returning
// the new item.
func (s *Store) update(ctx context.Context, key map[string]types.AttributeValue, ub expression.UpdateBuilder) (map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().WithUpdate(ub).WithCondition(expression.AttributeExists(expression.Name(ds.PK))).Build()
	if err != nil {
		return nil, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// setTagsUpdate sets or removes tags key by key (empty values unset), so
// concurrent updates of different tags both land.
func setTagsUpdate(ub expression.UpdateBuilder, tags map[string]string) expression.UpdateBuilder {
	for k, v := range tags {
		if v == "" {
			ub = ub.Remove(expression.Name("tags." + k))
		} else {
			ub = ub.Set(expression.Name("tags."+k), expression.Value(v))
		}
	}
	return ub
}

// ClaimAttribute is where a conversation made by get-or-create records the
// sort key of its claim item, which lives outside its partition.
const ClaimAttribute = "claimSk"

// DeleteConversation removes a conversation from every read at once, in
// O(1): one consistent GetItem (to learn its get-or-create claim) and one
// TransactWriteItems that deletes the conversation item (conditioned on
// it existing), deletes its claim when the claim still names it, and
// writes intent, the record that its partition (messages, participants,
// states, events, message claims) must be erased, which the lifecycle
// worker does off the request path. Reads that reach partition items by
// index check that their conversation still exists (see
// dropOrphans), so nothing of it is answered meanwhile.
func (s *Store) DeleteConversation(ctx context.Context, bot, conv string, intent types.TransactWriteItem) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: convKey(bot, conv), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#c"), ExpressionAttributeNames: map[string]string{"#c": ClaimAttribute},
	})
	if err != nil {
		return err
	}
	if out.Item == nil {
		return apperr.NotFound("conversation", conv)
	}
	claimSK := ds.String(out.Item, ClaimAttribute)
	for {
		items := []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &s.table, Key: convKey(bot, conv), ConditionExpression: aws.String("attribute_exists(pk)")}},
			intent,
		}
		if claimSK != "" {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName: &s.table, Key: ds.Key(botPK(bot), claimSK),
				ConditionExpression:       aws.String("attribute_not_exists(pk) OR conversationId = :c"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":c": ds.S(conv)},
			}})
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		reasons := ds.CancellationReasons(err)
		switch {
		case len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed":
			return apperr.NotFound("conversation", conv) // deleted concurrently
		case len(reasons) == 3 && reasons[2] == "ConditionalCheckFailed":
			claimSK = "" // a newer conversation took the claim over: keep it
			continue
		}
		return err
	}
}

// ConversationFilter narrows and orders a conversation list.
type ConversationFilter struct {
	Tags          map[string]string
	Channel       string
	Integration   string
	SortField     string // createdAt | updatedAt
	SortDirection string // asc | desc
	After, Before *time.Time
	PageSize      int
}

// ListConversations returns one page of the bot's conversations: one Query,
// on the base table for creation order (ids are ULIDs) or on gsi2 for
// update order; a date range applies to the sorted field in the key
// condition, the other filters within the page.
func (s *Store) ListConversations(ctx context.Context, bot string, f ConversationFilter, token string) ([]Conversation, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(f.SortDirection == "asc")}
	var key expression.KeyConditionBuilder
	if f.SortField == "updatedAt" {
		in.IndexName = aws.String(gsi2)
		key = sortRange(expression.Key(gsi2PK).Equal(expression.Value(botPK(bot)+"#CONVS")), gsi2SK, "", f.After, f.Before, isoBound)
	} else {
		key = sortRange(expression.Key(ds.PK).Equal(expression.Value(botPK(bot))), ds.SK, "CONV#"+id.Conversation+"_", f.After, f.Before, ulidBound)
	}
	var filters []expression.ConditionBuilder
	if tf, ok := tagFilter(f.Tags); ok {
		filters = append(filters, tf)
	}
	if f.Channel != "" {
		filters = append(filters, expression.Name("channel").Equal(expression.Value(f.Channel)))
	}
	if f.Integration != "" {
		filters = append(filters, expression.Name("integration").Equal(expression.Value(f.Integration)))
	}
	scope := fmt.Sprintf("conversations|%s|%s|%s|%v|%v|%v|%q|%q", bot, f.SortField, f.SortDirection, f.After, f.Before, f.Tags, f.Channel, f.Integration)
	items, next, err := s.queryPage(ctx, in, key, filters, scope, token, f.PageSize)
	if err != nil {
		return nil, "", err
	}
	convs, err := readItems(items, "CONV#", readConversation)
	return convs, next, err
}

// queryPage builds the key condition and filters into in and runs one
// page of it.
func (s *Store) queryPage(ctx context.Context, in *dynamodb.QueryInput, key expression.KeyConditionBuilder, filters []expression.ConditionBuilder, scope, token string, pageSize int) ([]map[string]types.AttributeValue, string, error) {
	b := expression.NewBuilder().WithKeyCondition(key)
	switch len(filters) {
	case 0:
	case 1:
		b = b.WithFilter(filters[0])
	default:
		b = b.WithFilter(expression.And(filters[0], filters[1], filters[2:]...))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	in.KeyConditionExpression, in.FilterExpression = expr.KeyCondition(), expr.Filter()
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Names(), expr.Values()
	page, err := ds.QueryPage(ctx, s.db, s.pages, scope, token, pageSize, in)
	if err != nil {
		return nil, "", err
	}
	return page.Items, page.NextToken, nil
}

// ListConversationsOf returns one page of the conversations a user takes
// part in, most recent first (or oldest first): one Query of the user's
// participations on gsi1 and one BatchGetItem of those conversations, with
// the membership of any other required participants in the same batch.
// The remaining filters apply within the page.
func (s *Store) ListConversationsOf(ctx context.Context, bot string, participants []string, f ConversationFilter, token string) ([]Conversation, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(ds.GSI1), ScanIndexForward: aws.Bool(f.SortDirection == "asc")}
	key := sortRange(expression.Key(ds.GSI1PK).Equal(expression.Value(botPK(bot)+"#USER#"+participants[0]+"#CONVS")), ds.GSI1SK, "", f.After, f.Before, isoBound)
	pageSize := f.PageSize
	if pageSize <= 0 || pageSize > 100/len(participants) {
		pageSize = min(ds.DefaultPageSize, 100/len(participants))
	}
	scope := fmt.Sprintf("conversations-of|%s|%v|%s|%v|%v|%v|%q|%q", bot, participants, f.SortDirection, f.After, f.Before, f.Tags, f.Channel, f.Integration)
	items, next, err := s.queryPage(ctx, in, key, nil, scope, token, pageSize)
	if err != nil || len(items) == 0 {
		return []Conversation{}, next, err
	}
	var keys []map[string]types.AttributeValue
	order := make([]string, 0, len(items))
	for _, it := range items {
		conv := strings.TrimPrefix(ds.String(it, ds.PK), convPK(bot, ""))
		order = append(order, conv)
		keys = append(keys, convKey(bot, conv))
		for _, p := range participants[1:] {
			keys = append(keys, ds.Key(convPK(bot, conv), "PART#"+p))
		}
	}
	got, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, "", err
	}
	convs := []Conversation{}
	for _, conv := range order {
		item := got[botPK(bot)+"|CONV#"+conv]
		if item == nil {
			continue
		}
		ok := true
		for _, p := range participants[1:] {
			ok = ok && got[convPK(bot, conv)+"|PART#"+p] != nil
		}
		c, err := readConversation(item)
		if err != nil {
			return nil, "", err
		}
		if !ok || !tagsMatch(c.Tags, f.Tags) || (f.Channel != "" && c.Channel != f.Channel) || (f.Integration != "" && c.Integration != f.Integration) {
			continue
		}
		convs = append(convs, c)
	}
	return convs, next, nil
}

// --- participants ---

func participantKey(bot, conv, user string) map[string]types.AttributeValue {
	return ds.Key(convPK(bot, conv), "PART#"+user)
}

// AddParticipant adds a user to a conversation and returns the user: one
// BatchGetItem of both (the participant item carries the conversation's
// creation time, which orders a user's conversations), then one
// TransactWriteItems putting the participation while checking that neither
// was deleted (or the conversation marked for deletion) meanwhile.
func (s *Store) AddParticipant(ctx context.Context, bot, conv, user, at string) (User, error) {
	got, err := s.batchGet(ctx, []map[string]types.AttributeValue{convKey(bot, conv), userKey(bot, user)})
	if err != nil {
		return User{}, err
	}
	convItem, userItem := got[botPK(bot)+"|CONV#"+conv], got[botPK(bot)+"|USER#"+user]
	if convItem == nil || convItem["deleting"] != nil {
		return User{}, apperr.NotFound("conversation", conv)
	}
	if userItem == nil {
		return User{}, apperr.New(apperr.ReferenceNotFound, "user %q doesn't exist", user)
	}
	item := ds.Key(convPK(bot, conv), "PART#"+user)
	item["userId"], item["addedAt"] = ds.S(user), ds.S(at)
	item[ds.GSI1PK] = ds.S(botPK(bot) + "#USER#" + user + "#CONVS")
	item[ds.GSI1SK] = ds.S(ds.String(convItem, "createdAt") + "#" + conv)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: item}},
		{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: convKey(bot, conv), ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(deleting)")}},
		{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: userKey(bot, user), ConditionExpression: aws.String("attribute_exists(pk)")}},
	}})
	if reasons := ds.CancellationReasons(err); len(reasons) == 3 {
		if reasons[1] == "ConditionalCheckFailed" {
			return User{}, apperr.NotFound("conversation", conv)
		}
		if reasons[2] == "ConditionalCheckFailed" {
			return User{}, apperr.New(apperr.ReferenceNotFound, "user %q doesn't exist", user)
		}
	}
	if err != nil {
		return User{}, err
	}
	return readUser(userItem)
}

// Participant returns a participant of a conversation: one BatchGetItem of
// the conversation, the participation and the user.
func (s *Store) Participant(ctx context.Context, bot, conv, user string) (User, error) {
	got, err := s.batchGet(ctx, []map[string]types.AttributeValue{convKey(bot, conv), participantKey(bot, conv, user), userKey(bot, user)})
	if err != nil {
		return User{}, err
	}
	if got[botPK(bot)+"|CONV#"+conv] == nil {
		return User{}, apperr.NotFound("conversation", conv)
	}
	part, u := got[convPK(bot, conv)+"|PART#"+user], got[botPK(bot)+"|USER#"+user]
	if part == nil || u == nil {
		return User{}, apperr.NotFound("participant", user)
	}
	return readUser(u)
}

// RemoveParticipant removes a user from a conversation: one
// TransactWriteItems deleting the participation (which must exist) and
// checking that the conversation was not deleted.
func (s *Store) RemoveParticipant(ctx context.Context, bot, conv, user string) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: participantKey(bot, conv, user), ConditionExpression: aws.String("attribute_exists(pk)")}},
		{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: convKey(bot, conv), ConditionExpression: aws.String("attribute_exists(pk)")}},
	}})
	if reasons := ds.CancellationReasons(err); len(reasons) == 2 {
		if reasons[1] == "ConditionalCheckFailed" {
			return apperr.NotFound("conversation", conv)
		}
		if reasons[0] == "ConditionalCheckFailed" {
			return apperr.NotFound("participant", user)
		}
	}
	return err
}

// ListParticipants returns one page of a conversation's participants: one
// Query of the participations and one BatchGetItem of the users with the
// conversation itself (missing or deleted: 404, like the conversation).
// Users deleted since they joined are left out.
func (s *Store) ListParticipants(ctx context.Context, bot, conv, token string) ([]User, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, ConsistentRead: aws.Bool(true)}
	key := expression.Key(ds.PK).Equal(expression.Value(convPK(bot, conv))).And(expression.Key(ds.SK).BeginsWith("PART#"))
	items, next, err := s.queryPage(ctx, in, key, nil, "participants|"+bot+"|"+conv, token, ds.DefaultPageSize)
	if err != nil {
		return nil, "", err
	}
	keys := []map[string]types.AttributeValue{convKey(bot, conv)}
	for _, it := range items {
		keys = append(keys, userKey(bot, ds.String(it, "userId")))
	}
	got, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, "", err
	}
	if got[botPK(bot)+"|CONV#"+conv] == nil {
		return nil, "", apperr.NotFound("conversation", conv)
	}
	users := []User{}
	for _, it := range items {
		if u := got[botPK(bot)+"|USER#"+ds.String(it, "userId")]; u != nil {
			user, err := readUser(u)
			if err != nil {
				return nil, "", err
			}
			users = append(users, user)
		}
	}
	return users, next, nil
}
