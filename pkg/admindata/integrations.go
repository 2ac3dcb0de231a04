package admindata

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/id"
	"golang.org/x/mod/semver"
)

// IntegrationConfiguration is an integration's (default or named)
// configuration schema.
type IntegrationConfiguration struct {
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Identifier  ConfigIdentity `json:"identifier"`
	Schema      map[string]any `json:"schema"`
}

// ConfigIdentity says whether a configuration needs an identifier.
type ConfigIdentity struct {
	LinkTemplateScript string `json:"linkTemplateScript,omitempty"`
	Required           bool   `json:"required"`
}

// Creation says whether, and with which tags, users or conversations are
// created.
type Creation struct {
	Enabled      bool     `json:"enabled"`
	RequiredTags []string `json:"requiredTags"`
}

// MessageDefinition is a message type a channel carries.
type MessageDefinition struct {
	Schema map[string]any `json:"schema"`
}

// Channel is an integration's messaging channel.
type Channel struct {
	Title        string                       `json:"title,omitempty"`
	Description  string                       `json:"description,omitempty"`
	Messages     map[string]MessageDefinition `json:"messages"`
	Conversation struct {
		Tags     map[string]TagDefinition `json:"tags"`
		Creation Creation                 `json:"creation"`
	} `json:"conversation"`
	Message struct {
		Tags map[string]TagDefinition `json:"tags"`
	} `json:"message"`
}

// IntegrationState is a state an integration keeps.
type IntegrationState struct {
	Type   string         `json:"type"`
	Schema map[string]any `json:"schema"`
}

// Entity is a data type an integration defines.
type Entity struct {
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Schema      map[string]any `json:"schema"`
}

// Identifier holds an integration's identifier scripts.
type Identifier struct {
	FallbackHandlerScript string `json:"fallbackHandlerScript,omitempty"`
	ExtractScript         string `json:"extractScript,omitempty"`
}

// Integration is an integration definition at one version.
type Integration struct {
	ID             string                              `json:"id"`
	CreatedAt      string                              `json:"createdAt"`
	UpdatedAt      string                              `json:"updatedAt"`
	Identifier     Identifier                          `json:"identifier"`
	MaxExecution   *int                                `json:"maxExecutionTime,omitempty"`
	URL            string                              `json:"url"`
	Name           string                              `json:"name"`
	Version        string                              `json:"version"`
	Interfaces     map[string]any                      `json:"interfaces"`
	Configuration  IntegrationConfiguration            `json:"configuration"`
	Configurations map[string]IntegrationConfiguration `json:"configurations"`
	Channels       map[string]Channel                  `json:"channels"`
	States         map[string]IntegrationState         `json:"states"`
	Events         map[string]EventDefinition          `json:"events"`
	Actions        map[string]ActionDefinition         `json:"actions"`
	User           struct {
		Tags     map[string]TagDefinition `json:"tags"`
		Creation Creation                 `json:"creation"`
	} `json:"user"`
	Entities           map[string]Entity `json:"entities"`
	Attributes         map[string]string `json:"attributes,omitempty"`
	Dev                bool              `json:"dev"`
	Title              string            `json:"title"`
	Description        string            `json:"description"`
	IconURL            string            `json:"iconUrl"`
	ReadmeURL          string            `json:"readmeUrl"`
	Public             bool              `json:"public"`
	Visibility         string            `json:"visibility"`
	VerificationStatus string            `json:"verificationStatus"`
	LifecycleStatus    string            `json:"lifecycleStatus"`
	Secrets            []string          `json:"secrets"`
	// Answered by the hub only: the publishing workspace (stored while
	// public) and the hub figures.
	OwnerWorkspace *OwnerWorkspace `json:"ownerWorkspace,omitempty"`
	Meta           *HubMeta        `json:"meta,omitempty"`
	// Stored only: the owner, the secrets sealed with AES-GCM, the code's key.
	WorkspaceID  string            `json:"workspaceId,omitempty"`
	SealedSecret map[string]string `json:"sealedSecrets,omitempty"`
	CodeKey      string            `json:"codeKey,omitempty"`
}

func (in *Integration) Normalize() {
	in.Interfaces = orEmpty(in.Interfaces)
	in.Configuration.Schema = orEmpty(in.Configuration.Schema)
	in.Configurations = orEmpty(in.Configurations)
	for k, c := range in.Configurations {
		c.Schema = orEmpty(c.Schema)
		in.Configurations[k] = c
	}
	in.Channels = orEmpty(in.Channels)
	for k, c := range in.Channels {
		c.Messages = orEmpty(c.Messages)
		for m, d := range c.Messages {
			d.Schema = orEmpty(d.Schema)
			c.Messages[m] = d
		}
		c.Conversation.Tags = orEmpty(c.Conversation.Tags)
		if c.Conversation.Creation.RequiredTags == nil {
			c.Conversation.Creation.RequiredTags = []string{}
		}
		c.Message.Tags = orEmpty(c.Message.Tags)
		in.Channels[k] = c
	}
	in.States = orEmpty(in.States)
	in.Events = orEmpty(in.Events)
	for k, e := range in.Events {
		e.Schema = orEmpty(e.Schema)
		in.Events[k] = e
	}
	in.Actions = orEmpty(in.Actions)
	for k, a := range in.Actions {
		a.Input.Schema, a.Output.Schema = orEmpty(a.Input.Schema), orEmpty(a.Output.Schema)
		in.Actions[k] = a
	}
	in.User.Tags = orEmpty(in.User.Tags)
	if in.User.Creation.RequiredTags == nil {
		in.User.Creation.RequiredTags = []string{}
	}
	in.Entities = orEmpty(in.Entities)
	in.Secrets = make([]string, 0, len(in.SealedSecret))
	for k := range in.SealedSecret {
		in.Secrets = append(in.Secrets, k)
	}
	sort.Strings(in.Secrets)
}

// Answer is the integration as the API returns it: secrets by name only.
func (in Integration) Answer() Integration {
	in.Normalize()
	in.WorkspaceID, in.SealedSecret, in.CodeKey = "", nil, ""
	in.OwnerWorkspace, in.Meta = nil, nil
	return in
}

// HubAnswer is a public integration as the hub returns it.
func (in Integration) HubAnswer() Integration {
	owner := in.OwnerWorkspace
	in = in.Answer()
	in.OwnerWorkspace, in.Meta = owner, &HubMeta{}
	if in.OwnerWorkspace == nil {
		in.OwnerWorkspace = &OwnerWorkspace{}
	}
	return in
}

// IntegrationSummary is an integration as listed.
type IntegrationSummary struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	Version            string          `json:"version"`
	CreatedAt          string          `json:"createdAt"`
	UpdatedAt          string          `json:"updatedAt"`
	Title              string          `json:"title"`
	Description        string          `json:"description"`
	IconURL            string          `json:"iconUrl"`
	Public             bool            `json:"public"`
	Visibility         string          `json:"visibility"`
	VerificationStatus string          `json:"verificationStatus"`
	LifecycleStatus    string          `json:"lifecycleStatus"`
	OwnerWorkspace     *OwnerWorkspace `json:"ownerWorkspace,omitempty"`
	Meta               *HubMeta        `json:"meta,omitempty"`
}

// OwnerWorkspace names the workspace that publishes an integration.
type OwnerWorkspace struct {
	ID     string  `json:"id"`
	Handle *string `json:"handle"`
	Name   string  `json:"name"`
}

// HubMeta are a public integration's hub figures.
type HubMeta struct {
	Installs float64 `json:"installs"`
	Views    float64 `json:"views"`
}

func (in Integration) Summary() IntegrationSummary {
	return IntegrationSummary{ID: in.ID, Name: in.Name, Version: in.Version, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
		Title: in.Title, Description: in.Description, IconURL: in.IconURL, Public: in.Public, Visibility: in.Visibility,
		VerificationStatus: in.VerificationStatus, LifecycleStatus: in.LifecycleStatus}
}

func integrationKey(id string) map[string]types.AttributeValue { return ds.Key("INT#"+id, "INT") }
func nameOwnerKey(name string) map[string]types.AttributeValue {
	return ds.Key("INTNAME#"+name, "OWNER")
}
func versionKey(name, version string) map[string]types.AttributeValue {
	return ds.Key("INTNAME#"+name, "V#"+version)
}
func hubKey(id string) map[string]types.AttributeValue { return ds.Key("HUB#INTS", id) }

// --- storage ---

func integrationItem(in Integration) map[string]types.AttributeValue {
	item := ds.Item(in, keysOf(integrationKey(in.ID)))
	item[ds.GSI1PK], item[ds.GSI1SK] = ds.S("WS#"+in.WorkspaceID+"#INTS"), ds.S(in.ID)
	item["gsi2pk"], item["gsi2sk"] = ds.S("INTNAME#"+in.Name), ds.S(in.Version)
	return item
}

func (s *Store) hubPut(in Integration, owner OwnerWorkspace) types.TransactWriteItem {
	sum := in.Summary()
	sum.OwnerWorkspace, sum.Meta = &owner, &HubMeta{}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: ds.Item(sum, keysOf(hubKey(in.ID)))}}
}

// putIntegrationCode stores an integration's code in the code bucket.
func (s *Store) putIntegrationCode(ctx context.Context, in *Integration, code *string) (string, error) {
	if code == nil {
		return "", nil
	}
	if s.opts.Objects == nil {
		return "", errNoBucket
	}
	key := "integrations/" + in.ID + "/code/" + id.ULID(s.now()) + ".js"
	_, err := s.opts.Objects.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.opts.CodeBucket), Key: aws.String(key),
		Body: strings.NewReader(*code), ContentType: aws.String("application/javascript")})
	if err == nil {
		in.CodeKey = key
	}
	return key, err
}

// CreateIntegration stores a new integration version in one transaction:
// the item, the claim of its name for the workspace, the claim of the
// version, the hub entry when public and the audit record.
func (s *Store) CreateIntegration(ctx context.Context, in Integration, code *string, owner *OwnerWorkspace, audit AuditRecord) error {
	key, err := s.putIntegrationCode(ctx, &in, code)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: integrationItem(in), ConditionExpression: notExists()}},
		{Put: &types.Put{TableName: &s.table, Item: withAttr(nameOwnerKey(in.Name), "workspaceId", in.WorkspaceID),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR workspaceId = :ws"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":ws": ds.S(in.WorkspaceID)}}},
		{Put: &types.Put{TableName: &s.table, Item: withAttr(versionKey(in.Name, in.Version), "integrationId", in.ID), ConditionExpression: notExists()}},
	}
	if owner != nil {
		items = append(items, s.hubPut(in, *owner))
	}
	err = s.Commit(ctx, items, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 2 {
		switch {
		case reasons[1] == "ConditionalCheckFailed":
			err = apperr.New(apperr.AlreadyExists, "the integration name %q belongs to another workspace", in.Name)
		case reasons[2] == "ConditionalCheckFailed":
			err = apperr.New(apperr.AlreadyExists, "integration %s version %s already exists", in.Name, in.Version)
		}
	}
	if err != nil && key != "" {
		s.removeObjects(ctx, key)
	}
	return err
}

func withAttr(key map[string]types.AttributeValue, name, value string) map[string]types.AttributeValue {
	key[name] = ds.S(value)
	return key
}

// ReplaceIntegration writes an updated integration read at prevUpdatedAt
// (optimistic, like bots) with its audit record and, when it became
// public, its hub entry.
func (s *Store) ReplaceIntegration(ctx context.Context, in Integration, code *string, prevUpdatedAt string, owner *OwnerWorkspace, audit AuditRecord) error {
	key, err := s.putIntegrationCode(ctx, &in, code)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: integrationItem(in),
			ConditionExpression:       aws.String("updatedAt = :prev AND workspaceId = :ws"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":prev": ds.S(prevUpdatedAt), ":ws": ds.S(in.WorkspaceID)}}},
	}
	if owner != nil {
		items = append(items, s.hubPut(in, *owner))
	}
	err = s.Commit(ctx, items, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		err = apperr.New(apperr.ResourceLockedConflict, "integration %q changed during the update; retry", in.ID)
	}
	if err != nil && key != "" {
		s.removeObjects(ctx, key)
	}
	return err
}

// Integration returns an integration the workspace may read: its own, or
// a public one when public is true ("" workspace: public only).
func (s *Store) Integration(ctx context.Context, ws, integrationID string, public bool) (Integration, error) {
	var in Integration
	if err := s.get(ctx, integrationKey(integrationID), &in, "integration", integrationID); err != nil {
		return Integration{}, err
	}
	if !(ws != "" && in.WorkspaceID == ws) && !(public && in.Public) {
		return Integration{}, apperr.NotFound("integration", integrationID)
	}
	return in, nil
}

// IntegrationByName returns the version of a named integration ("latest":
// the highest semver) that the workspace may read: one Query of the name's
// versions.
func (s *Store) IntegrationByName(ctx context.Context, ws, name, version string, public bool) (Integration, error) {
	kc := expression.Key("gsi2pk").Equal(expression.Value("INTNAME#" + name))
	if version != "latest" {
		kc = kc.And(expression.Key("gsi2sk").Equal(expression.Value(version)))
	}
	expr, _ := expression.NewBuilder().WithKeyCondition(kc).Build()
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String("gsi2"),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	var best *Integration
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Integration{}, err
		}
		for _, it := range page.Items {
			var in Integration
			if err := ds.Unmarshal(it, &in); err != nil {
				return Integration{}, err
			}
			if !(ws != "" && in.WorkspaceID == ws) && !(public && in.Public) {
				continue
			}
			if best == nil || semver.Compare("v"+in.Version, "v"+best.Version) > 0 {
				best = &in
			}
		}
	}
	if best == nil {
		return Integration{}, apperr.NotFound("integration", name+"@"+version)
	}
	return *best, nil
}

// IntegrationFilter narrows an integration list.
type IntegrationFilter struct {
	Name, Version, Visibility string
	Dev                       *bool
}

func (f IntegrationFilter) condition() (expression.ConditionBuilder, bool) {
	var conds []expression.ConditionBuilder
	if f.Name != "" {
		conds = append(conds, expression.Name("name").Equal(expression.Value(f.Name)))
	}
	if f.Version != "" {
		conds = append(conds, expression.Name("version").Equal(expression.Value(f.Version)))
	}
	if f.Visibility != "" {
		conds = append(conds, expression.Name("visibility").Equal(expression.Value(f.Visibility)))
	}
	if f.Dev != nil {
		conds = append(conds, expression.Name("dev").Equal(expression.Value(*f.Dev)))
	}
	switch len(conds) {
	case 0:
		return expression.ConditionBuilder{}, false
	case 1:
		return conds[0], true
	}
	return expression.And(conds[0], conds[1], conds[2:]...), true
}

// ListIntegrations returns one page of the workspace's integrations, or of
// the hub's public ones when ws is "": one Query, most recent first.
func (s *Store) ListIntegrations(ctx context.Context, ws string, f IntegrationFilter, limit int, token string) ([]IntegrationSummary, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(false)}
	var kc expression.KeyConditionBuilder
	if ws == "" {
		kc = expression.Key(ds.PK).Equal(expression.Value("HUB#INTS"))
	} else {
		in.IndexName = aws.String(ds.GSI1)
		kc = expression.Key(ds.GSI1PK).Equal(expression.Value("WS#" + ws + "#INTS"))
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	if cond, ok := f.condition(); ok {
		b = b.WithFilter(cond)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	in.KeyConditionExpression, in.FilterExpression = expr.KeyCondition(), expr.Filter()
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Names(), expr.Values()
	scope := fmt.Sprintf("integrations|%s|%s|%s|%s|%s|%d", ws, f.Name, f.Version, f.Visibility, boolStr(f.Dev), limit)
	page, err := ds.QueryPage(ctx, s.db, s.pages, scope, token, limit, in)
	if err != nil {
		return nil, "", err
	}
	out := make([]IntegrationSummary, 0, len(page.Items))
	for _, it := range page.Items {
		var sum IntegrationSummary
		if err := ds.Unmarshal(it, &sum); err != nil {
			return nil, "", err
		}
		out = append(out, sum)
	}
	return out, page.NextToken, nil
}

// DeleteIntegration deletes a private integration version with its version
// claim and audit record (one transaction). Public versions stay: bots of
// other workspaces may use them.
func (s *Store) DeleteIntegration(ctx context.Context, in Integration, audit AuditRecord) error {
	if in.Public {
		return apperr.New(apperr.ReferenceConstraint, "integration %q is public and may be installed by other workspaces; it can't be deleted", in.ID)
	}
	err := s.Commit(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: integrationKey(in.ID),
			ConditionExpression:       aws.String("workspaceId = :ws AND #public = :false"),
			ExpressionAttributeNames:  map[string]string{"#public": "public"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ws": ds.S(in.WorkspaceID), ":false": &types.AttributeValueMemberBOOL{Value: false}}}},
		{Delete: &types.Delete{TableName: &s.table, Key: versionKey(in.Name, in.Version)}},
	}, audit)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.NotFound("integration", in.ID)
	}
	return err
}

// IntegrationOfWorkspace reads an integration of the workspace and the
// workspace in one BatchGetItem, for an update (the hub entry names the
// workspace). Another workspace's integration is reported as missing.
func (s *Store) IntegrationOfWorkspace(ctx context.Context, ws, integrationID string) (Integration, Workspace, error) {
	items, err := s.batchGet(ctx, integrationKey(integrationID), workspaceKey(ws))
	if err != nil {
		return Integration{}, Workspace{}, err
	}
	if items[0] == nil || ds.String(items[0], "workspaceId") != ws || items[1] == nil {
		return Integration{}, Workspace{}, apperr.NotFound("integration", integrationID)
	}
	var in Integration
	var w Workspace
	if err := ds.Unmarshal(items[0], &in); err != nil {
		return Integration{}, Workspace{}, err
	}
	if err := ds.Unmarshal(items[1], &w); err != nil {
		return Integration{}, Workspace{}, err
	}
	return in, w, nil
}
