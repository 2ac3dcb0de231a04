package localrun

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/topology"
)

// Provision creates every table, queue and bucket of the topology in the
// emulator, reusing those that exist, and returns the environment naming
// them (queues by URL, as Lambda functions receive them).
func Provision(ctx context.Context, cfg aws.Config, t topology.Topology, stage string) (map[string]string, error) {
	env := t.ResourceEnvironment(stage)
	db := dynamodb.NewFromConfig(cfg)
	for _, tb := range t.Tables {
		if err := dynamostore.CreateTable(ctx, db, topology.PhysicalName(stage, tb.Name), tb); err != nil {
			return nil, err
		}
	}
	q := sqs.NewFromConfig(cfg)
	arns := map[string]string{}
	// Dead-letter queues first: work queues name them in their redrive policy.
	for pass := 0; pass < 2; pass++ {
		for _, qu := range t.Queues {
			if (qu.DeadLetterQueue == "") != (pass == 0) {
				continue
			}
			attrs := map[string]string{}
			if qu.VisibilityTimeout > 0 {
				attrs[string(sqstypes.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(int(qu.VisibilityTimeout.Seconds()))
			}
			if qu.DeadLetterQueue != "" {
				attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, arns[qu.DeadLetterQueue], qu.MaxReceiveCount)
			}
			out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(topology.PhysicalName(stage, qu.Name)), Attributes: attrs})
			if err != nil {
				return nil, fmt.Errorf("create queue %s: %w", qu.Name, err)
			}
			got, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
			if err != nil {
				return nil, err
			}
			arns[qu.Name] = got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
			env[topology.EnvVar("queue", qu.Name)] = aws.ToString(out.QueueUrl)
		}
	}
	s := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range t.Buckets {
		name := topology.PhysicalName(stage, b.Name)
		_, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		var owned *s3types.BucketAlreadyOwnedByYou
		var exists *s3types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
			return nil, fmt.Errorf("create bucket %s: %w", name, err)
		}
		if b.NotifyQueue != "" {
			_, err = s.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
				Bucket: aws.String(name),
				NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
					QueueArn: aws.String(arns[b.NotifyQueue]), Events: []s3types.Event{s3types.EventS3ObjectCreated},
				}}},
			})
			if err != nil {
				return nil, fmt.Errorf("notifications of bucket %s: %w", name, err)
			}
		}
	}
	if err := provisionVectors(ctx, cfg, t, stage); err != nil {
		return nil, err
	}
	return env, nil
}
