package chatdata

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/lifecycle"
)

// The chat table's kinds in the lifecycle catalogue. Every one reads and
// erases a page at a time (keys-only Queries, BatchWriteItem per page), so
// memory per call is bounded whatever a bot or conversation holds.

// Kind names of the chat table besides lifecycle's KindConversation,
// KindUser and KindEvent.
const (
	KindState   = "state"
	KindClaim   = "claim"
	KindCounter = "counter"
)

// LegalHoldTag is the tag that puts a conversation under legal hold when
// its value is exactly "true": no deletion job or policy touches it.
const LegalHoldTag = "legalHold"

// Held reports whether tags put their conversation under legal hold: the
// legalHold tag with the value true in any case, surrounding spaces
// ignored ("true", "TRUE", " True "). Any other value ("yes", "1") holds
// nothing: one documented spelling, forgiving only of case.
func Held(tags map[string]string) bool {
	return strings.EqualFold(strings.TrimSpace(tags[LegalHoldTag]), "true")
}

// Kinds returns the chat table's kinds in the order a bot purge runs them:
// conversations (with their partitions and claims, and partitions whose
// conversation is already gone), bot events, users (with their states and
// claims), other states, leftover claims, day counters.
func Kinds(db ds.Client, table string) []lifecycle.Kind {
	return []lifecycle.Kind{
		NewConversationKind(db, table), NewEventKind(db, table), NewUserKind(db, table),
		NewStateKind(db, table), NewClaimKind(db, table), NewCounterKind(db, table),
	}
}

// kindBase is what the chat kinds share.
type kindBase struct {
	db    ds.Client
	table string
	// Sleep waits between retries of unprocessed batch items.
	Sleep ds.Sleeper
}

func newBase(db ds.Client, table string) kindBase {
	return kindBase{db: db, table: table, Sleep: ds.Sleep}
}

// eachPage runs a Query page by page (its Limit, when set, sizes pages).
func (k kindBase) eachPage(ctx context.Context, in *dynamodb.QueryInput, page func(*dynamodb.QueryOutput) (bool, error)) error {
	in.TableName = &k.table
	for {
		out, err := k.db.Query(ctx, in)
		if err != nil {
			return err
		}
		more, err := page(out)
		if err != nil || !more || len(out.LastEvaluatedKey) == 0 {
			return err
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// erase deletes items by key (their pk and sk), 25 per BatchWriteItem.
func (k kindBase) erase(ctx context.Context, items []map[string]types.AttributeValue) error {
	if len(items) == 0 {
		return nil
	}
	reqs := make([]types.WriteRequest, 0, len(items))
	for _, it := range items {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(ds.String(it, ds.PK), ds.String(it, ds.SK))}})
	}
	return ds.BatchWrite(ctx, k.db, k.table, reqs, k.Sleep)
}

func keysOnly(cond expression.KeyConditionBuilder, extra ...string) *dynamodb.QueryInput {
	names := expression.NamesList(expression.Name(ds.PK), expression.Name(ds.SK))
	for _, n := range extra {
		names = names.AddNames(expression.Name(n))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).WithProjection(names).Build()
	if err != nil {
		panic(err) // a programming error: the conditions are constant in shape
	}
	return &dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true),
	}
}

// erasePartition erases every item of a partition (or, with skPrefix, of
// its items whose sort key begins with it), a page of keys at a time.
func (k kindBase) erasePartition(ctx context.Context, pk, skPrefix string) error {
	cond := expression.Key(ds.PK).Equal(expression.Value(pk))
	if skPrefix != "" {
		cond = cond.And(expression.Key(ds.SK).BeginsWith(skPrefix))
	}
	return k.eachPage(ctx, keysOnly(cond), func(out *dynamodb.QueryOutput) (bool, error) {
		return true, k.erase(ctx, out.Items)
	})
}

// count counts a partition's items (with skPrefix: those whose sort key
// begins with it): Select COUNT, page by page.
func (k kindBase) count(ctx context.Context, pk, skPrefix string) (int, error) {
	cond := expression.Key(ds.PK).Equal(expression.Value(pk))
	if skPrefix != "" {
		cond = cond.And(expression.Key(ds.SK).BeginsWith(skPrefix))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return 0, err
	}
	n := 0
	err = k.eachPage(ctx, &dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		Select: types.SelectCount, ConsistentRead: aws.Bool(true),
	}, func(out *dynamodb.QueryOutput) (bool, error) {
		n += int(out.Count)
		return true, nil
	})
	return n, err
}

// exportItem writes an item's export line, marked with its kind (and
// type, when given): one GetItem. A missing item writes nothing.
func (k kindBase) exportItem(ctx context.Context, key map[string]types.AttributeValue, kind, typ string, w lifecycle.LineWriter) (bool, error) {
	out, err := k.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &k.table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return false, err
	}
	l, err := Line(out.Item)
	if err != nil {
		return false, err
	}
	l.Kind = kind
	if typ != "" {
		l.Type = typ
	}
	return true, w.WriteLine(l)
}

// exportRange writes the export line of every item a key condition
// selects, a Query page at a time.
func (k kindBase) exportRange(ctx context.Context, cond expression.KeyConditionBuilder, w lifecycle.LineWriter) error {
	expr, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true)}
	return k.eachPage(ctx, in, func(out *dynamodb.QueryOutput) (bool, error) {
		for _, it := range out.Items {
			l, err := Line(it)
			if err != nil {
				return false, err
			}
			if err := w.WriteLine(l); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// partitionFacts counts a conversation's partition and lists its
// participants, from keys-only Query pages (as many calls as a count).
func (k kindBase) partitionFacts(ctx context.Context, bot, conv string) (int, []string, error) {
	n := 0
	var users []string
	err := k.eachPage(ctx, keysOnly(expression.Key(ds.PK).Equal(expression.Value(convPK(bot, conv)))), func(out *dynamodb.QueryOutput) (bool, error) {
		n += len(out.Items)
		for _, it := range out.Items {
			if u, ok := strings.CutPrefix(ds.String(it, ds.SK), "PART#"); ok {
				users = append(users, u)
			}
		}
		return true, nil
	})
	return n, users, err
}

// purgePrefix erases up to max of a bot partition's items whose sort key
// begins with prefix, calling also (when set) with each page first.
func (k kindBase) purgePrefix(ctx context.Context, bot, prefix string, max int, also func([]map[string]types.AttributeValue) error, extra ...string) (bool, error) {
	in := keysOnly(expression.Key(ds.PK).Equal(expression.Value(botPK(bot))).And(expression.Key(ds.SK).BeginsWith(prefix)), extra...)
	in.Limit = aws.Int32(int32(max))
	more := false
	err := k.eachPage(ctx, in, func(out *dynamodb.QueryOutput) (bool, error) {
		more = len(out.LastEvaluatedKey) > 0
		if also != nil {
			if err := also(out.Items); err != nil {
				return false, err
			}
		}
		return false, k.erase(ctx, out.Items)
	})
	return more, err
}

// batchRead reads items of the table by key: ds.BatchGet, consistent.
func (k kindBase) batchRead(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	out, err := ds.BatchGet(ctx, k.db, map[string]types.KeysAndAttributes{k.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}, k.Sleep)
	if err != nil {
		return nil, err
	}
	return out[k.table], nil
}

// deleteClaim removes a get-or-create claim unless it names another item
// now (a newer conversation or user took it over): one conditional
// DeleteItem.
func (k kindBase) deleteClaim(ctx context.Context, bot, claimSK, attr, owner string) error {
	if claimSK == "" {
		return nil
	}
	_, err := k.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &k.table, Key: ds.Key(botPK(bot), claimSK),
		ConditionExpression:       aws.String("#a = :o"),
		ExpressionAttributeNames:  map[string]string{"#a": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": ds.S(owner)},
	})
	if ds.IsConditionFailed(err) {
		return nil
	}
	return err
}

// lineTypes name export lines by sort-key prefix.
var lineTypes = []struct{ prefix, typ string }{
	{"MSGTAGS#", "record"}, {"MSG#", "message"}, {"PART#", "participant"}, {"STATE#", "state"}, {"EVT#", "event"},
	{"CONV#", "conversation"}, {"USER#", "user"},
}

// Line is an item as an export line: its data without key attributes,
// typed by its sort key's prefix ("record" for anything else).
func Line(item map[string]types.AttributeValue) (lifecycle.Line, error) {
	data := map[string]any{}
	if err := attributevalue.UnmarshalMap(item, &data); err != nil {
		return lifecycle.Line{}, err
	}
	sk := ds.String(item, ds.SK)
	for _, k := range []string{ds.PK, ds.SK, ds.GSI1PK, ds.GSI1SK, gsi2PK, gsi2SK} {
		delete(data, k)
	}
	l := lifecycle.Line{Type: "record", Key: sk, Data: data}
	for _, t := range lineTypes {
		if strings.HasPrefix(sk, t.prefix) {
			l.Type = t.typ
			break
		}
	}
	return l, nil
}

func parseTime(s string) time.Time {
	t, err := clock.Parse(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// idTime is the creation time of a prefixed ULID id.
func idTime(v string) time.Time {
	_, raw, _ := strings.Cut(v, "_")
	u, err := ulid.ParseStrict(raw)
	if err != nil {
		return time.Time{}
	}
	return ulid.Time(u.Time())
}

func tagsOf(item map[string]types.AttributeValue) map[string]string {
	tags := map[string]string{}
	if m, ok := item["tags"].(*types.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				tags[k] = s.Value
			}
		}
	}
	return tags
}

// ---------------------------------------------------------------- conversation

// ConversationKind is the conversation kind: a conversation item with its
// partition (messages, participants, states, events, message claims) and
// its get-or-create claim. Item ids are conversation ids.
type ConversationKind struct{ kindBase }

var (
	_ lifecycle.AgedKind = (*ConversationKind)(nil)
	_ lifecycle.UserKind = (*ConversationKind)(nil)
)

// NewConversationKind returns the conversation kind on the chat table.
func NewConversationKind(db ds.Client, table string) *ConversationKind {
	return &ConversationKind{newBase(db, table)}
}

// Name implements lifecycle.Kind.
func (k *ConversationKind) Name() string { return lifecycle.KindConversation }

func convFacts(item map[string]types.AttributeValue) lifecycle.Facts {
	tags := tagsOf(item)
	return lifecycle.Facts{
		Found: true, Held: Held(tags),
		CreatedAt: parseTime(ds.String(item, "createdAt")), UpdatedAt: parseTime(ds.String(item, "updatedAt")),
		Attrs: map[string]string{"channel": ds.String(item, "channel"), "integration": ds.String(item, "integration")},
		Tags:  tags, Secondary: ds.String(item, ClaimAttribute),
	}
}

// Inspect implements lifecycle.ItemKind: one BatchGetItem of the
// conversations, then one Select COUNT Query (per page) of each one's
// partition.
func (k *ConversationKind) Inspect(ctx context.Context, bot string, ids []string) (map[string]lifecycle.Facts, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	for _, c := range ids {
		keys = append(keys, convKey(bot, c))
	}
	items, err := k.batchRead(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := map[string]lifecycle.Facts{}
	for _, it := range items {
		conv := strings.TrimPrefix(ds.String(it, ds.SK), "CONV#")
		f := convFacts(it)
		n, users, err := k.partitionFacts(ctx, bot, conv)
		if err != nil {
			return nil, err
		}
		f.Records, f.Users = 1+n, users
		out[conv] = f
	}
	return out, nil
}

// Export implements lifecycle.ItemKind: the conversation line, then its
// messages in order, then the rest of its partition in key order
// (events, message claims, participants, states), a Query page at a time.
// A missing conversation exports nothing.
func (k *ConversationKind) Export(ctx context.Context, bot, conv string, w lifecycle.LineWriter) error {
	found, err := k.exportItem(ctx, convKey(bot, conv), lifecycle.KindConversation, "conversation", w)
	if err != nil || !found {
		return err
	}
	pk := expression.Key(ds.PK).Equal(expression.Value(convPK(bot, conv)))
	for _, cond := range []expression.KeyConditionBuilder{
		pk.And(expression.Key(ds.SK).BeginsWith("MSG#")),
		pk.And(expression.Key(ds.SK).LessThan(expression.Value("MSG#"))),
		pk.And(expression.Key(ds.SK).GreaterThan(expression.Value("MSG#\uffff"))),
	} {
		if err := k.exportRange(ctx, cond, w); err != nil {
			return err
		}
	}
	return nil
}

// EraseContents implements lifecycle.ItemKind: the conversation's
// partition, a keys-only Query page and a BatchWriteItem per page.
func (k *ConversationKind) EraseContents(ctx context.Context, bot, conv string) error {
	return k.erasePartition(ctx, convPK(bot, conv), "")
}

// Final implements lifecycle.ItemKind: the delete of the conversation item.
func (k *ConversationKind) Final(bot, conv string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &k.table, Key: convKey(bot, conv)}}
}

// Sweep implements lifecycle.ItemKind: what was written into the partition
// meanwhile, and the claim (f.Secondary) unless a newer conversation took
// it over.
func (k *ConversationKind) Sweep(ctx context.Context, bot, conv string, f lifecycle.Facts) error {
	if err := k.EraseContents(ctx, bot, conv); err != nil {
		return err
	}
	return k.deleteClaim(ctx, bot, f.Secondary, "conversationId", conv)
}

func convProjection() expression.ProjectionBuilder {
	return expression.NamesList(expression.Name("id"), expression.Name("createdAt"), expression.Name("updatedAt"),
		expression.Name("channel"), expression.Name("integration"), expression.Name("tags"), expression.Name(ClaimAttribute))
}

// Due implements lifecycle.AgedKind. By creation: the key range of
// conversation ids (ULIDs) up to the cutoff's; by update: the index of
// conversations by updatedAt (gsi2) up to the cutoff. read counts the
// index entries read (ScannedCount).
func (k *ConversationKind) Due(ctx context.Context, bot, basis string, cutoff time.Time, page func([]lifecycle.Candidate) error) (int, error) {
	var cond expression.KeyConditionBuilder
	in := &dynamodb.QueryInput{}
	if basis == lifecycle.BasisCreated {
		cond = expression.Key(ds.PK).Equal(expression.Value(botPK(bot))).
			And(expression.Key(ds.SK).Between(expression.Value("CONV#"+id.Conversation+"_"), expression.Value("CONV#"+id.Conversation+"_"+ulidBound(cutoff, true))))
	} else {
		in.IndexName = aws.String(gsi2)
		cond = expression.Key(gsi2PK).Equal(expression.Value(botPK(bot) + "#CONVS")).
			And(expression.Key(gsi2SK).LessThanEqual(expression.Value(clock.Format(cutoff) + "#~")))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(cond).WithProjection(convProjection()).Build()
	if err != nil {
		return 0, err
	}
	in.KeyConditionExpression, in.ProjectionExpression = expr.KeyCondition(), expr.Projection()
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Names(), expr.Values()
	read := 0
	err = k.eachPage(ctx, in, func(out *dynamodb.QueryOutput) (bool, error) {
		read += int(out.ScannedCount)
		var cands []lifecycle.Candidate
		for _, it := range out.Items {
			f := convFacts(it)
			t := f.UpdatedAt
			if basis == lifecycle.BasisCreated {
				t = f.CreatedAt
			}
			if t.IsZero() || t.After(cutoff) {
				continue
			}
			cands = append(cands, lifecycle.Candidate{ID: ds.String(it, "id"), Facts: f})
		}
		if len(cands) == 0 {
			return true, nil
		}
		return true, page(cands)
	})
	return read, err
}

// ByUser implements lifecycle.UserKind: the conversations the user takes
// part in created between from and to inclusive (zero: unbounded), through
// the index of a user's participations by conversation creation (gsi1).
func (k *ConversationKind) ByUser(ctx context.Context, bot, user string, from, to time.Time, page func(ids []string) error) error {
	lo, hi := "0", "\uffff"
	if !from.IsZero() {
		lo = clock.Format(from)
	}
	if !to.IsZero() {
		hi = clock.Format(to) + "\uffff"
	}
	return k.ByUserRange(ctx, bot, user, lo, hi, page)
}

// ByUserRange is ByUser on the stored strings of a deletion job: the
// conversations whose creation time, as stored (ISO 8601 UTC with
// milliseconds), sorts between start and end+"\uffff" inclusive, so a
// date (YYYY-MM-DD) as end covers its whole day. Ids are answered once
// each, a Query page at a time.
func (k *ConversationKind) ByUserRange(ctx context.Context, bot, user, start, end string, page func(ids []string) error) error {
	if start == "" {
		start = "0"
	}
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value(botPK(bot) + "#USER#" + user + "#CONVS")).
		And(expression.Key(ds.GSI1SK).Between(expression.Value(start), expression.Value(strings.TrimSuffix(end, "\uffff")+"\uffff")))).
		WithProjection(expression.NamesList(expression.Name(ds.GSI1SK))).Build()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	return k.eachPage(ctx, &dynamodb.QueryInput{
		IndexName: aws.String(ds.GSI1), KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(out *dynamodb.QueryOutput) (bool, error) {
		var ids []string
		for _, it := range out.Items {
			// gsi1sk is <conversation createdAt>#<conversation id>.
			sk := ds.String(it, ds.GSI1SK)
			if i := strings.LastIndexByte(sk, '#'); i >= 0 && !seen[sk[i+1:]] {
				seen[sk[i+1:]] = true
				ids = append(ids, sk[i+1:])
			}
		}
		if len(ids) == 0 {
			return true, nil
		}
		return true, page(ids)
	})
}

// Purge implements lifecycle.Kind: up to max conversations with their
// partitions and claims; once none is left, partitions whose conversation
// is already gone (deleted, their erasure pending) found through the
// bot's message and event indexes.
func (k *ConversationKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	more, err := k.purgePrefix(ctx, bot, "CONV#", max, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			conv := strings.TrimPrefix(ds.String(it, ds.SK), "CONV#")
			if err := k.erasePartition(ctx, convPK(bot, conv), ""); err != nil {
				return err
			}
			if err := k.deleteClaim(ctx, bot, ds.String(it, ClaimAttribute), "conversationId", conv); err != nil {
				return err
			}
		}
		return nil
	}, ClaimAttribute)
	if err != nil || more {
		return more, err
	}
	return k.purgeOrphans(ctx, bot, max)
}

// purgeOrphans erases up to max partitions of gone conversations that
// still hold messages or events, found through the bot's message and event
// indexes (a page of index keys at a time).
func (k *ConversationKind) purgeOrphans(ctx context.Context, bot string, max int) (bool, error) {
	done := 0
	for _, index := range []string{"#MSGS", "#EVTS"} {
		in := keysOnly(expression.Key(gsi2PK).Equal(expression.Value(botPK(bot) + index)))
		in.IndexName, in.ConsistentRead, in.Limit = aws.String(gsi2), nil, aws.Int32(100)
		seen := map[string]bool{}
		err := k.eachPage(ctx, in, func(out *dynamodb.QueryOutput) (bool, error) {
			for _, it := range out.Items {
				pk := ds.String(it, ds.PK)
				if pk == botPK(bot) || seen[pk] {
					continue // bot events are the event kind's
				}
				if done == max {
					return false, nil
				}
				seen[pk] = true
				if err := k.erasePartition(ctx, pk, ""); err != nil {
					return false, err
				}
				done++
			}
			return true, nil
		})
		if err != nil || done == max {
			return done == max, err
		}
	}
	return false, nil
}

// ---------------------------------------------------------------- event

// EventKind is the kind of events retention's "events" resource governs.
// Item ids locate the event: "<conversationId>/<eventId>" for an event of a
// conversation, "/<eventId>" for a bot event.
type EventKind struct{ kindBase }

var _ lifecycle.AgedKind = (*EventKind)(nil)

// NewEventKind returns the event kind on the chat table.
func NewEventKind(db ds.Client, table string) *EventKind { return &EventKind{newBase(db, table)} }

// Name implements lifecycle.Kind.
func (k *EventKind) Name() string { return lifecycle.KindEvent }

// EventItemID is the event kind's id of an event.
func EventItemID(conversationID, eventID string) string { return conversationID + "/" + eventID }

func eventItemKey(bot, itemID string) map[string]types.AttributeValue {
	conv, evt, _ := strings.Cut(itemID, "/")
	if conv == "" {
		return ds.Key(botPK(bot), "EVT#"+evt)
	}
	return ds.Key(convPK(bot, conv), "EVT#"+evt)
}

func eventItemIDOf(bot string, item map[string]types.AttributeValue) string {
	conv := strings.TrimPrefix(ds.String(item, ds.PK), convPK(bot, ""))
	if ds.String(item, ds.PK) == botPK(bot) {
		conv = ""
	}
	return EventItemID(conv, strings.TrimPrefix(ds.String(item, ds.SK), "EVT#"))
}

// Inspect implements lifecycle.ItemKind: one BatchGetItem.
func (k *EventKind) Inspect(ctx context.Context, bot string, ids []string) (map[string]lifecycle.Facts, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	for _, v := range ids {
		keys = append(keys, eventItemKey(bot, v))
	}
	items, err := k.batchRead(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := map[string]lifecycle.Facts{}
	for _, it := range items {
		t := parseTime(ds.String(it, "createdAt"))
		out[eventItemIDOf(bot, it)] = lifecycle.Facts{Found: true, CreatedAt: t, UpdatedAt: t, Records: 1, Tags: map[string]string{}, Attrs: map[string]string{}}
	}
	return out, nil
}

// Export implements lifecycle.ItemKind: the event's line.
func (k *EventKind) Export(ctx context.Context, bot, itemID string, w lifecycle.LineWriter) error {
	_, err := k.exportItem(ctx, eventItemKey(bot, itemID), lifecycle.KindEvent, "", w)
	return err
}

// EraseContents implements lifecycle.ItemKind: nothing lives under an event.
func (k *EventKind) EraseContents(context.Context, string, string) error { return nil }

// Final implements lifecycle.ItemKind: the delete of the event item.
func (k *EventKind) Final(bot, itemID string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &k.table, Key: eventItemKey(bot, itemID)}}
}

// Sweep implements lifecycle.ItemKind: an event has no entries elsewhere.
func (k *EventKind) Sweep(context.Context, string, string, lifecycle.Facts) error { return nil }

// Due implements lifecycle.AgedKind: the bot's event index (gsi2, by
// time-ordered id) up to the cutoff's ULID; basis is always creation.
func (k *EventKind) Due(ctx context.Context, bot, _ string, cutoff time.Time, page func([]lifecycle.Candidate) error) (int, error) {
	in := keysOnly(expression.Key(gsi2PK).Equal(expression.Value(botPK(bot)+"#EVTS")).
		And(expression.Key(gsi2SK).Between(expression.Value(id.Event+"_"), expression.Value(id.Event+"_"+ulidBound(cutoff, true)))), gsi2SK)
	in.IndexName, in.ConsistentRead = aws.String(gsi2), nil
	read := 0
	err := k.eachPage(ctx, in, func(out *dynamodb.QueryOutput) (bool, error) {
		read += int(out.ScannedCount)
		cands := make([]lifecycle.Candidate, 0, len(out.Items))
		for _, it := range out.Items {
			t := idTime(ds.String(it, gsi2SK))
			cands = append(cands, lifecycle.Candidate{ID: eventItemIDOf(bot, it), Facts: lifecycle.Facts{Found: true, CreatedAt: t, UpdatedAt: t, Records: 1}})
		}
		if len(cands) == 0 {
			return true, nil
		}
		return true, page(cands)
	})
	return read, err
}

// Purge implements lifecycle.Kind: up to max bot events (a conversation's
// events go with it).
func (k *EventKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	return k.purgePrefix(ctx, bot, "EVT#", max, nil)
}

// ---------------------------------------------------------------- user

// UserKind is the user kind: a chat user with its states and its
// get-or-create claim. Item ids are user ids.
type UserKind struct{ kindBase }

var _ lifecycle.UserKind = (*UserKind)(nil)

// NewUserKind returns the user kind on the chat table.
func NewUserKind(db ds.Client, table string) *UserKind { return &UserKind{newBase(db, table)} }

// Name implements lifecycle.Kind.
func (k *UserKind) Name() string { return lifecycle.KindUser }

func userStatesPrefix(user string) string { return "STATE#user#" + user + "#" }

// Inspect implements lifecycle.ItemKind: one BatchGetItem, then a COUNT
// Query of each user's states.
func (k *UserKind) Inspect(ctx context.Context, bot string, ids []string) (map[string]lifecycle.Facts, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	for _, u := range ids {
		keys = append(keys, userKey(bot, u))
	}
	items, err := k.batchRead(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := map[string]lifecycle.Facts{}
	for _, it := range items {
		u := strings.TrimPrefix(ds.String(it, ds.SK), "USER#")
		n, err := k.count(ctx, botPK(bot), userStatesPrefix(u))
		if err != nil {
			return nil, err
		}
		out[u] = lifecycle.Facts{
			Found: true, CreatedAt: parseTime(ds.String(it, "createdAt")), UpdatedAt: parseTime(ds.String(it, "updatedAt")),
			Tags: tagsOf(it), Attrs: map[string]string{"integration": ds.String(it, "integrationName")},
			Records: 1 + n, Secondary: ds.String(it, ClaimAttribute), Users: []string{u},
		}
	}
	return out, nil
}

// Export implements lifecycle.ItemKind: the user's line, then its states.
func (k *UserKind) Export(ctx context.Context, bot, user string, w lifecycle.LineWriter) error {
	found, err := k.exportItem(ctx, userKey(bot, user), lifecycle.KindUser, "", w)
	if err != nil || !found {
		return err
	}
	return k.exportRange(ctx, expression.Key(ds.PK).Equal(expression.Value(botPK(bot))).
		And(expression.Key(ds.SK).BeginsWith(userStatesPrefix(user))), w)
}

// EraseContents implements lifecycle.ItemKind: the user's states.
func (k *UserKind) EraseContents(ctx context.Context, bot, user string) error {
	return k.erasePartition(ctx, botPK(bot), userStatesPrefix(user))
}

// Final implements lifecycle.ItemKind: the delete of the user item.
func (k *UserKind) Final(bot, user string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &k.table, Key: userKey(bot, user)}}
}

// Sweep implements lifecycle.ItemKind: states written meanwhile, and the
// claim unless another user took it over.
func (k *UserKind) Sweep(ctx context.Context, bot, user string, f lifecycle.Facts) error {
	if err := k.EraseContents(ctx, bot, user); err != nil {
		return err
	}
	return k.deleteClaim(ctx, bot, f.Secondary, "userId", user)
}

// ByUser implements lifecycle.UserKind: the user itself.
func (k *UserKind) ByUser(_ context.Context, _, user string, _, _ time.Time, page func(ids []string) error) error {
	return page([]string{user})
}

// Purge implements lifecycle.Kind: up to max users with their states and
// claims.
func (k *UserKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	return k.purgePrefix(ctx, bot, "USER#", max, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			u := strings.TrimPrefix(ds.String(it, ds.SK), "USER#")
			if err := k.EraseContents(ctx, bot, u); err != nil {
				return err
			}
			if err := k.deleteClaim(ctx, bot, ds.String(it, ClaimAttribute), "userId", u); err != nil {
				return err
			}
		}
		return nil
	}, ClaimAttribute)
}

// ---------------------------------------------------------------- the rest

// PrefixKind is a kind purged by sort-key prefixes of the bot's partition.
type PrefixKind struct {
	kindBase
	name     string
	prefixes []string
}

// NewStateKind returns the kind of states kept on the bot, tasks,
// workflows and integrations (and users' states left behind).
func NewStateKind(db ds.Client, table string) *PrefixKind {
	return &PrefixKind{kindBase: newBase(db, table), name: KindState, prefixes: []string{"STATE#"}}
}

// NewClaimKind returns the kind of get-or-create claims left behind.
func NewClaimKind(db ds.Client, table string) *PrefixKind {
	return &PrefixKind{kindBase: newBase(db, table), name: KindClaim, prefixes: []string{"CONVTAGS#", "USERTAGS#"}}
}

// NewCounterKind returns the kind of day counters (analytics).
func NewCounterKind(db ds.Client, table string) *PrefixKind {
	return &PrefixKind{kindBase: newBase(db, table), name: KindCounter, prefixes: []string{"STAT#"}}
}

// Name implements lifecycle.Kind.
func (k *PrefixKind) Name() string { return k.name }

// Purge implements lifecycle.Kind.
func (k *PrefixKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	for _, p := range k.prefixes {
		more, err := k.purgePrefix(ctx, bot, p, max, nil)
		if err != nil || more {
			return more, err
		}
	}
	return false, nil
}
