package admindata

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// --- store ---

// Workspace returns a workspace by id (the caller's membership was checked
// by authentication).
func (s *Store) Workspace(ctx context.Context, id string) (Workspace, error) {
	var w Workspace
	err := s.get(ctx, workspaceKey(id), &w, "workspace", id)
	w.Normalize()
	return w, err
}

// ReplaceWorkspace writes an updated workspace read at prevUpdatedAt, with
// its audit records, in one transaction. Counters are left alone (SET of
// the changed fields only), so concurrent bot and member changes stay
// exact.
func (s *Store) ReplaceWorkspace(ctx context.Context, w Workspace, prevUpdatedAt string, audits ...AuditRecord) error {
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(w.UpdatedAt))
	for name, v := range map[string]any{"name": w.Name, "spendingLimit": w.SpendingLimit, "about": w.About,
		"profilePicture": w.ProfilePicture, "contactEmail": w.ContactEmail, "website": w.Website,
		"socialAccounts": w.SocialAccounts, "isPublic": w.IsPublic, "handle": w.Handle} {
		upd = upd.Set(expression.Name(name), expression.Value(v))
	}
	cond := expression.Name("updatedAt").Equal(expression.Value(prevUpdatedAt))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: &s.table, Key: workspaceKey(w.ID), UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}}
	err = s.Commit(ctx, items, audits...)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.New(apperr.ResourceLockedConflict, "workspace %q changed during the update; retry", w.ID)
	}
	return err
}

// DeleteWorkspace deletes a workspace that has no bots left, with its
// memberships, in one transaction after one Query of the members (the
// member quota keeps them within a transaction). The audit record is kept.
func (s *Store) DeleteWorkspace(ctx context.Context, ws string, audit AuditRecord) error {
	members, err := s.memberKeys(ctx, ws)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Delete: &types.Delete{
		TableName: &s.table, Key: workspaceKey(ws),
		ConditionExpression:       aws.String("attribute_exists(pk) AND (attribute_not_exists(botCount) OR botCount = :zero)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0)},
	}}}
	for _, k := range members {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: k}})
	}
	err = s.Commit(ctx, items, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.New(apperr.ReferenceConstraint, "workspace %q still has bots: delete or transfer them first", ws)
	}
	return err
}

// memberKeys lists the keys of a workspace's memberships: one Query.
func (s *Store) memberKeys(ctx context.Context, ws string) ([]map[string]types.AttributeValue, error) {
	kc := expression.Key(ds.PK).Equal(expression.Value("WS#" + ws)).And(expression.Key(ds.SK).BeginsWith("MEMBER#"))
	expr, _ := expression.NewBuilder().WithKeyCondition(kc).WithProjection(expression.NamesList(expression.Name(ds.PK), expression.Name(ds.SK))).Build()
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: expr.KeyCondition(),
		ProjectionExpression: expr.Projection(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, len(out.Items))
	for i, it := range out.Items {
		keys[i] = ds.Key(ds.String(it, ds.PK), ds.String(it, ds.SK))
	}
	return keys, nil
}

// ChangePlan sets a workspace's plan, with its audit records, while its
// updatedAt is still prevUpdatedAt and its live counts (bots, members) are
// within the new plan's quotas: a bot or member added since the caller
// checked the usage makes it a ResourceLockedConflict to retry.
func (s *Store) ChangePlan(ctx context.Context, ws, plan, updatedAt, prevUpdatedAt string, audits ...AuditRecord) error {
	values := map[string]types.AttributeValue{":plan": ds.S(plan), ":u": ds.S(updatedAt), ":prev": ds.S(prevUpdatedAt)}
	cond := "updatedAt = :prev"
	for t, attr := range counterAttr {
		k := ":q_" + attr
		values[k] = num(int(Quota(plan, t)))
		cond += fmt.Sprintf(" AND (attribute_not_exists(%s) OR %s <= %s)", attr, attr, k)
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: &s.table, Key: workspaceKey(ws), UpdateExpression: aws.String("SET #plan = :plan, updatedAt = :u"),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: map[string]string{"#plan": "plan"},
		ExpressionAttributeValues: values,
	}}}
	err := s.Commit(ctx, items, audits...)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.New(apperr.ResourceLockedConflict, "workspace %q changed during the plan change; retry", ws)
	}
	return err
}
