// Package stack builds Parley's CloudFormation stack for one stage from the
// topology declaration: every table, bucket, queue, schedule, function and
// route comes from a loop over topology.Topology, never from a hand-written
// resource, so the deployed system cannot drift from the one run locally.
package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3vectors"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/parley-dev/parley/pkg/topology"
)

// Environment variables every function receives besides the topology's
// resource variables.
const (
	EnvStage            = "STAGE"
	EnvSigningSecretARN = "SIGNING_SECRET_ARN"
	// EnvSealingSecretARN names the sealing keyring's secret, for the
	// functions that seal (topology.Function.Seals).
	EnvSealingSecretARN = "SEALING_SECRET_ARN"
	// EnvReceiptSecretARN names the receipt signing key's secret, for the
	// functions that sign receipts (topology.Function.SignsReceipts).
	EnvReceiptSecretARN = "RECEIPT_SIGNING_KEY_ARN"
)

// Props configures NewStack.
type Props struct {
	awscdk.StackProps
	Stage    Stage
	Topology topology.Topology
	// AssetDir holds <function>/bootstrap for every function.
	AssetDir string
	// DataPlaneOnly keeps only what holds data or routes it (tables, buckets,
	// queues, schedule rules without targets, the secret, alarms) and leaves
	// out functions, the API and Lambda-backed custom resources such as S3
	// notifications: the part an emulator's CloudFormation can create.
	DataPlaneOnly bool
}

// Stack is Parley's stack, with its resources by topology name.
type Stack struct {
	awscdk.Stack
	Tables    map[string]awsdynamodb.Table
	Buckets   map[string]awss3.Bucket
	Queues    map[string]awssqs.Queue
	Functions map[string]awslambda.Function
	Rules     map[string]awsevents.Rule
	// VectorBucket holds VectorIndexes (Amazon S3 Vectors), when the
	// topology declares any.
	VectorBucket  awss3vectors.CfnVectorBucket
	VectorIndexes map[string]awss3vectors.CfnIndex
	Secret        awssecretsmanager.Secret
	// SealingSecret holds the keyring sealing stored secrets (integration
	// secrets, bot API keys): a plain value (key "k1") or the JSON keyring
	// {"current":…,"keys":{…}} an operator writes to rotate.
	SealingSecret awssecretsmanager.Secret
	// ReceiptSecret holds what the receipt signing key derives from.
	ReceiptSecret awssecretsmanager.Secret
	// AlarmTopic receives every alarm; subscribe to it to be told.
	AlarmTopic awssns.Topic
	API        awsapigatewayv2.HttpApi
	// APIStage is the HTTP API's $default stage.
	APIStage awsapigatewayv2.HttpStage
}

// NewStack validates the topology and builds the stack for props.Stage.
func NewStack(scope constructs.Construct, id string, props *Props) (*Stack, error) {
	if err := Validate(props.Topology); err != nil {
		return nil, err
	}
	if !props.DataPlaneOnly {
		if err := checkAssets(props.AssetDir, props.Topology); err != nil {
			return nil, err
		}
	}
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	awscdk.Tags_Of(st).Add(jsii.String("project"), jsii.String("parley"), nil)
	awscdk.Tags_Of(st).Add(jsii.String("stage"), jsii.String(props.Stage.Name), nil)

	b := &builder{
		props: props,
		stage: props.Stage,
		topo:  props.Topology,
		s: &Stack{
			Stack:     st,
			Tables:    map[string]awsdynamodb.Table{},
			Buckets:   map[string]awss3.Bucket{},
			Queues:    map[string]awssqs.Queue{},
			Functions: map[string]awslambda.Function{},
			Rules:     map[string]awsevents.Rule{},

			VectorIndexes: map[string]awss3vectors.CfnIndex{},
		},
	}
	b.alarmTopic()
	for _, q := range b.topo.Queues {
		b.queue(q.Name)
	}
	for _, t := range b.topo.Tables {
		b.table(t)
	}
	for _, bk := range b.topo.Buckets {
		b.bucket(bk)
	}
	b.vectorIndexes()
	b.secret()
	if !props.DataPlaneOnly {
		for _, f := range b.topo.Functions {
			b.function(f)
		}
		b.api()
	}
	for _, sc := range b.topo.Schedules {
		b.schedule(sc)
	}
	return b.s, nil
}

type builder struct {
	props  *Props
	stage  Stage
	topo   topology.Topology
	s      *Stack
	alarms awssns.Topic
}

func (b *builder) scope() constructs.Construct { return b.s.Stack }

func (b *builder) removal() awscdk.RemovalPolicy { return b.stage.removalPolicy() }

func (b *builder) alarmTopic() {
	b.alarms = awssns.NewTopic(b.scope(), jsii.String("Alarms"), &awssns.TopicProps{
		DisplayName: jsii.String("Parley " + b.stage.Name + " alarms"),
	})
	b.s.AlarmTopic = b.alarms
	if b.stage.AlarmEmail != "" {
		b.alarms.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(b.stage.AlarmEmail), nil))
	}
	output(b.scope(), "AlarmTopicArn", b.alarms.TopicArn())
}

func (b *builder) alarm(id string, metric awscloudwatch.Metric, threshold int, description string) {
	a := metric.CreateAlarm(b.scope(), jsii.String(id), &awscloudwatch.CreateAlarmOptions{
		Threshold:          jsii.Number(float64(threshold)),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		AlarmDescription:   jsii.String(description),
	})
	a.AddAlarmAction(awscloudwatchactions.NewSnsAction(b.alarms))
}

// queue creates a queue after its dead-letter queue (Validate rules out cycles).
func (b *builder) queue(name string) awssqs.Queue {
	if q, ok := b.s.Queues[name]; ok {
		return q
	}
	decl := findQueue(b.topo, name)
	props := &awssqs.QueueProps{
		Encryption:    awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:    jsii.Bool(true),
		RemovalPolicy: b.removal(),
	}
	if decl.VisibilityTimeout > 0 {
		props.VisibilityTimeout = seconds(decl.VisibilityTimeout)
	}
	if decl.DeadLetterQueue != "" {
		props.DeadLetterQueue = &awssqs.DeadLetterQueue{
			Queue:           b.queue(decl.DeadLetterQueue),
			MaxReceiveCount: jsii.Number(float64(decl.MaxReceiveCount)),
		}
	}
	isDLQ := isDeadLetterQueue(b.topo, name)
	if isDLQ {
		// The longest SQS allows: time to inspect and redrive failures.
		props.RetentionPeriod = awscdk.Duration_Days(jsii.Number(14))
	}
	q := awssqs.NewQueue(b.scope(), jsii.String("Queue"+pascal(name)), props)
	b.s.Queues[name] = q
	output(b.scope(), OutputKey("queue", name), q.QueueUrl())
	if isDLQ {
		b.alarm("Alarm"+pascal(name)+"Depth",
			q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Period:    awscdk.Duration_Minutes(jsii.Number(5)),
				Statistic: jsii.String("Maximum"),
			}),
			b.stage.Alarms.DLQMessages,
			fmt.Sprintf("Messages in dead-letter queue %s: work items failed %s times.", name, maxReceives(b.topo, name)))
	}
	return q
}

func (b *builder) table(t topology.Table) {
	props := &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(t.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(b.stage.PointInTimeRecovery),
		},
		DeletionProtection: jsii.Bool(b.stage.RetainData),
		RemovalPolicy:      b.removal(),
	}
	if t.SortKey != "" {
		props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(t.SortKey), Type: awsdynamodb.AttributeType_STRING}
	}
	if t.TTLAttribute != "" {
		props.TimeToLiveAttribute = jsii.String(t.TTLAttribute)
	}
	tb := awsdynamodb.NewTable(b.scope(), jsii.String("Table"+pascal(t.Name)), props)
	for _, ix := range t.Indexes {
		gsi := &awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(ix.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		}
		if ix.SortKey != "" {
			gsi.SortKey = &awsdynamodb.Attribute{Name: jsii.String(ix.SortKey), Type: awsdynamodb.AttributeType_STRING}
		}
		tb.AddGlobalSecondaryIndex(gsi)
	}
	b.s.Tables[t.Name] = tb
	output(b.scope(), OutputKey("table", t.Name), tb.TableName())
}

func (b *builder) bucket(bk topology.Bucket) {
	rules := []*awss3.LifecycleRule{{
		Id:                                  jsii.String("abort-incomplete-uploads"),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
	}}
	props := &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     b.removal(),
	}
	if bk.Archive {
		rules = append(rules, &awss3.LifecycleRule{
			Id: jsii.String("archive-to-glacier"),
			Transitions: &[]*awss3.Transition{{
				StorageClass:    awss3.StorageClass_GLACIER(),
				TransitionAfter: awscdk.Duration_Days(jsii.Number(b.stage.ArchiveTransition.Hours() / 24)),
			}},
		})
	} else {
		// Browsers upload and download through presigned URLs.
		props.Cors = &[]*awss3.CorsRule{{
			AllowedMethods: &[]awss3.HttpMethods{awss3.HttpMethods_PUT, awss3.HttpMethods_GET, awss3.HttpMethods_HEAD},
			AllowedOrigins: jsii.Strings(b.stage.CORSOrigins...),
			AllowedHeaders: jsii.Strings("*"),
			ExposedHeaders: jsii.Strings("ETag"),
			MaxAge:         jsii.Number(3000),
		}}
	}
	props.LifecycleRules = &rules
	s3b := awss3.NewBucket(b.scope(), jsii.String("Bucket"+pascal(bk.Name)), props)
	// CDK implements notifications with a Lambda-backed custom resource, which
	// an emulator cannot run: the emulator test configures them by SDK.
	if bk.NotifyQueue != "" && !b.props.DataPlaneOnly {
		s3b.AddEventNotification(awss3.EventType_OBJECT_CREATED,
			awss3notifications.NewSqsDestination(b.s.Queues[bk.NotifyQueue]))
	}
	b.s.Buckets[bk.Name] = s3b
	output(b.scope(), OutputKey("bucket", bk.Name), s3b.BucketName())
}

func (b *builder) secret() {
	b.s.Secret = awssecretsmanager.NewSecret(b.scope(), jsii.String("SigningSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Parley " + b.stage.Name + ": key that signs pagination tokens and other opaque values"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: b.removal(),
	})
	output(b.scope(), "SigningSecretArn", b.s.Secret.SecretArn())
	b.s.SealingSecret = awssecretsmanager.NewSecret(b.scope(), jsii.String("SealingSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Parley " + b.stage.Name + ": keyring sealing stored secrets (integration secrets, bot API keys)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: b.removal(),
	})
	output(b.scope(), "SealingSecretArn", b.s.SealingSecret.SecretArn())
	b.s.ReceiptSecret = awssecretsmanager.NewSecret(b.scope(), jsii.String("ReceiptSigningSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Parley " + b.stage.Name + ": secret the Ed25519 receipt signing key derives from"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: b.removal(),
	})
	output(b.scope(), "ReceiptSigningSecretArn", b.s.ReceiptSecret.SecretArn())
}

func (b *builder) function(f topology.Function) {
	id := pascal(f.Name)
	logs := awslogs.NewLogGroup(b.scope(), jsii.String("Logs"+id), &awslogs.LogGroupProps{
		Retention:     b.stage.LogRetention,
		RemovalPolicy: b.removal(),
	})
	props := &awslambda.FunctionProps{
		Description:   jsii.String(fmt.Sprintf("Parley %s: %s (%s)", b.stage.Name, f.Name, f.Kind)),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(b.props.AssetDir, f.Name)), nil),
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      logs,
		Environment:   b.environment(f),
	}
	if f.MemoryMB > 0 {
		props.MemorySize = jsii.Number(float64(f.MemoryMB))
	}
	if f.Timeout > 0 {
		props.Timeout = seconds(f.Timeout)
	}
	if f.ReservedConcurrency > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(float64(f.ReservedConcurrency))
	}
	fn := awslambda.NewFunction(b.scope(), jsii.String("Fn"+id), props)
	b.s.Functions[f.Name] = fn

	for _, ta := range f.Tables {
		b.grantTable(fn, ta)
	}
	for _, ba := range f.Buckets {
		bk := b.s.Buckets[ba.Bucket]
		if ba.Access.Reads() {
			bk.GrantRead(fn, nil)
		}
		if ba.Access.Writes() {
			bk.GrantPut(fn, nil)
		}
		if ba.Access.Deletes() {
			bk.GrantDelete(fn, nil)
		}
	}
	b.grantVectors(fn, f)
	for _, n := range f.SendsTo {
		b.s.Queues[n].GrantSendMessages(fn)
	}
	for _, n := range f.Drains {
		b.s.Queues[n].GrantConsumeMessages(fn)
	}
	if f.PutsEvents {
		bus := awsevents.EventBus_FromEventBusName(b.scope(), jsii.String("Bus"+id), jsii.String(b.setting(f, "EVENT_BUS")))
		bus.GrantPutEventsTo(fn, nil)
	}
	if sender := b.setting(f, "SES_SENDER"); f.SendsEmail && sender != "" {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("ses:SendEmail"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:ses:%s:%s:identity/%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), sender)),
		}))
	}
	if f.Kind == topology.HTTP {
		b.s.Secret.GrantRead(fn, nil)
	}
	if f.Seals {
		b.s.SealingSecret.GrantRead(fn, nil)
	}
	if f.SignsReceipts {
		b.s.ReceiptSecret.GrantRead(fn, nil)
	}
	if _, reads := f.Settings["STRIPE_SECRET_KEY_ARN"]; reads && b.setting(f, "STRIPE_SECRET_KEY_ARN") != "" {
		// The Stripe key lives in a secret the operator made; only the
		// functions that charge read it, and only it.
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: jsii.Strings(b.setting(f, "STRIPE_SECRET_KEY_ARN")),
		}))
	}
	for _, q := range b.topo.Queues {
		if q.Consumer != f.Name {
			continue
		}
		src := &awslambdaeventsources.SqsEventSourceProps{ReportBatchItemFailures: jsii.Bool(true)}
		if q.BatchSize > 0 {
			src.BatchSize = jsii.Number(float64(q.BatchSize))
		}
		// Cap the poller too, or it throttles against reserved concurrency and
		// pushes healthy messages towards the DLQ.
		if f.ReservedConcurrency >= 2 {
			src.MaxConcurrency = jsii.Number(float64(f.ReservedConcurrency))
		}
		fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(b.s.Queues[q.Name], src))
	}
	b.alarm("Alarm"+id+"Errors",
		fn.MetricErrors(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Minutes(jsii.Number(5)),
			Statistic: jsii.String("Sum"),
		}),
		b.stage.Alarms.FunctionErrors,
		fmt.Sprintf("Function %s failed %d times in five minutes.", f.Name, b.stage.Alarms.FunctionErrors))
}

// DynamoDB actions granted per access. Narrower than CDK's grantReadData
// (no Scan, no stream reads: Parley never scans) and, unlike CDK's grants,
// queries are allowed only on the indexes the function declares, never on
// "<table>/index/*".
var (
	TableReadActions  = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"}
	TableWriteActions = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"}
	IndexReadActions  = []string{"dynamodb:Query"}
)

// grantTable grants a function what it declares on a table: reads, writes
// or both on the table, and queries on each declared index.
func (b *builder) grantTable(fn awslambda.Function, ta topology.TableAccess) {
	tb := b.s.Tables[ta.Table]
	var actions []string
	if ta.Access.Reads() {
		actions = append(actions, TableReadActions...)
	}
	if ta.Access.Writes() {
		for _, a := range TableWriteActions {
			if !slices.Contains(actions, a) {
				actions = append(actions, a)
			}
		}
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &[]*string{tb.TableArn()},
	}))
	if len(ta.Indexes) == 0 {
		return
	}
	indexes := make([]*string, 0, len(ta.Indexes))
	for _, ix := range ta.Indexes {
		indexes = append(indexes, awscdk.Fn_Join(jsii.String(""), &[]*string{tb.TableArn(), jsii.String("/index/" + ix)}))
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(IndexReadActions...),
		Resources: &indexes,
	}))
}

// environment gives a function the real names of exactly the resources it
// uses (queue variables carry the URL, which SQS calls take), plus the stage.
func (b *builder) environment(f topology.Function) *map[string]*string {
	env := map[string]*string{EnvStage: jsii.String(b.stage.Name)}
	for _, n := range f.TableNames() {
		env[topology.EnvVar("table", n)] = b.s.Tables[n].TableName()
	}
	for _, n := range f.BucketNames() {
		env[topology.EnvVar("bucket", n)] = b.s.Buckets[n].BucketName()
	}
	for _, n := range f.QueueNames() {
		env[topology.EnvVar("queue", n)] = b.s.Queues[n].QueueUrl()
	}
	for _, v := range f.Vectors {
		env[topology.EnvVar("vectors", v.Index)] = b.vectorLocation(v.Index)
	}
	for k := range f.Settings {
		env[k] = jsii.String(b.setting(f, k))
	}
	if plans := b.stage.Settings["PLANS"]; plans != "" {
		env["PLANS"] = jsii.String(plans)
	}
	if f.Kind == topology.HTTP {
		env[EnvSigningSecretARN] = b.s.Secret.SecretArn()
	}
	if f.Seals {
		env[EnvSealingSecretARN] = b.s.SealingSecret.SecretArn()
	}
	if f.SignsReceipts {
		env[EnvReceiptSecretARN] = b.s.ReceiptSecret.SecretArn()
	}
	for k, v := range b.stage.Quotas {
		env[topology.EnvVar("quota", k)] = jsii.String(v)
	}
	for _, sc := range b.topo.Schedules {
		if sc.Target != f.Name {
			continue
		}
		if sc.EnvOverride != "" {
			env[sc.EnvOverride] = jsii.String(b.expression(sc))
		}
		if w := b.stage.Schedules[sc.Name].Window; w > 0 {
			env[topology.EnvVar("window", sc.Name)] = jsii.String(w.String())
		}
	}
	return &env
}

// setting is a function's setting for this stage: the stage's value where
// it has one (a schedule's expression and window), else the topology default.
func (b *builder) setting(f topology.Function, name string) string {
	for _, sc := range b.topo.Schedules {
		if sc.EnvOverride == name {
			return b.expression(sc)
		}
		if w := b.stage.Schedules[sc.Name].Window; w > 0 && name == topology.EnvVar("window", sc.Name) {
			return w.String()
		}
	}
	if v, ok := b.stage.Settings[name]; ok {
		return v
	}
	return f.Settings[name]
}

func (b *builder) expression(sc topology.Schedule) string {
	if e := b.stage.Schedules[sc.Name].Expression; e != "" {
		return e
	}
	return sc.Expression
}

func (b *builder) schedule(sc topology.Schedule) {
	rule := awsevents.NewRule(b.scope(), jsii.String("Schedule"+pascal(sc.Name)), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("Parley %s: fires %s (%s)", b.stage.Name, sc.Target, sc.Name)),
		Schedule:    awsevents.Schedule_Expression(jsii.String(b.expression(sc))),
	})
	if fn, ok := b.s.Functions[sc.Target]; ok {
		rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(2),
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
		}))
	}
	b.s.Rules[sc.Name] = rule
}

func (b *builder) api() {
	st := b.stage
	api := awsapigatewayv2.NewHttpApi(b.scope(), jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String("parley-" + st.Name),
		CreateDefaultStage: jsii.Bool(false),
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: jsii.Strings(st.CORSOrigins...),
			AllowMethods: &[]awsapigatewayv2.CorsHttpMethod{awsapigatewayv2.CorsHttpMethod_ANY},
			// A wildcard does not cover Authorization, so it is named.
			AllowHeaders: jsii.Strings("authorization", "*"),
			MaxAge:       awscdk.Duration_Hours(jsii.Number(1)),
		},
	})
	stage := api.AddStage(jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageOptions{
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(st.ThrottleRate),
			BurstLimit: jsii.Number(float64(st.ThrottleBurst)),
		},
	})
	accessLogs := awslogs.NewLogGroup(b.scope(), jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     st.LogRetention,
		RemovalPolicy: b.removal(),
	})
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})

	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, r := range b.topo.Routes {
		in, ok := integrations[r.Function]
		if !ok {
			in = awsapigatewayv2integrations.NewHttpLambdaIntegration(
				jsii.String("Integration"+pascal(r.Function)), b.s.Functions[r.Function],
				&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
					PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
					// One invoke permission per function rather than per route
					// keeps the template well under CloudFormation's limits.
					ScopePermissionToRoute: jsii.Bool(false),
				})
			integrations[r.Function] = in
		}
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: in,
		})
	}
	b.s.API, b.s.APIStage = api, stage
	output(b.scope(), "ApiUrl", stage.Url())
}

// accessLogFormat is one JSON line per request, keyed by request id.
var accessLogFormat = func() string {
	fields := map[string]string{
		"requestId":        "$context.requestId",
		"ip":               "$context.identity.sourceIp",
		"requestTime":      "$context.requestTime",
		"routeKey":         "$context.routeKey",
		"path":             "$context.path",
		"status":           "$context.status",
		"protocol":         "$context.protocol",
		"responseLength":   "$context.responseLength",
		"latencyMs":        "$context.responseLatency",
		"integrationError": "$context.integrationErrorMessage",
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strconv.Quote(k) + ":" + strconv.Quote(fields[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}()

// OutputKey names the stack output holding a resource's physical id:
// TableAdmin, BucketFiles, QueueLifecycleDlq (a queue's output is its URL).
func OutputKey(kind, name string) string { return pascal(kind) + pascal(name) }

func output(scope constructs.Construct, key string, value *string) {
	o := awscdk.NewCfnOutput(scope, jsii.String("Output"+key), &awscdk.CfnOutputProps{Value: value})
	o.OverrideLogicalId(jsii.String(key))
}

func checkAssets(dir string, t topology.Topology) error {
	var missing []string
	for _, f := range t.Functions {
		p := filepath.Join(dir, f.Name, "bootstrap")
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("function binaries missing (run `make build`): %s", strings.Join(missing, ", "))
	}
	return nil
}

func findQueue(t topology.Topology, name string) topology.Queue {
	for _, q := range t.Queues {
		if q.Name == name {
			return q
		}
	}
	return topology.Queue{}
}

func isDeadLetterQueue(t topology.Topology, name string) bool {
	for _, q := range t.Queues {
		if q.DeadLetterQueue == name {
			return true
		}
	}
	return false
}

func maxReceives(t topology.Topology, dlq string) string {
	var counts []string
	for _, q := range t.Queues {
		if q.DeadLetterQueue == dlq {
			counts = append(counts, strconv.Itoa(q.MaxReceiveCount))
		}
	}
	return strings.Join(counts, "/")
}

func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// pascal turns "lifecycle-dlq" into "LifecycleDlq" for construct ids.
func pascal(s string) string {
	var out strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == '/' }) {
		out.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return out.String()
}
