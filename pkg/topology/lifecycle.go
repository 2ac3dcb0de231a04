package topology

import "time"

// Names of the data-lifecycle parts: deletion jobs, the off-peak window and
// the worker that deletes (and, for retention, archives) in batches.
const (
	LifecycleTable     = "lifecycle"
	DeletionsFunction  = "deletions"
	OffpeakFunction    = "offpeak"
	LifecycleFunction  = "lifecycle"
	LifecycleQueue     = "lifecycle"
	LifecycleDLQ       = "lifecycle-dlq"
	OffpeakSchedule    = "offpeak"
	DefaultOffpeakCron = "cron(0 2 * * ? *)"
	// PoliciesFunction serves the retention policy API; ArchiveBucket
	// receives what archive policies move out of the live tables.
	PoliciesFunction = "policies"
	ArchiveBucket    = "archive"
)

// OffpeakSettings are what every lifecycle function reads about the window.
var OffpeakSettings = map[string]string{
	"OFFPEAK_SCHEDULE": DefaultOffpeakCron,
	"WINDOW_OFFPEAK":   "4h",
	// How long finished job records stay readable.
	"JOB_RETENTION": "2160h",
	// Where DeletionJobCompleted events go, and who emails the owner
	// (no email when empty).
	"EVENT_BUS":  "default",
	"SES_SENDER": "",
	// The per-workspace throughput budget of the lifecycle worker: items
	// erased (or archived) per second across all of a workspace's deletion
	// job and retention chunks.
	"DELETION_ITEMS_PER_SECOND": "1000",
}

func addLifecycle(t *Topology) {
	t.Tables = append(t.Tables, Table{
		// Jobs (pk BOT#<bot>, sk JOB#<job>) and their chunks (pk JOB#<job>),
		// with a sparse index of jobs still to run, by due time.
		Name: LifecycleTable, PartitionKey: "pk", SortKey: "sk",
		Indexes:      []Index{{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"}},
		TTLAttribute: "expiresAt",
	})
	t.Queues = append(t.Queues,
		Queue{Name: LifecycleDLQ},
		// The worker retries a chunk itself (3 times, with backoff) before
		// giving up on it; the redrive only catches messages it cannot read
		// or that crash it repeatedly.
		Queue{Name: LifecycleQueue, DeadLetterQueue: LifecycleDLQ, MaxReceiveCount: 5,
			VisibilityTimeout: 5 * time.Minute, Consumer: LifecycleFunction, BatchSize: 10},
	)
	t.Functions = append(t.Functions,
		// Deletions: jobs in the lifecycle table; the caller's token, bot key
		// and bot from the admin table, a cId's user from the chat table.
		// Job control appends to the audit chain (admin table) and a resume
		// re-queues the job's chunks.
		Function{Name: DeletionsFunction, Kind: HTTP,
			Tables:   []TableAccess{WritesTable(LifecycleTable), WritesTable(AdminTable), ReadsTable(ChatTable)},
			SendsTo:  []string{LifecycleQueue},
			Settings: OffpeakSettings, Seals: true, Timeout: 10 * time.Second, MemoryMB: 256},
		// Policies: each change with its audit record (admin table); preview
		// evaluates like the window, listing a workspace's bots (admin gsi1)
		// and their conversations and events by age (chat gsi2).
		Function{Name: PoliciesFunction, Kind: HTTP,
			Tables:  []TableAccess{WritesTable(LifecycleTable), WritesTable(AdminTable, "gsi1"), ReadsTable(ChatTable, "gsi2")},
			Timeout: 10 * time.Second, MemoryMB: 256},
		// The window finds due jobs, open runs, policies and the outbox on the
		// lifecycle table's gsi1, resolves a cId through chat gsi1, evaluates
		// policies through chat gsi2 and admin gsi1, and writes the proof's
		// audit record. It never deletes chat data itself.
		Function{Name: OffpeakFunction, Kind: Scheduled,
			Tables: []TableAccess{WritesTable(LifecycleTable, "gsi1"), WritesTable(AdminTable, "gsi1"),
				ReadsTable(ChatTable, "gsi1", "gsi2")},
			SendsTo: []string{LifecycleQueue}, Drains: []string{LifecycleDLQ}, Settings: OffpeakSettings,
			PutsEvents: true, SendsEmail: true, SignsReceipts: true, Timeout: 15 * time.Minute, MemoryMB: 512},
		// Reserved concurrency keeps bulk deletes from starving request traffic.
		// The worker erases chat data (and a deleted bot's code and medias),
		// archives to the archive bucket (head, then put), writes proofs'
		// audit records and re-queues the rest of a bot's purge.
		Function{Name: LifecycleFunction, Kind: Worker,
			// Purge and retention walk the catalogue: chat kinds list through
			// chat gsi1/gsi2, admin kinds (issue events, API keys) through admin gsi1.
			Tables: []TableAccess{WritesTable(LifecycleTable), WritesTable(ChatTable, "gsi1", "gsi2"), WritesTable(AdminTable, "gsi1")},
			Buckets: []BucketAccess{{Bucket: ArchiveBucket, Access: ReadWrite | Delete},
				{Bucket: BotCodeBucket, Access: Read | Delete}},
			SendsTo: []string{LifecycleQueue}, Settings: OffpeakSettings, SignsReceipts: true,
			PutsEvents: true, SendsEmail: true, ReservedConcurrency: 4, Timeout: 5 * time.Minute, MemoryMB: 512},
	)
	t.Schedules = append(t.Schedules, Schedule{
		Name: OffpeakSchedule, Expression: DefaultOffpeakCron, EnvOverride: "OFFPEAK_SCHEDULE", Target: OffpeakFunction,
	})
	t.Routes = append(t.Routes, routes(DeletionsFunction,
		"POST /api/public/bot/{botId}/conversations/delete",
		"GET /api/public/bot/{botId}/conversations/delete/{jobId}",
		"POST /api/public/bot/{botId}/conversations/delete/{jobId}/cancel",
		"POST /api/public/bot/{botId}/conversations/delete/{jobId}/pause",
		"POST /api/public/bot/{botId}/conversations/delete/{jobId}/resume",
	)...)
	t.Routes = append(t.Routes, routes(PoliciesFunction,
		"POST /api/v1/policy/create",
		"GET /api/v1/policy/list",
		"GET /api/v1/policy/{policyId}/fetch",
		"POST /api/v1/policy/{policyId}/update",
		"POST /api/v1/policy/{policyId}/delete",
		"GET /api/v1/policy/{policyId}/runs",
		"POST /api/v1/policy/{policyId}/preview",
	)...)
	t.Buckets = append(t.Buckets, Bucket{Name: ArchiveBucket, Archive: true})
	t.Routes = append(t.Routes, routes(AdminFunction,
		"GET /v1/admin/bots/baks",
		"POST /v1/admin/bots/baks",
		"DELETE /v1/admin/bots/baks/{id}",
	)...)
}
