package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/id"
)

// Member is a workspace member as answered; its id is the account's id.
type Member struct {
	ID             string `json:"id"`
	UserID         string `json:"userId,omitempty"`
	Email          string `json:"email"`
	CreatedAt      string `json:"createdAt"`
	Role           string `json:"role"`
	ProfilePicture string `json:"profilePicture,omitempty"`
	DisplayName    string `json:"displayName,omitempty"`
}

// InvitationTTL is how long an invitation code can be exchanged.
const InvitationTTL = 7 * 24 * time.Hour

func invitationKey(hash string) map[string]types.AttributeValue {
	return ds.Key("INVITE#"+hash, "INVITE")
}

// countMembers changes a workspace's member (and owner) counts. Adding a
// member is conditioned on the plan's quota; removing an owner on another
// owner remaining.
func (s *Store) countMembers(ws string, members, owners int) types.TransactWriteItem {
	u := &types.Update{
		TableName: &s.table, Key: workspaceKey(ws),
		UpdateExpression:          aws.String("ADD memberCount :m, ownerCount :o"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": num(members), ":o": num(owners)},
	}
	var conds []string
	if members > 0 {
		cond, values := quotaCondition("memberCount", UsageMemberCount)
		conds = append(conds, cond)
		u.ExpressionAttributeNames = map[string]string{"#plan": "plan"}
		for k, v := range values {
			u.ExpressionAttributeValues[k] = v
		}
	}
	if owners < 0 {
		conds = append(conds, "ownerCount > :one")
		u.ExpressionAttributeValues[":one"] = num(1)
	}
	if len(conds) > 0 {
		u.ConditionExpression = aws.String(strings.Join(conds, " AND "))
	}
	return types.TransactWriteItem{Update: u}
}

func ownerDelta(role auth.Role) int {
	if role == auth.Owner {
		return 1
	}
	return 0
}

// NewMember is an account to add to a workspace; NewAccount is set when
// the account is created with it.
type NewMember struct {
	Workspace, AccountID string
	Role                 auth.Role
	CreatedAt            string
	NewAccount           *Account
}

// AddMember adds a member in one transaction: the membership, the member
// and owner counts (within the plan's quota), the audit record and, for a
// new account, the account (pending until its invitation is accepted) and
// its email claim.
func (s *Store) AddMember(ctx context.Context, m NewMember, audit AuditRecord) error {
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: memberItem(m.Workspace, m.AccountID, m.Role, m.CreatedAt), ConditionExpression: notExists()}},
		s.countMembers(m.Workspace, 1, ownerDelta(m.Role)),
		s.AuditPut(audit),
	}
	if a := m.NewAccount; a != nil {
		claim := withAttr(emailKey(a.Email), "accountId", a.ID)
		acc := ds.Item(*a, keysOf(accountKey(a.ID)))
		acc["pending"] = &types.AttributeValueMemberBOOL{Value: true}
		items = append(items,
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: acc, ConditionExpression: notExists()}},
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: claim, ConditionExpression: notExists()}},
		)
	}
	err := s.transact(ctx, items...)
	reasons := ds.CancellationReasons(err)
	switch {
	case len(reasons) > 1 && reasons[0] == "ConditionalCheckFailed":
		return apperr.New(apperr.AlreadyExists, "this account is already a member of the workspace")
	case len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed":
		return apperr.New(apperr.QuotaExceeded, "the workspace has reached its plan's quota of members")
	case len(reasons) > 4 && reasons[4] == "ConditionalCheckFailed":
		return apperr.New(apperr.AlreadyExists, "an account with this email was created meanwhile; retry")
	}
	return err
}

// memberRecord reads a membership.
func (s *Store) memberRecord(ctx context.Context, ws, acc string) (Member, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: memberKey(ws, acc), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Member{}, err
	}
	if out.Item == nil {
		return Member{}, apperr.NotFound("workspace member", acc)
	}
	return Member{ID: acc, UserID: UserUUID(acc), CreatedAt: ds.String(out.Item, "createdAt"), Role: ds.String(out.Item, "role")}, nil
}

// ChangeMember changes a member's role (to "" removes the member) in one
// transaction with the counts and the audit record; the member must still
// hold the role it was read with, and the last owner stays.
func (s *Store) ChangeMember(ctx context.Context, ws, acc string, from, to auth.Role, audit AuditRecord) error {
	cond := map[string]types.AttributeValue{":from": ds.S(string(from))}
	var change types.TransactWriteItem
	members := 0
	if to == "" {
		members = -1
		change.Delete = &types.Delete{TableName: &s.table, Key: memberKey(ws, acc), ConditionExpression: aws.String("#role = :from"),
			ExpressionAttributeNames: map[string]string{"#role": "role"}, ExpressionAttributeValues: cond}
	} else {
		cond[":to"] = ds.S(string(to))
		change.Update = &types.Update{TableName: &s.table, Key: memberKey(ws, acc), UpdateExpression: aws.String("SET #role = :to"),
			ConditionExpression: aws.String("#role = :from"), ExpressionAttributeNames: map[string]string{"#role": "role"}, ExpressionAttributeValues: cond}
	}
	owners := ownerDelta(to) - ownerDelta(from)
	items := []types.TransactWriteItem{change, s.AuditPut(audit)}
	if members != 0 || owners != 0 {
		items = append(items, s.countMembers(ws, members, owners))
	}
	err := s.transact(ctx, items...)
	reasons := ds.CancellationReasons(err)
	switch {
	case len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed":
		return apperr.New(apperr.ResourceLockedConflict, "the member changed meanwhile; retry")
	case len(reasons) > 2 && reasons[2] == "ConditionalCheckFailed":
		return apperr.New(apperr.ReferenceConstraint, "a workspace keeps at least one owner: make another member owner first")
	}
	return err
}

// ListMembers returns one page of a workspace's members: one Query of the
// memberships, then one BatchGetItem of their accounts (for the emails).
func (s *Store) ListMembers(ctx context.Context, ws, token string) ([]Member, string, error) {
	kc := expression.Key(ds.PK).Equal(expression.Value("WS#" + ws)).And(expression.Key(ds.SK).BeginsWith("MEMBER#"))
	expr, _ := expression.NewBuilder().WithKeyCondition(kc).Build()
	page, err := ds.QueryPage(ctx, s.db, s.pages, "members|"+ws, token, ds.DefaultPageSize, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil || len(page.Items) == 0 {
		return []Member{}, page.NextToken, err
	}
	keys := make([]map[string]types.AttributeValue, len(page.Items))
	for i, it := range page.Items {
		keys[i] = accountKey(ds.String(it, "accountId"))
	}
	accounts, err := s.batchGet(ctx, keys...)
	if err != nil {
		return nil, "", err
	}
	out := make([]Member, 0, len(page.Items))
	for i, it := range page.Items {
		m := Member{ID: ds.String(it, "accountId"), CreatedAt: ds.String(it, "createdAt"), Role: ds.String(it, "role")}
		m.UserID = UserUUID(m.ID)
		if accounts[i] != nil {
			m.Email, m.DisplayName, m.ProfilePicture = ds.String(accounts[i], "email"), ds.String(accounts[i], "displayName"), ds.String(accounts[i], "profilePicture")
		}
		out = append(out, m)
	}
	return out, page.NextToken, nil
}

// IssueInvitation stores a new invitation code (by its hash) for a pending
// account that is a member of ws, replacing any earlier code, with its
// audit record: one TransactWriteItems after one BatchGetItem.
func (s *Store) IssueInvitation(ctx context.Context, ws, acc, hash string, expires time.Time, audit AuditRecord) error {
	items, err := s.batchGet(ctx, memberKey(ws, acc), accountKey(acc))
	if err != nil {
		return err
	}
	if items[0] == nil || items[1] == nil {
		return apperr.NotFound("workspace member", acc)
	}
	if _, pending := items[1]["pending"]; !pending {
		return apperr.New(apperr.RelationConflict, "this member's account is active: they create their own tokens")
	}
	invite := withAttr(invitationKey(hash), "accountId", acc)
	invite["expiresAt"] = num(int(expires.Unix()))
	err = s.transact(ctx,
		types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: invite, ConditionExpression: notExists()}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: accountKey(acc),
			UpdateExpression: aws.String("SET inviteHash = :h"), ConditionExpression: aws.String("attribute_exists(pending)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": ds.S(hash)}}},
		s.AuditPut(audit),
	)
	if reasons := ds.CancellationReasons(err); len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed" {
		return apperr.New(apperr.RelationConflict, "this member's account is active: they create their own tokens")
	}
	return err
}

// AcceptInvitation exchanges an unexpired invitation code (by its hash)
// for the account's first token: one GetItem, then one transaction that
// deletes the invitation, activates the account (only with its latest
// code) and stores the token, so a code works once.
func (s *Store) AcceptInvitation(ctx context.Context, hash string, now time.Time, tokenHash string, p PAT) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: invitationKey(hash), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	// TTL deletes lazily: an expired item may still be read.
	if out.Item == nil || number(out.Item, "expiresAt") <= float64(now.Unix()) {
		return "", invalidInvitation()
	}
	acc := ds.String(out.Item, "accountId")
	tok := ds.Item(p, keysOf(tokenKey(tokenHash)))
	tok["accountId"], tok[ds.GSI1PK], tok[ds.GSI1SK] = ds.S(acc), ds.S("ACC#"+acc+"#PATS"), ds.S(p.ID)
	err = s.transact(ctx,
		types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: invitationKey(hash),
			ConditionExpression:       aws.String("attribute_exists(pk) AND expiresAt > :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(int(now.Unix()))}}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: accountKey(acc),
			UpdateExpression: aws.String("REMOVE pending, inviteHash"), ConditionExpression: aws.String("inviteHash = :h"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": ds.S(hash)}}},
		types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: tok, ConditionExpression: notExists()}},
	)
	if reasons := ds.CancellationReasons(err); len(reasons) > 1 && (reasons[0] == "ConditionalCheckFailed" || reasons[1] == "ConditionalCheckFailed") {
		return "", invalidInvitation()
	}
	return acc, err
}

func invalidInvitation() error {
	return apperr.New(apperr.Unauthorized, "the invitation code is invalid, used, replaced or expired")
}

// --- handlers ---

// mayGrant keeps the owner role in owners' hands.
func mayGrant(caller auth.Role, roles ...auth.Role) error {
	for _, r := range roles {
		if r == auth.Owner && caller != auth.Owner {
			return apperr.New(apperr.Forbidden, "only an owner can grant, change or remove the owner role")
		}
	}
	return nil
}

func (a *API) listMembers(r *http.Request) (httpapi.Response, error) {
	members, next, err := a.store.ListMembers(r.Context(), auth.FromContext(r.Context()).WorkspaceID, httpapi.QueryOf(r).String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("members", members, next)), nil
}

func (a *API) getMemberMe(r *http.Request) (httpapi.Response, error) {
	p := auth.FromContext(r.Context())
	items, err := a.store.batchGet(r.Context(), memberKey(p.WorkspaceID, p.AccountID), accountKey(p.AccountID))
	if err != nil {
		return httpapi.Response{}, err
	}
	if items[0] == nil || items[1] == nil {
		return httpapi.Response{}, apperr.NotFound("workspace member", p.AccountID)
	}
	m := Member{ID: p.AccountID, UserID: UserUUID(p.AccountID), Email: ds.String(items[1], "email"), CreatedAt: ds.String(items[0], "createdAt"),
		Role: ds.String(items[0], "role"), DisplayName: ds.String(items[1], "displayName"), ProfilePicture: ds.String(items[1], "profilePicture")}
	return httpapi.OK(m), nil
}

func (a *API) createMember(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Email *string `json:"email"`
		Role  *string `json:"role"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Email == nil {
		return httpapi.Response{}, apperr.Invalid("email is required")
	}
	addr, err := mail.ParseAddress(*in.Email)
	if err != nil || addr.Address != *in.Email || len(*in.Email) > 254 {
		return httpapi.Response{}, apperr.Invalid("email must be an email address")
	}
	if in.Role == nil || !auth.Role(*in.Role).Valid() {
		return httpapi.Response{}, apperr.Invalid("role must be one of owner, administrator, manager, developer, viewer, billing")
	}
	role, email := auth.Role(*in.Role), strings.ToLower(*in.Email)
	p := auth.FromContext(r.Context())
	if err := mayGrant(p.Role, role); err != nil {
		return httpapi.Response{}, err
	}
	acc, err := a.store.AccountIDByEmail(r.Context(), email)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := a.clock.Now()
	m := NewMember{Workspace: p.WorkspaceID, AccountID: acc, Role: role, CreatedAt: clock.Format(now)}
	if acc == "" {
		m.AccountID = id.NewAt(id.Account, now)
		m.NewAccount = &Account{ID: m.AccountID, Email: email, CreatedAt: clock.Format(now)}
	}
	audit := NewAuditRecord(p.WorkspaceID, p.AccountID, ActionAddMember, m.AccountID, email, now)
	audit.Value = string(role)
	if err := a.store.AddMember(r.Context(), m, audit); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(Member{ID: m.AccountID, UserID: UserUUID(m.AccountID), Email: email, CreatedAt: m.CreatedAt, Role: string(role)}), nil
}

// createInvitation issues a one-time code for a member added without an
// account and emails it to them, so the inviter never holds what yields
// their token; it replaces any earlier code. Without a mail sender (local
// development) the code is answered instead.
func (a *API) createInvitation(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	now := a.clock.Now()
	code, expires := invitationCode(), now.Add(InvitationTTL)
	audit := NewAuditRecord(p.WorkspaceID, p.AccountID, ActionInviteMember, r.PathValue("id"), "", now)
	if err := a.store.IssueInvitation(r.Context(), p.WorkspaceID, r.PathValue("id"), auth.HashToken(code), expires, audit); err != nil {
		return httpapi.Response{}, err
	}
	if a.store.opts.Mail == nil {
		return httpapi.OK(map[string]any{"invitation": map[string]any{"code": code, "expiresAt": clock.Format(expires)}}), nil
	}
	acc, err := a.store.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := a.store.opts.Mail.SendInvitation(r.Context(), acc.Email, code, expires); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"invitation": map[string]any{"sentTo": acc.Email, "expiresAt": clock.Format(expires)}}), nil
}

func invitationCode() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "bp_inv_" + base64.RawURLEncoding.EncodeToString(b)
}

func (a *API) updateMember(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Role *string `json:"role"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Role != nil && !auth.Role(*in.Role).Valid() {
		return httpapi.Response{}, apperr.Invalid("role must be one of owner, administrator, manager, developer, viewer, billing")
	}
	p := auth.FromContext(r.Context())
	m, err := a.store.memberRecord(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if in.Role == nil || *in.Role == m.Role {
		return a.memberAnswer(r, m)
	}
	if err := mayGrant(p.Role, auth.Role(m.Role), auth.Role(*in.Role)); err != nil {
		return httpapi.Response{}, err
	}
	audit := NewAuditRecord(p.WorkspaceID, p.AccountID, ActionUpdateMember, m.ID, "", a.clock.Now())
	audit.Value = m.Role + " → " + *in.Role
	if err := a.store.ChangeMember(r.Context(), p.WorkspaceID, m.ID, auth.Role(m.Role), auth.Role(*in.Role), audit); err != nil {
		return httpapi.Response{}, err
	}
	m.Role = *in.Role
	return a.memberAnswer(r, m)
}

// memberAnswer adds the account's email to a member read from its
// membership (one GetItem).
func (a *API) memberAnswer(r *http.Request, m Member) (httpapi.Response, error) {
	acc, err := a.store.Account(r.Context(), m.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	m.Email, m.DisplayName, m.ProfilePicture = acc.Email, acc.DisplayName, acc.ProfilePicture
	return httpapi.OK(m), nil
}

func (a *API) deleteMember(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	m, err := a.store.memberRecord(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := mayGrant(p.Role, auth.Role(m.Role)); err != nil {
		return httpapi.Response{}, err
	}
	audit := NewAuditRecord(p.WorkspaceID, p.AccountID, ActionRemoveMember, m.ID, "", a.clock.Now())
	audit.Value = m.Role
	if err := a.store.ChangeMember(r.Context(), p.WorkspaceID, m.ID, auth.Role(m.Role), "", audit); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

// acceptInvitation exchanges an invitation code for the invited account's
// first personal access token. It needs no bearer token: the code is the
// credential, and the value is shown to its holder only.
func (a *API) acceptInvitation(r *http.Request) (httpapi.Response, error) {
	var in struct {
		Code *string `json:"code"`
		Note *string `json:"note"`
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.Code == nil || *in.Code == "" {
		return httpapi.Response{}, apperr.Invalid("code is required")
	}
	note := "first token (invitation)"
	if in.Note != nil {
		if len(*in.Note) > 200 {
			return httpapi.Response{}, apperr.Invalid("note must be at most 200 characters")
		}
		note = *in.Note
	}
	now := a.clock.Now()
	pat := PAT{ID: id.NewAt(id.PAT, now), CreatedAt: clock.Format(now), Note: note, Value: auth.NewTokenValue()}
	stored := pat
	stored.Value = ""
	if _, err := a.store.AcceptInvitation(r.Context(), auth.HashToken(*in.Code), now, auth.HashToken(pat.Value), stored); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"pat": pat}), nil
}
