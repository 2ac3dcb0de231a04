package admindata

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Invoice is one workspace's bill of one month, issued once (keyed by
// workspace and month) from the month's metered counters and its plan's
// prices.
type Invoice struct {
	ID          string        `json:"id"`
	WorkspaceID string        `json:"workspaceId"`
	Workspace   string        `json:"workspaceName"`
	Period      string        `json:"periodKey"` // YYYY-MM
	Plan        string        `json:"plan"`
	Date        string        `json:"date"`
	Amount      float64       `json:"amount"`
	Currency    string        `json:"currency"`
	Lines       []InvoiceLine `json:"lines"`
	PDFKey      string        `json:"pdfKey"`
	// PaymentStatus is "unpaid", "paid" or "failed" (charged and refused).
	PaymentStatus          string `json:"paymentStatus"`
	PaymentAttemptCount    int    `json:"paymentAttemptCount"`
	NextPaymentAttemptDate string `json:"nextPaymentAttemptDate,omitempty"`
	FailedReason           string `json:"failedReason,omitempty"`
	StripePaymentIntentID  string `json:"stripePaymentIntentId,omitempty"`
}

// InvoiceLine is one charged quantity of an invoice ("base" is the plan's
// monthly fee).
type InvoiceLine struct {
	Quantity string  `json:"quantity"`
	Used     float64 `json:"used"`
	Amount   float64 `json:"amount"`
}

// invoiceKey keeps a workspace's invoices in its partition, by month.
func invoiceKey(ws, period string) map[string]types.AttributeValue {
	return ds.Key("WS#"+ws, "BILL#"+period)
}

// PutInvoice records an invoice unless the workspace has one for the month
// already: it reports whether this call issued it (a schedule fired twice
// issues one invoice).
func (s *Store) PutInvoice(ctx context.Context, inv Invoice) (bool, error) {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table,
		Item: ds.Item(inv, keysOf(invoiceKey(inv.WorkspaceID, inv.Period))), ConditionExpression: notExists()})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return false, nil
	}
	return err == nil, err
}

// Invoice reads a workspace's invoice of a month.
func (s *Store) Invoice(ctx context.Context, ws, period string) (Invoice, error) {
	var inv Invoice
	err := s.get(ctx, invoiceKey(ws, period), &inv, "invoice", ws+"/"+period)
	return inv, err
}

// Invoices lists a workspace's invoices, newest first: one Query.
func (s *Store) Invoices(ctx context.Context, ws string) ([]Invoice, error) {
	var out []Invoice
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(false),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :b)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ds.S("WS#" + ws), ":b": ds.S("BILL#")}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var inv Invoice
			if err := ds.Unmarshal(it, &inv); err != nil {
				return nil, err
			}
			out = append(out, inv)
		}
	}
	return out, nil
}

// SetInvoicePayment records a payment attempt's outcome on an invoice.
func (s *Store) SetInvoicePayment(ctx context.Context, inv Invoice) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: invoiceKey(inv.WorkspaceID, inv.Period),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		UpdateExpression:    aws.String("SET paymentStatus = :s, paymentAttemptCount = :n, failedReason = :r, nextPaymentAttemptDate = :d, stripePaymentIntentId = :pi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": ds.S(inv.PaymentStatus), ":n": num(inv.PaymentAttemptCount),
			":r": ds.S(inv.FailedReason), ":d": ds.S(inv.NextPaymentAttemptDate), ":pi": ds.S(inv.StripePaymentIntentID)}})
	return err
}

// PaymentMethod is what the API shows of a payment method.
type PaymentMethod struct {
	Type       string `json:"type"`
	LastDigits string `json:"lastDigits"`
}

// ChargeFailure is a charge the payment provider refused, with its reason
// (declined card, a payment needing the customer's action…).
type ChargeFailure struct{ Reason string }

func (f *ChargeFailure) Error() string { return f.Reason }

// BillingAccount is a workspace's payment set-up.
type BillingAccount struct {
	StripeCustomerID      string `json:"stripeCustomerId,omitempty"`
	StripePaymentMethodID string `json:"stripePaymentMethodId,omitempty"`
	PaymentMethodType     string `json:"paymentMethodType,omitempty"`
	PaymentMethodLast4    string `json:"paymentMethodLast4,omitempty"`
}

// Billing reads a workspace's payment set-up (kept on the workspace item).
func (s *Store) Billing(ctx context.Context, ws string) (BillingAccount, error) {
	var b BillingAccount
	err := s.get(ctx, workspaceKey(ws), &b, "workspace", ws)
	return b, err
}

// SetBilling records a workspace's payment set-up, with its audit records.
func (s *Store) SetBilling(ctx context.Context, ws string, b BillingAccount, audits ...AuditRecord) error {
	items := []types.TransactWriteItem{{Update: &types.Update{TableName: &s.table, Key: workspaceKey(ws),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		UpdateExpression:    aws.String("SET stripeCustomerId = :c, stripePaymentMethodId = :m, paymentMethodType = :t, paymentMethodLast4 = :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": ds.S(b.StripeCustomerID), ":m": ds.S(b.StripePaymentMethodID),
			":t": ds.S(b.PaymentMethodType), ":l": ds.S(b.PaymentMethodLast4)}}}}
	err := s.Commit(ctx, items, audits...)
	if reasons := ds.CancellationReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		return apperr.NotFound("workspace", ws)
	}
	return err
}

// workspacesIndex is the gsi2 partition that lists every workspace.
const workspacesIndex = "#WORKSPACES"

// BillableWorkspaces lists every workspace (id, name, plan) for the
// monthly invoicing run: a Query of the gsi2 partition every workspace
// joins when created (once a month, off the request path).
func (s *Store) BillableWorkspaces(ctx context.Context) ([]Workspace, error) {
	var out []Workspace
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String("gsi2"),
		KeyConditionExpression:    aws.String("gsi2pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ds.S(workspacesIndex)}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var w Workspace
			if err := ds.Unmarshal(it, &w); err != nil {
				return nil, err
			}
			out = append(out, w)
		}
	}
	return out, nil
}
