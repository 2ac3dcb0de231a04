package admindata

// FileQuota is what a plan allows the Files API per workspace, in bytes:
// Storage bounds the contents the files bucket keeps for the workspace's
// bots, Vectors their indexed passages (vectors and text). Botpress quotes
// both per plan in megabytes and gigabytes ("File Storage", "Vector DB
// Storage"); Parley counts the bytes it measures. The largest file a plan
// takes is Quotas' file_max_size_bytes.
type FileQuota struct {
	Storage, Vectors int64
}

// FileQuotas are each plan's file quotas.
var FileQuotas = map[string]FileQuota{
	"community":  {Storage: 100 << 20, Vectors: 100 << 20},
	"plus":       {Storage: 1 << 30, Vectors: 1 << 30},
	"team":       {Storage: 10 << 30, Vectors: 2 << 30},
	"enterprise": {Storage: 100 << 30, Vectors: 20 << 30},
}

// FileQuotaOf returns a plan's file quotas and largest file (an unknown
// plan gets the community plan's).
func FileQuotaOf(plan string) (q FileQuota, maxFile int64) {
	q, ok := FileQuotas[plan]
	if !ok {
		q = FileQuotas["community"]
		plan = "community"
	}
	return q, int64(Quota(plan, "file_max_size_bytes"))
}
