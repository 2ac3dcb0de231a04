package chatdata

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// What data subject requests and legal holds need of the chat table beyond
// the catalogue: finding a person by tags, and erasing one person's part
// of a conversation shared with others.

// UsersByTags answers the ids of a bot's users holding every given tag:
// Query pages of the bot's users with the tags as a filter (the chat table
// has no index by tag; this reads the bot's users, not the table).
func (k *UserKind) UsersByTags(ctx context.Context, bot string, tags map[string]string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	cond := expression.Key(ds.PK).Equal(expression.Value(botPK(bot))).And(expression.Key(ds.SK).BeginsWith("USER#"))
	var filter expression.ConditionBuilder
	i := 0
	for name, v := range tags {
		c := expression.Name("tags." + name).Equal(expression.Value(v))
		if i == 0 {
			filter = c
		} else {
			filter = filter.And(c)
		}
		i++
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).WithFilter(filter).
		WithProjection(expression.NamesList(expression.Name(ds.SK))).Build()
	if err != nil {
		return nil, err
	}
	var out []string
	err = k.eachPage(ctx, &dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(page *dynamodb.QueryOutput) (bool, error) {
		for _, it := range page.Items {
			out = append(out, strings.TrimPrefix(ds.String(it, ds.SK), "USER#"))
		}
		return true, nil
	})
	return out, err
}

// ErasePart erases one person's part of a conversation others take part
// in: their messages, their events and their participation, a page of the
// partition at a time. It answers how many items it erased.
func (k *ConversationKind) ErasePart(ctx context.Context, bot, conv, user string) (int, error) {
	in := keysOnly(expression.Key(ds.PK).Equal(expression.Value(convPK(bot, conv))), "userId")
	n := 0
	err := k.eachPage(ctx, in, func(page *dynamodb.QueryOutput) (bool, error) {
		var mine []map[string]types.AttributeValue
		for _, it := range page.Items {
			sk := ds.String(it, ds.SK)
			own := ds.String(it, "userId") == user && (strings.HasPrefix(sk, "MSG#") || strings.HasPrefix(sk, "EVT#"))
			if own || sk == "PART#"+user {
				mine = append(mine, ds.Key(ds.String(it, ds.PK), sk))
			}
		}
		n += len(mine)
		return true, k.erase(ctx, mine)
	})
	return n, err
}

// OwnsLine reports whether an exported line of a conversation belongs to
// user, for an export that must hold exactly the person's data: the
// conversation itself, its states, the person's participation, and the
// messages and events the person or the bot wrote (never another
// participant's).
func OwnsLine(lineType, key string, data map[string]any, user, bot string) bool {
	switch lineType {
	case "participant":
		return key == "PART#"+user
	case "message", "event":
		author, _ := data["userId"].(string)
		return author == user || author == bot || author == ""
	}
	return true
}
