package topology

import (
	"strings"
	"time"
)

// The Files API: the files function (/v1/files*), the files table, the
// private files bucket whose ObjectCreated notifications feed the indexer
// through the files queue, and the vector index of passages.
const (
	FilesFunction   = "files"
	IndexerFunction = "indexer"
	FilesTable      = "files"
	FilesBucket     = "files"
	FilesQueue      = "files"
	FilesDLQ        = "files-dlq"
	// PassagesIndex holds one vector per passage of an indexed file.
	PassagesIndex = "passages"
	// VectorBucket is the stage's Amazon S3 Vectors bucket.
	VectorBucket = "vectors"
	// PassageDimensions is the passages' vector size: Titan Text
	// Embeddings V2's largest, and the local embedder's size for files.
	PassageDimensions = 1024
)

// VectorIndex is an index of the stage's vector bucket.
type VectorIndex struct {
	Name      string
	Dimension int
	// Metric is "cosine" or "euclidean".
	Metric string
	// NonFilterable names metadata keys that are stored but never filtered on.
	NonFilterable []string
}

// VectorAccess is a function's use of a vector index: Read (query, get),
// Write (put), Delete.
type VectorAccess struct {
	Index  string
	Access Access
}

// VectorAccess returns the function's access to a vector index (zero when
// none).
func (f Function) VectorAccess(index string) VectorAccess {
	for _, v := range f.Vectors {
		if v.Index == index {
			return v
		}
	}
	return VectorAccess{Index: index}
}

// VectorIndexLocation is how a vector index reaches a function
// (VECTORS_<INDEX>): "<vector bucket>/<index>".
func VectorIndexLocation(stage, index string) string {
	return PhysicalName(stage, VectorBucket) + "/" + index
}

// SplitVectorLocation reads a VECTORS_<INDEX> value back.
func SplitVectorLocation(v string) (bucket, index string, ok bool) {
	bucket, index, ok = strings.Cut(v, "/")
	return bucket, index, ok && bucket != "" && index != ""
}

// EmbedderSettings are the settings of functions that embed: EMBEDDER is
// "local" (in process, no network: make run and the tests) or "bedrock"
// (Titan Text Embeddings V2; the deployed stages set it).
var EmbedderSettings = map[string]string{"EMBEDDER": "local"}

func addFiles(t *Topology) {
	t.Tables = append(t.Tables, Table{
		// Files (pk BOT#<bot>, sk FILE#<id>) by update on gsi1, key claims,
		// passages (pk BOT#<bot>#FILE#<id>), usage per workspace.
		Name: FilesTable, PartitionKey: "pk", SortKey: "sk",
		Indexes: []Index{{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"}},
	})
	t.Queues = append(t.Queues,
		Queue{Name: FilesDLQ},
		// The indexer gives up on a file itself after 3 deliveries (and says
		// why on the file); the redrive only catches messages that crash it.
		Queue{Name: FilesQueue, DeadLetterQueue: FilesDLQ, MaxReceiveCount: 5,
			VisibilityTimeout: 15 * time.Minute, Consumer: IndexerFunction, BatchSize: 1},
	)
	t.Buckets = append(t.Buckets, Bucket{Name: FilesBucket, NotifyQueue: FilesQueue})
	t.VectorIndexes = append(t.VectorIndexes, VectorIndex{Name: PassagesIndex, Dimension: PassageDimensions, Metric: "cosine"})
	t.Functions = append(t.Functions,
		// The API: records in the files table (gsi1 lists by update), the
		// caller's token, bot, membership and workspace plan in the admin
		// table, erase intents in the lifecycle table kicked to its queue,
		// retag jobs to the files queue; it signs uploads (put) and downloads
		// (get) but never touches a file's bytes; it queries passages.
		Function{Name: FilesFunction, Kind: HTTP,
			Tables:  []TableAccess{WritesTable(FilesTable, "gsi1"), ReadsTable(AdminTable), {Table: LifecycleTable, Access: Write}},
			Buckets: []BucketAccess{{Bucket: FilesBucket, Access: ReadWrite}},
			Vectors: []VectorAccess{{Index: PassagesIndex, Access: Read}},
			SendsTo: []string{LifecycleQueue, FilesQueue}, Embeds: true, Settings: EmbedderSettings,
			Timeout: 10 * time.Second, MemoryMB: 512},
		// The indexer: reads the uploaded object (head, get), deletes rejected
		// or stale ones, writes records and passages, reads the workspace's
		// plan, writes (and on failure deletes) vectors.
		Function{Name: IndexerFunction, Kind: Worker,
			Tables:  []TableAccess{WritesTable(FilesTable), ReadsTable(AdminTable)},
			Buckets: []BucketAccess{{Bucket: FilesBucket, Access: Read | Delete}},
			Vectors: []VectorAccess{{Index: PassagesIndex, Access: Read | Write | Delete}},
			Embeds:  true, Settings: EmbedderSettings, Timeout: 10 * time.Minute, MemoryMB: 1024, ReservedConcurrency: 4},
	)
	t.Routes = append(t.Routes, routes(FilesFunction,
		"PUT /v1/files",
		"GET /v1/files",
		"GET /v1/files/search",
		"GET /v1/files/{id}",
		"PUT /v1/files/{id}",
		"DELETE /v1/files/{id}",
		"GET /v1/files/public/{botId}/{id}",
	)...)
	// The lifecycle erases files (purge, deletion, retention: the base
	// table), their objects and vectors; the window and the policy preview
	// find files by age (gsi1).
	for i, f := range t.Functions {
		switch f.Name {
		case LifecycleFunction:
			f.Tables = append(f.Tables, WritesTable(FilesTable))
			f.Buckets = append(f.Buckets, BucketAccess{Bucket: FilesBucket, Access: Read | Delete})
			f.Vectors = append(f.Vectors, VectorAccess{Index: PassagesIndex, Access: Delete})
		case OffpeakFunction, PoliciesFunction:
			f.Tables = append(f.Tables, ReadsTable(FilesTable, "gsi1"))
		default:
			continue
		}
		t.Functions[i] = f
	}
}
