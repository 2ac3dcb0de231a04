// Package auth authenticates requests and decides what they may reach:
// bearer personal access tokens (stored only as hashes), workspace
// membership roles and the x-workspace-id / x-bot-id scope headers.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/awscalls"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// Scope headers of the Botpress API.
const (
	WorkspaceHeader   = "x-workspace-id"
	BotHeader         = "x-bot-id"
	IntegrationHeader = "x-integration-id"
)

// Principal is who is calling and, for scoped requests, where.
type Principal struct {
	AccountID   string
	WorkspaceID string
	BotID       string
	Role        Role
	// IntegrationID and IntegrationName are set when the caller acts as an
	// integration installed on the bot (x-integration-id).
	IntegrationID   string
	IntegrationName string
	// bot is set on bot routes whose directory is a BotDirectory.
	bot *BotRecord
}

// Bot returns the bot record read while authenticating a bot route (empty
// unless the directory is a BotDirectory).
func (p Principal) Bot() BotRecord {
	if p.bot == nil {
		return BotRecord{}
	}
	return *p.bot
}

// BotRecord is what a bot route learns about its bot in the authentication
// round trip, which reads the bot item anyway.
type BotRecord struct {
	WorkspaceID   string
	URL           string
	SigningSecret string
	// Configuration is the bot's configuration data, which SDK bot servers
	// receive with every request (x-bp-configuration).
	Configuration map[string]any
	// Integrations are the installed integrations, by installation key.
	Integrations map[string]Integration
}

// Integration is an integration installed on a bot.
type Integration struct {
	ID, Name, URL string
	Enabled       bool
	// Alias is the installation key; WebhookID names the installation's
	// webhook; Configuration (of ConfigurationType, "" for the default) is
	// what the bot's owner configured. SDK integration servers receive
	// them with every request.
	Alias, WebhookID, ConfigurationType string
	Configuration                       map[string]any
}

// Integration finds an installed integration by its id or installation key.
func (b BotRecord) Integration(id string) (Integration, bool) {
	if in, ok := b.Integrations[id]; ok {
		in.Alias = id
		return in, true
	}
	for alias, in := range b.Integrations {
		if in.ID == id {
			in.Alias = alias
			return in, true
		}
	}
	return Integration{}, false
}

// IntegrationNamed finds an installed integration by its name.
func (b BotRecord) IntegrationNamed(name string) (Integration, bool) {
	for alias, in := range b.Integrations {
		if in.Name == name {
			in.Alias = alias
			return in, true
		}
	}
	return Integration{}, false
}

// IntegrationAliased finds an installed integration by its alias (the
// installation key, which the SDK prefixes action types with), else by
// its name.
func (b BotRecord) IntegrationAliased(alias string) (Integration, bool) {
	if in, ok := b.Integrations[alias]; ok {
		in.Alias = alias
		return in, true
	}
	return b.IntegrationNamed(alias)
}

// BotDirectory is a Directory that resolves, in the one round trip of
// TokenAndBotWorkspace, the whole bot record (WorkspaceID "" when the bot
// doesn't exist).
type BotDirectory interface {
	TokenAndBot(ctx context.Context, hash, botID string) (tok Token, found bool, bot BotRecord, err error)
}

// Token is what a stored token hash resolves to.
type Token struct {
	ID        string
	AccountID string
}

// Directory is what authentication reads from storage.
type Directory interface {
	// Token resolves a token hash; found is false for an unknown hash.
	Token(ctx context.Context, hash string) (tok Token, found bool, err error)
	// TokenAndBotWorkspace resolves a token hash and, in the same round
	// trip, the workspace that owns botID ("" when the bot doesn't exist).
	TokenAndBotWorkspace(ctx context.Context, hash, botID string) (tok Token, found bool, workspaceID string, err error)
	// Role returns the account's role in the workspace, or "" if none.
	Role(ctx context.Context, workspaceID, accountID string) (Role, error)
}

// HashToken is how tokens are stored: the SHA-256 of the value. Tokens are
// high-entropy random strings, so a plain digest suffices and keeps lookups
// to a single GetItem.
func HashToken(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// NewTokenValue returns a new random personal access token value.
func NewTokenValue() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "bp_pat_" + base64.RawURLEncoding.EncodeToString(b)
}

// Authenticator resolves principals.
type Authenticator struct{ dir Directory }

// New returns an authenticator reading dir.
func New(dir Directory) *Authenticator { return &Authenticator{dir: dir} }

type principalKey struct{}

// FromContext returns the request's principal, set by a Require middleware.
func FromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// ScopeKind says which scope a route needs.
type ScopeKind int

const (
	// Account routes need only a valid token.
	Account ScopeKind = iota
	// Workspace routes need x-workspace-id and a membership with the permission.
	Workspace
	// Bot routes need x-bot-id and a membership in the bot's workspace with the permission.
	Bot
	// WorkspacePath routes name the workspace in the path ({id}); a workspace
	// the caller doesn't belong to is reported as missing.
	WorkspacePath
	// BotPath routes name a bot in the path ({id}), e.g. its usages; a bot
	// outside the caller's workspaces is reported as missing.
	BotPath
)

// Require returns middleware that authenticates the request for scope and
// permission, and stores the principal in the request context.
func (a *Authenticator) Require(scope ScopeKind, perm Permission) httpapi.Middleware {
	return httpapi.Describe(httpapi.Requirement{Scope: scope.String(), Permission: string(perm)}, func(next httpapi.Handler) httpapi.Handler {
		return func(r *http.Request) (httpapi.Response, error) {
			p, err := a.authenticate(r, scope, perm)
			if c := awscalls.FromContext(r.Context()); c != nil {
				c.MarkAuth()
			}
			if err != nil {
				return httpapi.Response{}, err
			}
			return next(r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		}
	})
}

// String names the scope as httpapi.Requirement does.
func (s ScopeKind) String() string {
	switch s {
	case Account:
		return "account"
	case Workspace:
		return "workspace"
	case Bot:
		return "bot"
	case WorkspacePath:
		return "workspace-path"
	case BotPath:
		return "bot-path"
	}
	return "unknown"
}

func (a *Authenticator) authenticate(r *http.Request, scope ScopeKind, perm Permission) (Principal, error) {
	ctx := r.Context()
	value, ok := bearer(r)
	if !ok {
		return Principal{}, apperr.New(apperr.Unauthorized, "missing bearer token: send Authorization: Bearer <personal access token>")
	}
	hash := HashToken(value)
	switch scope {
	case Account:
		tok, found, err := a.dir.Token(ctx, hash)
		if err != nil {
			return Principal{}, err
		}
		if !found {
			return Principal{}, invalidToken()
		}
		return Principal{AccountID: tok.AccountID}, nil
	case Workspace:
		ws := r.Header.Get(WorkspaceHeader)
		if ws == "" {
			return Principal{}, apperr.Invalid("the %s header is required for this operation", WorkspaceHeader)
		}
		tok, found, err := a.dir.Token(ctx, hash)
		if err != nil {
			return Principal{}, err
		}
		if !found {
			return Principal{}, invalidToken()
		}
		return a.member(ctx, Principal{AccountID: tok.AccountID, WorkspaceID: ws}, perm)
	case Bot:
		bot := r.Header.Get(BotHeader)
		if bot == "" {
			return Principal{}, apperr.Invalid("the %s header is required for this operation", BotHeader)
		}
		var tok Token
		var found bool
		var rec BotRecord
		var full *BotRecord
		var err error
		if bd, ok := a.dir.(BotDirectory); ok {
			tok, found, rec, err = bd.TokenAndBot(ctx, hash, bot)
			full = &rec
		} else {
			tok, found, rec.WorkspaceID, err = a.dir.TokenAndBotWorkspace(ctx, hash, bot)
		}
		if err != nil {
			return Principal{}, err
		}
		if !found {
			return Principal{}, invalidToken()
		}
		if rec.WorkspaceID == "" {
			return Principal{}, forbidden()
		}
		p, err := a.member(ctx, Principal{AccountID: tok.AccountID, WorkspaceID: rec.WorkspaceID, BotID: bot}, perm)
		if err != nil {
			return Principal{}, err
		}
		// Acting as an integration needs it installed on this very bot.
		if iid := r.Header.Get(IntegrationHeader); iid != "" {
			in, ok := rec.Integration(iid)
			if !ok {
				return Principal{}, apperr.New(apperr.Forbidden, "integration %q is not installed on this bot", iid)
			}
			p.IntegrationID, p.IntegrationName = iid, in.Name
		}
		p.bot = full
		return p, nil
	case WorkspacePath:
		ws := r.PathValue("id")
		tok, found, err := a.dir.Token(ctx, hash)
		if err != nil {
			return Principal{}, err
		}
		if !found {
			return Principal{}, invalidToken()
		}
		return a.memberOrMissing(ctx, Principal{AccountID: tok.AccountID, WorkspaceID: ws}, perm, "workspace", ws)
	case BotPath:
		bot := r.PathValue("id")
		tok, found, ws, err := a.dir.TokenAndBotWorkspace(ctx, hash, bot)
		if err != nil {
			return Principal{}, err
		}
		if !found {
			return Principal{}, invalidToken()
		}
		if ws == "" {
			return Principal{}, apperr.NotFound("bot", bot)
		}
		return a.memberOrMissing(ctx, Principal{AccountID: tok.AccountID, WorkspaceID: ws, BotID: bot}, perm, "bot", bot)
	}
	return Principal{}, apperr.New(apperr.Internal, "unknown scope")
}

func (a *Authenticator) member(ctx context.Context, p Principal, perm Permission) (Principal, error) {
	role, err := a.dir.Role(ctx, p.WorkspaceID, p.AccountID)
	if err != nil {
		return Principal{}, err
	}
	// Not a member and a missing workspace read alike, so ids don't leak.
	if role == "" || !role.Allows(perm) {
		return Principal{}, forbidden()
	}
	p.Role = role
	return p, nil
}

// memberOrMissing is member for resources named in the path: without a
// membership the resource is reported as missing, with too small a role as
// forbidden.
func (a *Authenticator) memberOrMissing(ctx context.Context, p Principal, perm Permission, kind, id string) (Principal, error) {
	role, err := a.dir.Role(ctx, p.WorkspaceID, p.AccountID)
	if err != nil {
		return Principal{}, err
	}
	if role == "" {
		return Principal{}, apperr.NotFound(kind, id)
	}
	if !role.Allows(perm) {
		return Principal{}, forbidden()
	}
	p.Role = role
	return p, nil
}

// Check reports whether the account may use perm in another workspace than
// the request's (e.g. the target of a bot transfer): one Role read.
func (a *Authenticator) Check(ctx context.Context, workspaceID, accountID string, perm Permission) error {
	_, err := a.member(ctx, Principal{AccountID: accountID, WorkspaceID: workspaceID}, perm)
	return err
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
		return "", false
	}
	return strings.TrimSpace(value), true
}

func invalidToken() error {
	return apperr.New(apperr.Unauthorized, "the bearer token is invalid or has been revoked")
}

func forbidden() error {
	return apperr.New(apperr.Forbidden, "you don't have permission to perform this operation here")
}
