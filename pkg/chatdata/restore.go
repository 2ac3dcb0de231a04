package chatdata

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
)

// ConversationLive reports whether a conversation of the bot is stored
// (being erased counts as live: its id is taken): one GetItem.
func (s *Store) ConversationLive(ctx context.Context, bot, conv string) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: convKey(bot, conv), ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("pk"),
	})
	if err != nil {
		return false, err
	}
	return out.Item != nil, nil
}

// RestoreConversation brings an archived conversation back from the lines
// its kind exported (lifecycle.Line: the conversation first, then its
// messages, participants, states, events and message claims, each with its
// live sort key). Each item is rebuilt with the keys and index entries
// this package gives it when it is written live, so reads, lists and
// indexes find it as before, under its own ids. The partition is written
// first (BatchWriteItem, 25 a call, as the lines stream in: memory does not
// grow with the conversation); the conversation item last, with its
// get-or-create claim when that is free, in one transaction run by commit
// (which adds the caller's audit record), conditioned on the id not being
// live: until then nothing of it is visible, so a failed restore can be
// run again. It answers the number of items restored by line type.
func (s *Store) RestoreConversation(ctx context.Context, bot, conv string, lines lifecycle.LineReader, commit audit.Commit) (map[string]int, error) {
	first, err := lines.ReadLine()
	if errors.Is(err, io.EOF) {
		return nil, apperr.New(apperr.InvalidDataFormat, "the archive of conversation %q is empty", conv)
	}
	if err != nil {
		return nil, err
	}
	if first.Kind != lifecycle.KindConversation || first.Type != "conversation" || first.Key != "CONV#"+conv || first.Data["id"] != conv ||
		(first.BotID != "" && first.BotID != bot) {
		return nil, apperr.New(apperr.InvalidDataFormat, "the archive does not begin with conversation %q of bot %q", conv, bot)
	}
	convItem, err := attributevalue.MarshalMap(first.Data)
	if err != nil {
		return nil, err
	}
	createdAt, updatedAt := ds.String(convItem, "createdAt"), ds.String(convItem, "updatedAt")
	counts := map[string]int{"conversation": 1}
	var batch []types.WriteRequest
	flush := func() error {
		err := ds.BatchWrite(ctx, s.db, s.table, batch, s.Sleep)
		batch = batch[:0]
		return err
	}
	for {
		l, err := lines.ReadLine()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		item, err := s.restoredItem(bot, conv, createdAt, l)
		if err != nil {
			return nil, err
		}
		counts[l.Type]++
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(batch) == ds.BatchSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}

	for k, v := range ds.Key(botPK(bot), "CONV#"+conv) {
		convItem[k] = v
	}
	convItem[gsi2PK], convItem[gsi2SK] = ds.S(botPK(bot)+"#CONVS"), ds.S(updatedAt+"#"+conv)
	claimSK := ds.String(convItem, ClaimAttribute)
	for {
		items := []types.TransactWriteItem{{Put: &types.Put{TableName: &s.table, Item: convItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}}}
		if claimSK != "" {
			claim := ds.Key(botPK(bot), claimSK)
			claim["conversationId"] = ds.S(conv)
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: claim, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
		}
		err := commit(ctx, items)
		reasons := ds.CancellationReasons(err)
		switch {
		case len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed":
			return nil, apperr.New(apperr.AlreadyExists, "conversation %q is live: it is not restored over", conv)
		case claimSK != "" && len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed":
			// Another conversation holds the channel and tags now: restore
			// without the claim (get-or-create keeps answering that one).
			claimSK = ""
			delete(convItem, ClaimAttribute)
			continue
		case err != nil:
			return nil, err
		}
		return counts, nil
	}
}

// restoredItem rebuilds one partition item from its archive line. Only the
// kinds of item a conversation's partition holds are accepted.
func (s *Store) restoredItem(bot, conv, convCreatedAt string, l lifecycle.Line) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(l.Data)
	if err != nil {
		return nil, err
	}
	for k, v := range ds.Key(convPK(bot, conv), l.Key) {
		item[k] = v
	}
	switch {
	case l.Type == "message" && strings.HasPrefix(l.Key, "MSG#"):
		item[gsi2PK], item[gsi2SK] = ds.S(botPK(bot)+"#MSGS"), ds.S(strings.TrimPrefix(l.Key, "MSG#"))
	case l.Type == "event" && strings.HasPrefix(l.Key, "EVT#"):
		item[gsi2PK], item[gsi2SK] = ds.S(botPK(bot)+"#EVTS"), ds.S(strings.TrimPrefix(l.Key, "EVT#"))
	case l.Type == "participant" && strings.HasPrefix(l.Key, "PART#"):
		user := strings.TrimPrefix(l.Key, "PART#")
		item[ds.GSI1PK], item[ds.GSI1SK] = ds.S(botPK(bot)+"#USER#"+user+"#CONVS"), ds.S(convCreatedAt+"#"+conv)
	case l.Type == "state" && strings.HasPrefix(l.Key, "STATE#"):
	case l.Type == "record" && strings.HasPrefix(l.Key, "MSGTAGS#"):
	default:
		return nil, apperr.New(apperr.InvalidDataFormat, "the archive of conversation %q holds a line that is not part of a conversation (%s %q)", conv, l.Type, l.Key)
	}
	return item, nil
}
