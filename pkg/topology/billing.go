package topology

import "time"

// Names of the billing parts: the monthly invoicing run and the bucket of
// invoice PDFs.
const (
	InvoicingFunction  = "invoicing"
	InvoicingSchedule  = "invoicing"
	InvoicesBucket     = "invoices"
	DefaultInvoiceCron = "cron(0 4 1 * ? *)" // the 1st of each month, 04:00 UTC
)

// StripeSettings are how the admin function reaches Stripe: the secret key
// itself (STRIPE_SECRET_KEY, local development) or the Secrets Manager
// secret holding it (STRIPE_SECRET_KEY_ARN, deployed); STRIPE_API_URL
// points the client elsewhere (stripe-mock in tests). No key: invoices are
// still issued and listed, and payment calls say how to configure Stripe.
var StripeSettings = map[string]string{"STRIPE_SECRET_KEY": "", "STRIPE_SECRET_KEY_ARN": "", "STRIPE_API_URL": ""}

func addBilling(t *Topology) {
	t.Buckets = append(t.Buckets, Bucket{Name: InvoicesBucket})
	// The invoicing run lists workspaces (admin gsi2), reads their metered
	// counters and puts each invoice (conditional on none for the month)
	// after its PDF.
	t.Functions = append(t.Functions, Function{Name: InvoicingFunction, Kind: Scheduled,
		Tables:  []TableAccess{WritesTable(AdminTable, "gsi2")},
		Buckets: []BucketAccess{{Bucket: InvoicesBucket, Access: Write}},
		Timeout: 15 * time.Minute, MemoryMB: 512})
	t.Schedules = append(t.Schedules, Schedule{Name: InvoicingSchedule, Expression: DefaultInvoiceCron,
		EnvOverride: "INVOICING_SCHEDULE", Target: InvoicingFunction})
	t.Routes = append(t.Routes, routes(AdminFunction,
		"GET /v1/admin/workspaces/{id}/billing/details",
		"PUT /v1/admin/workspaces/{id}/billing/payment-method",
		"GET /v1/admin/workspaces/{id}/billing/invoices",
		"POST /v1/admin/workspaces/{id}/billing/invoices/charge-unpaid",
	)...)
}

func withStripe(settings map[string]string) map[string]string {
	for k, v := range StripeSettings {
		settings[k] = v
	}
	return settings
}
