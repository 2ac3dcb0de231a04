package billing

import (
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/admindata"
)

func TestComputeAndPeriods(t *testing.T) {
	w := admindata.Workspace{ID: "wkspace_x", Name: "X", Plan: "team"}
	// Team: base $495; messages $0.50 per started 1,000 over 50,000.
	inv := Compute(w, "2026-10", map[string]float64{"incoming_messages": 50_001, "outgoing_messages": 10}, time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC))
	if inv.Amount != 495.5 || inv.ID != "inv_wkspace_x_2026-10" || inv.PDFKey != "invoices/wkspace_x/2026-10.pdf" || inv.PaymentStatus != "unpaid" {
		t.Fatalf("invoice %+v", inv)
	}
	if p := PreviousPeriod(time.Date(2026, 1, 1, 4, 0, 0, 0, time.UTC)); p != "2025-12" {
		t.Fatalf("previous period %s", p)
	}
	if PeriodTitle("2026-10") != "October 2026" {
		t.Fatal(PeriodTitle("2026-10"))
	}
}
