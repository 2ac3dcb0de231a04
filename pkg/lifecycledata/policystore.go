// Package policy implements ChatBotKit-style retention policies: the
// /api/v1/policy/* API (create, list, fetch, update, delete, runs, preview)
// and their store. Enforcement, at each off-peak window, is pkg/retention.
package lifecycledata

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// PolicyTypeRetention is the only policy type there is.
const PolicyTypeRetention = "retention"

// Policy is a policy as stored and answered.
type Policy struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Type        string         `json:"type"`
	BlueprintID *string        `json:"blueprintId"`
	Config      PolicyConfig   `json:"config"`
	Meta        map[string]any `json:"meta"`
	CreatedAt   string         `json:"createdAt"`
	UpdatedAt   string         `json:"updatedAt"`
	WorkspaceID string         `json:"-"`
}

// PolicyStore keeps policies in the lifecycle table:
//
//	policy  WS#<workspace>  POLICY#<policy>  gsi1 (every policy, for the window): POLICIES / <policy>
//
// Policy ids are ULIDs, so a workspace's partition lists them by creation.
// Every change carries its audit record (a transaction item the caller
// makes through its audit trail) in the same TransactWriteItems.
type PolicyStore struct {
	db    ds.Client
	table string
	pages *cursor.Codec
}

func NewPolicyStore(db ds.Client, table string, pages *cursor.Codec) *PolicyStore {
	return &PolicyStore{db: db, table: table, pages: pages}
}

// IndexKey is the sparse index partition holding every policy.
const IndexKey = PoliciesIndex

// PolicyKey is a policy's primary key.

func policyItem(p Policy) map[string]types.AttributeValue {
	it := ds.Item(p, map[string]string{ds.PK: PolicyPK(p.WorkspaceID), ds.SK: PolicySKPrefix + p.ID, ds.GSI1PK: IndexKey, ds.GSI1SK: p.ID})
	it["workspaceId"] = ds.S(p.WorkspaceID)
	return it
}

// ReadPolicy decodes a stored policy.
func ReadPolicy(it map[string]types.AttributeValue) (Policy, error) {
	var p Policy
	if err := ds.Unmarshal(it, &p); err != nil {
		return p, err
	}
	p.WorkspaceID = ds.String(it, "workspaceId")
	p.Config.Scope = p.Config.Scope.normalized()
	if p.Meta == nil {
		p.Meta = map[string]any{}
	}
	return p, nil
}

// Create stores a new policy with its audit record: one TransactWriteItems.
func (s *PolicyStore) Create(ctx context.Context, p Policy, commit audit.Commit) error {
	return commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: policyItem(p), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	})
}

// Get returns a workspace's policy: one GetItem. Another workspace's
// policy is missing.
func (s *PolicyStore) Get(ctx context.Context, ws, id string) (Policy, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: PolicyKey(ws, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Policy{}, err
	}
	if out.Item == nil {
		return Policy{}, apperr.NotFound("policy", id)
	}
	return ReadPolicy(out.Item)
}

// PolicyChange is an incremental update: nil fields keep their values.
type PolicyChange struct {
	Name, Description *string
	BlueprintID       **string
	Config            *PolicyConfig
	Meta              *map[string]any
	UpdatedAt         string
}

// Update applies a change with its audit record: one TransactWriteItems,
// conditioned on the policy existing in the workspace.
func (s *PolicyStore) Update(ctx context.Context, ws, id string, c PolicyChange, commit audit.Commit) error {
	ub := expression.Set(expression.Name("updatedAt"), expression.Value(c.UpdatedAt))
	if c.Name != nil {
		ub = ub.Set(expression.Name("name"), expression.Value(*c.Name))
	}
	if c.Description != nil {
		ub = ub.Set(expression.Name("description"), expression.Value(*c.Description))
	}
	if c.BlueprintID != nil {
		ub = ub.Set(expression.Name("blueprintId"), expression.Value(ds.Value(*c.BlueprintID)))
	}
	if c.Config != nil {
		ub = ub.Set(expression.Name("config"), expression.Value(ds.Value(*c.Config)))
	}
	if c.Meta != nil {
		ub = ub.Set(expression.Name("meta"), expression.Value(ds.Value(*c.Meta)))
	}
	expr, err := expression.NewBuilder().WithUpdate(ub).WithCondition(expression.AttributeExists(expression.Name(ds.PK))).Build()
	if err != nil {
		return err
	}
	return s.changeOne(ctx, id, types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: PolicyKey(ws, id), UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}, commit)
}

// Delete removes a policy with its audit record: one TransactWriteItems.
// Its runs stay readable; a run in progress stops at its next chunk.
func (s *PolicyStore) Delete(ctx context.Context, ws, id string, commit audit.Commit) error {
	return s.changeOne(ctx, id, types.TransactWriteItem{Delete: &types.Delete{
		TableName: &s.table, Key: PolicyKey(ws, id), ConditionExpression: aws.String("attribute_exists(pk)"),
	}}, commit)
}

func (s *PolicyStore) changeOne(ctx context.Context, id string, change types.TransactWriteItem, commit audit.Commit) error {
	err := commit(ctx, []types.TransactWriteItem{change})
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.NotFound("policy", id)
	}
	return err
}

// PolicyFilter narrows a list.
type PolicyFilter struct {
	Order       string // asc | desc
	Type        string
	BlueprintID string
	Meta        map[string]string
}

func (f PolicyFilter) policyScope(ws string) string {
	keys := make([]string, 0, len(f.Meta))
	for k := range f.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "policies|%s|%s|%s|%s", ws, f.Order, f.Type, f.BlueprintID)
	for _, k := range keys {
		fmt.Fprintf(&b, "|%q=%q", k, f.Meta[k])
	}
	return b.String()
}

// List returns one page of a workspace's policies: one Query of its
// partition, filters applied within the page (so a filtered page may be
// short while a cursor remains).
func (s *PolicyStore) List(ctx context.Context, ws string, f PolicyFilter, token string, take int) ([]Policy, string, error) {
	b := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(PolicyPK(ws))).And(expression.Key(ds.SK).BeginsWith(PolicySKPrefix)))
	var conds []expression.ConditionBuilder
	if f.Type != "" {
		conds = append(conds, expression.Name("type").Equal(expression.Value(f.Type)))
	}
	if f.BlueprintID != "" {
		conds = append(conds, expression.Name("blueprintId").Equal(expression.Value(f.BlueprintID)))
	}
	for k, v := range f.Meta {
		conds = append(conds, policyMetaCondition(k, v))
	}
	switch len(conds) {
	case 0:
	case 1:
		b = b.WithFilter(conds[0])
	default:
		b = b.WithFilter(expression.And(conds[0], conds[1], conds[2:]...))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	page, err := ds.QueryPage(ctx, s.db, s.pages, f.policyScope(ws), token, take, &dynamodb.QueryInput{
		TableName: &s.table, ScanIndexForward: aws.Bool(f.Order == "asc"),
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		if apperr.Is(err, apperr.InvalidQuery) {
			return nil, "", apperr.New(apperr.InvalidQuery, "cursor is invalid, or belongs to another list or other filters")
		}
		return nil, "", err
	}
	out := make([]Policy, 0, len(page.Items))
	for _, it := range page.Items {
		p, err := ReadPolicy(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p)
	}
	return out, page.NextToken, nil
}

// policyMetaCondition matches a meta field given as a query string: equal as a
// string, or as the number or boolean the string spells.
func policyMetaCondition(k, v string) expression.ConditionBuilder {
	name := expression.Name("meta").AppendName(expression.Name(k))
	c := name.Equal(expression.Value(v))
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		c = c.Or(name.Equal(expression.Value(n)))
	}
	if bv, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		c = c.Or(name.Equal(expression.Value(bv)))
	}
	return c
}

// All returns every policy of every workspace: Queries of the sparse
// policy index, page by page (never a scan of the table).
func (s *PolicyStore) All(ctx context.Context) ([]Policy, error) {
	return s.query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1),
		KeyConditionExpression:    aws.String("#pk = :p"),
		ExpressionAttributeNames:  map[string]string{"#pk": ds.GSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(IndexKey)},
	})
}

// OfWorkspace returns every policy of a workspace: Queries of its partition.
func (s *PolicyStore) OfWorkspace(ctx context.Context, ws string) ([]Policy, error) {
	return s.query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :p AND begins_with(#sk, :s)"),
		ExpressionAttributeNames:  map[string]string{"#pk": ds.PK, "#sk": ds.SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(PolicyPK(ws)), ":s": ds.S(PolicySKPrefix)},
	})
}

func (s *PolicyStore) query(ctx context.Context, in *dynamodb.QueryInput) ([]Policy, error) {
	pages := dynamodb.NewQueryPaginator(s.db, in)
	var out []Policy
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			p, err := ReadPolicy(it)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// Exists reports whether a workspace's policy exists: one GetItem of its key.
func (s *PolicyStore) Exists(ctx context.Context, ws, id string) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: PolicyKey(ws, id), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#pk"), ExpressionAttributeNames: map[string]string{"#pk": ds.PK}})
	if err != nil {
		return false, err
	}
	return out.Item != nil, nil
}
