// Package botkey holds bot API keys (BAKs): secrets bound to one bot, shown
// once, with which a script signs the HS256 JWTs the Kore.ai-style
// conversation deletion API accepts in its `auth` header.
package botkey

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/golang-jwt/jwt/v5"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
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

// Store keeps keys in the admin table:
//
//	key  BAK#<keyId>  BAK   botId, sealed secret; gsi1: BOT#<bot>#BAKS / <keyId>
//
// The secret must be readable to check HMAC signatures, so it is stored
// sealed with AES-GCM under a key derived from the deployment's secret, not
// hashed.
type Store struct {
	db    ds.Client
	table string
	aead  cipher.AEAD
}

// NewStore returns a store sealing secrets with a key derived from secret.
func NewStore(db ds.Client, table string, secret []byte) *Store {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("parley bot api keys"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Store{db: db, table: table, aead: aead}
}

func keyKey(id string) map[string]types.AttributeValue { return ds.Key("BAK#"+id, "BAK") }

func (s *Store) seal(plain, keyID string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), []byte(keyID)))
}

func (s *Store) open(sealed, keyID string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, errors.New("bad sealed secret")
	}
	return s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(keyID))
}

// Create stores a new key for a bot of the workspace: one conditional PutItem.
func (s *Store) Create(ctx context.Context, workspaceID, botID string, k Key) error {
	item := ds.Item(Key{ID: k.ID, CreatedAt: k.CreatedAt, Note: k.Note}, map[string]string{
		ds.PK: "BAK#" + k.ID, ds.SK: "BAK", ds.GSI1PK: "BOT#" + botID + "#BAKS", ds.GSI1SK: k.ID,
		"botId": botID, "workspaceId": workspaceID, "secret": s.seal(k.Value, k.ID),
	})
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	return err
}

// List returns a bot's keys (a bot holds a handful: one Query, all pages).
func (s *Store) List(ctx context.Context, botID string) ([]Key, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value("BOT#" + botID + "#BAKS"))).Build()
	keys, err := ds.QueryAll[Key](ctx, s.db, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if keys == nil {
		keys = []Key{}
	}
	return keys, err
}

// Delete removes a key of the workspace: one conditional DeleteItem, so a
// key of another workspace reads as missing.
func (s *Store) Delete(ctx context.Context, workspaceID, keyID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: keyKey(keyID),
		ConditionExpression:       aws.String("attribute_exists(pk) AND workspaceId = :ws"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":ws": ds.S(workspaceID)},
	})
	if ds.IsConditionFailed(err) {
		return apperr.NotFound("bot api key", keyID)
	}
	return err
}

// Verify checks a deletion-API JWT: HS256, signed with the secret of the key
// named by its `appId` claim, that key bound to botID, not expired. It
// answers 401 for anything else.
func (s *Store) Verify(ctx context.Context, token, botID string) error {
	var keyID string
	_, err := jwt.Parse(token, func(t *jwt.Token) (any, error) {
		claims, _ := t.Claims.(jwt.MapClaims)
		keyID, _ = claims["appId"].(string)
		if keyID == "" {
			return nil, errors.New("no appId claim")
		}
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: keyKey(keyID), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		if out.Item == nil || ds.String(out.Item, "botId") != botID {
			return nil, errors.New("unknown key")
		}
		return s.open(ds.String(out.Item, "secret"), keyID)
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(30*1e9))
	if err != nil {
		return apperr.New(apperr.Unauthorized, "the auth token is invalid, expired, or not signed by an API key of bot %s", botID)
	}
	return nil
}

// Bots tells which bots a workspace holds.
type Bots interface {
	// BotWorkspace returns the workspace owning bot ("" when it doesn't exist).
	BotWorkspace(ctx context.Context, botID string) (string, error)
}

// API serves the bot API key routes of the admin function.
type API struct {
	store *Store
	bots  Bots
	auth  *auth.Authenticator
	clock clock.Clock
}

// NewAPI returns the bot API key routes.
func NewAPI(store *Store, bots Bots, a *auth.Authenticator, c clock.Clock) *API {
	return &API{store: store, bots: bots, auth: a, clock: c}
}

// Register adds the routes to rt.
func (a *API) Register(rt *httpapi.Router) {
	rt.Handle("GET", "/v1/admin/bots/baks", a.list, a.auth.Require(auth.Workspace, auth.BotsRead))
	rt.Handle("POST", "/v1/admin/bots/baks", a.create, a.auth.Require(auth.Workspace, auth.BotsWrite))
	rt.Handle("DELETE", "/v1/admin/bots/baks/{id}", a.delete, a.auth.Require(auth.Workspace, auth.BotsWrite))
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
	keys, err := a.store.List(r.Context(), botID)
	if err != nil {
		return httpapi.Response{}, err
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
	_, _ = rand.Read(secret)
	k := Key{ID: id.NewAt("bak", now), CreatedAt: clock.Format(now), Note: in.Note, Value: "bp_bak_" + base64.RawURLEncoding.EncodeToString(secret)}
	if err := a.store.Create(r.Context(), auth.FromContext(r.Context()).WorkspaceID, *in.BotID, k); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(k), nil
}

func (a *API) delete(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.Delete(r.Context(), auth.FromContext(r.Context()).WorkspaceID, r.PathValue("id")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}
