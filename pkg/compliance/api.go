// Package compliance serves Parley's compliance API under /api/v1/ (the
// compliance function): the workspace's tamper-evident audit chain (export,
// verify) and restores of archived conversations. Every route takes a
// bearer personal access token and the workspace from x-workspace-id; each
// has its permission in the matrix (pkg/auth). It reaches storage through
// the interfaces below, wired in pkg/app; it imports no other feature
// package.
package compliance

import (
	"context"
	"io"
	"time"

	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/lifecycle"
)

// Chain reads a workspace's audit chain (pkg/admindata).
type Chain interface {
	// AuditHead is the chain's head: its last seq and hash.
	AuditHead(ctx context.Context, ws string) (audit.Head, error)
	// AuditChain pages through the chained records in seq order from fromSeq.
	AuditChain(ctx context.Context, ws string, fromSeq int64, page func([]audit.Record) (bool, error)) error
}

// Bots tells which workspace a bot is in ("" when it doesn't exist).
type Bots interface {
	BotWorkspace(ctx context.Context, botID string) (string, error)
}

// Archives opens archive objects (the archive bucket).
type Archives interface {
	// Open returns the object at key, or found=false.
	Open(ctx context.Context, key string) (body io.ReadCloser, found bool, err error)
}

// Conversations restores conversations into the chat table (pkg/chatdata,
// the table's owner, builds every key).
type Conversations interface {
	ConversationLive(ctx context.Context, bot, conv string) (bool, error)
	RestoreConversation(ctx context.Context, bot, conv string, lines lifecycle.LineReader, commit audit.Commit) (map[string]int, error)
}

// Deps are what the compliance API uses.
type Deps struct {
	Chain         Chain
	Trail         audit.Trail
	Bots          Bots
	Archives      Archives
	Conversations Conversations
	Auth          *auth.Authenticator
	Clock         clock.Clock
	// IndexLag is how long verify waits before reading the chain again
	// when it finds it broken (the chain's index is eventually consistent).
	IndexLag time.Duration
}

// API serves the compliance routes.
type API struct{ Deps }

// NewAPI returns the compliance API.
func NewAPI(d Deps) *API { return &API{Deps: d} }

// route is one operation: the permission it needs and its handler.
type route struct {
	method, path string
	perm         auth.Permission
	handle       httpapi.Handler
}

func (a *API) routes() []route {
	return []route{
		{"GET", "/api/v1/audit/export", auth.AuditRead, a.exportAudit},
		{"GET", "/api/v1/audit/verify", auth.AuditRead, a.verifyAudit},
		{"POST", "/api/v1/archives/restore", auth.ArchivesRestore, a.restore},
	}
}

// Register adds the routes to rt, each behind workspace authentication
// with its permission. A new operation is one more line in routes (and in
// pkg/topology's complianceRoutes).
func (a *API) Register(rt *httpapi.Router) {
	for _, r := range a.routes() {
		rt.Handle(r.method, r.path, r.handle, a.Auth.Require(auth.Workspace, r.perm))
	}
}
