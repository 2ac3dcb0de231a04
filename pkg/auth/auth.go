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
)

// Require returns middleware that authenticates the request for scope and
// permission, and stores the principal in the request context.
func (a *Authenticator) Require(scope ScopeKind, perm Permission) httpapi.Middleware {
	return func(next httpapi.Handler) httpapi.Handler {
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
	}
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
		tok, found, ws, err := a.dir.TokenAndBotWorkspace(ctx, hash, bot)
		if err != nil {
			return Principal{}, err
		}
		if !found {
			return Principal{}, invalidToken()
		}
		if ws == "" {
			return Principal{}, forbidden()
		}
		return a.member(ctx, Principal{AccountID: tok.AccountID, WorkspaceID: ws, BotID: bot}, perm)
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
