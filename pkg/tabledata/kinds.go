package tabledata

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/lifecycle"
)

// Kind names of the tables table in the lifecycle catalogue. A retention
// policy's resources "tableRows" governs KindRow.
const (
	KindRow   = "tableRow"
	KindTable = "table"
)

// Kinds returns the table kinds in purge order: rows, then tables (which
// erase their partitions whole).
func Kinds(db ds.Client, table string) []lifecycle.Kind {
	s := NewStore(db, table)
	return []lifecycle.Kind{&RowKind{s}, &TableKind{s}}
}

// RowKind is the tableRow kind: one row, id "<tableId>.<gen>/<rowId>".
// Retention lists rows by age on gsi1 (createdAt) and gsi2 (updatedAt);
// Facts.Attrs["table"] is the row's table's name, which retention scopes
// by.
type RowKind struct{ s *Store }

var _ lifecycle.AgedKind = (*RowKind)(nil)

// Name implements lifecycle.Kind.
func (k *RowKind) Name() string { return KindRow }

// Purge implements lifecycle.Kind: rows are erased with their tables'
// partitions by the table kind, which purge runs next.
func (k *RowKind) Purge(context.Context, string, int) (bool, error) { return false, nil }

func splitRowID(id string) (part string, row int64, ok bool) {
	part, r, ok := strings.Cut(id, "/")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(r, 10, 64)
	return part, n, err == nil
}

func partTable(part string) string {
	i := strings.LastIndex(part, ".")
	if i < 0 {
		return part
	}
	return part[:i]
}

func parseTime(s string) time.Time {
	t, _ := clock.Parse(s)
	return t
}

// Inspect implements lifecycle.ItemKind: one BatchGetItem.
func (k *RowKind) Inspect(ctx context.Context, bot string, ids []string) (map[string]lifecycle.Facts, error) {
	var keys []map[string]types.AttributeValue
	for _, id := range ids {
		if part, row, ok := splitRowID(id); ok {
			keys = append(keys, rowKey(bot, part, row))
		}
	}
	out := map[string]lifecycle.Facts{}
	if len(keys) == 0 {
		return out, nil
	}
	res, err := ds.BatchGet(ctx, k.s.db, map[string]types.KeysAndAttributes{k.s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}, k.s.Sleep)
	if err != nil {
		return nil, err
	}
	for _, it := range res[k.s.table] {
		part := strings.TrimPrefix(ds.String(it, ds.PK), partPK(bot, ""))
		r, err := rowOf(it)
		if err != nil {
			return nil, err
		}
		out[part+"/"+strconv.FormatInt(r.ID, 10)] = lifecycle.Facts{Found: true, CreatedAt: parseTime(r.CreatedAt), UpdatedAt: parseTime(r.UpdatedAt), Records: 1}
	}
	return out, nil
}

// Export implements lifecycle.ItemKind: the row, values by column name.
func (k *RowKind) Export(ctx context.Context, bot, id string, w lifecycle.LineWriter) error {
	part, row, ok := splitRowID(id)
	if !ok {
		return nil
	}
	out, err := k.s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &k.s.table, Key: rowKey(bot, part, row), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return err
	}
	r, err := rowOf(out.Item)
	if err != nil {
		return err
	}
	data := map[string]any{"id": r.ID, "createdAt": r.CreatedAt, "updatedAt": r.UpdatedAt, "tableId": partTable(part)}
	t, err := k.s.Table(ctx, bot, partTable(part))
	for cid, v := range r.Data {
		name := cid
		if err == nil {
			if c, ok := t.Column(cid); ok {
				name = c.Name
			}
		}
		data[name] = v
	}
	return w.WriteLine(lifecycle.Line{Kind: KindRow, Type: "row", Key: rowSK(r.ID), Data: data})
}

// EraseContents implements lifecycle.ItemKind: the row's index entries and
// claim, and the row itself with its counts, in one conditional
// transaction (a second call finds it gone and does nothing).
func (k *RowKind) EraseContents(ctx context.Context, bot, id string) error {
	part, row, ok := splitRowID(id)
	if !ok {
		return nil
	}
	t, err := k.s.Table(ctx, bot, partTable(part))
	if err != nil || t.Part() != part {
		return nil // the table or generation is gone: its partition is erased whole
	}
	r, err := k.s.Row(ctx, bot, t, row)
	if err != nil {
		return nil
	}
	pk := partPK(bot, part)
	var reqs []types.WriteRequest
	for _, col := range t.IndexedColumns() {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(pk, indexSK(col, r.Data[col], r.ID))}})
	}
	if t.KeyColumn != "" && r.Data[t.KeyColumn] != nil {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(pk, claimSK(r.Data[t.KeyColumn]))}})
	}
	if err := ds.BatchWrite(ctx, k.s.db, k.s.table, reqs, k.s.Sleep); err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &k.s.table, Key: rowKey(bot, part, row), ConditionExpression: aws.String("attribute_exists(pk)")}},
		{Update: &types.Update{TableName: &k.s.table, Key: tableKey(bot, t.Name), UpdateExpression: aws.String("ADD #rows :d"),
			ExpressionAttributeNames: map[string]string{"#rows": "rows"}, ExpressionAttributeValues: map[string]types.AttributeValue{":d": n(-1)}}},
	}
	if c := k.s.rowCount(t, -1); c != nil {
		items = append(items, *c)
	}
	_, err = k.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if isFirstFailed(err) {
		return nil
	}
	return err
}

// Final implements lifecycle.ItemKind: the row's delete (already done by
// EraseContents with its counts; this one finds nothing).
func (k *RowKind) Final(bot, id string) types.TransactWriteItem {
	part, row, _ := splitRowID(id)
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &k.s.table, Key: rowKey(bot, part, row)}}
}

// Sweep implements lifecycle.ItemKind: nothing lives outside the row.
func (k *RowKind) Sweep(context.Context, string, string, lifecycle.Facts) error { return nil }

// Due implements lifecycle.AgedKind: the bot's rows by creation (gsi1) or
// update (gsi2) up to cutoff, with their table's name; never a scan.
func (k *RowKind) Due(ctx context.Context, bot, basis string, cutoff time.Time, page func([]lifecycle.Candidate) error) (int, error) {
	tables, err := k.s.Tables(ctx, bot)
	if err != nil {
		return 0, err
	}
	names := map[string]string{}
	for _, t := range tables {
		names[t.Part()] = t.Name
	}
	index, pkName, skName := ds.GSI1, ds.GSI1PK, ds.GSI1SK
	if basis == lifecycle.BasisUpdated {
		index, pkName, skName = gsi2, gsi2PK, gsi2SK
	}
	in := &dynamodb.QueryInput{TableName: &k.s.table, IndexName: aws.String(index),
		KeyConditionExpression:    aws.String("#p = :p AND #s <= :c"),
		ExpressionAttributeNames:  map[string]string{"#p": pkName, "#s": skName},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(rowsIndexPK(bot)), ":c": ds.S(clock.Format(cutoff) + "#\uffff")}}
	read := 0
	for {
		out, err := k.s.db.Query(ctx, in)
		if err != nil {
			return read, err
		}
		read += int(out.ScannedCount)
		var cands []lifecycle.Candidate
		for _, it := range out.Items {
			part := strings.TrimPrefix(ds.String(it, ds.PK), partPK(bot, ""))
			name, live := names[part]
			if !live {
				continue // a deleted table's or generation's row, erased whole
			}
			r, err := rowOf(it)
			if err != nil {
				return read, err
			}
			cands = append(cands, lifecycle.Candidate{ID: part + "/" + strconv.FormatInt(r.ID, 10), Facts: lifecycle.Facts{
				Found: true, CreatedAt: parseTime(r.CreatedAt), UpdatedAt: parseTime(r.UpdatedAt), Records: 1,
				Attrs: map[string]string{"table": name}}})
		}
		if len(cands) > 0 {
			if err := page(cands); err != nil {
				return read, err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return read, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// TableKind is the table kind: bot purge erases every table of the bot
// (definitions, partitions of every generation, counters), and the
// lifecycle's erase work erases a left partition (id "<tableId>.<gen>",
// the partition a deleted table or deleteAllRows left).
type TableKind struct{ s *Store }

var _ lifecycle.ItemKind = (*TableKind)(nil)

// Name implements lifecycle.Kind.
func (k *TableKind) Name() string { return KindTable }

// erasePart erases up to budget items of a partition (keys-only Query
// pages, BatchWriteItem of 25) and reports whether any remain.
func (k *TableKind) erasePart(ctx context.Context, bot, part string, budget int) (bool, error) {
	in := &dynamodb.QueryInput{TableName: &k.s.table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(partPK(bot, part))},
		ProjectionExpression:      aws.String("pk, sk"), ConsistentRead: aws.Bool(true), Limit: aws.Int32(int32(min(budget, 1000)))}
	done := 0
	for {
		out, err := k.s.db.Query(ctx, in)
		if err != nil {
			return false, err
		}
		reqs := make([]types.WriteRequest, 0, len(out.Items))
		for _, it := range out.Items {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(ds.String(it, ds.PK), ds.String(it, ds.SK))}})
		}
		if err := ds.BatchWrite(ctx, k.s.db, k.s.table, reqs, k.s.Sleep); err != nil {
			return false, err
		}
		done += len(out.Items)
		if len(out.LastEvaluatedKey) == 0 {
			return false, nil
		}
		if done >= budget {
			return true, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Purge implements lifecycle.Kind: the bot's tables and left partitions,
// each partition erased before the item that names it; at most max items
// of partitions per call (then more is true).
func (k *TableKind) Purge(ctx context.Context, bot string, max int) (bool, error) {
	budget := max * 10 // rows are small and erased 25 a call; a purge step erases a few pages
	out, err := k.s.db.Query(ctx, &dynamodb.QueryInput{TableName: &k.s.table, KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(botPK(bot))}, ConsistentRead: aws.Bool(true), Limit: aws.Int32(int32(max))})
	if err != nil {
		return false, err
	}
	var done []types.WriteRequest
	for _, it := range out.Items {
		sk := ds.String(it, ds.SK)
		var part string
		switch {
		case strings.HasPrefix(sk, "TGONE#"):
			part = strings.TrimPrefix(sk, "TGONE#")
		case strings.HasPrefix(sk, "TABLE#"):
			t, err := tableOf(it)
			if err != nil {
				return false, err
			}
			part = t.Part()
			more, err := k.erasePart(ctx, bot, part, budget)
			if err != nil {
				return false, err
			}
			if more {
				return true, ds.BatchWrite(ctx, k.s.db, k.s.table, done, k.s.Sleep)
			}
			// The table's rows leave the workspace's count with the table item,
			// in one transaction, so a redelivered purge does not count twice.
			items := []types.TransactWriteItem{{Delete: &types.Delete{TableName: &k.s.table, Key: ds.Key(botPK(bot), sk)}}}
			if c := k.s.rowCount(t, -t.Rows); c != nil {
				items = append(items, *c)
			}
			if _, err := k.s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
				return false, err
			}
			continue
		}
		if part != "" {
			more, err := k.erasePart(ctx, bot, part, budget)
			if err != nil {
				return false, err
			}
			if more {
				return true, ds.BatchWrite(ctx, k.s.db, k.s.table, done, k.s.Sleep)
			}
		}
		done = append(done, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(botPK(bot), sk)}})
	}
	if err := ds.BatchWrite(ctx, k.s.db, k.s.table, done, k.s.Sleep); err != nil {
		return false, err
	}
	return len(out.LastEvaluatedKey) > 0, nil
}

// Inspect implements lifecycle.ItemKind: a left partition is found while
// its gone marker is there.
func (k *TableKind) Inspect(ctx context.Context, bot string, ids []string) (map[string]lifecycle.Facts, error) {
	out := map[string]lifecycle.Facts{}
	for _, id := range ids {
		res, err := k.s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &k.s.table, Key: goneKey(bot, id), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		if res.Item != nil {
			t := parseTime(ds.String(res.Item, "at"))
			out[id] = lifecycle.Facts{Found: true, CreatedAt: t, UpdatedAt: t, Records: 1}
		}
	}
	return out, nil
}

// Export implements lifecycle.ItemKind: a left partition is not archived.
func (k *TableKind) Export(context.Context, string, string, lifecycle.LineWriter) error { return nil }

// EraseContents implements lifecycle.ItemKind: the partition, a page at a
// time, then its gone marker.
func (k *TableKind) EraseContents(ctx context.Context, bot, id string) error {
	for {
		more, err := k.erasePart(ctx, bot, id, 5000)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	_, err := k.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &k.s.table, Key: goneKey(bot, id)})
	return err
}

// Final implements lifecycle.ItemKind: the gone marker's delete.
func (k *TableKind) Final(bot, id string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &k.s.table, Key: goneKey(bot, id)}}
}

// Sweep implements lifecycle.ItemKind: rows written into a left partition
// after it was erased (a write that raced the deletion).
func (k *TableKind) Sweep(ctx context.Context, bot, id string, _ lifecycle.Facts) error {
	_, err := k.erasePart(ctx, bot, id, 1<<30)
	return err
}
