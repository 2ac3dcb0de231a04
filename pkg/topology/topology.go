// Package topology declares, once, what Parley is made of: its functions, the
// HTTP routes each one serves, the DynamoDB tables and indexes, the buckets,
// the queues with their dead-letter queues and the schedules. The CDK stack,
// the local runner and the test bootstrap all read this declaration, so the
// deployed system and the one tested locally cannot drift apart.
package topology

import (
	"sort"
	"strings"
	"time"
)

// FunctionKind says what invokes a function.
type FunctionKind string

const (
	// HTTP functions sit behind the HTTP API (payload format 2.0).
	HTTP FunctionKind = "http"
	// Worker functions consume an SQS queue with partial batch responses.
	Worker FunctionKind = "worker"
	// Scheduled functions are fired by an EventBridge schedule.
	Scheduled FunctionKind = "scheduled"
)

// Function is one Lambda: built from functions/<Name>.
type Function struct {
	Name string
	Kind FunctionKind
	// Tables and Buckets say what the function does with each table (and
	// which of its indexes it queries) and each bucket; the CDK stack grants
	// exactly that and passes their names in the environment.
	Tables  []TableAccess
	Buckets []BucketAccess
	// Vectors says what the function does with each vector index (read:
	// query and get; write: put; delete).
	Vectors []VectorAccess
	// Embeds: the function embeds text with the embedder its EMBEDDER
	// setting names (bedrock: Amazon Bedrock's InvokeModel).
	Embeds bool
	// SendsTo lists queues the function sends messages to (send only).
	SendsTo []string
	// Drains lists queues the function receives from and deletes from
	// directly (not through an event source mapping), e.g. to settle dead
	// letters. A worker's own queue is granted by its event source.
	Drains []string
	// Settings are the non-resource environment variables the function
	// reads, with their defaults; the CDK app sets them per stage.
	Settings map[string]string
	// PutsEvents: the function puts events on the bus named by its
	// EVENT_BUS setting. SendsEmail: it sends email through SES from its
	// SES_SENDER setting (when one is set).
	PutsEvents, SendsEmail bool
	// Seals: the function seals or opens stored secrets (integration
	// secrets, bot API keys) with the sealing keyring, SEALING_SECRET
	// locally or the Secrets Manager secret SEALING_SECRET_ARN deployed.
	Seals bool
	// SignsReceipts: the function signs receipts (Ed25519) with the key
	// derived from RECEIPT_SIGNING_KEY locally or the Secrets Manager
	// secret RECEIPT_SIGNING_KEY_ARN deployed.
	SignsReceipts bool
	// ReservedConcurrency caps parallel executions (0 = unreserved); workers
	// that write in bulk use it to protect DynamoDB.
	ReservedConcurrency int
	Timeout             time.Duration
	MemoryMB            int
}

// Access is what a function does with a table or a bucket: a set of Read,
// Write and Delete.
type Access uint8

const (
	// Read: get, batch-get and query items (and condition checks); get,
	// head and list objects (which presigned GET URLs also need).
	Read Access = 1 << iota
	// Write: put, update and delete items (DynamoDB grants do not tell
	// deleting an item from writing one); put objects.
	Write
	// Delete: delete objects. Buckets only: on a table, Write covers it.
	Delete
	// ReadWrite is Read and Write.
	ReadWrite = Read | Write
)

// Reads, Writes and Deletes report whether a holds that access.
func (a Access) Reads() bool   { return a&Read != 0 }
func (a Access) Writes() bool  { return a&Write != 0 }
func (a Access) Deletes() bool { return a&Delete != 0 }

// String is "read", "write", "read+write+delete"…
func (a Access) String() string {
	var parts []string
	for _, p := range []struct {
		bit  Access
		name string
	}{{Read, "read"}, {Write, "write"}, {Delete, "delete"}} {
		if a&p.bit != 0 {
			parts = append(parts, p.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// TableAccess is a function's use of one table.
type TableAccess struct {
	Table  string
	Access Access
	// Indexes names the table's indexes the function queries; it may query
	// no other.
	Indexes []string
}

// ReadsTable declares read access to a table and the indexes queried.
func ReadsTable(table string, indexes ...string) TableAccess {
	return TableAccess{Table: table, Access: Read, Indexes: indexes}
}

// WritesTable declares read-write access to a table and the indexes queried.
func WritesTable(table string, indexes ...string) TableAccess {
	return TableAccess{Table: table, Access: ReadWrite, Indexes: indexes}
}

// BucketAccess is a function's use of one bucket.
type BucketAccess struct {
	Bucket string
	Access Access
}

// TableNames lists the tables the function uses, in declaration order.
func (f Function) TableNames() []string {
	out := make([]string, 0, len(f.Tables))
	for _, t := range f.Tables {
		out = append(out, t.Table)
	}
	return out
}

// BucketNames lists the buckets the function uses, in declaration order.
func (f Function) BucketNames() []string {
	out := make([]string, 0, len(f.Buckets))
	for _, b := range f.Buckets {
		out = append(out, b.Bucket)
	}
	return out
}

// QueueNames lists the queues named in the function's environment: those
// it sends to, then those it drains.
func (f Function) QueueNames() []string {
	return append(append([]string(nil), f.SendsTo...), f.Drains...)
}

// TableAccess returns the function's access to a table (zero when none).
func (f Function) TableAccess(table string) TableAccess {
	for _, t := range f.Tables {
		if t.Table == table {
			return t
		}
	}
	return TableAccess{Table: table}
}

// BucketAccess returns the function's access to a bucket (zero when none).
func (f Function) BucketAccess(bucket string) BucketAccess {
	for _, b := range f.Buckets {
		if b.Bucket == bucket {
			return b
		}
	}
	return BucketAccess{Bucket: bucket}
}

// Route maps one HTTP API route to a function. Path uses API Gateway's
// `{name}` parameter syntax, which net/http's ServeMux shares.
type Route struct {
	Method   string
	Path     string
	Function string
}

// Key returns the API Gateway route key, "GET /v1/chat/users/{id}".
func (r Route) Key() string { return r.Method + " " + r.Path }

// MuxKey is the route's net/http ServeMux pattern: the key with a greedy
// parameter {name+} written {name...}.
func (r Route) MuxKey() string { return strings.ReplaceAll(r.Key(), "+}", "...}") }

// Params names the route's path parameters (a greedy one without its +).
func (r Route) Params() []string {
	var out []string
	for _, seg := range strings.Split(r.Path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(strings.Trim(seg, "{}"), "+"))
		}
	}
	return out
}

// Index is a global secondary index with string keys, projecting all attributes.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
}

// Table is a DynamoDB table with string partition and sort keys.
type Table struct {
	Name         string
	PartitionKey string
	SortKey      string
	Indexes      []Index
	// TTLAttribute holds an epoch-seconds expiry. DynamoDB deletes lazily (and
	// emulators not at all), so readers must also treat expired items as gone.
	TTLAttribute string
}

// Bucket is an S3 bucket.
type Bucket struct {
	Name string
	// NotifyQueue receives ObjectCreated notifications when set.
	NotifyQueue string
	// Archive buckets transition objects to a colder storage class.
	Archive bool
}

// Queue is an SQS queue; every work queue has a dead-letter queue.
type Queue struct {
	Name string
	// DeadLetterQueue names the queue that receives messages after
	// MaxReceiveCount failed receives. Empty for a DLQ itself.
	DeadLetterQueue   string
	MaxReceiveCount   int
	VisibilityTimeout time.Duration
	// Consumer is the worker function fed by this queue (empty: none).
	Consumer  string
	BatchSize int
}

// Schedule fires a scheduled function on an EventBridge expression.
type Schedule struct {
	Name string
	// Expression is an EventBridge `cron(...)` or `rate(...)` expression.
	Expression string
	// EnvOverride names the environment variable that replaces Expression
	// (per stage in the CDK app, and locally).
	EnvOverride string
	Target      string
}

// Topology is the whole declaration.
type Topology struct {
	Functions []Function
	Routes    []Route
	Tables    []Table
	Buckets   []Bucket
	Queues    []Queue
	Schedules []Schedule
	// VectorIndexes live in the stage's vector bucket (Amazon S3 Vectors).
	VectorIndexes []VectorIndex
}

// Table names, shared by the stores and the declaration.
const (
	// AdminTable holds accounts, tokens, workspaces, members and bots.
	AdminTable = "admin"
	// ChatTable holds each bot's users and, later, conversations and messages.
	ChatTable = "chat"
)

// BotCodeBucket holds bot and integration code and bots' inline medias.
const BotCodeBucket = "botcode"

// Function names.
const (
	AdminFunction = "admin"
	ChatFunction  = "chat"
	// DeliveryFunction delivers events and incoming messages to dev bots'
	// urls, and releases scheduled messages and events at their time.
	DeliveryFunction = "delivery"
)

// Queues of the chat API.
const (
	DeliveryQueue = "delivery"
	DeliveryDLQ   = "delivery-dlq"
)

// Default returns Parley's topology.
func Default() Topology {
	t := Topology{
		Functions: []Function{
			// The admin function reads the chat table's per-day bot counters
			// (analytics, by key), keeps bot and integration code in the code
			// bucket (put, presigned GET, delete of replaced objects), records
			// purge intents in the lifecycle table and queues a deleted bot's
			// purge.
			{Name: AdminFunction, Kind: HTTP,
				Tables: []TableAccess{WritesTable(AdminTable, "gsi1", "gsi2"), ReadsTable(ChatTable),
					{Table: LifecycleTable, Access: Write}},
				// Invoice PDFs: presigned GETs only.
				Buckets: []BucketAccess{{Bucket: BotCodeBucket, Access: Read | Write | Delete}, {Bucket: InvoicesBucket, Access: Read}},
				// A bot's change queues register/unregister for its servers
				// on the delivery queue.
				SendsTo: []string{LifecycleQueue, DeliveryQueue}, Seals: true,
				// Invitation codes go to the invited by email, from SES_SENDER.
				// PUBLIC_URL is the base of the absolute webhook urls sent to
				// integrations ("": the request's own scheme and host).
				Settings: withStripe(map[string]string{"SES_SENDER": "", "PUBLIC_URL": "", "ALLOW_PRIVATE_URLS": "false"}), SendsEmail: true, Timeout: 10 * time.Second, MemoryMB: 256},
			// The chat function authenticates against the admin table (token,
			// bot, membership, integrations: by key), writes there what
			// integrations configure and what fails between Parley and bots'
			// servers (bot issues and logs), and records erase intents in the
			// lifecycle table, handed to the lifecycle queue. It also serves
			// integrations' webhooks.
			{Name: ChatFunction, Kind: HTTP,
				Tables: []TableAccess{WritesTable(ChatTable, "gsi1", "gsi2"), WritesTable(AdminTable),
					{Table: LifecycleTable, Access: Write}},
				SendsTo: []string{DeliveryQueue, LifecycleQueue}, Timeout: 10 * time.Second, MemoryMB: 256,
				// Actions are posted to integrations' urls: never to private
				// addresses, unless allowed (local development).
				Settings: map[string]string{"ALLOW_PRIVATE_URLS": "false"}},
			// It reads the bot record (url, signing secret, installations)
			// and writes event statuses, released messages and the events of
			// incoming messages, and the bot's issues and logs (admin table).
			// Its posts time out well within the timeout; retries are re-sent
			// jobs, not long waits; never to private addresses unless allowed.
			{Name: DeliveryFunction, Kind: Worker, Tables: []TableAccess{WritesTable(ChatTable), WritesTable(AdminTable)},
				SendsTo: []string{DeliveryQueue}, Timeout: 60 * time.Second, MemoryMB: 256,
				Settings: map[string]string{"ALLOW_PRIVATE_URLS": "false"}},
		},
		Tables: []Table{
			{
				Name: AdminTable, PartitionKey: "pk", SortKey: "sk",
				Indexes: []Index{
					{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"},
					{Name: "gsi2", PartitionKey: "gsi2pk", SortKey: "gsi2sk"},
				},
				TTLAttribute: "expiresAt",
			},
			{
				Name: ChatTable, PartitionKey: "pk", SortKey: "sk",
				Indexes: []Index{
					{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"},
					// conversations by update, the bot's messages and events by id
					{Name: "gsi2", PartitionKey: "gsi2pk", SortKey: "gsi2sk"},
				},
				TTLAttribute: "expiresAt",
			},
		},
		Queues: []Queue{
			{Name: DeliveryDLQ},
			// The worker retries failed deliveries itself (bounded, with
			// backoff) by re-sending jobs; the redrive only catches jobs that
			// keep failing on AWS errors.
			{Name: DeliveryQueue, DeadLetterQueue: DeliveryDLQ, MaxReceiveCount: 5,
				VisibilityTimeout: 90 * time.Second, Consumer: DeliveryFunction, BatchSize: 10},
		},
	}
	t.Routes = append(t.Routes, routes(AdminFunction,
		"GET /v1/admin/account/me",
		"GET /v1/admin/account/pats",
		"POST /v1/admin/account/pats",
		"DELETE /v1/admin/account/pats/{id}",
		"POST /v1/admin/workspaces",
		"GET /v1/admin/workspaces",
		"GET /v1/admin/workspaces/{id}",
		"POST /v1/admin/bots",
		"GET /v1/admin/bots",
		"GET /v1/admin/bots/{id}",
		"PUT /v1/admin/bots/{id}",
		"DELETE /v1/admin/bots/{id}",
		"POST /v1/admin/bots/{id}/transfer",
		"GET /v1/admin/bots/{id}/logs",
		"GET /v1/admin/bots/{id}/webchat",
		"GET /v1/admin/bots/{id}/analytics",
		"GET /v1/admin/bots/{id}/issues",
		"GET /v1/admin/bots/{id}/issues/{issueId}",
		"DELETE /v1/admin/bots/{id}/issues/{issueId}",
		"GET /v1/admin/bots/{id}/issues/{issueId}/events",
		"POST /v1/admin/account/invitations/accept",
		"PUT /v1/admin/workspaces/{id}",
		"DELETE /v1/admin/workspaces/{id}",
		"GET /v1/admin/workspaces/{id}/audit-records",
		"GET /v1/admin/workspaces/{id}/usages",
		"GET /v1/admin/workspaces/{id}/quota",
		"GET /v1/admin/workspaces/{id}/quotas",
		"GET /v1/admin/usages/{id}",
		"PUT /v1/admin/workspaces/{id}/change-plan",
		"GET /v1/admin/workspace-members",
		"GET /v1/admin/workspace-members/me",
		"POST /v1/admin/workspace-members",
		"PUT /v1/admin/workspace-members/{id}",
		"DELETE /v1/admin/workspace-members/{id}",
		"POST /v1/admin/workspace-members/{id}/invitation",
		"POST /v1/admin/integrations",
		"GET /v1/admin/integrations",
		"GET /v1/admin/integrations/{id}",
		"PUT /v1/admin/integrations/{id}",
		"DELETE /v1/admin/integrations/{id}",
		"GET /v1/admin/integrations/{id}/logs",
		"GET /v1/admin/integrations/{id}/{version}",
		"GET /v1/admin/hub/integrations",
		"GET /v1/admin/hub/integrations/{id}",
		"GET /v1/admin/hub/integrations/{id}/{version}",
	)...)
	t.Routes = append(t.Routes, routes(ChatFunction,
		"POST /v1/chat/users",
		"GET /v1/chat/users",
		"POST /v1/chat/users/get-or-create",
		"GET /v1/chat/users/{id}",
		"PUT /v1/chat/users/{id}",
		"DELETE /v1/chat/users/{id}",
		"POST /v1/chat/conversations",
		"GET /v1/chat/conversations",
		"POST /v1/chat/conversations/get-or-create",
		"GET /v1/chat/conversations/{id}",
		"PUT /v1/chat/conversations/{id}",
		"DELETE /v1/chat/conversations/{id}",
		"GET /v1/chat/conversations/{id}/participants",
		"POST /v1/chat/conversations/{id}/participants",
		"GET /v1/chat/conversations/{id}/participants/{userId}",
		"DELETE /v1/chat/conversations/{id}/participants/{userId}",
		"POST /v1/chat/messages",
		"GET /v1/chat/messages",
		"POST /v1/chat/messages/get-or-create",
		"GET /v1/chat/messages/{id}",
		"PUT /v1/chat/messages/{id}",
		"DELETE /v1/chat/messages/{id}",
		"POST /v1/chat/events",
		"GET /v1/chat/events",
		"GET /v1/chat/events/{id}",
		"DELETE /v1/chat/events/scheduled/{id}",
		"GET /v1/chat/states/{type}/{id}/{name}",
		"POST /v1/chat/states/{type}/{id}/{name}",
		"PATCH /v1/chat/states/{type}/{id}/{name}",
		"POST /v1/chat/states/{type}/{id}/{name}/get-or-set",
		"POST /v1/chat/states/{type}/{id}/{name}/expiry",
		"POST /v1/chat/actions",
		"POST /v1/chat/integrations/configure",
	)...)
	// Integrations' webhooks, any sub-path ({path+}: API Gateway's greedy
	// parameter, {path...} in net/http), every method the SDK forwards.
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		t.Routes = append(t.Routes, routes(ChatFunction, m+" /v1/webhooks/{id}", m+" /v1/webhooks/{id}/{path+}")...)
	}
	addLifecycle(&t)
	addCompliance(&t)
	addTables(&t)
	t.Buckets = append(t.Buckets, Bucket{Name: BotCodeBucket})
	addFiles(&t)
	addBilling(&t)
	return t
}

func routes(function string, keys ...string) []Route {
	out := make([]Route, 0, len(keys))
	for _, k := range keys {
		method, path, _ := strings.Cut(k, " ")
		out = append(out, Route{Method: method, Path: path, Function: function})
	}
	return out
}

// Function returns the named function and whether it is declared.
func (t Topology) Function(name string) (Function, bool) {
	for _, f := range t.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// RoutesOf returns the routes served by the named function.
func (t Topology) RoutesOf(function string) []Route {
	var out []Route
	for _, r := range t.Routes {
		if r.Function == function {
			out = append(out, r)
		}
	}
	return out
}

// EnvVar is the environment variable through which a resource's physical name
// reaches a function: TABLE_ADMIN, BUCKET_FILES, QUEUE_LIFECYCLE_DLQ.
func EnvVar(kind, name string) string {
	return strings.ToUpper(kind + "_" + strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// PhysicalName is the resource name used for a stage where the platform does
// not generate one (locally, and as a readable prefix in AWS).
func PhysicalName(stage, name string) string { return "parley-" + stage + "-" + name }

// Environment returns, for a function, every resource environment variable
// and the physical names a stage gives them.
func (t Topology) Environment(stage string, f Function) map[string]string {
	env := map[string]string{}
	for _, n := range f.TableNames() {
		env[EnvVar("table", n)] = PhysicalName(stage, n)
	}
	for _, n := range f.BucketNames() {
		env[EnvVar("bucket", n)] = PhysicalName(stage, n)
	}
	for _, n := range f.QueueNames() {
		env[EnvVar("queue", n)] = PhysicalName(stage, n)
	}
	for _, v := range f.Vectors {
		env[EnvVar("vectors", v.Index)] = VectorIndexLocation(stage, v.Index)
	}
	return env
}

// ResourceEnvironment returns the environment naming every declared
// resource: what the local runner, which hosts every function in one
// process, passes to all of them.
func (t Topology) ResourceEnvironment(stage string) map[string]string {
	env := map[string]string{}
	for _, tb := range t.Tables {
		env[EnvVar("table", tb.Name)] = PhysicalName(stage, tb.Name)
	}
	for _, b := range t.Buckets {
		env[EnvVar("bucket", b.Name)] = PhysicalName(stage, b.Name)
	}
	for _, q := range t.Queues {
		env[EnvVar("queue", q.Name)] = PhysicalName(stage, q.Name)
	}
	for _, v := range t.VectorIndexes {
		env[EnvVar("vectors", v.Name)] = VectorIndexLocation(stage, v.Name)
	}
	return env
}

// SortedRouteKeys lists every route key, for stable output.
func (t Topology) SortedRouteKeys() []string {
	keys := make([]string, 0, len(t.Routes))
	for _, r := range t.Routes {
		keys = append(keys, r.Key())
	}
	sort.Strings(keys)
	return keys
}
