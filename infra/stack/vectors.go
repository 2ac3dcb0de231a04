package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3vectors"
	"github.com/aws/jsii-runtime-go"

	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/topology"
)

// S3 Vectors actions granted per access to an index.
var (
	VectorReadActions   = []string{"s3vectors:QueryVectors", "s3vectors:GetVectors"}
	VectorWriteActions  = []string{"s3vectors:PutVectors"}
	VectorDeleteActions = []string{"s3vectors:DeleteVectors"}
)

// BedrockAction is what a function that embeds with Bedrock may call, on
// the Titan Text Embeddings V2 model only.
const BedrockAction = "bedrock:InvokeModel"

// vectorIndexes creates the stage's vector bucket and the topology's vector
// indexes (Amazon S3 Vectors: serverless, encrypted with SSE-S3, private to
// the account).
func (b *builder) vectorIndexes() {
	// moto's CloudFormation answers 500 to AWS::S3Vectors resources: the
	// data-plane template an emulator deploys leaves them out (the local
	// runner creates them by SDK; the template tests assert them).
	if len(b.topo.VectorIndexes) == 0 || b.props.DataPlaneOnly {
		return
	}
	bucket := awss3vectors.NewCfnVectorBucket(b.scope(), jsii.String("VectorBucket"), &awss3vectors.CfnVectorBucketProps{
		VectorBucketName: jsii.String(topology.PhysicalName(b.stage.Name, topology.VectorBucket)),
	})
	bucket.ApplyRemovalPolicy(b.removal(), nil)
	b.s.VectorBucket = bucket
	output(b.scope(), "VectorBucket", bucket.VectorBucketName())
	for _, ix := range b.topo.VectorIndexes {
		props := &awss3vectors.CfnIndexProps{
			VectorBucketName: bucket.VectorBucketName(), IndexName: jsii.String(ix.Name),
			DataType: jsii.String("float32"), Dimension: jsii.Number(float64(ix.Dimension)), DistanceMetric: jsii.String(ix.Metric),
		}
		if len(ix.NonFilterable) > 0 {
			props.MetadataConfiguration = &awss3vectors.CfnIndex_MetadataConfigurationProperty{NonFilterableMetadataKeys: jsii.Strings(ix.NonFilterable...)}
		}
		cfn := awss3vectors.NewCfnIndex(b.scope(), jsii.String("VectorIndex"+pascal(ix.Name)), props)
		cfn.AddDependency(bucket)
		cfn.ApplyRemovalPolicy(b.removal(), nil)
		b.s.VectorIndexes[ix.Name] = cfn
		output(b.scope(), OutputKey("vectors", ix.Name), cfn.AttrIndexArn())
	}
}

// vectorLocation is VECTORS_<INDEX>: "<vector bucket>/<index>".
func (b *builder) vectorLocation(index string) *string {
	return jsii.String(topology.VectorIndexLocation(b.stage.Name, index))
}

// grantVectors grants a function exactly its declared use of each vector
// index, on that index's ARN, and Bedrock's InvokeModel on the Titan model
// when it embeds and the stage embeds with Bedrock.
func (b *builder) grantVectors(fn awslambda.Function, f topology.Function) {
	for _, va := range f.Vectors {
		var actions []string
		if va.Access.Reads() {
			actions = append(actions, VectorReadActions...)
		}
		if va.Access.Writes() {
			actions = append(actions, VectorWriteActions...)
		}
		if va.Access.Deletes() {
			actions = append(actions, VectorDeleteActions...)
		}
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(actions...),
			Resources: &[]*string{b.s.VectorIndexes[va.Index].AttrIndexArn()},
		}))
	}
	if f.Embeds && b.setting(f, "EMBEDDER") == search.EmbedderBedrock {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(BedrockAction),
			Resources: jsii.Strings(TitanModelARN()),
		}))
	}
}

// TitanModelARN is the foundation model's ARN in the stack's region.
func TitanModelARN() string {
	return fmt.Sprintf("arn:%s:bedrock:%s::foundation-model/%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), search.TitanV2)
}
