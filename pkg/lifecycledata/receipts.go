package lifecycledata

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/cursor"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Receipt item dispositions.
const (
	Deleted  = "deleted"
	Archived = "archived"
	Exported = "exported"
	Skipped  = "skipped"
	Failed   = "failed"
)

// Disposition is what happened to one item, in a receipt.
type Disposition struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	BotID       string `json:"botId,omitempty"`
	Disposition string `json:"disposition"`
	Reason      string `json:"reason,omitempty"`
	HoldID      string `json:"holdId,omitempty"`
	Records     int    `json:"records,omitempty"`
	At          string `json:"at"`
}

// Receipt is a signed summary of finished work.
type Receipt struct {
	ReceiptID   string `json:"receiptId"`
	WorkspaceID string `json:"workspaceId"`
	// Summary is what was signed, as a JSON object; SignedBytes its
	// canonical serialization (base64), Signature the Ed25519 signature
	// over them (base64), KeyID the signing key's id.
	Summary     map[string]any `json:"summary"`
	SignedBytes []byte         `json:"signedBytes"`
	Signature   []byte         `json:"signature"`
	KeyID       string         `json:"keyId"`
}

// ReceiptStore keeps receipts in the lifecycle table:
//
//	receipt page  RCPT#<id>  ITEMS#<part>  the dispositions of one chunk or step (≤ 100)
//	summary       RCPT#<id>  SUMMARY       the signed summary
type ReceiptStore struct {
	db    ds.Client
	table string
	pages *cursor.Codec
}

// NewReceiptStore returns the receipt store.
func NewReceiptStore(db ds.Client, table string, pages *cursor.Codec) *ReceiptStore {
	return &ReceiptStore{db: db, table: table, pages: pages}
}

func receiptPK(id string) string { return "RCPT#" + id }

// ItemsPut is the transaction item writing one page of a receipt (a chunk
// settles with it, so its dispositions are recorded exactly once).
func (s *ReceiptStore) ItemsPut(receiptID, workspaceID, part string, items []Disposition) types.TransactWriteItem {
	raw, err := json.Marshal(items)
	if err != nil {
		panic(err) // plain structs
	}
	item := map[string]types.AttributeValue{
		ds.PK: ds.S(receiptPK(receiptID)), ds.SK: ds.S("ITEMS#" + part),
		"workspaceId": ds.S(workspaceID), "items": ds.S(string(raw)),
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item}}
}

// PutItems writes one page of a receipt on its own (work settled outside a
// chunk transaction); writing a page again replaces it.
func (s *ReceiptStore) PutItems(ctx context.Context, receiptID, workspaceID, part string, items []Disposition) error {
	p := s.ItemsPut(receiptID, workspaceID, part, items).Put
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item})
	return err
}

func (s *ReceiptStore) pagesQuery(receiptID string) *dynamodb.QueryInput {
	expr, _ := expression.NewBuilder().WithKeyCondition(expression.Key(ds.PK).Equal(expression.Value(receiptPK(receiptID))).
		And(expression.Key(ds.SK).BeginsWith("ITEMS#"))).Build()
	return &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
}

// AllItems answers a receipt's dispositions in order (what its summary's
// digest covers): background work, when the summary is signed.
func (s *ReceiptStore) AllItems(ctx context.Context, receiptID string) ([]Disposition, error) {
	type page struct {
		Items string `json:"items"`
	}
	ps, err := ds.QueryAll[page](ctx, s.db, s.pagesQuery(receiptID))
	if err != nil {
		return nil, err
	}
	var out []Disposition
	for _, p := range ps {
		var items []Disposition
		if err := json.Unmarshal([]byte(p.Items), &items); err != nil {
			return nil, fmt.Errorf("receipt %s: %w", receiptID, err)
		}
		out = append(out, items...)
	}
	return out, nil
}

// Items answers one page of a workspace's receipt's dispositions (a few
// stored pages per call), with the token of the next.
func (s *ReceiptStore) Items(ctx context.Context, workspaceID, receiptID, token string) ([]Disposition, string, error) {
	in := s.pagesQuery(receiptID)
	in.FilterExpression = aws.String("workspaceId = :ws")
	in.ExpressionAttributeValues[":ws"] = ds.S(workspaceID)
	page, err := ds.QueryPage(ctx, s.db, s.pages, "receipt:"+workspaceID+":"+receiptID, token, 4, in)
	if err != nil {
		return nil, "", err
	}
	out := []Disposition{}
	for _, it := range page.Items {
		var items []Disposition
		if err := json.Unmarshal([]byte(ds.String(it, "items")), &items); err != nil {
			return nil, "", err
		}
		out = append(out, items...)
	}
	return out, page.NextToken, nil
}

// PutSummary stores a receipt's signed summary once: a second write (a
// retried proof) keeps the first.
func (s *ReceiptStore) PutSummary(ctx context.Context, r Receipt) error {
	item := ds.Item(r, map[string]string{ds.PK: receiptPK(r.ReceiptID), ds.SK: "SUMMARY"})
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if ds.IsConditionFailed(err) {
		return nil
	}
	return err
}

// Summary answers a workspace's receipt; another workspace's is missing.
func (s *ReceiptStore) Summary(ctx context.Context, workspaceID, receiptID string) (Receipt, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: ds.Key(receiptPK(receiptID), "SUMMARY"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Receipt{}, err
	}
	var r Receipt
	if out.Item != nil {
		if err := ds.Unmarshal(out.Item, &r); err != nil {
			return Receipt{}, err
		}
	}
	if out.Item == nil || r.WorkspaceID != workspaceID {
		return Receipt{}, apperr.NotFound("receipt", receiptID)
	}
	return r, nil
}
