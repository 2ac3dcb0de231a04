// Package audit is the audit trail's vocabulary: the record every feature
// writes when it acts on a workspace's resources, the action names, the
// answer shape of Botpress's getAuditRecords, and the Trail interface
// features record through. Records are append-only; the admin table's owner
// (pkg/admindata) stores them.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/id"
)

// Trail records audit records, each appended to its workspace's hash chain
// (see chain.go). Commit runs a change's transaction items together with
// its records in one TransactWriteItems (both happen or neither): the
// records are chained at commit time, so the trail reads the chain head
// first and retries, a bounded number of times, when a concurrent writer
// moved the head meanwhile. The caller's items keep their positions
// (0..len(items)-1) in the transaction, so its reading of cancellation
// reasons is unchanged. Put appends one record on its own, for changes
// made outside such a transaction (deletion jobs, policy runs). Put is
// idempotent: a record whose id is already stored is not written again and
// is no error, so a proof retried with a deterministic id never duplicates.
type Trail interface {
	Commit(ctx context.Context, items []types.TransactWriteItem, recs ...Record) error
	Put(ctx context.Context, r Record) error
}

// Commit is a change's transaction, run with the audit records it carries:
// what stores that do not own the trail receive (With), so they build their
// items and keep their reading of cancellation reasons.
type Commit func(ctx context.Context, items []types.TransactWriteItem) error

// With is the Commit of recs through t.
func With(t Trail, recs ...Record) Commit {
	return func(ctx context.Context, items []types.TransactWriteItem) error { return t.Commit(ctx, items, recs...) }
}

// Actions. The first group is Botpress's own list; Parley's other actions
// (integrations, issues, invitations, deletion jobs, policies, policy runs…)
// are answered as UNKNOWN with the action named in the record's value.
const (
	AddMember       = "ADD_WORKSPACE_MEMBER"
	RemoveMember    = "REMOVE_WORKSPACE_MEMBER"
	UpdateMember    = "UPDATE_WORKSPACE_MEMBER"
	CloseWorkspace  = "CLOSE_WORKSPACE"
	CreateBot       = "CREATE_BOT"
	CreateWorkspace = "CREATE_WORKSPACE"
	DeleteBot       = "DELETE_BOT"
	TransferBot     = "TRANSFER_BOT"
	UpdateBot       = "UPDATE_BOT"
	UpdateWorkspace = "UPDATE_WORKSPACE"
	SpendingLimit   = "SET_SPENDING_LIMIT"

	CreateIntegration = "CREATE_INTEGRATION"
	UpdateIntegration = "UPDATE_INTEGRATION"
	DeleteIntegration = "DELETE_INTEGRATION"
	DeleteBotIssue    = "DELETE_BOT_ISSUE"
	InviteMember      = "INVITE_WORKSPACE_MEMBER"
	CreateBotAPIKey   = "CREATE_BOT_API_KEY"
	DeleteBotAPIKey   = "DELETE_BOT_API_KEY"
	CreatePolicy      = "CREATE_POLICY"
	UpdatePolicy      = "UPDATE_POLICY"
	DeletePolicy      = "DELETE_POLICY"
	// RestoreConversation: an archived conversation brought back to the
	// live tables.
	RestoreConversation = "RESTORE_CONVERSATION"
	// ChangePlan: the workspace's plan changed (the record's value names
	// the new plan).
	ChangePlan = "CHANGE_PLAN"
	// UpdatePaymentMethod: the workspace's Stripe payment method changed.
	UpdatePaymentMethod = "UPDATE_PAYMENT_METHOD"
)

// ControlDeletionJob is the action of a deletion job cancelled, paused or
// resumed ("CANCEL_DELETION_JOB", "PAUSE_DELETION_JOB", "RESUME_DELETION_JOB").
func ControlDeletionJob(op string) string { return strings.ToUpper(op) + "_DELETION_JOB" }

// DeletionJob is the action of a finished conversation deletion job
// ("DELETION_JOB_COMPLETED", "DELETION_JOB_FAILED").
func DeletionJob(status string) string { return "DELETION_JOB_" + strings.ToUpper(status) }

// PolicyRun is the action of a finished retention policy run
// ("POLICY_RUN_COMPLETED", …).
func PolicyRun(status string) string { return "POLICY_RUN_" + strings.ToUpper(status) }

var botpress = map[string]bool{
	"UNKNOWN": true, AddMember: true, RemoveMember: true, UpdateMember: true,
	CloseWorkspace: true, CreateBot: true, CreateWorkspace: true, DeleteBot: true,
	"DEPLOY_BOT": true, TransferBot: true, "DOWNLOAD_BOT_ARCHIVE": true, UpdateBot: true,
	"UPDATE_BOT_CHANNEL": true, "UPDATE_BOT_CONFIG": true, UpdatePaymentMethod: true,
	UpdateWorkspace: true, SpendingLimit: true, "SET_AI_SPENDING_LIMIT": true,
	"UPDATE_WORKSPACE_BILLING_READONLY": true, "EXECUTE_AUTO_RECHARGE_SUCCESS": true, "EXECUTE_AUTO_RECHARGE_FAILED": true,
}

// IsBotpress reports whether action is in Botpress's list (answered as is).
func IsBotpress(action string) bool { return botpress[action] }

// Record is one entry of a workspace's audit trail: who did what to which
// resource, and when. Records are append-only: no route changes them.
type Record struct {
	ID           string `json:"id"`
	WorkspaceID  string `json:"workspaceId"`
	RecordedAt   string `json:"recordedAt"`
	AccountID    string `json:"accountId,omitempty"` // "" for the system (jobs, schedules)
	Action       string `json:"action"`
	ResourceID   string `json:"resourceId,omitempty"`
	ResourceName string `json:"resourceName,omitempty"`
	Value        string `json:"value,omitempty"`
	// The record's place in its workspace's hash chain, set when it is
	// committed (records written before the chain existed have none).
	Seq      int64  `json:"seq,omitempty"`
	PrevHash string `json:"prevHash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// New returns a record of action by accountID ("" for the system) on a
// resource of workspaceID at t, with a new time-ordered id.
func New(workspaceID, accountID, action, resourceID, resourceName string, t time.Time) Record {
	return Record{
		ID: id.NewAt("audit", t), WorkspaceID: workspaceID, RecordedAt: clock.Format(t),
		AccountID: accountID, Action: action, ResourceID: resourceID, ResourceName: resourceName,
	}
}

// IDFor is a record id derived from key (a job's or a run's id) and t, so
// that recording the same fact twice writes the same id and Trail.Put keeps
// one. It is the ULID of t whose random part is the SHA-256 of key, as
// deletion jobs derived it: IDFor(t, jobID) equals their earlier ids.
func IDFor(t time.Time, key string) string {
	sum := sha256.Sum256([]byte(key))
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t))
	copy(u[6:], sum[:10])
	return "audit_" + u.String()
}

// Answer is a record as getAuditRecords answers it.
type Answer struct {
	ID           string  `json:"id"`
	RecordedAt   string  `json:"recordedAt"`
	UserID       *string `json:"userId"`
	ResourceID   *string `json:"resourceId"`
	ResourceName *string `json:"resourceName"`
	Value        *string `json:"value"`
	Action       string  `json:"action"`
}

// Answer renders the record for the API: an action outside Botpress's list
// is UNKNOWN, with the action leading the value.
func (r Record) Answer() Answer {
	a := Answer{ID: r.ID, RecordedAt: r.RecordedAt, Action: r.Action, UserID: nullable(UserUUID(r.AccountID)),
		ResourceID: nullable(r.ResourceID), ResourceName: nullable(r.ResourceName), Value: nullable(r.Value)}
	if !botpress[r.Action] {
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
