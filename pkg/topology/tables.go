package topology

import "time"

// The Tables API: its function and its table.
const (
	TablesFunction = "tables"
	// TablesTable holds bots' tables, their rows, index entries and key
	// claims, and the workspaces' row counters (pkg/tabledata).
	TablesTable = "tables"
)

func addTables(t *Topology) {
	t.Tables = append(t.Tables, Table{
		Name: TablesTable, PartitionKey: "pk", SortKey: "sk",
		Indexes: []Index{
			// a bot's rows by creation (retention by createdAt) and by update
			{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"},
			{Name: "gsi2", PartitionKey: "gsi2pk", SortKey: "gsi2sk"},
		},
	})
	// The tables function authenticates against the admin table (token,
	// bot, membership by key; the workspace's plan for quotas), keeps
	// tables and rows in its table (base table only: rows and indexes are
	// read by key), and records the erase intents of deleted tables in the
	// lifecycle table, kicking the lifecycle queue.
	t.Functions = append(t.Functions, Function{Name: TablesFunction, Kind: HTTP,
		Tables:  []TableAccess{WritesTable(TablesTable), ReadsTable(AdminTable), {Table: LifecycleTable, Access: Write}},
		SendsTo: []string{LifecycleQueue}, Timeout: 30 * time.Second, MemoryMB: 512})
	// The lifecycle worker erases tables and rows (purge, retention, left
	// partitions); the window and preview evaluate retention of rows by age.
	for i := range t.Functions {
		switch t.Functions[i].Name {
		case LifecycleFunction:
			t.Functions[i].Tables = append(t.Functions[i].Tables, WritesTable(TablesTable, "gsi1", "gsi2"))
		case OffpeakFunction, PoliciesFunction:
			t.Functions[i].Tables = append(t.Functions[i].Tables, ReadsTable(TablesTable, "gsi1", "gsi2"))
		}
	}
	t.Routes = append(t.Routes, routes(TablesFunction,
		"GET /v1/tables",
		"POST /v1/tables",
		"GET /v1/tables/{table}",
		"POST /v1/tables/{table}",
		"PUT /v1/tables/{table}",
		"DELETE /v1/tables/{table}",
		"POST /v1/tables/{table}/duplicate",
		"PUT /v1/tables/{table}/column",
		"GET /v1/tables/{table}/row",
		"POST /v1/tables/{table}/rows/find",
		"POST /v1/tables/{table}/rows",
		"PUT /v1/tables/{table}/rows",
		"POST /v1/tables/{table}/rows/delete",
		"POST /v1/tables/{table}/rows/upsert",
	)...)
}
