package lifecycledata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Data request types and statuses.
const (
	RequestExport     = "export"
	RequestErasure    = "erasure"
	RequestQueued     = "queued"
	RequestInProgress = "in_progress"
	RequestCompleted  = "completed"
	RequestFailed     = "failed"
)

// openRequestsIndex holds data requests not yet finished, so a window
// resumes one whose work item was lost.
const openRequestsIndex = "REQUESTS"

// Subject names the person a data request is about: chat user ids, or user
// tags matched on each bot.
type Subject struct {
	UserIDs []string          `json:"userIds,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// DataRequest is a data subject request (export or erasure).
type DataRequest struct {
	ID          string   `json:"id"`
	WorkspaceID string   `json:"workspaceId"`
	Type        string   `json:"type"`
	Subject     Subject  `json:"subject"`
	BotIDs      []string `json:"botIds,omitempty"`
	Status      string   `json:"status"`
	// Counts are per kind and disposition: {"conversation": {"deleted": 2}}.
	Counts      map[string]map[string]int `json:"counts"`
	SubmittedAt string                    `json:"submittedAt"`
	SubmittedBy string                    `json:"submittedBy,omitempty"`
	StartedAt   *string                   `json:"startedAt"`
	CompletedAt *string                   `json:"completedAt"`
	// Users are the chat users the subject resolved to, as digests (see
	// UserDigest), so finished requests hold none of the person's ids.
	Users []string `json:"users,omitempty"`
	// SubjectDigest replaces the subject once the request is finished.
	SubjectDigest string `json:"subjectDigest,omitempty"`
	// ExportKey is the export archive's object key (exports only).
	ExportKey string `json:"exportKey,omitempty"`
	ReceiptID string `json:"receiptId,omitempty"`
	Error     string `json:"error,omitempty"`
}

// RequestStore keeps data requests in the lifecycle table
// (WS#<ws> / DSR#<id>; gsi1 REQUESTS / <submittedAt>#<id> until finished).
type RequestStore struct {
	db    ds.Client
	table string
}

// NewRequestStore returns the data request store.
func NewRequestStore(db ds.Client, table string) *RequestStore {
	return &RequestStore{db: db, table: table}
}

func requestKey(ws, id string) map[string]types.AttributeValue { return ds.Key("WS#"+ws, "DSR#"+id) }

// Create stores a new request with its audit record: one TransactWriteItems.
func (s *RequestStore) Create(ctx context.Context, r DataRequest, commit audit.Commit) error {
	item := ds.Item(r, map[string]string{ds.PK: "WS#" + r.WorkspaceID, ds.SK: "DSR#" + r.ID,
		ds.GSI1PK: openRequestsIndex, ds.GSI1SK: r.SubmittedAt + "#" + r.ID})
	return commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	})
}

// Get answers a workspace's request: one GetItem.
func (s *RequestStore) Get(ctx context.Context, ws, id string) (DataRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: requestKey(ws, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return DataRequest{}, err
	}
	if out.Item == nil {
		return DataRequest{}, apperr.NotFound("data request", id)
	}
	var r DataRequest
	return r, ds.Unmarshal(out.Item, &r)
}

// Save writes a request's progress (its worker is the only writer); a
// finished request leaves the open index.
func (s *RequestStore) Save(ctx context.Context, r DataRequest) error {
	keys := map[string]string{ds.PK: "WS#" + r.WorkspaceID, ds.SK: "DSR#" + r.ID}
	if r.Status != RequestCompleted && r.Status != RequestFailed {
		keys[ds.GSI1PK], keys[ds.GSI1SK] = openRequestsIndex, r.SubmittedAt+"#"+r.ID
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: ds.Item(r, keys)})
	return err
}

// Open answers the requests not yet finished, oldest first: one Query of
// the open index per page.
func (s *RequestStore) Open(ctx context.Context) ([]DataRequest, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.GSI1PK).Equal(expression.Value(openRequestsIndex))).Build()
	return ds.QueryAll[DataRequest](ctx, s.db, &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(ds.GSI1), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
}

// OfWorkspace answers a workspace's requests (an erasure finds the
// person's earlier exports among them): one Query per page.
func (s *RequestStore) OfWorkspace(ctx context.Context, ws string) ([]DataRequest, error) {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value("WS#" + ws)).
		And(expression.Key(ds.SK).BeginsWith("DSR#"))).Build()
	return ds.QueryAll[DataRequest](ctx, s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
}

// UserDigest names a chat user of a workspace without holding its id: the
// hex SHA-256 of "<workspace>/<bot>/<user>", cut to 32 digits.
func UserDigest(ws, bot, user string) string {
	sum := sha256.Sum256([]byte(ws + "/" + bot + "/" + user))
	return hex.EncodeToString(sum[:16])
}

// Redact replaces the request's subject with its digest: what a finished
// request keeps of the person.
func (r *DataRequest) Redact() {
	raw, _ := json.Marshal(r.Subject)
	sum := sha256.Sum256(append([]byte(r.WorkspaceID+"/"), raw...))
	r.SubjectDigest, r.Subject = hex.EncodeToString(sum[:16]), Subject{}
}
