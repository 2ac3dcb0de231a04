package admindata

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Store keeps admin resources in the admin table. Key layout (every key
// starts with its owner):
//
//	account      ACC#<account>        ACC
//	email claim  EMAIL#<email>        EMAIL          → accountId (unique emails)
//	token        PATHASH#<sha256>     PAT            gsi1: ACC#<account>#PATS / <patId>
//	workspace    WS#<workspace>       WS
//	member       WS#<workspace>       MEMBER#<acct>  gsi1: ACC#<account>#WS / <workspaceId>
//	bot          BOT#<bot>            BOT            gsi1: WS#<workspace>#BOTS / <botId>
//	                                                 gsi2: WS#<workspace>#BOTS / <updatedAt>#<botId>
//	audit record WS#<workspace>       AUDIT#<recordId>                 (time-ordered ids)
//	bot API key  BAK#<key>            BAK            gsi1: BOT#<bot>#BAKS / <keyId>   botId, workspaceId, sealed secret
//	invitation   INVITE#<sha256>      INVITE         expiresAt (TTL)   → accountId
//	usage        USAGE#<ws or bot>    <yyyy-mm>#<shard 000-255>        one number per metered quantity (ADD; reads sum the shards)
//	bot issue    BOT#<bot>            ISSUE#<issueId> gsi1: BOT#<bot>#ISSUES / <lastSeenAt>#<issueId>
//	issue event  ISSUE#<bot>#<issue>  EVT#<time>#<id> expiresAt (TTL)
//	log record   LOG#BOT#<bot>        <time>#<id>     expiresAt (TTL)  (LOG#INT#<integration> alike)
//	integration  INT#<integration>    INT            gsi1: WS#<workspace>#INTS / <integrationId>
//	                                                 gsi2: INTNAME#<name> / <version>
//	name owner   INTNAME#<name>       OWNER          → workspaceId (a name belongs to one workspace)
//	version      INTNAME#<name>       V#<version>    (unique name and version)
//	hub entry    HUB#INTS             <integrationId> (the public integrations, summarized)
//
// Bot code and inline medias are objects in the code bucket, not items:
// bots/<bot>/code/<ulid>.js and bots/<bot>/medias/<ulid>.
type Store struct {
	db    ds.Client
	table string
	pages *cursor.Codec
	opts  Options
}

// Options are the resources the store uses beyond the admin table.
type Options struct {
	// Objects and CodeBucket keep bot code and medias; Presign signs media URLs.
	Objects    Objects
	CodeBucket string
	Presign    Presigner
	// Clock stamps what the store dates itself (log records and issues
	// given no time); the system clock when nil.
	Clock clock.Clock
	// Log receives what the store can't return: the failure to remove an
	// object written for a change that failed. Discarded when nil.
	Log *slog.Logger
}

// NewStore returns a store on table.
func NewStore(db ds.Client, table string, pages *cursor.Codec) *Store {
	return &Store{db: db, table: table, pages: pages}
}

// With sets the store's other resources and returns it.
func (s *Store) With(o Options) *Store {
	s.opts = o
	return s
}

func (s *Store) now() time.Time {
	if s.opts.Clock == nil {
		return clock.System{}.Now()
	}
	return s.opts.Clock.Now()
}

var _ auth.Directory = (*Store)(nil)

func accountKey(id string) map[string]types.AttributeValue { return ds.Key("ACC#"+id, "ACC") }
func emailKey(email string) map[string]types.AttributeValue {
	return ds.Key("EMAIL#"+strings.ToLower(email), "EMAIL")
}
func tokenKey(hash string) map[string]types.AttributeValue   { return ds.Key("PATHASH#"+hash, "PAT") }
func workspaceKey(id string) map[string]types.AttributeValue { return ds.Key("WS#"+id, "WS") }
func memberKey(ws, acc string) map[string]types.AttributeValue {
	return ds.Key("WS#"+ws, "MEMBER#"+acc)
}
func botKey(id string) map[string]types.AttributeValue { return ds.Key("BOT#"+id, "BOT") }

func notExists() *string { return aws.String("attribute_not_exists(pk)") }

// --- accounts ---

// CreateAccount creates an account, claiming its email in the same
// transaction so two accounts never share one.
func (s *Store) CreateAccount(ctx context.Context, a Account) error {
	claim := map[string]types.AttributeValue{"accountId": ds.S(a.ID)}
	for k, v := range emailKey(a.Email) {
		claim[k] = v
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: ds.Item(a, keysOf(accountKey(a.ID))), ConditionExpression: notExists()}},
		{Put: &types.Put{TableName: &s.table, Item: claim, ConditionExpression: notExists()}},
	}})
	if reasons := ds.CancellationReasons(err); len(reasons) == 2 && reasons[1] == "ConditionalCheckFailed" {
		return apperr.New(apperr.AlreadyExists, "an account with email %q already exists", a.Email)
	}
	return err
}

// AccountIDByEmail returns the id of the account holding email, or "".
func (s *Store) AccountIDByEmail(ctx context.Context, email string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: emailKey(email), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	return ds.String(out.Item, "accountId"), nil
}

// Account returns an account.
func (s *Store) Account(ctx context.Context, id string) (Account, error) {
	var a Account
	err := s.get(ctx, accountKey(id), &a, "account", id)
	return a, err
}

// --- personal access tokens ---

// PutToken stores a token by the hash of its value. It refuses a hash that
// is already taken, so a token value is never shared by two accounts.
func (s *Store) PutToken(ctx context.Context, accountID, hash string, p PAT) error {
	p.Value = ""
	item := ds.Item(p, keysOf(tokenKey(hash)))
	item["accountId"] = ds.S(accountID)
	item[ds.GSI1PK] = ds.S("ACC#" + accountID + "#PATS")
	item[ds.GSI1SK] = ds.S(p.ID)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: notExists()})
	if ds.IsConditionFailed(err) {
		return apperr.New(apperr.AlreadyExists, "this token value is already in use")
	}
	return err
}

// Token implements auth.Directory.
func (s *Store) Token(ctx context.Context, hash string) (auth.Token, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: tokenKey(hash), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return auth.Token{}, false, err
	}
	return auth.Token{ID: ds.String(out.Item, "id"), AccountID: ds.String(out.Item, "accountId")}, true, nil
}

// TokenAndBotWorkspace implements auth.Directory with one BatchGetItem.
func (s *Store) TokenAndBotWorkspace(ctx context.Context, hash, botID string) (auth.Token, bool, string, error) {
	tok, found, bot, err := s.TokenAndBot(ctx, hash, botID)
	return tok, found, bot.WorkspaceID, err
}

// Role implements auth.Directory.
func (s *Store) Role(ctx context.Context, workspaceID, accountID string) (auth.Role, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: memberKey(workspaceID, accountID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	return auth.Role(ds.String(out.Item, "role")), nil
}

// ListTokens returns an account's tokens, newest first. An account holds a
// handful, so the API answers them all at once (it has no pagination).
func (s *Store) ListTokens(ctx context.Context, accountID string) ([]PAT, error) {
	keyCond := expression.Key(ds.GSI1PK).Equal(expression.Value("ACC#" + accountID + "#PATS"))
	expr, _ := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	in := &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	pats, err := ds.QueryAll[PAT](ctx, s.db, in)
	if pats == nil {
		pats = []PAT{}
	}
	return pats, err
}

// DeleteToken revokes one of the account's tokens: the id leads to the
// stored hash through the account's token index, then the item goes.
func (s *Store) DeleteToken(ctx context.Context, accountID, patID string) error {
	keyCond := expression.Key(ds.GSI1PK).Equal(expression.Value("ACC#" + accountID + "#PATS")).
		And(expression.Key(ds.GSI1SK).Equal(expression.Value(patID)))
	expr, _ := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return err
	}
	if len(out.Items) == 0 {
		return apperr.NotFound("personal access token", patID)
	}
	key := ds.Key(ds.String(out.Items[0], ds.PK), ds.String(out.Items[0], ds.SK))
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: key,
		ConditionExpression:       aws.String("accountId = :acc"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":acc": ds.S(accountID)},
	})
	if ds.IsConditionFailed(err) {
		return apperr.NotFound("personal access token", patID)
	}
	return err
}

// --- workspaces ---

// CreateWorkspace creates a workspace, its owner's membership and the audit
// record together. The workspace counts its members and owners, so quotas
// and the last-owner rule are conditions on one item.
func (s *Store) CreateWorkspace(ctx context.Context, w Workspace, audit AuditRecord) error {
	member := memberItem(w.ID, w.OwnerID, auth.Owner, w.CreatedAt)
	item := ds.Item(w, keysOf(workspaceKey(w.ID)))
	item["memberCount"], item["ownerCount"] = num(1), num(1)
	// Every workspace is listed in one sparse index partition for the
	// monthly invoicing run (BillableWorkspaces).
	item["gsi2pk"], item["gsi2sk"] = ds.S(workspacesIndex), ds.S(w.ID)
	return s.Commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: notExists()}},
		{Put: &types.Put{TableName: &s.table, Item: member, ConditionExpression: notExists()}},
	}, audit)
}

func num(n int) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(n)} }

func memberItem(ws, acc string, role auth.Role, at string) map[string]types.AttributeValue {
	item := memberKey(ws, acc)
	item["workspaceId"], item["accountId"], item["role"], item["createdAt"] = ds.S(ws), ds.S(acc), ds.S(string(role)), ds.S(at)
	item[ds.GSI1PK], item[ds.GSI1SK] = ds.S("ACC#"+acc+"#WS"), ds.S(ws)
	return item
}

// WorkspaceOfMember returns a workspace the account is a member of, reading
// the workspace and the membership in one BatchGetItem. A workspace the
// account doesn't belong to is reported as missing.
func (s *Store) WorkspaceOfMember(ctx context.Context, id, accountID string) (Workspace, auth.Role, error) {
	items, err := s.batchGet(ctx, workspaceKey(id), memberKey(id, accountID))
	if err != nil {
		return Workspace{}, "", err
	}
	if items[0] == nil || items[1] == nil {
		return Workspace{}, "", apperr.NotFound("workspace", id)
	}
	var w Workspace
	if err := ds.Unmarshal(items[0], &w); err != nil {
		return Workspace{}, "", err
	}
	w.Normalize()
	return w, auth.Role(ds.String(items[1], "role")), nil
}

// ListWorkspaces returns a page of the account's workspaces, newest first:
// one Query of its memberships, then one BatchGetItem of those workspaces
// (a membership doesn't copy workspace fields, so updates stay single-item).
func (s *Store) ListWorkspaces(ctx context.Context, accountID, token string) ([]Workspace, string, error) {
	keyCond := expression.Key(ds.GSI1PK).Equal(expression.Value("ACC#" + accountID + "#WS"))
	expr, _ := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	page, err := ds.QueryPage(ctx, s.db, s.pages, "workspaces|"+accountID, token, ds.DefaultPageSize, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), ScanIndexForward: aws.Bool(false),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil || len(page.Items) == 0 {
		return []Workspace{}, page.NextToken, err
	}
	keys := make([]map[string]types.AttributeValue, len(page.Items))
	for i, m := range page.Items {
		keys[i] = workspaceKey(ds.String(m, "workspaceId"))
	}
	items, err := s.batchGet(ctx, keys...)
	if err != nil {
		return nil, "", err
	}
	out := make([]Workspace, 0, len(items))
	for _, it := range items {
		if it == nil {
			continue
		}
		var w Workspace
		if err := ds.Unmarshal(it, &w); err != nil {
			return nil, "", err
		}
		w.Normalize()
		out = append(out, w)
	}
	return out, page.NextToken, nil
}

// --- bots ---

func botItem(workspaceID string, b Bot) map[string]types.AttributeValue {
	item := ds.Item(b, keysOf(botKey(b.ID)))
	item["workspaceId"] = ds.S(workspaceID)
	item[ds.GSI1PK], item[ds.GSI1SK] = ds.S("WS#"+workspaceID+"#BOTS"), ds.S(b.ID)
	item["gsi2pk"], item["gsi2sk"] = ds.S("WS#"+workspaceID+"#BOTS"), ds.S(b.UpdatedAt+"#"+b.ID)
	return item
}

// countBot changes a workspace's botCount by delta; adding is conditioned
// on the plan's bot quota.
func (s *Store) countBot(workspaceID string, delta int) types.TransactWriteItem {
	u := &types.Update{
		TableName: &s.table, Key: workspaceKey(workspaceID),
		UpdateExpression:          aws.String("ADD botCount :d"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(delta)},
	}
	if delta > 0 {
		cond, values := quotaCondition("botCount", UsageBotCount)
		u.ConditionExpression, u.ExpressionAttributeNames = aws.String(cond), map[string]string{"#plan": "plan"}
		for k, v := range values {
			u.ExpressionAttributeValues[k] = v
		}
	}
	return types.TransactWriteItem{Update: u}
}

// CreateBot stores a bot, counts it in its workspace (within the plan's
// quota) and records it in the audit trail in one transaction, so botCount
// is always exact. Code and inline medias go to the code bucket first.
func (s *Store) CreateBot(ctx context.Context, workspaceID string, b Bot, code *string, audit AuditRecord) (Bot, error) {
	written, err := s.storeBlobs(ctx, &b, code)
	if err != nil {
		s.removeObjects(ctx, written...)
		return Bot{}, err
	}
	err = s.Commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: botItem(workspaceID, b), ConditionExpression: notExists()}},
		s.countBot(workspaceID, 1),
	}, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed" {
		err = apperr.New(apperr.QuotaExceeded, "the workspace has reached its plan's quota of bots")
	}
	if err != nil {
		s.removeObjects(ctx, written...)
	}
	return b, err
}

// storeBlobs puts new code and inline medias of b in the code bucket and
// returns the keys written.
func (s *Store) storeBlobs(ctx context.Context, b *Bot, code *string) ([]string, error) {
	now, err := clock.Parse(b.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("bot %s: updatedAt %q: %w", b.ID, b.UpdatedAt, err)
	}
	medias, written, err := s.putMedias(ctx, b.ID, b.Medias, now)
	if err != nil {
		return written, err
	}
	b.Medias = medias
	if code != nil {
		key, err := s.putCode(ctx, b.ID, *code, now)
		if err != nil {
			return written, err
		}
		b.CodeKey = key
		written = append(written, key)
	}
	return written, nil
}

// Bot returns a bot of the workspace; a bot of another workspace is reported
// as missing.
func (s *Store) Bot(ctx context.Context, workspaceID, id string) (Bot, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: botKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Bot{}, err
	}
	if out.Item == nil || ds.String(out.Item, "workspaceId") != workspaceID {
		return Bot{}, apperr.NotFound("bot", id)
	}
	var b Bot
	err = ds.Unmarshal(out.Item, &b)
	return b, err
}

// BotFilter narrows a bot list.
type BotFilter struct {
	Dev           *bool
	Tags          map[string]string
	SortField     string // createdAt | updatedAt
	SortDirection string // asc | desc
}

// ListBots returns one page of a workspace's bots: one Query on the index
// that orders by the requested field.
func (s *Store) ListBots(ctx context.Context, workspaceID string, f BotFilter, token string) ([]BotSummary, string, error) {
	index, pk := ds.GSI1, ds.GSI1PK
	if f.SortField == "updatedAt" {
		index, pk = "gsi2", "gsi2pk"
	}
	b := expression.NewBuilder().WithKeyCondition(expression.Key(pk).Equal(expression.Value("WS#" + workspaceID + "#BOTS")))
	if cond, ok := filterOf(f.Dev, f.Tags); ok {
		b = b.WithFilter(cond)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	scope := fmt.Sprintf("bots|%s|%s|%s|%v|%v", workspaceID, f.SortField, f.SortDirection, boolStr(f.Dev), f.Tags)
	page, err := ds.QueryPage(ctx, s.db, s.pages, scope, token, ds.DefaultPageSize, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(index), ScanIndexForward: aws.Bool(f.SortDirection == "asc"),
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]BotSummary, 0, len(page.Items))
	for _, it := range page.Items {
		var sum BotSummary
		if err := ds.Unmarshal(it, &sum); err != nil {
			return nil, "", err
		}
		sum.Tags = orEmpty(sum.Tags)
		out = append(out, sum)
	}
	return out, page.NextToken, nil
}

func filterOf(dev *bool, tags map[string]string) (expression.ConditionBuilder, bool) {
	var conds []expression.ConditionBuilder
	if dev != nil {
		conds = append(conds, expression.Name("dev").Equal(expression.Value(*dev)))
	}
	for k, v := range tags {
		conds = append(conds, expression.Name("tags."+k).Equal(expression.Value(v)))
	}
	switch len(conds) {
	case 0:
		return expression.ConditionBuilder{}, false
	case 1:
		return conds[0], true
	}
	return expression.And(conds[0], conds[1], conds[2:]...), true
}

func boolStr(b *bool) string {
	if b == nil {
		return ""
	}
	return fmt.Sprint(*b)
}

// --- helpers ---

func (s *Store) get(ctx context.Context, key map[string]types.AttributeValue, into any, kind, id string) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	if out.Item == nil {
		return apperr.NotFound(kind, id)
	}
	return ds.Unmarshal(out.Item, into)
}

// batchGet reads items by key (BatchGetItem calls of at most 100 keys,
// unprocessed keys retried with bounded backoff: ds.BatchGet) and returns
// them in key order, nil where missing.
func (s *Store) batchGet(ctx context.Context, keys ...map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	got, err := ds.BatchGet(ctx, s.db, map[string]types.KeysAndAttributes{
		s.table: {Keys: dedupe(keys), ConsistentRead: aws.Bool(true)},
	}, nil)
	if err != nil {
		return nil, err
	}
	found := map[string]map[string]types.AttributeValue{}
	for _, it := range got[s.table] {
		found[ds.String(it, ds.PK)+"|"+ds.String(it, ds.SK)] = it
	}
	res := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		res[i] = found[ds.String(k, ds.PK)+"|"+ds.String(k, ds.SK)]
	}
	return res, nil
}

func dedupe(keys []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	seen := map[string]bool{}
	out := keys[:0:0]
	for _, k := range keys {
		id := ds.String(k, ds.PK) + "|" + ds.String(k, ds.SK)
		if !seen[id] {
			seen[id] = true
			out = append(out, k)
		}
	}
	return out
}

func keysOf(key map[string]types.AttributeValue) map[string]string {
	return map[string]string{ds.PK: ds.String(key, ds.PK), ds.SK: ds.String(key, ds.SK)}
}
