package admin

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
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
)

// --- store ---

// Workspace returns a workspace by id (the caller's membership was checked
// by authentication).
func (s *Store) Workspace(ctx context.Context, id string) (Workspace, error) {
	var w Workspace
	err := s.get(ctx, workspaceKey(id), &w, "workspace", id)
	w.normalize()
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
	for _, a := range audits {
		items = append(items, s.AuditPut(a))
	}
	err = s.transact(ctx, items...)
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
	}}, s.AuditPut(audit)}
	for _, k := range members {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: k}})
	}
	err = s.transact(ctx, items...)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.New(apperr.ReferenceConstraint, "workspace %q still has bots: delete or transfer them first", ws)
	}
	return err
}

// --- handlers ---

var handlePattern = regexp.MustCompile(`^[0-9a-z][a-z0-9-_]+[0-9a-z]$`)

type workspaceUpdate struct {
	Name           *string  `json:"name"`
	SpendingLimit  *float64 `json:"spendingLimit"`
	About          *string  `json:"about"`
	ProfilePicture *string  `json:"profilePicture"`
	ContactEmail   *string  `json:"contactEmail"`
	Website        *string  `json:"website"`
	SocialAccounts []string `json:"socialAccounts"`
	IsPublic       *bool    `json:"isPublic"`
	Handle         *string  `json:"handle"`
}

func (u workspaceUpdate) validate() error {
	if u.Name != nil && (strings.TrimSpace(*u.Name) == "" || len(*u.Name) > 64) {
		return apperr.Invalid("name must be 1 to 64 characters")
	}
	if u.SpendingLimit != nil && (*u.SpendingLimit < 5 || *u.SpendingLimit > 1000) {
		return apperr.Invalid("spendingLimit must be from 5 to 1000")
	}
	if u.Handle != nil && (len(*u.Handle) > 64 || !handlePattern.MatchString(*u.Handle)) {
		return apperr.Invalid("handle must be 3 to 64 lowercase letters, digits, - or _, starting and ending with a letter or digit")
	}
	return nil
}

func (a *API) updateWorkspace(r *http.Request) (httpapi.Response, error) {
	var in workspaceUpdate
	if err := httpapi.Decode(r, &in); err != nil {
		return httpapi.Response{}, err
	}
	if err := in.validate(); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	var err error
	for attempt := 0; attempt < updateRetries; attempt++ {
		var w Workspace
		if w, err = a.store.Workspace(r.Context(), p.WorkspaceID); err != nil {
			return httpapi.Response{}, err
		}
		prev, now := w.UpdatedAt, a.clock.Now()
		if clock.Format(now) <= prev {
			now = now.Add(time.Millisecond)
		}
		audits := []AuditRecord{}
		if in.SpendingLimit != nil && *in.SpendingLimit != w.SpendingLimit {
			rec := NewAuditRecord(w.ID, p.AccountID, ActionSpendingLimit, w.ID, w.Name, now)
			rec.Value = strconv.FormatFloat(*in.SpendingLimit, 'f', -1, 64)
			audits = append(audits, rec)
			w.SpendingLimit = *in.SpendingLimit
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&w.Name, in.Name)
		set(&w.About, in.About)
		set(&w.ProfilePicture, in.ProfilePicture)
		set(&w.ContactEmail, in.ContactEmail)
		set(&w.Website, in.Website)
		set(&w.Handle, in.Handle)
		if in.SocialAccounts != nil {
			w.SocialAccounts = in.SocialAccounts
		}
		if in.IsPublic != nil {
			w.IsPublic = *in.IsPublic
		}
		w.UpdatedAt = clock.Format(now)
		audits = append(audits, NewAuditRecord(w.ID, p.AccountID, ActionUpdateWorkspace, w.ID, w.Name, now))
		if err = a.store.ReplaceWorkspace(r.Context(), w, prev, audits...); err == nil {
			return httpapi.OK(w), nil
		}
		if !apperr.Is(err, apperr.ResourceLockedConflict) {
			break
		}
	}
	return httpapi.Response{}, err
}

func (a *API) deleteWorkspace(r *http.Request) (httpapi.Response, error) {
	if err := httpapi.Decode(r, &struct{}{}); err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	audit := NewAuditRecord(p.WorkspaceID, p.AccountID, ActionCloseWorkspace, p.WorkspaceID, "", a.clock.Now())
	if err := a.store.DeleteWorkspace(r.Context(), p.WorkspaceID, audit); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(struct{}{}), nil
}

func (a *API) getAuditRecords(r *http.Request) (httpapi.Response, error) {
	records, next, err := a.store.ListAudit(r.Context(), auth.FromContext(r.Context()).WorkspaceID, httpapi.QueryOf(r).String("nextToken"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(httpapi.List("records", records, next)), nil
}

// usageQuery reads the type and period parameters.
func (a *API) usageQuery(r *http.Request, typeRequired bool) (string, string, error) {
	q := httpapi.QueryOf(r)
	t := q.String("type")
	if t == "" && typeRequired {
		return "", "", apperr.New(apperr.InvalidQuery, "query parameter \"type\" is required")
	}
	if t != "" {
		if err := validUsageType(t); err != nil {
			return "", "", err
		}
	}
	period := q.String("period")
	if period == "" {
		period = Period(a.clock.Now())
	} else if err := validPeriod(period); err != nil {
		return "", "", err
	}
	return t, period, nil
}

func (a *API) getUsage(r *http.Request) (httpapi.Response, error) {
	t, period, err := a.usageQuery(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	p := auth.FromContext(r.Context())
	u, err := a.store.Usage(r.Context(), p.WorkspaceID, r.PathValue("id"), t, period)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"usage": u}), nil
}

// usageAuth authenticates /usages/{id}: the id is a bot's or a workspace's.
func (a *API) usageAuth(next httpapi.Handler) httpapi.Handler {
	ws := a.auth.Require(auth.WorkspacePath, auth.UsageRead)(next)
	bot := a.auth.Require(auth.BotPath, auth.UsageRead)(next)
	return func(r *http.Request) (httpapi.Response, error) {
		if strings.HasPrefix(r.PathValue("id"), "bot_") {
			return bot(r)
		}
		return ws(r)
	}
}

func (a *API) listWorkspaceUsages(r *http.Request) (httpapi.Response, error) {
	t, period, err := a.usageQuery(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	ws := auth.FromContext(r.Context()).WorkspaceID
	u, err := a.store.Usage(r.Context(), ws, ws, t, period)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"usages": []Usage{u}}), nil
}

func (a *API) getWorkspaceQuota(r *http.Request) (httpapi.Response, error) {
	t, period, err := a.usageQuery(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	w, err := a.store.Workspace(r.Context(), auth.FromContext(r.Context()).WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"quota": QuotaAnswer{Period: period, Type: t, Value: Quota(w.Plan, t)}}), nil
}

func (a *API) listWorkspaceQuotas(r *http.Request) (httpapi.Response, error) {
	_, period, err := a.usageQuery(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	w, err := a.store.Workspace(r.Context(), auth.FromContext(r.Context()).WorkspaceID)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]QuotaAnswer, 0, len(UsageTypes))
	for _, t := range UsageTypes {
		out = append(out, QuotaAnswer{Period: period, Type: t, Value: Quota(w.Plan, t)})
	}
	return httpapi.OK(map[string]any{"quotas": out}), nil
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
