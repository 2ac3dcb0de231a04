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
	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/usage"
)

// User is a chat user of a bot.
type User struct {
	ID         string            `json:"id"`
	CreatedAt  string            `json:"createdAt"`
	UpdatedAt  string            `json:"updatedAt"`
	Tags       map[string]string `json:"tags"`
	Name       string            `json:"name,omitempty"`
	PictureURL string            `json:"pictureUrl,omitempty"`
}

func (s *Store) userItem(bot string, u User, integration string) map[string]types.AttributeValue {
	item := ds.Item(u, map[string]string{
		ds.PK: botPK(bot), ds.SK: "USER#" + u.ID,
		ds.GSI1PK: botPK(bot) + "#USERS", ds.GSI1SK: u.UpdatedAt + "#" + u.ID,
	})
	if integration != "" {
		item["integrationName"] = ds.S(integration)
	}
	return item
}

func readUser(item map[string]types.AttributeValue) (User, error) {
	var u User
	if err := ds.Unmarshal(item, &u); err != nil {
		return User{}, err
	}
	if u.Tags == nil {
		u.Tags = map[string]string{}
	}
	return u, nil
}

// CreateUser stores a new user, counts it in the day's analytics and meters
// it as a stored item: one TransactWriteItems.
func (s *Store) CreateUser(ctx context.Context, bot string, u User, integration string, at time.Time) error {
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: s.userItem(bot, u, integration), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		s.countIn(bot, at, u.ID, counterNewUsers),
	}
	items = append(items, s.Meter.MeterItems(ctx, bot, u.ID, at, usage.Counts{usage.StorageCount: 1})...)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// User returns a user of the bot: one GetItem (none for the bot itself,
// the implicit author of its replies).
func (s *Store) User(ctx context.Context, bot, id string) (User, error) {
	if id == bot {
		return BotUser(bot), nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: userKey(bot, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return User{}, err
	}
	if out.Item == nil {
		return User{}, apperr.NotFound("user", id)
	}
	return readUser(out.Item)
}

// GetOrCreateUser returns the bot's user claimed by the discriminating tags,
// or creates u and claims them. The claim item is written in the same
// transaction as the user, conditioned on being absent (or on still naming a
// user that has since lost those tags), so concurrent callers get one user.
func (s *Store) GetOrCreateUser(ctx context.Context, bot string, discriminator map[string]string, u User, integration string, at time.Time) (User, bool, error) {
	for attempt := 0; attempt < 3; attempt++ {
		existing, stale, err := s.claimedUser(ctx, bot, discriminator)
		if err != nil {
			return User{}, false, err
		}
		if existing != nil {
			return *existing, false, nil
		}
		claim := claimKey(bot, discriminator)
		claim["userId"] = ds.S(u.ID)
		put := &types.Put{TableName: &s.table, Item: claim, ConditionExpression: aws.String("attribute_not_exists(pk)")}
		if stale != "" {
			put.ConditionExpression = aws.String("userId = :stale")
			put.ExpressionAttributeValues = map[string]types.AttributeValue{":stale": ds.S(stale)}
		}
		// The user names its claim, so erasing the user erases the claim.
		item := s.userItem(bot, u, integration)
		item[ClaimAttribute] = claim[ds.SK]
		items := []types.TransactWriteItem{
			{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			{Put: put},
			s.countIn(bot, at, u.ID, counterNewUsers),
		}
		items = append(items, s.Meter.MeterItems(ctx, bot, u.ID, at, usage.Counts{usage.StorageCount: 1})...)
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if reasons := ds.CancellationReasons(err); len(reasons) >= 3 && reasons[1] == "ConditionalCheckFailed" {
			continue // another caller claimed the tags first: read their user
		}
		if err != nil {
			return User{}, false, err
		}
		return u, true, nil
	}
	return User{}, false, apperr.New(apperr.ResourceLockedConflict, "the user is being changed concurrently; retry")
}

// claimedUser follows the claim for the tags. It returns the user when the
// claim is live, or the stale user id when the claimed user is gone or no
// longer carries the tags.
func (s *Store) claimedUser(ctx context.Context, bot string, tags map[string]string) (*User, string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: claimKey(bot, tags), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return nil, "", err
	}
	userID := ds.String(out.Item, "userId")
	u, err := s.User(ctx, bot, userID)
	if apperr.Is(err, apperr.ResourceNotFound) {
		return nil, userID, nil
	}
	if err != nil {
		return nil, "", err
	}
	if !tagsMatch(u.Tags, tags) {
		return nil, userID, nil
	}
	return &u, "", nil
}

// UserUpdate is a partial update of a user; nil fields keep their value.
type UserUpdate struct {
	Tags       map[string]string
	Name       *string // "" removes
	PictureURL *string // "" removes
	At         time.Time
	AtString   string
}

// UpdateUser applies an update in one UpdateItem, conditioned on the user
// existing, and returns the user as stored afterwards. Tags are set or
// removed key by key, so concurrent updates of different tags both land.
func (s *Store) UpdateUser(ctx context.Context, bot, id string, up UserUpdate) (User, error) {
	ub := expression.Set(expression.Name("updatedAt"), expression.Value(up.AtString)).
		Set(expression.Name(ds.GSI1SK), expression.Value(up.AtString+"#"+id))
	for k, v := range up.Tags {
		if v == "" {
			ub = ub.Remove(expression.Name("tags." + k))
		} else {
			ub = ub.Set(expression.Name("tags."+k), expression.Value(v))
		}
	}
	for name, v := range map[string]*string{"name": up.Name, "pictureUrl": up.PictureURL} {
		switch {
		case v == nil:
		case *v == "":
			ub = ub.Remove(expression.Name(name))
		default:
			ub = ub.Set(expression.Name(name), expression.Value(*v))
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(ub).WithCondition(expression.AttributeExists(expression.Name(ds.PK))).Build()
	if err != nil {
		return User{}, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: userKey(bot, id),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	if ds.IsConditionFailed(err) {
		return User{}, apperr.NotFound("user", id)
	}
	if err != nil {
		return User{}, err
	}
	return readUser(out.Attributes)
}

// DeleteUser removes a user: one conditional DeleteItem. A claim naming it
// goes stale and is replaced by the next get-or-create.
func (s *Store) DeleteUser(ctx context.Context, bot, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: userKey(bot, id),
		ConditionExpression: aws.String("attribute_exists(pk)"),
	})
	if ds.IsConditionFailed(err) {
		return apperr.NotFound("user", id)
	}
	return err
}

// UserFilter narrows and orders a user list.
type UserFilter struct {
	Tags          map[string]string
	SortField     string // createdAt | updatedAt
	SortDirection string // asc | desc
	RangeField    string // createdAt | updatedAt
	After, Before *time.Time
	PageSize      int
}

// ListUsers returns one page of the bot's users: one Query, on the base
// table for creation order (ids are ULIDs) or on gsi1 for update order. A
// date range on the sorted field becomes part of the key condition; tags
// are a filter.
func (s *Store) ListUsers(ctx context.Context, bot string, f UserFilter, token string) ([]User, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(f.SortDirection == "asc")}
	var key expression.KeyConditionBuilder
	var filters []expression.ConditionBuilder
	if f.SortField == "updatedAt" {
		in.IndexName = aws.String(ds.GSI1)
		key = expression.Key(ds.GSI1PK).Equal(expression.Value(botPK(bot) + "#USERS"))
		if f.RangeField == "updatedAt" {
			key = key.And(timeRange(ds.GSI1SK, "", f.After, f.Before, isoBound))
		}
	} else {
		key = expression.Key(ds.PK).Equal(expression.Value(botPK(bot)))
		if f.RangeField == "createdAt" {
			key = key.And(timeRange(ds.SK, "USER#"+id.User+"_", f.After, f.Before, ulidBound))
		} else {
			key = key.And(expression.Key(ds.SK).BeginsWith("USER#"))
		}
	}
	// A range on the field that doesn't drive the order is a filter.
	if f.RangeField != f.SortField && f.RangeField != "" && (f.After != nil || f.Before != nil) {
		if f.After != nil {
			filters = append(filters, expression.Name(f.RangeField).GreaterThanEqual(expression.Value(isoBound(*f.After, false))))
		}
		if f.Before != nil {
			filters = append(filters, expression.Name(f.RangeField).LessThanEqual(expression.Value(isoBound(*f.Before, true))))
		}
	}
	if tf, ok := tagFilter(f.Tags); ok {
		filters = append(filters, tf)
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	if len(filters) == 1 {
		b = b.WithFilter(filters[0])
	} else if len(filters) > 1 {
		b = b.WithFilter(expression.And(filters[0], filters[1], filters[2:]...))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	in.KeyConditionExpression, in.FilterExpression = expr.KeyCondition(), expr.Filter()
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Names(), expr.Values()
	scope := fmt.Sprintf("users|%s|%s|%s|%s|%v|%v|%v", bot, f.SortField, f.SortDirection, f.RangeField, f.After, f.Before, f.Tags)
	page, err := ds.QueryPage(ctx, s.db, s.pages, scope, token, f.PageSize, in)
	if err != nil {
		return nil, "", err
	}
	users, err := readItems(page.Items, "USER#", readUser)
	return users, page.NextToken, err
}

// timeRange is a key condition on a sort key whose values begin with prefix
// followed by something that sorts like time.
func timeRange(attr, prefix string, after, before *time.Time, bound func(time.Time, bool) string) expression.KeyConditionBuilder {
	lo, hi := prefix, prefix+"\uffff"
	if after != nil {
		lo = prefix + bound(*after, false)
	}
	if before != nil {
		hi = prefix + bound(*before, true)
	}
	return expression.Key(attr).Between(expression.Value(lo), expression.Value(hi))
}

// ulidBound is the smallest (or largest) ULID of a millisecond.
func ulidBound(t time.Time, upper bool) string {
	var id ulid.ULID
	if id.SetTime(ulid.Timestamp(t)) != nil {
		// Beyond the ULID epoch (year 10889): every id is before it.
		if upper {
			return strings.Repeat("Z", 26)
		}
		return ""
	}
	if upper {
		for i := 6; i < 16; i++ {
			id[i] = 0xff
		}
	}
	return id.String()
}

// isoBound is a stored timestamp bound; the upper one sorts after every
// suffix that follows the timestamp in a key.
func isoBound(t time.Time, upper bool) string {
	s := t.UTC().Format("2006-01-02T15:04:05.000Z")
	if upper {
		return s + "\uffff"
	}
	return s
}
