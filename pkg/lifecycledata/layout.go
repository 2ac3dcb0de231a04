package lifecycledata

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// Index partitions of the lifecycle table's gsi1 (sparse: an item is on
// an index only while it has the state the index names).
const (
	// DueIndex holds deletion jobs that still have work.
	DueIndex = "DUE"
	// ProofIndex holds finished jobs whose proof is not yet written.
	ProofIndex = "PROOF"
	// PoliciesIndex holds every policy.
	PoliciesIndex = "POLICIES"
	// OpenRunsIndex holds unfinished policy runs; RunProofIndex finished
	// ones whose audit record is not yet written.
	OpenRunsIndex = "RUNS"
	RunProofIndex = "RUNPROOF"
)

// JobKey is a deletion job's key.
func JobKey(bot, job string) map[string]types.AttributeValue { return ds.Key(JobPK(bot), "JOB#"+job) }

// JobPK is the partition of a bot's deletion jobs.
func JobPK(bot string) string { return "BOT#" + bot }

// JobSK is a deletion job's sort key.
func JobSK(job string) string { return "JOB#" + job }

// JobChunksPK is the partition of a job's chunks.
func JobChunksPK(job string) string { return "JOB#" + job }

// JobChunkKey is the key of a job's chunk n.
func JobChunkKey(job string, n int) map[string]types.AttributeValue {
	return ds.Key(JobChunksPK(job), chunkSK(n))
}

func chunkSK(n int) string { return fmt.Sprintf("CHUNK#%05d", n) }

// ChunkSK is the sort key of chunk n (of a job or a run).
func ChunkSK(n int) string { return chunkSK(n) }

// PolicyPK is the partition of a workspace's policies; PolicySKPrefix
// begins each policy's sort key.
func PolicyPK(ws string) string { return "WS#" + ws }

// PolicySKPrefix begins every policy's sort key.
const PolicySKPrefix = "POLICY#"

// PolicyKey is a policy's key.
func PolicyKey(ws, id string) map[string]types.AttributeValue {
	return ds.Key(PolicyPK(ws), PolicySKPrefix+id)
}

// RunsPK is the partition of a policy's runs; RunSKPrefix begins each
// run's sort key.
func RunsPK(ws, pol string) string { return "WS#" + ws + "#POLICY#" + pol }

// RunSKPrefix begins every run's sort key.
const RunSKPrefix = "RUN#"

// RunKey is a policy run's key.
func RunKey(ws, pol, run string) map[string]types.AttributeValue {
	return ds.Key(RunsPK(ws, pol), RunSKPrefix+run)
}

// RunChunksPK is the partition of a run's chunks.
func RunChunksPK(run string) string { return "RUN#" + run }

// RunChunkKey is the key of a run's chunk n.
func RunChunkKey(run string, n int) map[string]types.AttributeValue {
	return ds.Key(RunChunksPK(run), chunkSK(n))
}
