package lifecycledata

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Hold statuses.
const (
	HoldActive   = "active"
	HoldReleased = "released"
)

// Hold is a legal hold: while active, nothing it covers is erased or
// archived by a policy, a deletion job, a data request or a bot purge.
type Hold struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspaceId"`
	Reason      string `json:"reason"`
	Status      string `json:"status"`
	// BotID narrows the hold to one bot; a hold naming only a bot covers
	// everything of it.
	BotID           string            `json:"botId,omitempty"`
	ConversationIDs []string          `json:"conversationIds,omitempty"`
	UserIDs         []string          `json:"userIds,omitempty"`
	UserTags        map[string]string `json:"userTags,omitempty"`
	// ResolvedUsers are the users the tags named when the hold was made,
	// per bot ("<bot>/<user>"); users given those tags later are held
	// through their tags.
	ResolvedUsers []string `json:"resolvedUsers,omitempty"`
	CreatedAt     string   `json:"createdAt"`
	CreatedBy     string   `json:"createdBy,omitempty"`
	ReleasedAt    *string  `json:"releasedAt"`
	ReleasedBy    string   `json:"releasedBy,omitempty"`
}

// Covers tells whether the hold covers an item of kind with id, on bot,
// whose users and tags are given (a conversation's participants, a user
// itself).
func (h Hold) Covers(bot, kind, id string, users []string, tags map[string]string) bool {
	if h.Status != HoldActive || (h.BotID != "" && h.BotID != bot) {
		return false
	}
	if len(h.ConversationIDs) == 0 && len(h.UserIDs) == 0 && len(h.UserTags) == 0 {
		return h.BotID != "" // the whole bot
	}
	if kind == "conversation" && slices.Contains(h.ConversationIDs, id) {
		return true
	}
	for _, u := range users {
		if slices.Contains(h.UserIDs, u) || slices.Contains(h.ResolvedUsers, bot+"/"+u) {
			return true
		}
	}
	if kind == "user" && len(h.UserTags) > 0 {
		for k, v := range h.UserTags {
			if tags[k] != v {
				return false
			}
		}
		return true
	}
	return false
}

// HoldStore keeps holds in the lifecycle table (WS#<ws> / HOLD#<id>).
type HoldStore struct {
	db    ds.Client
	table string
}

// NewHoldStore returns the hold store.
func NewHoldStore(db ds.Client, table string) *HoldStore { return &HoldStore{db: db, table: table} }

func holdKey(ws, id string) map[string]types.AttributeValue { return ds.Key("WS#"+ws, "HOLD#"+id) }

// Create stores a hold with its audit record: one TransactWriteItems.
func (s *HoldStore) Create(ctx context.Context, h Hold, commit audit.Commit) error {
	item := ds.Item(h, map[string]string{ds.PK: "WS#" + h.WorkspaceID, ds.SK: "HOLD#" + h.ID})
	return commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	})
}

// List answers a workspace's holds, active and released: one Query (a
// workspace holds a handful).
func (s *HoldStore) List(ctx context.Context, ws string) ([]Hold, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value("WS#" + ws)).
		And(expression.Key(ds.SK).BeginsWith("HOLD#"))).Build()
	holds, err := ds.QueryAll[Hold](ctx, s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if holds == nil {
		holds = []Hold{}
	}
	return holds, err
}

// Active answers a workspace's active holds.
func (s *HoldStore) Active(ctx context.Context, ws string) ([]Hold, error) {
	all, err := s.List(ctx, ws)
	var out []Hold
	for _, h := range all {
		if h.Status == HoldActive {
			out = append(out, h)
		}
	}
	return out, err
}

// Release ends an active hold with its audit record, once.
func (s *HoldStore) Release(ctx context.Context, ws, id, by, at string, commit audit.Commit) error {
	err := commit(ctx, []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &s.table, Key: holdKey(ws, id),
			UpdateExpression:          aws.String("SET #s = :released, releasedAt = :at, releasedBy = :by"),
			ConditionExpression:       aws.String("#s = :active"),
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":released": ds.S(HoldReleased), ":active": ds.S(HoldActive), ":at": ds.S(at), ":by": ds.S(by)},
		}},
	})
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.NotFound("active legal hold", id)
	}
	return err
}
