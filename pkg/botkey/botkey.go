// Package botkey holds bot API keys (BAKs): secrets bound to one bot in one
// workspace, shown once, with which a script signs the HS256 JWTs the
// Kore.ai-style conversation deletion API accepts in its `auth` header. It
// holds the HTTP routes and the JWT check; the keys are stored by
// pkg/admindata (through KeyStore), their secrets sealed (pkg/seal).
//
// A key is valid only while its bot exists in the key's workspace and was
// created after the bot's last transfer: keys die with their bot and are
// revoked when it changes workspace.
package botkey

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// Key is a bot API key as listed; Value is set only in the creation answer.
type Key struct {
	ID        string `json:"id"`
	CreatedAt string `json:"createdAt"`
	Note      string `json:"note"`
	Value     string `json:"value,omitempty"`
}

// KeyStore keeps bot API keys (pkg/admindata's Store).
type KeyStore interface {
	CreateBotAPIKey(ctx context.Context, k admindata.BotAPIKey) error
	// BotAPIKeys lists the keys of a bot that belong to workspace ws.
	BotAPIKeys(ctx context.Context, ws, botID string) ([]admindata.BotAPIKey, error)
	// DeleteBotAPIKey deletes a key of ws; another workspace's is missing.
	DeleteBotAPIKey(ctx context.Context, ws, keyID string) error
	// BotAPIKeyAndBot reads a key and the bot it names in one round trip.
	BotAPIKeyAndBot(ctx context.Context, keyID, botID string) (k admindata.BotAPIKey, found bool, bot admindata.KeyedBot, err error)
	// Role is an account's role in a workspace ("" when not a member).
	Role(ctx context.Context, workspaceID, accountID string) (auth.Role, error)
}

// Permission is what a key is created with and what it grants: submitting
// deletion jobs (and so reading their status).
const Permission = auth.DeletionWrite

// MaxTokenLifetime bounds a JWT's validity: its exp may be at most this far
// in the future (with 30 s of leeway for clocks), so a leaked token dies
// soon whatever exp its signer chose.
const MaxTokenLifetime = time.Hour

// grants reports whether a key created with have authenticates a request
// needing want.
func grants(have, want auth.Permission) bool {
	return have == want || (have == auth.DeletionWrite && want == auth.DeletionRead)
}

// Sealer seals and opens key secrets (the HMAC check needs them back, so
// they can't be hashed); aad binds a sealed secret to its key.
type Sealer interface {
	Seal(plain, aad string) (string, error)
	Open(sealed, aad string) (string, error)
}

// Verifier checks the deletion API's JWTs.
type Verifier struct {
	store  KeyStore
	secret Sealer
}

// NewVerifier returns the JWT check.
func NewVerifier(store KeyStore, secret Sealer) *Verifier {
	return &Verifier{store: store, secret: secret}
}

// errRevoked is a key that exists but no longer authenticates.
var errRevoked = errors.New("key revoked")

// Caller is who a verified JWT acts for: the key, its bot's workspace and
// the member who created the key.
type Caller struct {
	KeyID, WorkspaceID, AccountID string
}

// VerifyBot checks a deletion-API JWT for a request needing perm: HS256,
// signed with the secret of the key named by its `appId` claim, not
// expired, exp at most MaxTokenLifetime ahead, the key bound to botID and
// valid (its bot exists in the key's workspace and was not transferred
// since the key was created), created with a permission that grants perm,
// by a member whose role still holds it. It answers the caller, or 401
// (403 when the key's member lost the permission). One BatchGetItem reads
// the key and the bot, one GetItem the creator's membership.
func (v *Verifier) VerifyBot(ctx context.Context, token, botID string, perm auth.Permission) (Caller, error) {
	var c Caller
	var k admindata.BotAPIKey
	now := time.Now()
	_, err := jwt.Parse(token, func(t *jwt.Token) (any, error) {
		claims, _ := t.Claims.(jwt.MapClaims)
		keyID, _ := claims["appId"].(string)
		if keyID == "" {
			return nil, errors.New("no appId claim")
		}
		var found bool
		var bot admindata.KeyedBot
		var err error
		k, found, bot, err = v.store.BotAPIKeyAndBot(ctx, keyID, botID)
		if err != nil {
			return nil, err
		}
		if !found || k.BotID != botID {
			return nil, errors.New("unknown key")
		}
		if !Valid(k, bot) {
			return nil, errRevoked
		}
		if exp, err := t.Claims.GetExpirationTime(); err != nil || exp == nil || exp.After(now.Add(MaxTokenLifetime+30*time.Second)) {
			return nil, errors.New("exp missing or too far ahead")
		}
		c = Caller{KeyID: k.ID, WorkspaceID: k.WorkspaceID, AccountID: k.CreatedBy}
		secret, err := v.secret.Open(k.Sealed, keyID)
		return []byte(secret), err
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return Caller{}, apperr.New(apperr.Unauthorized, "the auth token is invalid, expired, valid for more than %s, or not signed by an API key of bot %s", MaxTokenLifetime, botID)
	}
	// The signature is good: the key acts for its creator, who must still
	// hold what the key was created with and what the request needs.
	if k.CreatedBy == "" || !grants(auth.Permission(k.Permission), perm) {
		return Caller{}, apperr.New(apperr.Forbidden, "this API key does not grant %s", perm)
	}
	role, err := v.store.Role(ctx, k.WorkspaceID, k.CreatedBy)
	if err != nil {
		return Caller{}, err
	}
	if !role.Allows(auth.Permission(k.Permission)) || !role.Allows(perm) {
		return Caller{}, apperr.New(apperr.Forbidden, "the member who created this API key no longer holds %s in the bot's workspace", k.Permission)
	}
	return c, nil
}

// Verify is VerifyBot for deletion.Tokens: the key's workspace and creator.
func (v *Verifier) Verify(ctx context.Context, token, botID string, perm auth.Permission) (ws, accountID, keyID string, err error) {
	c, err := v.VerifyBot(ctx, token, botID, perm)
	return c.WorkspaceID, c.AccountID, c.KeyID, err
}

// Valid is the rule that keeps a key alive: its bot exists, in the key's
// workspace, and has not changed workspace since the key was created.
func Valid(k admindata.BotAPIKey, bot admindata.KeyedBot) bool {
	return bot.WorkspaceID != "" && bot.WorkspaceID == k.WorkspaceID &&
		(bot.TransferredAt == "" || k.CreatedAt > bot.TransferredAt)
}

// Bots tells which bots a workspace holds.
type Bots interface {
	// BotWorkspace returns the workspace owning bot ("" when it doesn't exist).
	BotWorkspace(ctx context.Context, botID string) (string, error)
}

// API serves the bot API key routes of the admin function.
type API struct {
	store  KeyStore
	secret Sealer
	bots   Bots
	auth   *auth.Authenticator
	clock  clock.Clock
}

// NewAPI returns the bot API key routes.
func NewAPI(store KeyStore, secret Sealer, bots Bots, a *auth.Authenticator, c clock.Clock) *API {
	return &API{store: store, secret: secret, bots: bots, auth: a, clock: c}
}

// Register adds the routes to rt.
func (a *API) Register(rt *httpapi.Router) {
	// A key signs deletion jobs: creating or revoking one needs what
	// submitting a job needs.
	rt.Handle("GET", "/v1/admin/bots/baks", a.list, a.auth.Require(auth.Workspace, auth.BotsRead))
	rt.Handle("POST", "/v1/admin/bots/baks", a.create, a.auth.Require(auth.Workspace, Permission))
	rt.Handle("DELETE", "/v1/admin/bots/baks/{id}", a.delete, a.auth.Require(auth.Workspace, Permission))
}

// ownBot reports a bot outside the caller's workspace as missing.
func (a *API) ownBot(ctx context.Context, botID string) error {
	ws, err := a.bots.BotWorkspace(ctx, botID)
	if err != nil {
		return err
	}
	if ws == "" || ws != auth.FromContext(ctx).WorkspaceID {
		return apperr.NotFound("bot", botID)
	}
	return nil
}

func (a *API) list(r *http.Request) (httpapi.Response, error) {
	botID := httpapi.QueryOf(r).String("botId")
	if botID == "" {
		return httpapi.Response{}, apperr.New(apperr.InvalidQuery, "query parameter botId is required")
	}
	if err := a.ownBot(r.Context(), botID); err != nil {
		return httpapi.Response{}, err
	}
	stored, err := a.store.BotAPIKeys(r.Context(), auth.FromContext(r.Context()).WorkspaceID, botID)
	if err != nil {
		return httpapi.Response{}, err
	}
	keys := make([]Key, len(stored))
	for i, k := range stored {
		keys[i] = Key{ID: k.ID, CreatedAt: k.CreatedAt, Note: k.Note}
	}
	return httpapi.OK(map[string]any{"baks": keys}), nil
}

func (a *API) create(r *http.Request) (httpapi.Response, error) {
	var in struct {
		BotID *string `json:"botId"`
		Note  string  `json:"note"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.BotID == nil || *in.BotID == "" {
		return httpapi.Response{}, apperr.Invalid("botId is required")
	}
	if len(in.Note) > 200 {
		return httpapi.Response{}, apperr.Invalid("note must be at most 200 characters")
	}
	if err := a.ownBot(r.Context(), *in.BotID); err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	k := Key{ID: id.NewAt("bak", now), CreatedAt: clock.Format(now), Note: in.Note, Value: "bp_bak_" + base64.RawURLEncoding.EncodeToString(secret)}
	sealed, err := a.secret.Seal(k.Value, k.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	stored := admindata.BotAPIKey{ID: k.ID, CreatedAt: k.CreatedAt, Note: k.Note, BotID: *in.BotID,
		WorkspaceID: p.WorkspaceID, Sealed: sealed, CreatedBy: p.AccountID, Permission: string(Permission)}
	if err := a.store.CreateBotAPIKey(r.Context(), stored); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(k), nil
}

func (a *API) delete(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.DeleteBotAPIKey(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}
