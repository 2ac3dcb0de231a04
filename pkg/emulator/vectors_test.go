package emulator

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors/types"
	"github.com/parley-dev/parley/pkg/search"
)

// moto has no QueryVectors; moto_serial.py adds it. Its answers follow S3
// Vectors: closest first by the index's metric, topK bounded, metadata
// filters as documented (a list matches $eq on any element).
func TestEmulatorQueryVectors(t *testing.T) {
	ctx := context.Background()
	srv, err := Start(ctx)
	if err != nil {
		t.Skip(err)
	}
	defer srv.Stop()
	cfg, err := Config(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := s3vectors.NewFromConfig(cfg)
	if _, err := client.CreateVectorBucket(ctx, &s3vectors.CreateVectorBucketInput{VectorBucketName: aws.String("vbk")}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []types.DistanceMetric{types.DistanceMetricCosine, types.DistanceMetricEuclidean} {
		if _, err := client.CreateIndex(ctx, &s3vectors.CreateIndexInput{VectorBucketName: aws.String("vbk"), IndexName: aws.String(string(m)),
			DataType: types.DataTypeFloat32, Dimension: aws.Int32(3), DistanceMetric: m}); err != nil {
			t.Fatal(err)
		}
	}
	vectors := []search.Vector{
		{Key: "a", Data: []float32{1, 0, 0}, Meta: map[string]any{"bot": "b1", "tags": []string{"lang=en", "kind=faq"}, "page": 1}},
		{Key: "b", Data: []float32{0.9, 0.1, 0}, Meta: map[string]any{"bot": "b1", "tags": []string{"lang=fr"}, "page": 2}},
		{Key: "c", Data: []float32{0, 1, 0}, Meta: map[string]any{"bot": "b1", "tags": []string{"lang=en"}, "page": 3}},
		{Key: "d", Data: []float32{10, 0.2, 0}, Meta: map[string]any{"bot": "b2", "page": 4}},
	}
	keys := func(hits []search.Hit) (out []string) {
		for _, h := range hits {
			out = append(out, h.Key)
		}
		return out
	}
	for _, metric := range []string{"cosine", "euclidean"} {
		ix := search.S3Vectors{Client: client, Bucket: "vbk", Index: metric, Euclidean: metric == "euclidean"}
		if err := ix.Put(ctx, vectors); err != nil {
			t.Fatal(err)
		}
		q := []float32{1, 0, 0}
		all, err := ix.Query(ctx, q, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"cosine": "[a d b c]", "euclidean": "[a b c d]"}[metric]
		if got := keys(all); fmtKeys(got) != want {
			t.Fatalf("%s: order %v, want %s", metric, got, want)
		}
		for i := 1; i < len(all); i++ {
			if all[i].Score > all[i-1].Score {
				t.Fatalf("%s: scores not descending: %+v", metric, all)
			}
		}
		if metric == "cosine" && (all[0].Score < 0.999 || all[0].Meta["bot"] != "b1") {
			t.Fatalf("cosine: best %+v", all[0])
		}
		top, _ := ix.Query(ctx, q, 2, nil)
		if len(top) != 2 {
			t.Fatalf("%s: topK 2 answered %d", metric, len(top))
		}
		for _, c := range []struct {
			f    search.Filter
			want string
		}{
			{search.Filter{"bot": "b1"}, "[a b c]"},
			{search.Filter{"bot": "b1", "tags": map[string]any{"$eq": "lang=en"}}, "[a c]"},
			{search.Filter{"$and": []any{map[string]any{"tags": "lang=en"}, map[string]any{"tags": "kind=faq"}}}, "[a]"},
			{search.Filter{"page": map[string]any{"$gte": 2, "$lt": 4}}, "[b c]"},
			{search.Filter{"bot": map[string]any{"$in": []string{"b2", "b9"}}}, "[d]"},
			{search.Filter{"tags": map[string]any{"$exists": false}}, "[d]"},
			{search.Filter{"$or": []any{map[string]any{"page": 3}, map[string]any{"bot": "b2"}}}, map[string]string{"cosine": "[d c]", "euclidean": "[c d]"}[metric]},
		} {
			hits, err := ix.Query(ctx, q, 10, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmtKeys(keys(hits)); got != c.want {
				t.Errorf("%s: filter %v answered %s, want %s", metric, c.f, got, c.want)
			}
		}
		got, err := ix.Get(ctx, []string{"b", "zz"})
		if err != nil || len(got) != 1 || got[0].Key != "b" || len(got[0].Data) != 3 || got[0].Meta["bot"] != "b1" {
			t.Fatalf("%s: get %+v %v", metric, got, err)
		}
		if err := ix.Delete(ctx, []string{"a", "zz"}); err != nil {
			t.Fatal(err)
		}
		if hits, _ := ix.Query(ctx, q, 10, search.Filter{"bot": "b1"}); fmtKeys(keys(hits)) != "[b c]" {
			t.Fatalf("%s: after delete %v", metric, keys(hits))
		}
	}
	// Bad input answers a validation error, as S3 Vectors does.
	ix := search.S3Vectors{Client: client, Bucket: "vbk", Index: "cosine"}
	if _, err := ix.Query(ctx, []float32{1, 0}, 3, nil); err == nil {
		t.Fatal("a query of the wrong dimension was answered")
	}
	if _, err := ix.Query(ctx, []float32{1, 0, 0}, 3, search.Filter{"page": map[string]any{"$near": 1}}); err == nil {
		t.Fatal("an unknown filter operator was accepted")
	}
}

func fmtKeys(k []string) string {
	out := "["
	for i, s := range k {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out + "]"
}
