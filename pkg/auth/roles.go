package auth

import (
	"sort"
	"strings"
)

// Role is a workspace member's role.
type Role string

// The workspace roles, most powerful first.
const (
	Owner         Role = "owner"
	Administrator Role = "administrator"
	Manager       Role = "manager"
	Developer     Role = "developer"
	Viewer        Role = "viewer"
	Billing       Role = "billing"
)

// Roles lists every role.
func Roles() []Role { return []Role{Owner, Administrator, Manager, Developer, Viewer, Billing} }

// Permission names a family of operations a role may perform.
type Permission string

// Permissions, one per operation family. This table is the one place where
// access is decided; every route names one of these.
const (
	// WorkspaceRead: read the workspace itself.
	WorkspaceRead Permission = "workspace.read"
	// WorkspaceWrite: rename the workspace, set its spending limit and profile.
	WorkspaceWrite Permission = "workspace.write"
	// WorkspaceDelete: delete the workspace.
	WorkspaceDelete Permission = "workspace.delete"
	// MembersRead: list the workspace's members.
	MembersRead Permission = "members.read"
	// MembersWrite: add and remove members and change their roles.
	MembersWrite Permission = "members.write"
	// AuditRead: read the workspace's audit records.
	AuditRead Permission = "audit.read"
	// UsageRead: read usages and quotas.
	UsageRead Permission = "usage.read"
	// BotsRead: get and list bots, their logs, analytics, issues and webchat.
	BotsRead Permission = "bots.read"
	// BotsWrite: create and update bots, delete their issues.
	BotsWrite Permission = "bots.write"
	// BotsDelete: delete bots.
	BotsDelete Permission = "bots.delete"
	// BotsTransfer: move a bot out of the workspace (the target workspace
	// needs BotsWrite).
	BotsTransfer Permission = "bots.transfer"
	// IntegrationsRead: get and list the workspace's integrations and logs.
	IntegrationsRead Permission = "integrations.read"
	// IntegrationsWrite: create, update and delete integrations.
	IntegrationsWrite Permission = "integrations.write"
	// ChatRead: read a bot's chat data (users, conversations, messages…).
	ChatRead Permission = "chat.read"
	// ChatWrite: create, change and delete a bot's chat data.
	ChatWrite Permission = "chat.write"
	// TablesRead: read a bot's tables and rows.
	TablesRead Permission = "tables.read"
	// TablesWrite: create, change and delete tables and rows.
	TablesWrite Permission = "tables.write"
	// FilesRead: list, get and download a bot's files.
	FilesRead Permission = "files.read"
	// FilesWrite: upload, change and delete files.
	FilesWrite Permission = "files.write"
	// PoliciesRead: read retention policies.
	PoliciesRead Permission = "policies.read"
	// PoliciesWrite: create, update and delete retention policies.
	PoliciesWrite Permission = "policies.write"
	// DeletionRead: read conversation deletion jobs.
	DeletionRead Permission = "deletion.read"
	// DeletionWrite: submit conversation deletion jobs, and cancel, pause
	// or resume them.
	DeletionWrite Permission = "deletion.write"
	// ComplianceRead: read legal holds, data requests and receipts.
	ComplianceRead Permission = "compliance.read"
	// ComplianceWrite: create and release legal holds, submit data requests.
	ComplianceWrite Permission = "compliance.write"
	// ArchivesRestore: bring archived conversations back to the live tables.
	ArchivesRestore Permission = "archives.restore"
	// BillingRead: read billing details and invoices.
	BillingRead Permission = "billing.read"
	// BillingWrite: change the plan and the payment method, charge unpaid
	// invoices.
	BillingWrite Permission = "billing.write"
)

var (
	everyone  = []Role{Owner, Administrator, Manager, Developer, Viewer, Billing}
	readers   = []Role{Owner, Administrator, Manager, Developer, Viewer}
	builders  = []Role{Owner, Administrator, Manager, Developer}
	managers  = []Role{Owner, Administrator, Manager}
	admins    = []Role{Owner, Administrator}
	ownerOnly = []Role{Owner}
	billers   = []Role{Owner, Billing}
)

// Matrix is the permission matrix: which roles hold each permission. The
// README's table is generated from the same data (see TestMatrixDocumented).
var Matrix = map[Permission][]Role{
	WorkspaceRead:     everyone,
	WorkspaceWrite:    admins,
	WorkspaceDelete:   ownerOnly,
	MembersRead:       everyone,
	MembersWrite:      admins,
	AuditRead:         admins,
	UsageRead:         everyone,
	BotsRead:          readers,
	BotsWrite:         builders,
	BotsDelete:        managers,
	BotsTransfer:      managers,
	IntegrationsRead:  readers,
	IntegrationsWrite: builders,
	ChatRead:          readers,
	ChatWrite:         builders,
	TablesRead:        readers,
	TablesWrite:       builders,
	FilesRead:         readers,
	FilesWrite:        builders,
	PoliciesRead:      managers,
	PoliciesWrite:     admins,
	DeletionRead:      managers,
	DeletionWrite:     managers,
	ComplianceRead:    managers,
	ComplianceWrite:   admins,
	ArchivesRestore:   admins,
	BillingRead:       billers,
	BillingWrite:      billers,
}

// Allows reports whether role holds permission.
func (r Role) Allows(p Permission) bool {
	for _, have := range Matrix[p] {
		if have == r {
			return true
		}
	}
	return false
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles() {
		if k == r {
			return true
		}
	}
	return false
}

// MatrixTable renders Matrix as the README's Markdown table.
func MatrixTable() string {
	var b strings.Builder
	b.WriteString("| permission |")
	for _, r := range Roles() {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|")
	for range Roles() {
		b.WriteString("---|")
	}
	perms := make([]string, 0, len(Matrix))
	for p := range Matrix {
		perms = append(perms, string(p))
	}
	sort.Strings(perms)
	for _, p := range perms {
		b.WriteString("\n| " + p + " |")
		for _, r := range Roles() {
			if r.Allows(Permission(p)) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("  |")
			}
		}
	}
	return b.String() + "\n"
}
