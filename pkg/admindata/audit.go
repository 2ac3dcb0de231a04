package admindata

import (
	"context"

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

func auditKey(ws, recordID string) map[string]types.AttributeValue {
	return ds.Key("WS#"+ws, "AUDIT#"+recordID)
}

// Item implements audit.Trail: the write of one audit record, to add to the
// TransactWriteItems of the change it records.
func (s *Store) Item(r audit.Record) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: ds.Item(r, keysOf(auditKey(r.WorkspaceID, r.ID))), ConditionExpression: notExists()}}
}

// Put implements audit.Trail: one conditional PutItem; a record already
// stored under the same id is kept and is no error.
func (s *Store) Put(ctx context.Context, r audit.Record) error {
	p := s.Item(r).Put
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression})
	if ds.IsConditionFailed(err) {
		return nil
	}
	return err
}

// AuditPut is Item under its former name, until its last callers switch.
//
// Deprecated: use Item (audit.Trail).
func (s *Store) AuditPut(r audit.Record) types.TransactWriteItem { return s.Item(r) }

// PutAudit is Put under its former name, until its last callers switch.
//
// Deprecated: use Put (audit.Trail).
func (s *Store) PutAudit(ctx context.Context, r audit.Record) error { return s.Put(ctx, r) }

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
