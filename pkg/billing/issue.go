package billing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/admindata"
)

// Records is what issuing needs of the admin table.
type Records interface {
	Counters(ctx context.Context, target, period string) (map[string]float64, error)
	PutInvoice(ctx context.Context, inv admindata.Invoice) (bool, error)
}

// Objects stores invoice PDFs.
type Objects interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Issuer issues invoices.
type Issuer struct {
	Records Records
	Objects Objects
	Bucket  string
	Log     *slog.Logger
}

// InvoiceID is the id of a workspace's invoice of a month (the same for
// every attempt to issue it).
func InvoiceID(ws, period string) string { return "inv_" + ws + "_" + period }

// PDFKey is where an invoice's PDF is kept in the invoices bucket.
func PDFKey(ws, period string) string { return "invoices/" + ws + "/" + period + ".pdf" }

// Compute makes a workspace's invoice of a month from its counters and
// its plan's base fee and prices (an unknown plan bills as community).
func Compute(w admindata.Workspace, period string, counters map[string]float64, at time.Time) admindata.Invoice {
	plan, ok := admindata.PlanOf(w.Plan)
	name := w.Plan
	if !ok {
		plan, _ = admindata.PlanOf("community")
		name = "community"
	}
	inv := admindata.Invoice{ID: InvoiceID(w.ID, period), WorkspaceID: w.ID, Workspace: w.Name, Period: period, Plan: name,
		Date: at.UTC().Format(time.RFC3339), Currency: admindata.Currency, PDFKey: PDFKey(w.ID, period), PaymentStatus: "unpaid"}
	total := plan.Base
	inv.Lines = append(inv.Lines, admindata.InvoiceLine{Quantity: "base", Amount: plan.Base})
	for _, q := range admindata.PricedQuantities {
		price, ok := plan.Prices[q]
		if !ok {
			continue
		}
		c := price.Charge(counters[q])
		inv.Lines = append(inv.Lines, admindata.InvoiceLine{Quantity: q, Used: counters[q], Amount: c})
		total += c
	}
	inv.Amount = math.Round(total*100) / 100
	return inv
}

// Issue issues a workspace's invoice of period unless it has one: the PDF
// is stored first (same key, same content for a closed month), then the
// invoice is put on the condition that none exists. It reports whether
// this call issued it.
func (is *Issuer) Issue(ctx context.Context, w admindata.Workspace, period string, at time.Time) (admindata.Invoice, bool, error) {
	counters, err := is.Records.Counters(ctx, w.ID, period)
	if err != nil {
		return admindata.Invoice{}, false, err
	}
	inv := Compute(w, period, counters, at)
	doc, err := RenderPDF(inv)
	if err != nil {
		return inv, false, err
	}
	if _, err := is.Objects.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(is.Bucket), Key: aws.String(inv.PDFKey),
		Body: bytes.NewReader(doc), ContentType: aws.String("application/pdf")}); err != nil {
		return inv, false, fmt.Errorf("store invoice pdf: %w", err)
	}
	issued, err := is.Records.PutInvoice(ctx, inv)
	return inv, issued, err
}

// IssueAll issues the invoices of period of every workspace, going on past
// a workspace that fails (the run fails at the end, and a retry issues
// only the missing ones).
func (is *Issuer) IssueAll(ctx context.Context, workspaces []admindata.Workspace, period string, at time.Time) (int, error) {
	var errs []error
	n := 0
	for _, w := range workspaces {
		_, issued, err := is.Issue(ctx, w, period, at)
		if err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: %w", w.ID, err))
			continue
		}
		if issued {
			n++
		}
	}
	if is.Log != nil {
		is.Log.Info("invoices issued", "period", period, "workspaces", len(workspaces), "issued", n, "failed", len(errs))
	}
	return n, errors.Join(errs...)
}

// PreviousPeriod is the month before t's: what a run at the start of a
// month invoices.
func PreviousPeriod(t time.Time) string {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
}
