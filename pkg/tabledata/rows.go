package tabledata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Row is a row as stored: values by column id.
type Row struct {
	ID        int64
	CreatedAt string
	UpdatedAt string
	Data      map[string]any
	// Vec is the embedding of the row's searchable columns (nil: none).
	Vec []float32
}

func rowItem(bot, part string, r Row) map[string]types.AttributeValue {
	data, err := attributevalue.MarshalMap(r.Data)
	if err != nil {
		panic(err) // values come from JSON, which always marshals
	}
	id := fmt.Sprintf("%010d", r.ID)
	item := map[string]types.AttributeValue{
		ds.PK: ds.S(partPK(bot, part)), ds.SK: ds.S(rowSK(r.ID)),
		"id": n(r.ID), "createdAt": ds.S(r.CreatedAt), "updatedAt": ds.S(r.UpdatedAt),
		"data":    &types.AttributeValueMemberM{Value: data},
		ds.GSI1PK: ds.S(rowsIndexPK(bot)), ds.GSI1SK: ds.S(r.CreatedAt + "#" + part + "#" + id),
		gsi2PK: ds.S(rowsIndexPK(bot)), gsi2SK: ds.S(r.UpdatedAt + "#" + part + "#" + id),
	}
	if len(r.Vec) > 0 {
		b := make([]byte, 4*len(r.Vec))
		for i, f := range r.Vec {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
		}
		item["vec"] = &types.AttributeValueMemberB{Value: b}
	}
	return item
}

func rowOf(item map[string]types.AttributeValue) (Row, error) {
	r := Row{CreatedAt: ds.String(item, "createdAt"), UpdatedAt: ds.String(item, "updatedAt"), Data: map[string]any{}}
	if v, ok := item["id"].(*types.AttributeValueMemberN); ok {
		r.ID, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if m, ok := item["data"].(*types.AttributeValueMemberM); ok {
		if err := attributevalue.UnmarshalMap(m.Value, &r.Data); err != nil {
			return Row{}, err
		}
	}
	if b, ok := item["vec"].(*types.AttributeValueMemberB); ok {
		r.Vec = make([]float32, len(b.Value)/4)
		for i := range r.Vec {
			r.Vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b.Value[4*i:]))
		}
	}
	return r, nil
}

// ReserveRows takes n row ids for new rows of t and counts them: the
// workspace's row counter first, conditioned on the quota (maxRows, rows ×
// factor; 0: no limit), then the table's counters (one UpdateItem each).
// It answers the first id; the ids are first … first+n-1.
func (s *Store) ReserveRows(ctx context.Context, bot string, t Table, count, maxRows int64) (int64, error) {
	if c := s.rowCount(t, count); c != nil {
		in := &dynamodb.UpdateItemInput{TableName: &s.table, Key: c.Update.Key, UpdateExpression: c.Update.UpdateExpression,
			ExpressionAttributeNames: c.Update.ExpressionAttributeNames, ExpressionAttributeValues: c.Update.ExpressionAttributeValues}
		if maxRows > 0 {
			in.ConditionExpression = aws.String("attribute_not_exists(#rows) OR #rows <= :lim")
			in.ExpressionAttributeValues[":lim"] = n(maxRows - count*int64(max(t.Factor, 1)))
		}
		if _, err := s.db.UpdateItem(ctx, in); err != nil {
			if ds.IsConditionFailed(err) {
				return 0, apperr.New(apperr.QuotaExceeded, "these %d rows (× factor %d) would exceed the workspace's quota of %d table rows", count, max(t.Factor, 1), maxRows)
			}
			return 0, err
		}
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: tableKey(bot, t.Name),
		UpdateExpression:    aws.String("ADD nextRowId :n, #rows :n"),
		ConditionExpression: aws.String("attribute_exists(pk) AND gen = :gen"), ExpressionAttributeNames: map[string]string{"#rows": "rows"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": n(count), ":gen": n(t.Gen)}, ReturnValues: types.ReturnValueUpdatedNew})
	if err != nil {
		if c := s.rowCount(t, -count); c != nil {
			_, _ = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: c.Update.Key, UpdateExpression: c.Update.UpdateExpression,
				ExpressionAttributeNames: c.Update.ExpressionAttributeNames, ExpressionAttributeValues: c.Update.ExpressionAttributeValues})
		}
		if ds.IsConditionFailed(err) {
			return 0, changed()
		}
		return 0, err
	}
	last, _ := strconv.ParseInt(out.Attributes["nextRowId"].(*types.AttributeValueMemberN).Value, 10, 64)
	return last - count + 1, nil
}

// Uncount takes rows back from the counters (rows reserved but not
// written, or deleted): one TransactWriteItems.
func (s *Store) Uncount(ctx context.Context, bot string, t Table, count int64) error {
	if count == 0 {
		return nil
	}
	items := []types.TransactWriteItem{{Update: &types.Update{TableName: &s.table, Key: tableKey(bot, t.Name),
		UpdateExpression: aws.String("ADD #rows :d"), ConditionExpression: aws.String("attribute_exists(pk) AND gen = :gen"),
		ExpressionAttributeNames:  map[string]string{"#rows": "rows"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": n(-count), ":gen": n(t.Gen)}}}}
	if c := s.rowCount(t, -count); c != nil {
		items = append(items, *c)
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if isFirstFailed(err) {
		return nil // the table or its generation is gone, with its counts
	}
	return err
}

// Change is a row to write: New, and Old when it replaces a stored row.
type Change struct {
	New Row
	Old *Row
}

// ErrKeyTaken is a change's failure when its key column value belongs to
// another row.
var ErrKeyTaken = errors.New("keyColumn value already used by another row")

type op struct {
	change int
	item   types.TransactWriteItem
}

// ops are the writes of one change: its row, its index entries that
// change, and its key claim when the key changes (conditional).
func (s *Store) ops(bot string, t Table, i int, c Change) (out []op, claims bool) {
	part := t.Part()
	pk := partPK(bot, part)
	out = append(out, op{i, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: rowItem(bot, part, c.New)}}})
	for _, col := range t.IndexedColumns() {
		nv := c.New.Data[col]
		newSK := indexSK(col, nv, c.New.ID)
		if c.Old != nil {
			oldSK := indexSK(col, c.Old.Data[col], c.Old.ID)
			if oldSK == newSK {
				continue
			}
			out = append(out, op{i, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: ds.Key(pk, oldSK)}}})
		}
		out = append(out, op{i, types.TransactWriteItem{Put: &types.Put{TableName: &s.table,
			Item: map[string]types.AttributeValue{ds.PK: ds.S(pk), ds.SK: ds.S(newSK), "rowId": n(c.New.ID)}}}})
	}
	if t.KeyColumn != "" {
		nv := c.New.Data[t.KeyColumn]
		var ov any
		if c.Old != nil {
			ov = c.Old.Data[t.KeyColumn]
		}
		if c.Old == nil || claimSK(nv) != claimSK(ov) {
			if c.Old != nil && ov != nil {
				out = append(out, op{i, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: ds.Key(pk, claimSK(ov)),
					ConditionExpression: aws.String("attribute_not_exists(pk) OR rowId = :id"), ExpressionAttributeValues: map[string]types.AttributeValue{":id": n(c.Old.ID)}}}})
			}
			if nv != nil {
				claims = true
				out = append(out, op{i, types.TransactWriteItem{Put: &types.Put{TableName: &s.table,
					Item:                map[string]types.AttributeValue{ds.PK: ds.S(pk), ds.SK: ds.S(claimSK(nv)), "rowId": n(c.New.ID)},
					ConditionExpression: aws.String("attribute_not_exists(pk) OR rowId = :id"), ExpressionAttributeValues: map[string]types.AttributeValue{":id": n(c.New.ID)}}}})
			}
		}
	}
	return out, claims
}

// WriteRows writes changes. Without key claims to take it is
// BatchWriteItem calls of 25 writes (rows and index entries); with them,
// TransactWriteItems of up to 100 writes, whole changes each, so that a
// key taken by another row fails only its change (reported in failed by
// change index, the others written).
func (s *Store) WriteRows(ctx context.Context, bot string, t Table, changes []Change) (failed map[int]error, err error) {
	failed = map[int]error{}
	var all []op
	claims := false
	for i, c := range changes {
		o, cl := s.ops(bot, t, i, c)
		all = append(all, o...)
		claims = claims || cl
	}
	if !claims {
		reqs := make([]types.WriteRequest, 0, len(all))
		for _, o := range all {
			if o.item.Put != nil {
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: o.item.Put.Item}})
			} else {
				reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: o.item.Delete.Key}})
			}
		}
		return failed, ds.BatchWrite(ctx, s.db, s.table, reqs, s.Sleep)
	}
	// Group whole changes into transactions of at most 100 writes.
	var group []op
	flush := func() error {
		for len(group) > 0 {
			items := make([]types.TransactWriteItem, len(group))
			for i, o := range group {
				items[i] = o.item
			}
			_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
			if err == nil {
				group = nil
				return nil
			}
			reasons := ds.CancellationReasons(err)
			bad := map[int]bool{}
			for i, r := range reasons {
				if r == "ConditionalCheckFailed" {
					bad[group[i].change] = true
				}
			}
			if len(bad) == 0 {
				return err
			}
			kept := group[:0:0]
			for _, o := range group {
				if bad[o.change] {
					failed[o.change] = ErrKeyTaken
					continue
				}
				kept = append(kept, o)
			}
			group = kept
		}
		return nil
	}
	for start := 0; start < len(all); {
		end := start
		for end < len(all) && all[end].change == all[start].change {
			end++
		}
		if len(group)+(end-start) > 100 {
			if err := flush(); err != nil {
				return failed, err
			}
		}
		group = append(group, all[start:end]...)
		start = end
	}
	return failed, flush()
}

// Row reads one row: one GetItem.
func (s *Store) Row(ctx context.Context, bot string, t Table, id int64) (Row, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: rowKey(bot, t.Part(), id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Row{}, err
	}
	if out.Item == nil {
		return Row{}, apperr.NotFound("row", strconv.FormatInt(id, 10))
	}
	return rowOf(out.Item)
}

// Rows reads rows by id (BatchGetItem, 100 per call); missing ones are
// absent from the answer.
func (s *Store) Rows(ctx context.Context, bot string, t Table, ids []int64) (map[int64]Row, error) {
	out := map[int64]Row{}
	if len(ids) == 0 {
		return out, nil
	}
	seen := map[int64]bool{}
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, rowKey(bot, t.Part(), id))
		}
	}
	res, err := ds.BatchGet(ctx, s.db, map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}, s.Sleep)
	if err != nil {
		return nil, err
	}
	for _, it := range res[s.table] {
		r, err := rowOf(it)
		if err != nil {
			return nil, err
		}
		out[r.ID] = r
	}
	return out, nil
}

// DeleteRows deletes rows as read (with their index entries and key
// claims; BatchWriteItem calls of 25) and uncounts them.
func (s *Store) DeleteRows(ctx context.Context, bot string, t Table, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	pk := partPK(bot, t.Part())
	var reqs []types.WriteRequest
	del := func(sk string) {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ds.Key(pk, sk)}})
	}
	for _, r := range rows {
		del(rowSK(r.ID))
		for _, col := range t.IndexedColumns() {
			del(indexSK(col, r.Data[col], r.ID))
		}
		if t.KeyColumn != "" && r.Data[t.KeyColumn] != nil {
			del(claimSK(r.Data[t.KeyColumn]))
		}
	}
	if err := ds.BatchWrite(ctx, s.db, s.table, dedupe(reqs), s.Sleep); err != nil {
		return err
	}
	return s.Uncount(ctx, bot, t, int64(len(rows)))
}

func dedupe(reqs []types.WriteRequest) []types.WriteRequest {
	seen := map[string]bool{}
	out := reqs[:0]
	for _, r := range reqs {
		k := ds.String(r.DeleteRequest.Key, ds.PK) + "|" + ds.String(r.DeleteRequest.Key, ds.SK)
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// Bound is one end of a range.
type Bound struct {
	Value     any
	Inclusive bool
}

// Plan says how Scan reads a table's rows.
type Plan struct {
	// Column is the indexed column (or the key column) to read through;
	// "" reads the rows in id order.
	Column string
	// Values are equalities (several: $in); else Lower and Upper bound a
	// range (nil: open). With neither, the whole index, in its order.
	Values       []any
	Lower, Upper *Bound
	Desc         bool
}

// Scan calls each with the table's rows as plan reads them, until each
// answers false, and answers how many items it read (Query ScannedCount
// plus the rows read by key). Rows are read in 1 MB Query pages of the
// table's partition, never a Scan; through an index, its entries are read
// 100 at a time and their rows by BatchGetItem. Entries whose row has
// another value now (a stale entry) are skipped; callers check each row
// against their whole filter.
func (s *Store) Scan(ctx context.Context, bot string, t Table, plan Plan, each func(Row) (bool, error)) (int, error) {
	pk := partPK(bot, t.Part())
	read := 0
	if plan.Column == "" {
		in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("pk = :p AND begins_with(sk, :r)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(pk), ":r": ds.S(rowPrefix)},
			ScanIndexForward:          aws.Bool(!plan.Desc), ConsistentRead: aws.Bool(true)}
		for {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return read, err
			}
			read += int(out.ScannedCount)
			for _, it := range out.Items {
				r, err := rowOf(it)
				if err != nil {
					return read, err
				}
				if more, err := each(r); err != nil || !more {
					return read, err
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				return read, nil
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	key := plan.Column == t.KeyColumn
	prefix := indexColPrefix(plan.Column)
	if key {
		prefix = keyPrefix
	}
	type span struct{ lo, hi string }
	var spans []span
	switch {
	case len(plan.Values) > 0:
		vals := append([]any(nil), plan.Values...)
		sort.Slice(vals, func(i, j int) bool { return Encode(vals[i]) < Encode(vals[j]) })
		for _, v := range vals {
			if key {
				sk := claimSK(v)
				spans = append(spans, span{sk, sk})
			} else {
				p := prefix + cut(Encode(v))
				if len(Encode(v)) <= maxKeyValue {
					p += "#"
				}
				spans = append(spans, span{p, p + "\uffff"})
			}
		}
		if plan.Desc {
			for i, j := 0, len(spans)-1; i < j; i, j = i+1, j-1 {
				spans[i], spans[j] = spans[j], spans[i]
			}
		}
	case plan.Lower != nil || plan.Upper != nil:
		var lo, hi string
		if plan.Lower != nil {
			lo = prefix + cut(Encode(plan.Lower.Value))
		} else {
			lo = prefix + Encode(plan.Upper.Value)[:1]
		}
		if plan.Upper != nil {
			hi = prefix + cut(Encode(plan.Upper.Value)) + "#\uffff"
		} else {
			hi = prefix + kindBound(plan.Lower.Value)
		}
		spans = append(spans, span{lo, hi})
	default:
		spans = append(spans, span{prefix, prefix + "\uffff"})
	}
	for _, sp := range spans {
		in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("pk = :p AND sk BETWEEN :lo AND :hi"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(pk), ":lo": ds.S(sp.lo), ":hi": ds.S(sp.hi)},
			ScanIndexForward:          aws.Bool(!plan.Desc), ConsistentRead: aws.Bool(true), Limit: aws.Int32(100)}
		for {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return read, err
			}
			read += int(out.ScannedCount)
			ids := make([]int64, 0, len(out.Items))
			sks := map[int64]string{}
			for _, it := range out.Items {
				v, ok := it["rowId"].(*types.AttributeValueMemberN)
				if !ok {
					continue
				}
				id, _ := strconv.ParseInt(v.Value, 10, 64)
				ids = append(ids, id)
				sks[id] = ds.String(it, ds.SK)
			}
			rows, err := s.Rows(ctx, bot, t, ids)
			if err != nil {
				return read, err
			}
			read += len(ids)
			for _, id := range ids {
				r, ok := rows[id]
				if !ok {
					continue
				}
				if key && claimSK(r.Data[plan.Column]) != sks[id] {
					continue
				}
				if !key && indexSK(plan.Column, r.Data[plan.Column], id) != sks[id] {
					continue
				}
				if more, err := each(r); err != nil || !more {
					return read, err
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	return read, nil
}

// KeyRows finds the ids of the rows holding key column values: one
// BatchGetItem of their claims (100 per call). Answered by claim.
func (s *Store) KeyRows(ctx context.Context, bot string, t Table, values []any) (map[string]int64, error) {
	out := map[string]int64{}
	if t.KeyColumn == "" || len(values) == 0 {
		return out, nil
	}
	pk := partPK(bot, t.Part())
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, v := range values {
		if sk := claimSK(v); !seen[sk] {
			seen[sk] = true
			keys = append(keys, ds.Key(pk, sk))
		}
	}
	res, err := ds.BatchGet(ctx, s.db, map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}, s.Sleep)
	if err != nil {
		return nil, err
	}
	for _, it := range res[s.table] {
		if v, ok := it["rowId"].(*types.AttributeValueMemberN); ok {
			id, _ := strconv.ParseInt(v.Value, 10, 64)
			out[ds.String(it, ds.SK)] = id
		}
	}
	return out, nil
}

// ClaimOf is the claim a key value is answered under by KeyRows.
func ClaimOf(v any) string { return claimSK(v) }

// Backfill writes the index entries (and key claims) of the given columns
// for every row of t, after an index was added: BatchWriteItem calls of 25.
// Key values must have been checked unique by the caller.
func (s *Store) Backfill(ctx context.Context, bot string, t Table, cols []string) error {
	pk := partPK(bot, t.Part())
	var reqs []types.WriteRequest
	_, err := s.Scan(ctx, bot, t, Plan{}, func(r Row) (bool, error) {
		for _, col := range cols {
			sk := indexSK(col, r.Data[col], r.ID)
			if col == t.KeyColumn {
				if r.Data[col] == nil {
					continue
				}
				sk = claimSK(r.Data[col])
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				ds.PK: ds.S(pk), ds.SK: ds.S(sk), "rowId": n(r.ID)}}})
		}
		if len(reqs) >= 500 {
			if err := ds.BatchWrite(ctx, s.db, s.table, reqs, s.Sleep); err != nil {
				return false, err
			}
			reqs = reqs[:0]
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return ds.BatchWrite(ctx, s.db, s.table, reqs, s.Sleep)
}

// CopyRows copies every row of src (and its index entries and claims,
// rebuilt for dst's columns) into dst, keeping ids: what duplicateTable
// does after creating dst.
func (s *Store) CopyRows(ctx context.Context, bot string, src, dst Table) (int64, error) {
	var batch []Change
	var copied int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := s.WriteRows(ctx, bot, Table{ID: dst.ID, Gen: dst.Gen, Columns: dst.Columns}, batch)
		copied += int64(len(batch))
		batch = batch[:0]
		return err
	}
	_, err := s.Scan(ctx, bot, src, Plan{}, func(r Row) (bool, error) {
		batch = append(batch, Change{New: r})
		if len(batch) == 500 {
			return true, flush()
		}
		return true, nil
	})
	if err != nil {
		return copied, err
	}
	if err := flush(); err != nil {
		return copied, err
	}
	// The claims of the key column, without conditions: src's are unique.
	if dst.KeyColumn != "" {
		if err := s.Backfill(ctx, bot, dst, []string{dst.KeyColumn}); err != nil {
			return copied, err
		}
	}
	return copied, nil
}

// SetCounters sets a new table's row counters after its rows were copied.
func (s *Store) SetCounters(ctx context.Context, bot string, t Table, nextRowID, rows, maxRows int64) error {
	if _, err := s.ReserveRows(ctx, bot, Table{Name: t.Name, Gen: t.Gen, Factor: t.Factor, WorkspaceID: t.WorkspaceID}, rows, maxRows); err != nil && rows > 0 {
		return err
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: tableKey(bot, t.Name),
		UpdateExpression: aws.String("SET nextRowId = :n"), ExpressionAttributeValues: map[string]types.AttributeValue{":n": n(nextRowID)}})
	return err
}
