package search

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors/document"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors/types"
)

// Vector is one entry of a vector index: a key unique in the index, the
// embedding and its filterable metadata (strings, numbers, booleans or
// lists of strings).
type Vector struct {
	Key  string
	Data []float32
	Meta map[string]any
}

// Hit is a vector a query found: Score is the similarity, higher is closer
// (1 - cosine distance, or 1/(1+d) for euclidean indexes).
type Hit struct {
	Key   string
	Score float32
	Meta  map[string]any
}

// Filter is a metadata filter in S3 Vectors' syntax: {"bot": "bot_1"},
// {"tags": {"$eq": "lang=en"}} (on a list, any element matches), $ne, $gt,
// $gte, $lt, $lte, $in, $nin, $exists, $and, $or.
type Filter map[string]any

// VectorIndex stores vectors and answers nearest-neighbour queries.
type VectorIndex interface {
	// Put writes vectors (replacing those with the same keys).
	Put(ctx context.Context, vs []Vector) error
	// Query answers the topK vectors closest to q that match f, closest first.
	Query(ctx context.Context, q []float32, topK int, f Filter) ([]Hit, error)
	// Delete removes vectors by key; missing keys are ignored.
	Delete(ctx context.Context, keys []string) error
	// Get reads vectors by key, with their data and metadata; missing keys
	// are left out.
	Get(ctx context.Context, keys []string) ([]Vector, error)
}

// S3VectorsAPI is the part of Amazon S3 Vectors an S3Vectors index calls.
type S3VectorsAPI interface {
	PutVectors(ctx context.Context, in *s3vectors.PutVectorsInput, opts ...func(*s3vectors.Options)) (*s3vectors.PutVectorsOutput, error)
	QueryVectors(ctx context.Context, in *s3vectors.QueryVectorsInput, opts ...func(*s3vectors.Options)) (*s3vectors.QueryVectorsOutput, error)
	DeleteVectors(ctx context.Context, in *s3vectors.DeleteVectorsInput, opts ...func(*s3vectors.Options)) (*s3vectors.DeleteVectorsOutput, error)
	GetVectors(ctx context.Context, in *s3vectors.GetVectorsInput, opts ...func(*s3vectors.Options)) (*s3vectors.GetVectorsOutput, error)
}

var _ S3VectorsAPI = (*s3vectors.Client)(nil)

// S3 Vectors' limits per call.
const (
	// MaxPutVectors is how many vectors one PutVectors or DeleteVectors takes.
	MaxPutVectors = 500
	// MaxTopK is the largest topK one QueryVectors answers.
	MaxTopK = 100
	// MaxGetVectors is how many keys one GetVectors takes.
	MaxGetVectors = 100
)

// S3Vectors is a VectorIndex in an Amazon S3 Vectors index (serverless,
// pay per use): what Parley uses deployed and, through the project's
// emulator layer (pkg/emulator, which adds QueryVectors to moto), locally.
type S3Vectors struct {
	Client S3VectorsAPI
	Bucket string
	Index  string
	// Euclidean: the index measures euclidean distance (default cosine).
	Euclidean bool
}

var _ VectorIndex = S3Vectors{}

// Put implements VectorIndex: one PutVectors per MaxPutVectors vectors.
func (s S3Vectors) Put(ctx context.Context, vs []Vector) error {
	for len(vs) > 0 {
		n := min(len(vs), MaxPutVectors)
		in := make([]types.PutInputVector, n)
		for i, v := range vs[:n] {
			in[i] = types.PutInputVector{Key: aws.String(v.Key), Data: &types.VectorDataMemberFloat32{Value: v.Data}}
			if v.Meta != nil {
				in[i].Metadata = document.NewLazyDocument(v.Meta)
			}
		}
		if _, err := s.Client.PutVectors(ctx, &s3vectors.PutVectorsInput{VectorBucketName: &s.Bucket, IndexName: &s.Index, Vectors: in}); err != nil {
			return fmt.Errorf("put vectors: %w", err)
		}
		vs = vs[n:]
	}
	return nil
}

// Query implements VectorIndex: one QueryVectors.
func (s S3Vectors) Query(ctx context.Context, q []float32, topK int, f Filter) ([]Hit, error) {
	in := &s3vectors.QueryVectorsInput{
		VectorBucketName: &s.Bucket, IndexName: &s.Index, TopK: aws.Int32(int32(min(max(topK, 1), MaxTopK))),
		QueryVector: &types.VectorDataMemberFloat32{Value: q}, ReturnDistance: true, ReturnMetadata: true,
	}
	if len(f) > 0 {
		in.Filter = document.NewLazyDocument(map[string]any(f))
	}
	out, err := s.Client.QueryVectors(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("query vectors: %w", err)
	}
	hits := make([]Hit, 0, len(out.Vectors))
	for _, v := range out.Vectors {
		h := Hit{Key: aws.ToString(v.Key), Score: s.score(aws.ToFloat32(v.Distance))}
		if v.Metadata != nil {
			if err := v.Metadata.UnmarshalSmithyDocument(&h.Meta); err != nil {
				return nil, fmt.Errorf("query vectors: metadata of %s: %w", h.Key, err)
			}
		}
		hits = append(hits, h)
	}
	return hits, nil
}

func (s S3Vectors) score(d float32) float32 {
	if s.Euclidean {
		return 1 / (1 + d)
	}
	return 1 - d
}

// Delete implements VectorIndex: one DeleteVectors per MaxPutVectors keys.
func (s S3Vectors) Delete(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), MaxPutVectors)
		if _, err := s.Client.DeleteVectors(ctx, &s3vectors.DeleteVectorsInput{VectorBucketName: &s.Bucket, IndexName: &s.Index, Keys: keys[:n]}); err != nil {
			return fmt.Errorf("delete vectors: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}

// Get implements VectorIndex: one GetVectors per MaxGetVectors keys.
func (s S3Vectors) Get(ctx context.Context, keys []string) ([]Vector, error) {
	var out []Vector
	for len(keys) > 0 {
		n := min(len(keys), MaxGetVectors)
		res, err := s.Client.GetVectors(ctx, &s3vectors.GetVectorsInput{VectorBucketName: &s.Bucket, IndexName: &s.Index, Keys: keys[:n],
			ReturnData: true, ReturnMetadata: true})
		if err != nil {
			return nil, fmt.Errorf("get vectors: %w", err)
		}
		for _, v := range res.Vectors {
			vec := Vector{Key: aws.ToString(v.Key)}
			if d, ok := v.Data.(*types.VectorDataMemberFloat32); ok {
				vec.Data = d.Value
			}
			if v.Metadata != nil {
				if err := v.Metadata.UnmarshalSmithyDocument(&vec.Meta); err != nil {
					return nil, fmt.Errorf("get vectors: metadata of %s: %w", vec.Key, err)
				}
			}
			out = append(out, vec)
		}
		keys = keys[n:]
	}
	return out, nil
}

// Memory is an in-process VectorIndex (exact cosine search over a map),
// for unit tests and benchmarks that need no emulator. It applies filters
// as S3 Vectors does (Match).
type Memory struct {
	mu      sync.Mutex
	vectors map[string]Vector
}

var _ VectorIndex = (*Memory)(nil)

// NewMemory returns an empty in-process index.
func NewMemory() *Memory { return &Memory{vectors: map[string]Vector{}} }

// Put implements VectorIndex.
func (m *Memory) Put(_ context.Context, vs []Vector) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range vs {
		m.vectors[v.Key] = v
	}
	return nil
}

// Query implements VectorIndex.
func (m *Memory) Query(_ context.Context, q []float32, topK int, f Filter) ([]Hit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hits []Hit
	for _, v := range m.vectors {
		if Match(f, v.Meta) {
			hits = append(hits, Hit{Key: v.Key, Score: Cosine(q, v.Data), Meta: v.Meta})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Key < hits[j].Key
	})
	if len(hits) > topK {
		hits = hits[:topK]
	}
	return hits, nil
}

// Delete implements VectorIndex.
func (m *Memory) Delete(_ context.Context, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.vectors, k)
	}
	return nil
}

// Get implements VectorIndex.
func (m *Memory) Get(_ context.Context, keys []string) ([]Vector, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Vector
	for _, k := range keys {
		if v, ok := m.vectors[k]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Len is how many vectors the index holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.vectors)
}

// Match reports whether metadata satisfies an S3 Vectors filter.
func Match(f Filter, meta map[string]any) bool {
	for k, cond := range f {
		switch k {
		case "$and", "$or":
			subs, _ := cond.([]any)
			if fs, ok := cond.([]Filter); ok {
				subs = make([]any, len(fs))
				for i := range fs {
					subs[i] = fs[i]
				}
			}
			matched := false
			for _, s := range subs {
				ok := Match(asFilter(s), meta)
				if k == "$and" && !ok {
					return false
				}
				matched = matched || ok
			}
			if k == "$or" && !matched {
				return false
			}
			continue
		}
		v, present := meta[k]
		ops, isOps := asOps(cond)
		if !isOps {
			ops = map[string]any{"$eq": cond}
		}
		for op, arg := range ops {
			if !matchOp(op, arg, v, present) {
				return false
			}
		}
	}
	return true
}

func asFilter(v any) Filter {
	switch f := v.(type) {
	case Filter:
		return f
	case map[string]any:
		return f
	}
	return nil
}

func asOps(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if f, isF := v.(Filter); isF {
		m, ok = f, true
	}
	if !ok || len(m) == 0 {
		return nil, false
	}
	for k := range m {
		if len(k) == 0 || k[0] != '$' {
			return nil, false
		}
	}
	return m, true
}

func matchOp(op string, arg, v any, present bool) bool {
	switch op {
	case "$exists":
		want, _ := arg.(bool)
		return present == want
	case "$eq":
		return present && anyElem(v, func(x any) bool { return equal(x, arg) })
	case "$ne":
		return !present || !anyElem(v, func(x any) bool { return equal(x, arg) })
	case "$in":
		return present && anyElem(v, func(x any) bool { return anyElem(arg, func(a any) bool { return equal(x, a) }) })
	case "$nin":
		return !present || !anyElem(v, func(x any) bool { return anyElem(arg, func(a any) bool { return equal(x, a) }) })
	case "$gt", "$gte", "$lt", "$lte":
		a, okA := number(v)
		b, okB := number(arg)
		if !present || !okA || !okB {
			return false
		}
		switch op {
		case "$gt":
			return a > b
		case "$gte":
			return a >= b
		case "$lt":
			return a < b
		}
		return a <= b
	}
	return false
}

// anyElem applies f to v, or to each element when v is a list.
func anyElem(v any, f func(any) bool) bool {
	switch l := v.(type) {
	case []any:
		for _, x := range l {
			if f(x) {
				return true
			}
		}
		return false
	case []string:
		for _, x := range l {
			if f(x) {
				return true
			}
		}
		return false
	}
	return f(v)
}

func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return a == b
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return math.NaN(), false
}
