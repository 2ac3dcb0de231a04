package admindata

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/audit"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// AuditRecord is an audit record (kept for the packages that still name it
// here; new code uses audit.Record).
type AuditRecord = audit.Record

var _ audit.Trail = (*Store)(nil)

// The audit trail's layout:
//
//	record      WS#<ws>  AUDIT#<recordId>  gsi1: WS#<ws>#AUDITCHAIN / <seq, 20 digits>
//	chain head  WS#<ws>  AUDITHEAD         seq, hash of the last record
//
// getAuditRecords lists the partition's AUDIT# items (time-ordered ids);
// export and verify read the chain in seq order on gsi1.

func auditKey(ws, recordID string) map[string]types.AttributeValue {
	return ds.Key("WS#"+ws, "AUDIT#"+recordID)
}

func auditHeadKey(ws string) map[string]types.AttributeValue { return ds.Key("WS#"+ws, "AUDITHEAD") }

func auditChainIndex(ws string) string { return "WS#" + ws + "#AUDITCHAIN" }

func seqKey(seq int64) string { return fmt.Sprintf("%020d", seq) }

// ChainAttempts bounds how often a transaction is run again when another
// writer moved a workspace's chain head between its read and the commit.
const ChainAttempts = 10

// chainRetries counts, process-wide, transactions run again because the
// head moved (for the benchmarks and the concurrency test).
var chainRetries atomic.Int64

// ChainRetries reports how many audited transactions were run again
// because a concurrent writer had moved the chain head.
func ChainRetries() int64 { return chainRetries.Load() }

func (s *Store) recordItem(r audit.Record) types.TransactWriteItem {
	keys := keysOf(auditKey(r.WorkspaceID, r.ID))
	keys[ds.GSI1PK], keys[ds.GSI1SK] = auditChainIndex(r.WorkspaceID), seqKey(r.Seq)
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: ds.Item(r, keys), ConditionExpression: notExists()}}
}

func (s *Store) headItem(ws string, from, to audit.Head) types.TransactWriteItem {
	u := &types.Update{
		TableName: &s.table, Key: auditHeadKey(ws),
		UpdateExpression: aws.String("SET seq = :seq, #hash = :hash"), ExpressionAttributeNames: map[string]string{"#hash": "hash"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":seq": num64(to.Seq), ":hash": ds.S(to.Hash)},
	}
	if from.Seq == 0 {
		u.ConditionExpression = aws.String("attribute_not_exists(seq)")
	} else {
		u.ConditionExpression = aws.String("seq = :prev")
		u.ExpressionAttributeValues[":prev"] = num64(from.Seq)
	}
	return types.TransactWriteItem{Update: u}
}

func num64(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Commit implements audit.Trail: one read of the chain heads of the
// records' workspaces (a GetItem; a BatchGetItem for several), then
// one TransactWriteItems of items, the records (each linked after its
// workspace's head) and each head moved on condition that it is still
// where it was read. When only a head's condition failed (another writer
// appended meanwhile), it reads and commits again, at most ChainAttempts
// times, with jittered waits; any other cancellation is returned as is, the
// caller's items at their own positions.
func (s *Store) Commit(ctx context.Context, items []types.TransactWriteItem, recs ...audit.Record) error {
	if len(recs) == 0 {
		return s.transact(ctx, items...)
	}
	var order []string
	byWS := map[string][]audit.Record{}
	for _, r := range recs {
		if _, ok := byWS[r.WorkspaceID]; !ok {
			order = append(order, r.WorkspaceID)
		}
		byWS[r.WorkspaceID] = append(byWS[r.WorkspaceID], r)
	}
	for attempt := 1; ; attempt++ {
		heads, err := s.chainHeads(ctx, order)
		if err != nil {
			return err
		}
		all := append(make([]types.TransactWriteItem, 0, len(items)+len(recs)+len(order)), items...)
		var moves []types.TransactWriteItem
		for i, ws := range order {
			linked, head := audit.Link(heads[i], byWS[ws])
			for _, r := range linked {
				all = append(all, s.recordItem(r))
			}
			moves = append(moves, s.headItem(ws, heads[i], head))
		}
		headsAt := len(all)
		all = append(all, moves...)
		err = s.transact(ctx, all...)
		if err == nil || attempt == ChainAttempts || !onlyHeadsMoved(ds.CancellationReasons(err), headsAt) {
			return err
		}
		chainRetries.Add(1)
		wait := time.Duration(rand.IntN(5<<min(attempt, 6))+1) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// onlyHeadsMoved reports whether a transaction was cancelled by a chain
// head's condition alone.
func onlyHeadsMoved(reasons []string, headsAt int) bool {
	moved := false
	for i, r := range reasons {
		switch {
		case r == "" || r == "None":
		case i >= headsAt && r == "ConditionalCheckFailed":
			moved = true
		default:
			return false
		}
	}
	return moved
}

// chainHeads reads the chain heads of workspaces: one GetItem, or one
// BatchGetItem for several workspaces (a bot transfer).
func (s *Store) chainHeads(ctx context.Context, wss []string) ([]audit.Head, error) {
	if len(wss) == 1 {
		h, err := s.AuditHead(ctx, wss[0])
		return []audit.Head{h}, err
	}
	keys := make([]map[string]types.AttributeValue, len(wss))
	for i, ws := range wss {
		keys[i] = auditHeadKey(ws)
	}
	got, err := s.batchGet(ctx, keys...)
	if err != nil {
		return nil, err
	}
	out := make([]audit.Head, len(wss))
	for i, it := range got {
		out[i] = readHead(it)
	}
	return out, nil
}

func readHead(it map[string]types.AttributeValue) audit.Head {
	if it == nil {
		return audit.Head{Hash: audit.Genesis}
	}
	seq, _ := strconv.ParseInt(numberString(it, "seq"), 10, 64)
	return audit.Head{Seq: seq, Hash: ds.String(it, "hash")}
}

func numberString(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return "0"
}

// Put implements audit.Trail: the head's read and one TransactWriteItems
// (the record and the head), as Commit; a record already stored under the
// same id is kept and is no error.
func (s *Store) Put(ctx context.Context, r audit.Record) error {
	err := s.Commit(ctx, nil, r)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return nil
	}
	return err
}

// AuditHead reads a workspace's chain head: one GetItem.
func (s *Store) AuditHead(ctx context.Context, ws string) (audit.Head, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: auditHeadKey(ws), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return audit.Head{}, err
	}
	return readHead(out.Item), nil
}

// AuditChain calls page with a workspace's chained records in seq order
// from fromSeq, one Query page of gsi1 at a time, until page answers
// false or the chain ends.
func (s *Store) AuditChain(ctx context.Context, ws string, fromSeq int64, page func([]audit.Record) (bool, error)) error {
	kc := expression.Key(ds.GSI1PK).Equal(expression.Value(auditChainIndex(ws))).
		And(expression.Key(ds.GSI1SK).GreaterThanEqual(expression.Value(seqKey(max(fromSeq, 1)))))
	expr, _ := expression.NewBuilder().WithKeyCondition(kc).Build()
	in := &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), ScanIndexForward: aws.Bool(true),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return err
		}
		recs := make([]audit.Record, 0, len(out.Items))
		for _, it := range out.Items {
			var r audit.Record
			if err := ds.Unmarshal(it, &r); err != nil {
				return err
			}
			recs = append(recs, r)
		}
		more, err := page(recs)
		if err != nil || !more || len(out.LastEvaluatedKey) == 0 {
			return err
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// AuditRecordKey is where an audit record is stored, for tests that alter
// one directly to check that verification finds it.
func AuditRecordKey(ws, recordID string) map[string]types.AttributeValue {
	return auditKey(ws, recordID)
}

// ListAudit returns one page of a workspace's audit records, most recent
// first (ids are time-ordered): one Query.
func (s *Store) ListAudit(ctx context.Context, ws, token string) ([]audit.Record, string, error) {
	keyCond := expression.Key(ds.PK).Equal(expression.Value("WS#" + ws)).And(expression.Key(ds.SK).BeginsWith("AUDIT#"))
	expr, _ := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	page, err := ds.QueryPage(ctx, s.db, s.pages, "audit|"+ws, token, ds.DefaultPageSize, &dynamodb.QueryInput{
		TableName: &s.table, ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]audit.Record, 0, len(page.Items))
	for _, it := range page.Items {
		var r audit.Record
		if err := ds.Unmarshal(it, &r); err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, page.NextToken, nil
}

// transact runs one TransactWriteItems.
func (s *Store) transact(ctx context.Context, items ...types.TransactWriteItem) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}
