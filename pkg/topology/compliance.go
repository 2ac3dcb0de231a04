package topology

import "time"

// ComplianceFunction serves Parley's compliance API under /api/v1/: the
// audit trail's export and verification and restores from archive (legal
// holds, data subject requests and receipts join it). Job control of
// deletion jobs stays with the deletions function, beside the job routes.
const ComplianceFunction = "compliance"

// complianceRoutes are the compliance function's routes; a new operation
// adds its line here and registers its handler in pkg/compliance.
var complianceRoutes = []string{
	"GET /api/v1/audit/export",
	"GET /api/v1/audit/verify",
	"POST /api/v1/archives/restore",
}

func addCompliance(t *Topology) {
	t.Functions = append(t.Functions,
		// The compliance function authenticates against the admin table,
		// reads and appends the audit chain (admin gsi1 holds it in seq
		// order), reads archives from the archive bucket and writes restored
		// conversations back to the chat table.
		Function{Name: ComplianceFunction, Kind: HTTP,
			Tables:  []TableAccess{WritesTable(AdminTable, "gsi1"), WritesTable(ChatTable)},
			Buckets: []BucketAccess{{Bucket: ArchiveBucket, Access: Read}},
			Timeout: 30 * time.Second, MemoryMB: 256},
	)
	t.Routes = append(t.Routes, routes(ComplianceFunction, complianceRoutes...)...)
}
