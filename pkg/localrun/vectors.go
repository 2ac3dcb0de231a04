package localrun

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors/types"
	"github.com/parley-dev/parley/pkg/topology"
)

// provisionVectors creates the stage's vector bucket and the topology's
// vector indexes (Amazon S3 Vectors; moto serves them, and the emulator
// layer adds QueryVectors), reusing those that exist.
func provisionVectors(ctx context.Context, cfg aws.Config, t topology.Topology, stage string) error {
	if len(t.VectorIndexes) == 0 {
		return nil
	}
	c := s3vectors.NewFromConfig(cfg)
	bucket := topology.PhysicalName(stage, topology.VectorBucket)
	if _, err := c.CreateVectorBucket(ctx, &s3vectors.CreateVectorBucketInput{VectorBucketName: &bucket}); err != nil && !exists(err) {
		return fmt.Errorf("create vector bucket %s: %w", bucket, err)
	}
	for _, ix := range t.VectorIndexes {
		in := &s3vectors.CreateIndexInput{VectorBucketName: &bucket, IndexName: aws.String(ix.Name), DataType: types.DataTypeFloat32,
			Dimension: aws.Int32(int32(ix.Dimension)), DistanceMetric: types.DistanceMetric(ix.Metric)}
		if len(ix.NonFilterable) > 0 {
			in.MetadataConfiguration = &types.MetadataConfiguration{NonFilterableMetadataKeys: ix.NonFilterable}
		}
		if _, err := c.GetIndex(ctx, &s3vectors.GetIndexInput{VectorBucketName: &bucket, IndexName: aws.String(ix.Name)}); err == nil {
			continue
		}
		if _, err := c.CreateIndex(ctx, in); err != nil && !exists(err) {
			return fmt.Errorf("create vector index %s/%s: %w", bucket, ix.Name, err)
		}
	}
	return nil
}

func exists(err error) bool {
	var conflict *types.ConflictException
	return errors.As(err, &conflict)
}
