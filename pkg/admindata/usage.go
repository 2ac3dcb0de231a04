package admindata

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Usage types of the Botpress API.
const (
	UsageBotCount    = "bot_count"
	UsageMemberCount = "workspace_member_count"
	UsageInvocations = "invocation_calls"
	UsageStorage     = "storage_count"
	UsageTableRows   = "table_row_count"
	UsageFiles       = "indexed_file_count"
	// UsageTables is Parley's quota of tables per bot (no Botpress usage
	// type counts it; the tables API enforces it).
	UsageTables = "table_count"
)

// UsageTypes lists every usage type the API knows.
var UsageTypes = []string{"invocation_timeout", "invocation_calls", "storage_count", "bot_count",
	"knowledgebase_vector_storage", "workspace_ratelimit", "table_row_count", "workspace_member_count",
	"integrations_owned_count", "ai_spend", "openai_spend", "bing_search_spend", "always_alive",
	"indexed_file_count", "file_max_size_bytes"}

// Quotas is the configuration of each plan's quotas, by usage type: the one
// place they are set. Counts (bots, members, rows, files) are totals; the
// others are per calendar month.
var Quotas = map[string]map[string]float64{
	"community": {"table_count": 10, "invocation_timeout": 60, "invocation_calls": 100_000, "storage_count": 100_000, "bot_count": 50,
		"knowledgebase_vector_storage": 100, "workspace_ratelimit": 100, "table_row_count": 5_000, "workspace_member_count": 3,
		"integrations_owned_count": 5, "ai_spend": 5, "openai_spend": 5, "bing_search_spend": 5, "always_alive": 0,
		"indexed_file_count": 100, "file_max_size_bytes": 10 << 20},
	"team": {"table_count": 100, "invocation_timeout": 60, "invocation_calls": 1_000_000, "storage_count": 1_000_000, "bot_count": 200,
		"knowledgebase_vector_storage": 1_000, "workspace_ratelimit": 500, "table_row_count": 100_000, "workspace_member_count": 20,
		"integrations_owned_count": 50, "ai_spend": 100, "openai_spend": 100, "bing_search_spend": 100, "always_alive": 5,
		"indexed_file_count": 10_000, "file_max_size_bytes": 100 << 20},
	"plus": {"table_count": 50, "invocation_timeout": 60, "invocation_calls": 500_000, "storage_count": 500_000, "bot_count": 100,
		"knowledgebase_vector_storage": 500, "workspace_ratelimit": 300, "table_row_count": 50_000, "workspace_member_count": 10,
		"integrations_owned_count": 20, "ai_spend": 50, "openai_spend": 50, "bing_search_spend": 50, "always_alive": 2,
		"indexed_file_count": 5_000, "file_max_size_bytes": 50 << 20},
	"enterprise": {"table_count": 500, "invocation_timeout": 900, "invocation_calls": 10_000_000, "storage_count": 10_000_000, "bot_count": 500,
		"knowledgebase_vector_storage": 10_000, "workspace_ratelimit": 2_000, "table_row_count": 1_000_000, "workspace_member_count": 90,
		"integrations_owned_count": 500, "ai_spend": 1_000, "openai_spend": 1_000, "bing_search_spend": 1_000, "always_alive": 50,
		"indexed_file_count": 100_000, "file_max_size_bytes": 1 << 30},
}

// Quota returns a plan's quota of a usage type.
func Quota(plan, usageType string) float64 { return Quotas[plan][usageType] }

// counterAttr is the workspace attribute that counts a usage type kept on
// the workspace item itself (exact, updated in the transaction that adds or
// removes the bot or member).
var counterAttr = map[string]string{UsageBotCount: "botCount", UsageMemberCount: "memberCount"}

// quotaCondition is a condition on the workspace item that holds while its
// counter attr is below its plan's quota for usageType, so the write that
// would exceed it is refused by DynamoDB within the same transaction. It is
// built from Quotas, so changing the table applies at once.
func quotaCondition(attr, usageType string) (string, map[string]types.AttributeValue) {
	plans := make([]string, 0, len(Quotas))
	for p := range Quotas {
		plans = append(plans, p)
	}
	sort.Strings(plans)
	values := map[string]types.AttributeValue{}
	var ors []string
	for i, p := range plans {
		pk, qk := fmt.Sprintf(":plan%d", i), fmt.Sprintf(":quota%d", i)
		values[pk] = ds.S(p)
		values[qk] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(Quota(p, usageType), 'f', -1, 64)}
		ors = append(ors, fmt.Sprintf("(#plan = %s AND (attribute_not_exists(%s) OR %s < %s))", pk, attr, attr, qk))
	}
	return "attribute_exists(pk) AND (" + strings.Join(ors, " OR ") + ")", values
}

func usagePartition(target string) string { return "USAGE#" + target }

func usageKey(target, usageType, period string) map[string]types.AttributeValue {
	return ds.Key(usagePartition(target), usageType+"#"+period)
}

// UsageAdd is an atomic ADD of delta to a workspace's or bot's usage
// counter of a type in a period, for the TransactWriteItems of the work it
// counts (chat, tables, files).
func (s *Store) UsageAdd(target, usageType, period string, delta int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: usageKey(target, usageType, period),
		UpdateExpression: aws.String("ADD #v :d"), ExpressionAttributeNames: map[string]string{"#v": "value"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberN{Value: strconv.FormatInt(delta, 10)}},
	}}
}

// AddUsage applies UsageAdd on its own (one UpdateItem).
func (s *Store) AddUsage(ctx context.Context, target, usageType, period string, delta int64) error {
	u := s.UsageAdd(target, usageType, period, delta).Update
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues})
	return err
}

// Usage is a usage as the API answers it.
type Usage struct {
	ID     string  `json:"id"`
	Period string  `json:"period"`
	Value  float64 `json:"value"`
	Quota  float64 `json:"quota"`
	Type   string  `json:"type"`
}

// Usage reads the usage of target (a workspace, or a bot of workspace ws)
// in one BatchGetItem: the workspace (its plan and live counters) and the
// period's counter item.
func (s *Store) Usage(ctx context.Context, ws, target, usageType, period string) (Usage, error) {
	items, err := s.batchGet(ctx, workspaceKey(ws), usageKey(target, usageType, period))
	if err != nil {
		return Usage{}, err
	}
	if items[0] == nil {
		return Usage{}, apperr.NotFound("workspace", ws)
	}
	u := Usage{ID: target, Period: period, Type: usageType, Quota: Quota(ds.String(items[0], "plan"), usageType)}
	if attr, live := counterAttr[usageType]; live && target == ws {
		u.Value = number(items[0], attr)
	} else if usageType == UsageBotCount {
		u.Value = 1 // a bot's own bot count
	} else {
		u.Value = number(items[1], "value")
	}
	return u, nil
}

func number(item map[string]types.AttributeValue, name string) float64 {
	if n, ok := item[name].(*types.AttributeValueMemberN); ok {
		f, _ := strconv.ParseFloat(n.Value, 64)
		return f
	}
	return 0
}
