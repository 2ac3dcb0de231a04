package topology

import "time"

// ComplianceFunction serves Parley's compliance API under /api/v1/: legal
// holds, data subject requests, receipts (and the audit trail and archive
// restore).
const ComplianceFunction = "compliance"

func addCompliance(t *Topology) {
	t.Functions = append(t.Functions, Function{
		Name: ComplianceFunction, Kind: HTTP,
		// Holds, requests and receipts in the lifecycle table, with their
		// audit records (admin table); a workspace's bots (admin gsi1);
		// users by tags on the chat table; export downloads presigned on
		// the archive bucket. Data requests run in the lifecycle worker.
		Tables:  []TableAccess{WritesTable(LifecycleTable), WritesTable(AdminTable, "gsi1"), ReadsTable(ChatTable)},
		Buckets: []BucketAccess{{Bucket: ArchiveBucket, Access: Read}},
		SendsTo: []string{LifecycleQueue}, SignsReceipts: true,
		Timeout: 10 * time.Second, MemoryMB: 256,
	})
	t.Routes = append(t.Routes, routes(ComplianceFunction,
		"POST /api/v1/legal-holds",
		"GET /api/v1/legal-holds",
		"POST /api/v1/legal-holds/{id}/release",
		"POST /api/v1/data-requests",
		"GET /api/v1/data-requests/{id}",
		"GET /api/v1/receipts/public-key",
		"GET /api/v1/receipts/{id}",
	)...)
}
