package admindata

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/usage"
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

// usageShardKey is one of a target's counter items of a period: each holds
// one number attribute per metered quantity (ADD), and a read sums them.
func usageShardKey(target, period string, shard int) map[string]types.AttributeValue {
	return ds.Key(usagePartition(target), fmt.Sprintf("%s#%03d", period, shard))
}

// UsageAdd is an atomic ADD of delta to a workspace's or bot's usage
// counter of a type in a period, on the counter shard of id, for the
// TransactWriteItems of the work it counts.
func (s *Store) UsageAdd(target, id, period string, counts usage.Counts) types.TransactWriteItem {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	adds := make([]string, 0, len(counts))
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same counts make the same request (idempotent resends)
	for i, k := range keys {
		nk, vk := fmt.Sprintf("#q%d", i), fmt.Sprintf(":q%d", i)
		names[nk] = k
		values[vk] = &types.AttributeValueMemberN{Value: strconv.FormatInt(counts[k], 10)}
		adds = append(adds, nk+" "+vk)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: usageShardKey(target, period, usage.Shard(id)),
		UpdateExpression:         aws.String("ADD " + strings.Join(adds, ", ")),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}
}

// MeterItems are the items that meter counts for the write of id (a
// message, an event, a delivery…) at at: the bot's and, when ws is known,
// its workspace's counters of the month, on the shard of id.
func (s *Store) MeterItems(ws, bot, id string, at time.Time, counts usage.Counts) []types.TransactWriteItem {
	if len(counts) == 0 {
		return nil
	}
	period := usage.Period(at)
	items := []types.TransactWriteItem{s.UsageAdd(bot, id, period, counts)}
	if ws != "" {
		items = append(items, s.UsageAdd(ws, id, period, counts))
	}
	return items
}

// AddUsage applies UsageAdd on its own (one UpdateItem).
func (s *Store) AddUsage(ctx context.Context, target, usageType, period string, delta int64) error {
	u := s.UsageAdd(target, target, period, usage.Counts{usageType: delta}).Update
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues})
	return err
}

// Counters sums a target's metered counters of a period over its shards:
// one Query (the shards are small items: one page).
func (s *Store) Counters(ctx context.Context, target, period string) (map[string]float64, error) {
	out := map[string]float64{}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ds.S(usagePartition(target)), ":p": ds.S(period + "#")},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			for k, v := range it {
				if k == ds.PK || k == ds.SK {
					continue
				}
				if _, ok := v.(*types.AttributeValueMemberN); ok {
					out[k] += number(it, k)
				}
			}
		}
	}
	return out, nil
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
// of one type in a period (see Usages).
func (s *Store) Usage(ctx context.Context, ws, target, usageType, period string) (Usage, error) {
	all, _, err := s.Usages(ctx, ws, target, period)
	if err != nil {
		return Usage{}, err
	}
	return all[usageType], nil
}

// Usages reads every usage of target (a workspace, or a bot of workspace
// ws) in a period, with the workspace's plan: one GetItem (the workspace:
// plan and live counts) and one Query (the period's counter shards).
// Quantities measured by other tables' owners (table rows, file bytes) are
// answered zero here and filled in by the caller.
func (s *Store) Usages(ctx context.Context, ws, target, period string) (map[string]Usage, string, error) {
	items, err := s.batchGet(ctx, workspaceKey(ws))
	if err != nil {
		return nil, "", err
	}
	if items[0] == nil {
		return nil, "", apperr.NotFound("workspace", ws)
	}
	plan := ds.String(items[0], "plan")
	counters, err := s.Counters(ctx, target, period)
	if err != nil {
		return nil, "", err
	}
	out := make(map[string]Usage, len(UsageTypes)+len(usage.Monthly))
	for _, t := range append(append([]string(nil), UsageTypes...), usage.Monthly...) {
		u := Usage{ID: target, Period: period, Type: t, Quota: Quota(plan, t), Value: counters[t]}
		if attr, live := counterAttr[t]; live && target == ws {
			u.Value = number(items[0], attr)
		} else if t == UsageBotCount {
			u.Value = 1 // a bot's own bot count
		}
		out[t] = u
	}
	return out, plan, nil
}

func number(item map[string]types.AttributeValue, name string) float64 {
	if n, ok := item[name].(*types.AttributeValueMemberN); ok {
		f, _ := strconv.ParseFloat(n.Value, 64)
		return f
	}
	return 0
}
