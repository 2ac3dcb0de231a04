package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/parley-dev/parley/pkg/emulator"
	"github.com/parley-dev/parley/pkg/topology"
)

// TestDataPlaneDeploysToEmulator creates the data-plane part of the
// synthesized stack in the emulator through its CloudFormation API, fills in
// what the emulator's CloudFormation skips, and uses every resource once.
func TestDataPlaneDeploysToEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator deployment skipped in -short mode")
	}
	ctx := context.Background()
	// No emulator is a failure, not a skip: make test must exercise the
	// deployment (it says how to install one).
	srv, err := emulator.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	cfg, err := emulator.Config(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := clients{
		cf:     cloudformation.NewFromConfig(cfg),
		ssm:    ssm.NewFromConfig(cfg),
		ddb:    dynamodb.NewFromConfig(cfg),
		sqs:    sqs.NewFromConfig(cfg),
		s3:     s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		events: eventbridge.NewFromConfig(cfg),
		sm:     secretsmanager.NewFromConfig(cfg),
	}
	// The default synthesizer's BootstrapVersion parameter resolves this SSM
	// parameter, which `cdk bootstrap` creates in a real account.
	if _, err := c.ssm.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/cdk-bootstrap/hnb659fds/version"), Value: aws.String("30"),
		Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		topo  topology.Topology
		stage string
	}{
		{"default", topology.Default(), "prod"},
		{"work", workTopology(), "dev"},
	} {
		t.Run(tc.name+"/"+tc.stage, func(t *testing.T) {
			// GIVEN the data-plane template of a stage
			s := synth(t, tc.topo, mustStage(t, tc.stage), true)
			body, err := json.Marshal(s.json)
			if err != nil {
				t.Fatal(err)
			}
			// WHEN the emulator's CloudFormation creates it
			name := "parley-" + tc.name + "-" + tc.stage
			out := c.createStack(ctx, t, name, string(body))
			physical := c.checkResources(ctx, t, name, s)
			c.fillInSkipped(ctx, t, s, out)
			// THEN every resource exists as declared and answers
			for _, tb := range s.topo.Tables {
				c.smokeTable(ctx, t, tb, out[OutputKey("table", tb.Name)])
			}
			for _, q := range s.topo.Queues {
				c.smokeQueue(ctx, t, s.topo, q, out)
			}
			for _, b := range s.topo.Buckets {
				c.smokeBucket(ctx, t, s.topo, b, out)
			}
			for _, sc := range s.topo.Schedules {
				c.smokeSchedule(ctx, t, physical, s, sc)
			}
			c.smokeSecret(ctx, t, out["SigningSecretArn"])
		})
	}
}

type clients struct {
	cf     *cloudformation.Client
	ssm    *ssm.Client
	ddb    *dynamodb.Client
	sqs    *sqs.Client
	s3     *s3.Client
	events *eventbridge.Client
	sm     *secretsmanager.Client
}

// createStack creates a stack, waits for it and returns its outputs.
func (c clients) createStack(ctx context.Context, t *testing.T, name, body string) map[string]string {
	t.Helper()
	if _, err := c.cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(body),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam},
	}); err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := c.cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStacks: %v", err)
		}
		st := d.Stacks[0]
		switch {
		case st.StackStatus == cftypes.StackStatusCreateComplete:
			out := map[string]string{}
			for _, o := range st.Outputs {
				out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
			}
			return out
		case strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS") && time.Now().Before(deadline):
			time.Sleep(200 * time.Millisecond)
		default:
			t.Fatalf("stack %s: %s (%s)\n%s", name, st.StackStatus, aws.ToString(st.StackStatusReason), c.stackEvents(ctx, name))
		}
	}
}

func (c clients) stackEvents(ctx context.Context, name string) string {
	ev, err := c.cf.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ev.StackEvents {
		fmt.Fprintf(&b, "  %s %s %s %s\n", aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType), e.ResourceStatus, aws.ToString(e.ResourceStatusReason))
	}
	return b.String()
}

// fillInSkipped does by SDK what the emulator's CloudFormation accepts but
// does not apply (see docs/EMULATOR.md): TTL, bucket notifications (left
// out of the data-plane template) and the signing secret.
func (c clients) fillInSkipped(ctx context.Context, t *testing.T, s synthesized, out map[string]string) {
	t.Helper()
	for _, tb := range s.topo.Tables {
		if tb.TTLAttribute == "" {
			continue
		}
		if _, err := c.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(out[OutputKey("table", tb.Name)]),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
				AttributeName: aws.String(tb.TTLAttribute), Enabled: aws.Bool(true),
			},
		}); err != nil {
			t.Fatalf("UpdateTimeToLive %s: %v", tb.Name, err)
		}
	}
	if out["SigningSecretArn"] == "" {
		sec, err := c.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         aws.String(*s.stack.StackName() + "-signing"),
			SecretString: aws.String(strings.Repeat("k", 64)),
		})
		if err != nil {
			t.Fatalf("CreateSecret: %v", err)
		}
		out["SigningSecretArn"] = aws.ToString(sec.ARN)
	}
	for _, b := range s.topo.Buckets {
		if b.NotifyQueue == "" {
			continue
		}
		if _, err := c.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(out[OutputKey("bucket", b.Name)]),
			NotificationConfiguration: &s3types.NotificationConfiguration{
				QueueConfigurations: []s3types.QueueConfiguration{{
					QueueArn: aws.String(c.queueARN(ctx, t, out[OutputKey("queue", b.NotifyQueue)])),
					Events:   []s3types.Event{s3types.EventS3ObjectCreated},
				}},
			},
		}); err != nil {
			t.Fatalf("PutBucketNotificationConfiguration %s: %v", b.Name, err)
		}
	}
}

func (c clients) smokeTable(ctx context.Context, t *testing.T, tb topology.Table, name string) {
	t.Helper()
	if name == "" {
		t.Fatalf("table %s: no output", tb.Name)
	}
	d, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeTable %s: %v", tb.Name, err)
	}
	if got := keyNames(d.Table.KeySchema); !slices.Equal(got, nonEmpty(tb.PartitionKey, tb.SortKey)) {
		t.Errorf("table %s key %v", tb.Name, got)
	}
	if d.Table.BillingModeSummary == nil || d.Table.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
		t.Errorf("table %s billing %+v", tb.Name, d.Table.BillingModeSummary)
	}
	var gsis []string
	for _, g := range d.Table.GlobalSecondaryIndexes {
		gsis = append(gsis, aws.ToString(g.IndexName))
	}
	var want []string
	for _, ix := range tb.Indexes {
		want = append(want, ix.Name)
	}
	slices.Sort(gsis)
	slices.Sort(want)
	if !slices.Equal(gsis, want) {
		t.Errorf("table %s indexes %v, want %v", tb.Name, gsis, want)
	}

	// One item carrying every key attribute: readable by key and by each index.
	item := map[string]ddbtypes.AttributeValue{}
	key := map[string]ddbtypes.AttributeValue{}
	for _, a := range nonEmpty(tb.PartitionKey, tb.SortKey) {
		item[a] = &ddbtypes.AttributeValueMemberS{Value: "smoke#" + a}
		key[a] = item[a]
	}
	for _, ix := range tb.Indexes {
		for _, a := range nonEmpty(ix.PartitionKey, ix.SortKey) {
			item[a] = &ddbtypes.AttributeValueMemberS{Value: "smoke#" + a}
		}
	}
	if _, err := c.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
		t.Fatalf("PutItem %s: %v", tb.Name, err)
	}
	got, err := c.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || len(got.Item) != len(item) {
		t.Errorf("GetItem %s: %v, %v", tb.Name, got, err)
	}
	for _, ix := range tb.Indexes {
		q, err := c.ddb.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(name), IndexName: aws.String(ix.Name),
			KeyConditionExpression:    aws.String("#k = :v"),
			ExpressionAttributeNames:  map[string]string{"#k": ix.PartitionKey},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": item[ix.PartitionKey]},
		})
		if err != nil || q.Count != 1 {
			t.Errorf("Query %s/%s: count %v, %v", tb.Name, ix.Name, q, err)
		}
	}
	if tb.TTLAttribute != "" {
		ttl, err := c.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
		if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled ||
			aws.ToString(ttl.TimeToLiveDescription.AttributeName) != tb.TTLAttribute {
			t.Errorf("table %s TTL: %+v, %v", tb.Name, ttl, err)
		}
	}
}

func (c clients) smokeQueue(ctx context.Context, t *testing.T, topo topology.Topology, q topology.Queue, out map[string]string) {
	t.Helper()
	url := out[OutputKey("queue", q.Name)]
	if url == "" {
		t.Fatalf("queue %s: no output", q.Name)
	}
	attrs, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes %s: %v", q.Name, err)
	}
	if q.VisibilityTimeout > 0 && attrs.Attributes["VisibilityTimeout"] != fmt.Sprint(int(q.VisibilityTimeout.Seconds())) {
		t.Errorf("queue %s visibility %s", q.Name, attrs.Attributes["VisibilityTimeout"])
	}
	if q.DeadLetterQueue != "" {
		var redrive struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		_ = json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &redrive)
		if redrive.DeadLetterTargetArn != c.queueARN(ctx, t, out[OutputKey("queue", q.DeadLetterQueue)]) ||
			fmt.Sprint(redrive.MaxReceiveCount) != fmt.Sprint(q.MaxReceiveCount) {
			t.Errorf("queue %s redrive %q", q.Name, attrs.Attributes["RedrivePolicy"])
		}
	}
	body := "smoke " + q.Name
	if _, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("SendMessage %s: %v", q.Name, err)
	}
	if got := c.receive(ctx, t, url); !slices.Contains(got, body) {
		t.Errorf("queue %s: received %q", q.Name, got)
	}
}

func (c clients) smokeBucket(ctx context.Context, t *testing.T, topo topology.Topology, b topology.Bucket, out map[string]string) {
	t.Helper()
	name := out[OutputKey("bucket", b.Name)]
	if name == "" {
		t.Fatalf("bucket %s: no output", b.Name)
	}
	// moto's CloudFormation applies encryption but not the public access
	// block or lifecycle rules; the template tests pin those.
	enc, err := c.s3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(name)})
	if err != nil || len(enc.ServerSideEncryptionConfiguration.Rules) == 0 {
		t.Errorf("bucket %s encryption: %v", b.Name, err)
	}
	key := "smoke/" + b.Name + ".txt"
	if _, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(key), Body: strings.NewReader("hello")}); err != nil {
		t.Fatalf("PutObject %s: %v", b.Name, err)
	}
	if b.NotifyQueue != "" {
		msgs := c.receive(ctx, t, out[OutputKey("queue", b.NotifyQueue)])
		if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, "ObjectCreated") && strings.Contains(m, "smoke") }) {
			t.Errorf("bucket %s: no ObjectCreated notification on %s, got %q", b.Name, b.NotifyQueue, msgs)
		}
	}
}

func (c clients) smokeSchedule(ctx context.Context, t *testing.T, physical map[string]string, s synthesized, sc topology.Schedule) {
	t.Helper()
	rule, err := c.events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{
		Name: aws.String(physical[logicalIDOf(s.stack, s.stack.Rules[sc.Name])]),
	})
	want := s.stage.Schedules[sc.Name].Expression
	if want == "" {
		want = sc.Expression
	}
	if err != nil || aws.ToString(rule.ScheduleExpression) != want {
		t.Errorf("schedule %s: rule %+v, %v; want %s", sc.Name, rule, err, want)
	}
}

func (c clients) smokeSecret(ctx context.Context, t *testing.T, arn string) {
	t.Helper()
	v, err := c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || len(aws.ToString(v.SecretString)) < 32 {
		t.Errorf("signing secret %s: %v", arn, err)
	}
}

// emulatorSkips are the resource types moto's CloudFormation (5.2.1) reports
// CREATE_COMPLETE without creating. fillInSkipped creates the secret; moto
// enforces no resource policies and runs no alarms, so those need nothing.
var emulatorSkips = map[string]bool{
	"AWS::SecretsManager::Secret": true,
	"AWS::SQS::QueuePolicy":       true,
	"AWS::S3::BucketPolicy":       true,
	"AWS::CloudWatch::Alarm":      true,
}

// checkResources asserts the emulator created every resource of the
// template, and returns their physical ids by logical id.
func (c clients) checkResources(ctx context.Context, t *testing.T, stack string, s synthesized) map[string]string {
	t.Helper()
	physical := map[string]string{}
	p := cloudformation.NewListStackResourcesPaginator(c.cf, &cloudformation.ListStackResourcesInput{StackName: aws.String(stack)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListStackResources: %v", err)
		}
		for _, r := range page.StackResourceSummaries {
			if r.ResourceStatus == cftypes.ResourceStatusCreateComplete && aws.ToString(r.PhysicalResourceId) != "" {
				physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
			}
		}
	}
	for id, r := range s.json["Resources"].(map[string]any) {
		typ := r.(map[string]any)["Type"].(string)
		if _, ok := physical[id]; !ok && !emulatorSkips[typ] {
			t.Errorf("%s (%s) not created by the emulator", id, typ)
		}
	}
	return physical
}

func (c clients) queueARN(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	a, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue ARN of %s: %v", url, err)
	}
	return a.Attributes["QueueArn"]
}

// receive returns the bodies of the messages waiting on a queue, deleting them.
func (c clients) receive(ctx context.Context, t *testing.T, url string) []string {
	t.Helper()
	r, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
	})
	if err != nil {
		t.Fatalf("ReceiveMessage %s: %v", url, err)
	}
	var bodies []string
	for _, m := range r.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
		if _, err := c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatalf("DeleteMessage: %v", err)
		}
	}
	return bodies
}

func keyNames(ks []ddbtypes.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName))
	}
	return out
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
