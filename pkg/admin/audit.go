package admin

import (
	"time"

	"github.com/parley-dev/parley/pkg/audit"
)

// The audit vocabulary lives in pkg/audit; these names stay for the
// packages that still use them.

// AuditRecord is an audit record.
//
// Deprecated: use audit.Record.
type AuditRecord = audit.Record

// NewAuditRecord returns a record of action by accountID.
//
// Deprecated: use audit.New.
func NewAuditRecord(workspaceID, accountID, action, resourceID, resourceName string, t time.Time) AuditRecord {
	return audit.New(workspaceID, accountID, action, resourceID, resourceName, t)
}

// UserUUID renders an account id as the API's userId UUID.
func UserUUID(accountID string) string { return audit.UserUUID(accountID) }
