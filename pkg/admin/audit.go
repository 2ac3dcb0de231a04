package admin

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
)

// Audit actions. The first group is Botpress's own list; Parley's other
// actions (integrations, deletion jobs, policy runs…) are answered as
// UNKNOWN with the action named in the record's value.
const (
	ActionAddMember       = "ADD_WORKSPACE_MEMBER"
	ActionRemoveMember    = "REMOVE_WORKSPACE_MEMBER"
	ActionUpdateMember    = "UPDATE_WORKSPACE_MEMBER"
	ActionCloseWorkspace  = "CLOSE_WORKSPACE"
	ActionCreateBot       = "CREATE_BOT"
	ActionCreateWorkspace = "CREATE_WORKSPACE"
	ActionDeleteBot       = "DELETE_BOT"
	ActionTransferBot     = "TRANSFER_BOT"
	ActionUpdateBot       = "UPDATE_BOT"
	ActionUpdateWorkspace = "UPDATE_WORKSPACE"
	ActionSpendingLimit   = "SET_SPENDING_LIMIT"

	ActionCreateIntegration = "CREATE_INTEGRATION"
	ActionUpdateIntegration = "UPDATE_INTEGRATION"
	ActionDeleteIntegration = "DELETE_INTEGRATION"
	ActionDeleteBotIssue    = "DELETE_BOT_ISSUE"
	ActionInviteMember      = "INVITE_WORKSPACE_MEMBER"
)

var botpressActions = map[string]bool{
	"UNKNOWN": true, ActionAddMember: true, ActionRemoveMember: true, ActionUpdateMember: true,
	ActionCloseWorkspace: true, ActionCreateBot: true, ActionCreateWorkspace: true, ActionDeleteBot: true,
	"DEPLOY_BOT": true, ActionTransferBot: true, "DOWNLOAD_BOT_ARCHIVE": true, ActionUpdateBot: true,
	"UPDATE_BOT_CHANNEL": true, "UPDATE_BOT_CONFIG": true, "UPDATE_PAYMENT_METHOD": true,
	ActionUpdateWorkspace: true, ActionSpendingLimit: true, "SET_AI_SPENDING_LIMIT": true,
	"UPDATE_WORKSPACE_BILLING_READONLY": true, "EXECUTE_AUTO_RECHARGE_SUCCESS": true, "EXECUTE_AUTO_RECHARGE_FAILED": true,
}

// AuditRecord is one entry of a workspace's audit trail: who did what to
// which resource, and when. Records are append-only: no route changes them.
type AuditRecord struct {
	ID           string `json:"id"`
	WorkspaceID  string `json:"workspaceId"`
	RecordedAt   string `json:"recordedAt"`
	AccountID    string `json:"accountId,omitempty"` // "" for the system (jobs, schedules)
	Action       string `json:"action"`
	ResourceID   string `json:"resourceId,omitempty"`
	ResourceName string `json:"resourceName,omitempty"`
	Value        string `json:"value,omitempty"`
}

// NewAuditRecord returns a record of action by accountID ("" for the
// system) on a resource of workspaceID at t.
func NewAuditRecord(workspaceID, accountID, action, resourceID, resourceName string, t time.Time) AuditRecord {
	return AuditRecord{
		ID: id.NewAt("audit", t), WorkspaceID: workspaceID, RecordedAt: clock.Format(t),
		AccountID: accountID, Action: action, ResourceID: resourceID, ResourceName: resourceName,
	}
}

// auditAnswer is a record as getAuditRecords answers it.
type auditAnswer struct {
	ID           string  `json:"id"`
	RecordedAt   string  `json:"recordedAt"`
	UserID       *string `json:"userId"`
	ResourceID   *string `json:"resourceId"`
	ResourceName *string `json:"resourceName"`
	Value        *string `json:"value"`
	Action       string  `json:"action"`
}

func (r AuditRecord) answer() auditAnswer {
	a := auditAnswer{ID: r.ID, RecordedAt: r.RecordedAt, Action: r.Action, UserID: nullable(UserUUID(r.AccountID)),
		ResourceID: nullable(r.ResourceID), ResourceName: nullable(r.ResourceName), Value: nullable(r.Value)}
	if !botpressActions[r.Action] {
		a.Action = "UNKNOWN"
		v := strings.TrimSpace(r.Action + " " + r.Value)
		a.Value = &v
	}
	return a
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// UserUUID renders an account id's ULID as the UUID the API's userId fields
// require (a ULID is 128 bits, like a UUID); "" when it has none.
func UserUUID(accountID string) string {
	_, raw, ok := strings.Cut(accountID, "_")
	if !ok {
		return ""
	}
	u, err := ulid.ParseStrict(raw)
	if err != nil {
		return ""
	}
	h := hex.EncodeToString(u[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

func auditKey(ws, recordID string) map[string]types.AttributeValue {
	return ds.Key("WS#"+ws, "AUDIT#"+recordID)
}

// AuditPut is the write of one audit record, to add to the
// TransactWriteItems of the change it records (so both happen or neither).
func (s *Store) AuditPut(r AuditRecord) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: ds.Item(r, keysOf(auditKey(r.WorkspaceID, r.ID))), ConditionExpression: notExists()}}
}

// PutAudit appends one record on its own, for changes made outside a
// transaction of this store (deletion jobs, policy runs).
func (s *Store) PutAudit(ctx context.Context, r AuditRecord) error {
	p := s.AuditPut(r).Put
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression})
	return err
}

// ListAudit returns one page of a workspace's audit records, most recent
// first (ids are time-ordered): one Query.
func (s *Store) ListAudit(ctx context.Context, ws, token string) ([]auditAnswer, string, error) {
	keyCond := expression.Key(ds.PK).Equal(expression.Value("WS#" + ws)).And(expression.Key(ds.SK).BeginsWith("AUDIT#"))
	expr, _ := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	page, err := ds.QueryPage(ctx, s.db, s.pages, "audit|"+ws, token, ds.DefaultPageSize, &dynamodb.QueryInput{
		TableName: &s.table, ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]auditAnswer, 0, len(page.Items))
	for _, it := range page.Items {
		var r AuditRecord
		if err := ds.Unmarshal(it, &r); err != nil {
			return nil, "", err
		}
		out = append(out, r.answer())
	}
	return out, page.NextToken, nil
}

// transact runs one TransactWriteItems.
func (s *Store) transact(ctx context.Context, items ...types.TransactWriteItem) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}
