package app_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ledongthuc/pdf"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/testenv"
	"github.com/parley-dev/parley/pkg/topology"
	"github.com/parley-dev/parley/pkg/usage"
)

// pdfText extracts the text of a PDF.
func pdfText(t *testing.T, doc []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		rows, err := r.Page(i).GetTextByRow()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			for _, w := range row.Content {
				b.WriteString(w.S)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestInvoiceOfAKnownUsage issues the invoices of a month from metered
// counters through the invoicing schedule, twice, and reads the one
// invoice and its PDF.
func TestInvoiceOfAKnownUsage(t *testing.T) {
	env := testenv.Stack(t)
	ctx := context.Background()
	owner := env.NewAccount(t)
	res := env.Do(t, testenv.Req{Method: "POST", Path: "/v1/admin/workspaces", Token: owner, Body: map[string]any{"name": "Invoiced Ltd"}})
	testenv.Want(t, res, 200, "")
	ws := res.Body["id"].(string)
	admin := admindata.NewStore(env.Deps.DB, env.Deps.Config.Table(topology.AdminTable), nil)
	const period = "2026-10"
	for q, n := range map[string]int64{usage.IncomingMessages: 5500, usage.OutgoingMessages: 2000, usage.InvocationCalls: 10_000, usage.StorageCount: 4001} {
		if err := admin.AddUsage(ctx, ws, q, period, n); err != nil {
			t.Fatal(err)
		}
	}
	// Community: messages $1 per started 1,000 over 2,000 (5,500: 4 → $4;
	// 2,000: $0), invocations $0.50 per 1,000 over 4,000 (6 → $3), storage
	// $0.20 per 1,000 over 4,000 (1 → $0.20): $7.20.
	for range 2 {
		if err := env.FirePeriod(ctx, topology.InvoicingSchedule, period); err != nil {
			t.Fatal(err)
		}
	}
	invs, err := admin.Invoices(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 1 {
		t.Fatalf("%d invoices after two firings, want 1: %+v", len(invs), invs)
	}
	inv := invs[0]
	if inv.Amount != 7.2 || inv.Currency != "usd" || inv.PaymentStatus != "unpaid" || inv.Period != period {
		t.Fatalf("invoice %+v", inv)
	}
	obj, err := env.Deps.S3.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(env.Env[topology.EnvVar("bucket", topology.InvoicesBucket)]), Key: aws.String(inv.PDFKey)})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(obj.Body)
	text := pdfText(t, doc)
	for _, w := range []string{"Invoiced Ltd", ws, "October 2026", "USD 7.20"} {
		if !strings.Contains(text, w) {
			t.Errorf("the PDF doesn't name %q:\n%s", w, text)
		}
	}
}
