package stack

import (
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/topology"
)

// GIVEN the default topology WHEN a stage is synthesized THEN the file
// passages' vector index is an S3 Vectors index of the embedder's size in
// the stage's vector bucket, and only the functions that embed may invoke
// Bedrock, on the Titan embeddings model alone.
func TestVectorIndexAndEmbeddings(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		s := synth(t, topology.Default(), mustStage(t, stage), false)
		buckets := s.resources("AWS::S3Vectors::VectorBucket")
		indexes := s.resources("AWS::S3Vectors::Index")
		if len(buckets) != 1 || len(indexes) != 1 {
			t.Fatalf("%s: %d vector buckets, %d indexes", stage, len(buckets), len(indexes))
		}
		for _, b := range buckets {
			if props(b)["VectorBucketName"] != topology.PhysicalName(stage, topology.VectorBucket) {
				t.Errorf("%s: vector bucket %v", stage, props(b))
			}
			if want := map[bool]string{true: "Retain", false: "Delete"}[mustStage(t, stage).RetainData]; b["DeletionPolicy"] != want {
				t.Errorf("%s: vector bucket deletion policy %v, want %s", stage, b["DeletionPolicy"], want)
			}
		}
		for _, ix := range indexes {
			p := props(ix)
			if p["IndexName"] != topology.PassagesIndex || p["Dimension"] != float64(topology.PassageDimensions) || p["DistanceMetric"] != "cosine" || p["DataType"] != "float32" {
				t.Errorf("%s: vector index %v", stage, p)
			}
		}
		embedders := map[string]bool{}
		for _, f := range s.topo.Functions {
			if f.Embeds {
				embedders[f.Name] = true
			}
		}
		fns := s.resources("AWS::Lambda::Function")
		for _, f := range s.topo.Functions {
			role := refs(props(fns[logicalIDOf(s.stack, s.stack.Functions[f.Name])])["Role"])[0]
			invokes := false
			for _, g := range s.grantsOf(role) {
				if g.action == BedrockAction {
					invokes = true
					if !strings.HasSuffix(g.suffix, "::foundation-model/amazon.titan-embed-text-v2:0") {
						t.Errorf("%s: %s invokes %s", stage, f.Name, g.suffix)
					}
				}
			}
			if invokes != embedders[f.Name] {
				t.Errorf("%s: function %s may invoke Bedrock: %v, embeds: %v", stage, f.Name, invokes, embedders[f.Name])
			}
		}
		if !embedders[topology.FilesFunction] || !embedders[topology.IndexerFunction] {
			t.Fatalf("embedding functions %v", embedders)
		}
	}
}
