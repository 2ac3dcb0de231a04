package admindata

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
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
	}
	if a := m.NewAccount; a != nil {
		claim := withAttr(emailKey(a.Email), "accountId", a.ID)
		acc := ds.Item(*a, keysOf(accountKey(a.ID)))
		acc["pending"] = &types.AttributeValueMemberBOOL{Value: true}
		// The workspace that created the account, and how many it belongs
		// to: without a mail transport, only its creator may hold its
		// invitation code, and only while no other workspace has it.
		acc["invitedBy"], acc["memberships"] = ds.S(m.Workspace), num(1)
		items = append(items,
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: acc, ConditionExpression: notExists()}},
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: claim, ConditionExpression: notExists()}},
		)
	} else {
		items = append(items, s.countMemberships(m.AccountID, 1))
	}
	err := s.Commit(ctx, items, audit)
	reasons := ds.CancellationReasons(err)
	switch {
	case len(reasons) > 1 && reasons[0] == "ConditionalCheckFailed":
		return apperr.New(apperr.AlreadyExists, "this account is already a member of the workspace")
	case len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed":
		return apperr.New(apperr.QuotaExceeded, "the workspace has reached its plan's quota of members")
	case m.NewAccount != nil && len(reasons) > 3 && reasons[3] == "ConditionalCheckFailed":
		return apperr.New(apperr.AlreadyExists, "an account with this email was created meanwhile; retry")
	}
	return err
}

// countMemberships changes how many workspaces an account belongs to.
func (s *Store) countMemberships(acc string, delta int) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: accountKey(acc),
		UpdateExpression: aws.String("ADD memberships :d"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(delta)}}}
}

// Member reads a membership (the member without its account's fields).
func (s *Store) Member(ctx context.Context, ws, acc string) (Member, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: memberKey(ws, acc), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Member{}, err
	}
	if out.Item == nil {
		return Member{}, apperr.NotFound("workspace member", acc)
	}
	return Member{ID: acc, UserID: audit.UserUUID(acc), CreatedAt: ds.String(out.Item, "createdAt"), Role: ds.String(out.Item, "role")}, nil
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
	items := []types.TransactWriteItem{change}
	counted := members != 0 || owners != 0
	if counted {
		items = append(items, s.countMembers(ws, members, owners))
	}
	if members != 0 {
		items = append(items, s.countMemberships(acc, members))
	}
	err := s.Commit(ctx, items, audit)
	reasons := ds.CancellationReasons(err)
	switch {
	case len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed":
		return apperr.New(apperr.ResourceLockedConflict, "the member changed meanwhile; retry")
	case counted && len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed":
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
		m.UserID = audit.UserUUID(m.ID)
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
//
// toInviter says the code will be answered to the inviter (no mail
// transport): then ws must be the workspace that created the account and
// the account may belong to no other workspace, now (checked in the
// transaction) and when the code is accepted; so no workspace ever gets a
// path to the token of an account another workspace has invited.
func (s *Store) IssueInvitation(ctx context.Context, ws, acc, hash string, expires time.Time, audit AuditRecord, toInviter bool) error {
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
	onlyHere := func() error {
		return apperr.New(apperr.RelationConflict, "without a mail transport (SES_SENDER) an invitation code is answered only to the workspace that "+
			"created the account, and only while it belongs to no other workspace: configure SES_SENDER to email it to the member")
	}
	account := &types.Update{TableName: &s.table, Key: accountKey(acc),
		UpdateExpression: aws.String("SET inviteHash = :h REMOVE inviteToInviter"), ConditionExpression: aws.String("attribute_exists(pending)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": ds.S(hash)}}
	if toInviter {
		if ds.String(items[1], "invitedBy") != ws || number(items[1], "memberships") != 1 {
			return onlyHere()
		}
		account.UpdateExpression = aws.String("SET inviteHash = :h, inviteToInviter = :t")
		account.ConditionExpression = aws.String("attribute_exists(pending) AND invitedBy = :ws AND memberships = :one")
		account.ExpressionAttributeValues[":t"] = &types.AttributeValueMemberBOOL{Value: true}
		account.ExpressionAttributeValues[":ws"], account.ExpressionAttributeValues[":one"] = ds.S(ws), num(1)
	}
	invite := withAttr(invitationKey(hash), "accountId", acc)
	invite["expiresAt"] = num(int(expires.Unix()))
	err = s.Commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: invite, ConditionExpression: notExists()}},
		{Update: account},
	}, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed" {
		if toInviter {
			return onlyHere()
		}
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
			UpdateExpression: aws.String("REMOVE pending, inviteHash, inviteToInviter"),
			// A code answered to its inviter works only while the account
			// still belongs to that one workspace.
			ConditionExpression:       aws.String("inviteHash = :h AND (attribute_not_exists(inviteToInviter) OR memberships = :one)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": ds.S(hash), ":one": num(1)}}},
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

// MemberAndAccount reads a membership and its account in one BatchGetItem.
func (s *Store) MemberAndAccount(ctx context.Context, ws, acc string) (Member, error) {
	items, err := s.batchGet(ctx, memberKey(ws, acc), accountKey(acc))
	if err != nil {
		return Member{}, err
	}
	if items[0] == nil || items[1] == nil {
		return Member{}, apperr.NotFound("workspace member", acc)
	}
	return Member{ID: acc, UserID: audit.UserUUID(acc), Email: ds.String(items[1], "email"), CreatedAt: ds.String(items[0], "createdAt"),
		Role: ds.String(items[0], "role"), DisplayName: ds.String(items[1], "displayName"), ProfilePicture: ds.String(items[1], "profilePicture")}, nil
}
