// Package billing issues the monthly invoices of workspaces from their
// metered usage and their plan's prices, renders each as a PDF, and
// charges them through a payment provider (Stripe).
package billing

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/parley-dev/parley/pkg/admindata"
)

// PeriodTitle is a month as invoices name it: "October 2026".
func PeriodTitle(period string) string {
	t, err := time.Parse("2006-01", period)
	if err != nil {
		return period
	}
	return t.Format("January 2006")
}

// Money formats an amount in the invoice's currency: "USD 12.50".
func Money(amount float64, currency string) string {
	return fmt.Sprintf("%s %.2f", strings.ToUpper(currency), amount)
}

// RenderPDF renders an invoice as a one-page PDF.
func RenderPDF(inv admindata.Invoice) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Invoice "+inv.ID, false)
	pdf.SetCreator("Parley", false)
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 18)
	pdf.Cell(0, 10, "Invoice")
	pdf.Ln(14)
	pdf.SetFont("Helvetica", "", 11)
	for _, l := range []string{
		"Invoice: " + inv.ID,
		"Workspace: " + inv.Workspace + " (" + inv.WorkspaceID + ")",
		"Period: " + PeriodTitle(inv.Period),
		"Plan: " + inv.Plan,
		"Date: " + inv.Date,
	} {
		pdf.Cell(0, 7, l)
		pdf.Ln(7)
	}
	pdf.Ln(6)
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(90, 8, "Item", "B", 0, "", false, 0, "")
	pdf.CellFormat(40, 8, "Used", "B", 0, "R", false, 0, "")
	pdf.CellFormat(50, 8, "Amount", "B", 1, "R", false, 0, "")
	pdf.SetFont("Helvetica", "", 11)
	for _, l := range inv.Lines {
		used := fmt.Sprintf("%.0f", l.Used)
		if l.Quantity == "base" {
			used = ""
		}
		pdf.CellFormat(90, 7, l.Quantity, "", 0, "", false, 0, "")
		pdf.CellFormat(40, 7, used, "", 0, "R", false, 0, "")
		pdf.CellFormat(50, 7, Money(l.Amount, inv.Currency), "", 1, "R", false, 0, "")
	}
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(130, 9, "Total", "T", 0, "", false, 0, "")
	pdf.CellFormat(50, 9, Money(inv.Amount, inv.Currency), "T", 1, "R", false, 0, "")
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
