package topology

import "time"

// ComplianceFunction serves Parley's compliance API under /api/v1/: legal
// holds, data subject requests, receipts, the audit trail's export and
// verification and restores from archive. Job control of deletion jobs
// stays with the deletions function, beside the job routes.
const ComplianceFunction = "compliance"

// complianceRoutes are the compliance function's routes; a new operation
// adds its line here and registers its handler in pkg/compliance.
var complianceRoutes = []string{
	"GET /api/v1/audit/export",
	"GET /api/v1/audit/verify",
	"POST /api/v1/archives/restore",
	"POST /api/v1/legal-holds",
	"GET /api/v1/legal-holds",
	"POST /api/v1/legal-holds/{id}/release",
	"POST /api/v1/data-requests",
	"GET /api/v1/data-requests/{id}",
	"GET /api/v1/receipts/public-key",
	"GET /api/v1/receipts/{id}",
}

func addCompliance(t *Topology) {
	t.Functions = append(t.Functions,
		// The compliance function authenticates against the admin table,
		// reads and appends the audit chain (admin gsi1 holds it in seq
		// order and lists a workspace's bots), keeps holds, requests and
		// receipts in the lifecycle table, finds users by tags and writes
		// restored conversations back in the chat table, reads archives and
		// presigns export downloads on the archive bucket, and queues data
		// requests on the lifecycle queue (the lifecycle worker runs them).
		Function{Name: ComplianceFunction, Kind: HTTP,
			Tables:  []TableAccess{WritesTable(AdminTable, "gsi1"), WritesTable(ChatTable), WritesTable(LifecycleTable)},
			Buckets: []BucketAccess{{Bucket: ArchiveBucket, Access: Read}},
			SendsTo: []string{LifecycleQueue}, SignsReceipts: true,
			Timeout: 30 * time.Second, MemoryMB: 256},
	)
	t.Routes = append(t.Routes, routes(ComplianceFunction, complianceRoutes...)...)
}
