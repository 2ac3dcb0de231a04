package admin

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
)

// What the admin API needs of the world, declared here and implemented
// elsewhere (pkg/admindata's Store for the records, pkg/chatdata for the
// chat API's day counters, pkg/lifecycledata's Outbox and pkg/lifecycle's
// bot purge for deleted bots, pkg/seal for secrets), wired in pkg/app.

// Accounts keeps accounts and their personal access tokens.
type Accounts interface {
	Account(ctx context.Context, id string) (Account, error)
	AccountIDByEmail(ctx context.Context, email string) (string, error)
	PutToken(ctx context.Context, accountID, hash string, p PAT) error
	ListTokens(ctx context.Context, accountID string) ([]PAT, error)
	DeleteToken(ctx context.Context, accountID, patID string) error
	// AcceptInvitation exchanges an unexpired invitation code (its hash)
	// for the account's first token, once.
	AcceptInvitation(ctx context.Context, hash string, now time.Time, tokenHash string, p PAT) (string, error)
}

// Workspaces keeps workspaces, their audit trail and usage.
type Workspaces interface {
	CreateWorkspace(ctx context.Context, w Workspace, rec audit.Record) error
	ListWorkspaces(ctx context.Context, accountID, token string) ([]Workspace, string, error)
	// WorkspaceOfMember reports a workspace the account doesn't belong to
	// as missing.
	WorkspaceOfMember(ctx context.Context, id, accountID string) (Workspace, auth.Role, error)
	Workspace(ctx context.Context, id string) (Workspace, error)
	ReplaceWorkspace(ctx context.Context, w Workspace, prevUpdatedAt string, recs ...audit.Record) error
	DeleteWorkspace(ctx context.Context, ws string, rec audit.Record) error
	ListAudit(ctx context.Context, ws, token string) ([]audit.Record, string, error)
	Usage(ctx context.Context, ws, target, usageType, period string) (Usage, error)
	// Usages reads every usage of target in a period, with the plan.
	Usages(ctx context.Context, ws, target, period string) (map[string]Usage, string, error)
	// ChangePlan sets the plan while updatedAt is prevUpdatedAt and the
	// live counts fit the new plan.
	ChangePlan(ctx context.Context, ws, plan, updatedAt, prevUpdatedAt string, recs ...audit.Record) error
}

// Members keeps workspace memberships and invitations.
type Members interface {
	AddMember(ctx context.Context, m NewMember, rec audit.Record) error
	Member(ctx context.Context, ws, accountID string) (Member, error)
	MemberAndAccount(ctx context.Context, ws, accountID string) (Member, error)
	ChangeMember(ctx context.Context, ws, accountID string, from, to auth.Role, rec audit.Record) error
	ListMembers(ctx context.Context, ws, token string) ([]Member, string, error)
	IssueInvitation(ctx context.Context, ws, accountID, hash string, expires time.Time, rec audit.Record, toInviter bool) error
}

// Bots keeps bots with their code and medias, logs and issues. A bot of
// another workspace reads as missing.
type Bots interface {
	CreateBot(ctx context.Context, ws string, b Bot, code *string, rec audit.Record) (Bot, error)
	Bot(ctx context.Context, ws, id string) (Bot, error)
	ListBots(ctx context.Context, ws string, f BotFilter, token string) ([]BotSummary, string, error)
	BotAndIntegrations(ctx context.Context, ws, botID string, integrationIDs []string) (Bot, map[string]Integration, error)
	ReplaceBot(ctx context.Context, ws string, b Bot, code *string, prevUpdatedAt string, rec audit.Record) (Bot, error)
	// DeleteBot deletes the bot with extra, the caller's items of the same
	// transaction.
	DeleteBot(ctx context.Context, ws, botID string, rec audit.Record, extra ...types.TransactWriteItem) error
	TransferBot(ctx context.Context, from, to, botID, updatedAt string, recs ...audit.Record) error
	// BotAnswer is the bot as answered (presigned media URLs).
	BotAnswer(ctx context.Context, b Bot) Bot
	Logs(ctx context.Context, kind, ownerID string, f LogFilter, token string) ([]LogRecord, string, error)
	ListIssues(ctx context.Context, botID, token string) ([]Issue, string, error)
	BotIssue(ctx context.Context, ws, botID, issueID string) (Issue, error)
	ListIssueEvents(ctx context.Context, botID string, issue Issue) ([]IssueEvent, error)
	DeleteIssue(ctx context.Context, botID, issueID string, rec audit.Record) error
}

// Integrations keeps integration definitions and the hub.
type Integrations interface {
	CreateIntegration(ctx context.Context, in Integration, code *string, owner *OwnerWorkspace, rec audit.Record) error
	ReplaceIntegration(ctx context.Context, in Integration, code *string, prevUpdatedAt string, owner *OwnerWorkspace, rec audit.Record) error
	Integration(ctx context.Context, ws, integrationID string, public bool) (Integration, error)
	IntegrationOfWorkspace(ctx context.Context, ws, integrationID string) (Integration, Workspace, error)
	IntegrationByName(ctx context.Context, ws, name, version string, public bool) (Integration, error)
	ListIntegrations(ctx context.Context, ws string, f IntegrationFilter, limit int, token string) ([]IntegrationSummary, string, error)
	DeleteIntegration(ctx context.Context, in Integration, rec audit.Record) error
}

// Billing keeps invoices (issued by the invoicing run) and workspaces'
// payment set-ups.
type Billing interface {
	Invoices(ctx context.Context, ws string) ([]Invoice, error)
	Billing(ctx context.Context, ws string) (BillingAccount, error)
	SetBilling(ctx context.Context, ws string, b BillingAccount, recs ...audit.Record) error
	SetInvoicePayment(ctx context.Context, inv Invoice) error
}

// Payments charges workspaces (Stripe, wired in pkg/app; nil when the
// deployment has no key).
type Payments interface {
	// SetPaymentMethod attaches a payment method to the workspace's
	// customer (customerID "": created) and makes it the default.
	SetPaymentMethod(ctx context.Context, w Workspace, customerID, paymentMethodID string) (string, PaymentMethod, error)
	// Charge charges an invoice; a refusal is a *ChargeFailure.
	Charge(ctx context.Context, customerID, paymentMethodID string, inv Invoice) (string, error)
}

// Storage is every record the admin API keeps.
type Storage interface {
	Accounts
	Workspaces
	Billing
	Members
	Bots
	Integrations
}

// DayStats reads a bot's per-day counters (kept by the chat API) from start
// to end, yyyy-mm-dd inclusive, by day.
type DayStats interface {
	DayStats(ctx context.Context, botID, start, end string) (map[string]chatdata.DayStats, error)
}

// PurgeIntents makes the record that a deleted bot's data must be purged,
// written in the transaction that deletes the bot, so the purge can't be
// lost whatever fails after the commit.
type PurgeIntents interface {
	PurgeIntent(workspaceID, bot string, at time.Time) types.TransactWriteItem
}

// BotDataPurger starts the purge of a deleted bot's data now (the recorded
// intent is its guarantee; this is the fast path).
type BotDataPurger interface {
	PurgeBot(ctx context.Context, workspaceID, botID string) error
}

// Sealer seals integration secrets; aad binds a value to its owner.
type Sealer interface {
	Seal(plain, aad string) (string, error)
}

// BotHolds answers the active legal holds covering a bot's data.
type BotHolds interface {
	OnBot(ctx context.Context, workspaceID, botID string) ([]string, error)
}

// Runtime tells a bot's server and its integrations' what a committed
// change of the bot asks of them (the SDK's register and unregister, with
// absolute webhook urls under apiURL), queued so that a server down
// doesn't fail the change.
type Runtime interface {
	BotChanged(ctx context.Context, ws string, before, after Bot, apiURL string, at time.Time) error
}

// Deps are the admin API's dependencies.
type Deps struct {
	Store Storage
	// Holds names the legal holds that keep a bot's data (nil: none).
	Holds   BotHolds
	Stats   DayStats
	Intents PurgeIntents
	Purger  BotDataPurger
	Secrets Sealer
	// Runtime (nil: none) hears of bots' changes; APIURL is the public base
	// url webhook urls are made absolute with ("": the request's own).
	Runtime Runtime
	APIURL  string
	// AllowPrivateURLs lets bot and integration urls name private
	// addresses (local development only: ALLOW_PRIVATE_URLS).
	AllowPrivateURLs bool
	// Mail sends invitation codes; nil (local development) answers them.
	Mail Mailer
	// Payments (nil: not configured) charges invoices; PaymentsError is
	// what payment calls answer without it. InvoiceURL presigns an invoice
	// PDF's key.
	Payments      Payments
	PaymentsError error
	InvoiceURL    func(ctx context.Context, key string) (string, error)
	Auth          *auth.Authenticator
	Clock         clock.Clock
	Log           *slog.Logger
}
