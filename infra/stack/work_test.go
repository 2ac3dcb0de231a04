package stack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/parley-dev/parley/pkg/topology"
)

// The tests below pin the background-work paths (queues, buckets, schedules,
// workers) on workTopology, whatever Default declares today.

func TestWorkersConsumeWithPartialBatchFailures(t *testing.T) {
	s := synth(t, workTopology(), mustStage(t, "prod"), false)
	for _, tc := range []struct {
		queue, fn      string
		batch          float64
		maxConcurrency any
	}{
		{"lifecycle", "lifecycle", 10, map[string]any{"MaximumConcurrency": float64(5)}},
		{"file-events", "indexer", 5, assertions.Match_Absent()},
	} {
		want := map[string]any{
			"EventSourceArn":        map[string]any{"Fn::GetAtt": []any{logicalIDOf(s.stack, s.stack.Queues[tc.queue]), "Arn"}},
			"FunctionName":          map[string]any{"Ref": logicalIDOf(s.stack, s.stack.Functions[tc.fn])},
			"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"BatchSize":             tc.batch,
			"ScalingConfig":         tc.maxConcurrency,
		}
		check(t, tc.queue+" mapping", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), assertions.Match_ObjectLike(&want))
		})
	}
}

func TestQueuesRedriveToTheirDLQ(t *testing.T) {
	s := synth(t, workTopology(), mustStage(t, "dev"), false)
	check(t, "lifecycle", func() {
		only(s.resource(s.stack.Queues["lifecycle"])).HasResourceProperties(jsii.String("AWS::SQS::Queue"), &map[string]any{
			"VisibilityTimeout": 360,
			"RedrivePolicy": map[string]any{
				"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{logicalIDOf(s.stack, s.stack.Queues["lifecycle-dlq"]), "Arn"}},
				"maxReceiveCount":     5,
			},
			"SqsManagedSseEnabled": true,
		})
	})
	check(t, "lifecycle-dlq", func() {
		only(s.resource(s.stack.Queues["lifecycle-dlq"])).HasResourceProperties(jsii.String("AWS::SQS::Queue"), &map[string]any{
			"MessageRetentionPeriod": 14 * 24 * 3600,
			"RedrivePolicy":          assertions.Match_Absent(),
			"SqsManagedSseEnabled":   true,
		})
	})
}

func TestBuckets(t *testing.T) {
	s := synth(t, workTopology(), mustStage(t, "prod"), false)
	private := map[string]any{
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
			map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
		}},
	}
	for _, name := range []string{"files", "archive"} {
		check(t, name+" private and encrypted", func() {
			only(s.resource(s.stack.Buckets[name])).HasResourceProperties(jsii.String("AWS::S3::Bucket"), assertions.Match_ObjectLike(&private))
		})
	}
	check(t, "files CORS for presigned uploads", func() {
		only(s.resource(s.stack.Buckets["files"])).HasResourceProperties(jsii.String("AWS::S3::Bucket"), &map[string]any{
			"CorsConfiguration": map[string]any{"CorsRules": []any{map[string]any{
				"AllowedMethods": []any{"PUT", "GET", "HEAD"},
				"AllowedOrigins": []any{"*"},
				"AllowedHeaders": []any{"*"},
			}}},
		})
	})
	check(t, "archive moves to a colder class", func() {
		only(s.resource(s.stack.Buckets["archive"])).HasResourceProperties(jsii.String("AWS::S3::Bucket"), &map[string]any{
			"CorsConfiguration": assertions.Match_Absent(),
			"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{map[string]any{
				"Id":          "archive-to-glacier",
				"Status":      "Enabled",
				"Transitions": []any{map[string]any{"StorageClass": "GLACIER", "TransitionInDays": 30}},
			}})},
		})
	})
	check(t, "files notifies its queue", func() {
		s.tmpl.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), &map[string]any{
			"BucketName": map[string]any{"Ref": logicalIDOf(s.stack, s.stack.Buckets["files"])},
			"NotificationConfiguration": map[string]any{"QueueConfigurations": []any{map[string]any{
				"Events":   []any{"s3:ObjectCreated:*"},
				"QueueArn": map[string]any{"Fn::GetAtt": []any{logicalIDOf(s.stack, s.stack.Queues["file-events"]), "Arn"}},
			}}},
		})
	})
}

func TestScheduleFiresItsFunction(t *testing.T) {
	topo := workTopology()
	for _, tc := range []struct {
		name  string
		stage func(Stage) Stage
		want  string
	}{
		{"stage default", func(s Stage) Stage { return s }, "cron(0 2 * * ? *)"},
		{"topology when the stage is silent", func(s Stage) Stage { s.Schedules = nil; return s }, "cron(0 3 * * ? *)"},
		{"environment override", func(s Stage) Stage {
			return s.WithEnvOverrides(topo, func(k string) (string, bool) {
				return "cron(30 1 ? * SUN *)", k == "OFFPEAK_SCHEDULE"
			})
		}, "cron(30 1 ? * SUN *)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, topo, tc.stage(mustStage(t, "dev")), false)
			fn := logicalIDOf(s.stack, s.stack.Functions["offpeak"])
			check(t, "rule", func() {
				s.tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{
					"ScheduleExpression": tc.want,
					"State":              "ENABLED",
					"Targets": []any{map[string]any{
						"Arn":         map[string]any{"Fn::GetAtt": []any{fn, "Arn"}},
						"Id":          assertions.Match_AnyValue(),
						"RetryPolicy": map[string]any{"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
					}},
				})
			})
			check(t, "permission", func() {
				s.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), &map[string]any{
					"Action":       "lambda:InvokeFunction",
					"Principal":    "events.amazonaws.com",
					"FunctionName": map[string]any{"Fn::GetAtt": []any{fn, "Arn"}},
				})
			})
			env := props(s.resource(s.stack.Functions["offpeak"]))["Environment"].(map[string]any)["Variables"].(map[string]any)
			if env["OFFPEAK_SCHEDULE"] != tc.want {
				t.Errorf("OFFPEAK_SCHEDULE = %v, want %s", env["OFFPEAK_SCHEDULE"], tc.want)
			}
		})
	}
}

func TestStagesDiffer(t *testing.T) {
	dev, prod := mustStage(t, "dev"), mustStage(t, "prod")
	if dev.RetainData || !prod.RetainData {
		t.Error("prod must retain data and dev must not")
	}
	for _, s := range []Stage{dev, prod} {
		if !s.PointInTimeRecovery {
			t.Errorf("%s: point-in-time recovery off", s.Name)
		}
		if got := s.Schedules["offpeak"]; got.Expression != "cron(0 2 * * ? *)" || got.Window != 4*time.Hour {
			t.Errorf("%s: off-peak %+v", s.Name, got)
		}
	}
	if _, err := StageNamed("staging"); err == nil {
		t.Error("unknown stage accepted")
	}
	// Overrides must not leak into the shared stage table.
	_ = prod.WithEnvOverrides(workTopology(), func(string) (string, bool) { return "rate(1 hour)", true })
	if mustStage(t, "prod").Schedules["offpeak"].Expression != "cron(0 2 * * ? *)" {
		t.Error("WithEnvOverrides changed the stage table")
	}
}

func TestProdTemplateRetainsAndProtects(t *testing.T) {
	s := synth(t, workTopology(), mustStage(t, "prod"), false)
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::S3::Bucket"} {
		check(t, typ, func() {
			s.tmpl.AllResources(jsii.String(typ), &map[string]any{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
		})
	}
	check(t, "deletion protection", func() {
		s.tmpl.AllResourcesProperties(jsii.String("AWS::DynamoDB::Table"), &map[string]any{"DeletionProtectionEnabled": true})
	})
}

func TestDataPlaneOnlyLeavesOutCompute(t *testing.T) {
	s := synth(t, workTopology(), mustStage(t, "dev"), true)
	for _, typ := range []string{
		"AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping", "AWS::IAM::Role",
		"AWS::ApiGatewayV2::Api", "Custom::S3BucketNotifications",
	} {
		check(t, typ, func() { s.tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(0)) })
	}
	for typ, n := range map[string]int{"AWS::DynamoDB::Table": 2, "AWS::S3::Bucket": 2, "AWS::SQS::Queue": 4, "AWS::Events::Rule": 1} {
		check(t, typ, func() { s.tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(float64(n))) })
	}
	check(t, "rule without target", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{"Targets": assertions.Match_Absent()})
	})
}

func TestMissingBinariesAreNamed(t *testing.T) {
	app := newTestApp(t)
	_, err := NewStack(app, "x", &Props{Stage: mustStage(t, "dev"), Topology: topology.Default(), AssetDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "admin/bootstrap") || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(topology.Default()); err != nil {
		t.Fatalf("default topology: %v", err)
	}
	if err := Validate(workTopology()); err != nil {
		t.Fatalf("work topology: %v", err)
	}
	for _, tc := range []struct {
		want   string
		mutate func(*topology.Topology)
	}{
		{`uses undeclared table "nope"`, func(t *topology.Topology) {
			t.Functions[0].Tables = append(t.Functions[0].Tables, topology.ReadsTable("nope"))
		}},
		{`queries undeclared index "gsi9" of table "main"`, func(t *topology.Topology) { t.Functions[0].Tables[0].Indexes = []string{"gsi9"} }},
		{`declares table "main" twice`, func(t *topology.Topology) {
			t.Functions[0].Tables = append(t.Functions[0].Tables, topology.WritesTable("main"))
		}},
		{`access delete to table "main"`, func(t *topology.Topology) { t.Functions[0].Tables[0].Access = topology.Delete }},
		{`access none to table "main"`, func(t *topology.Topology) { t.Functions[0].Tables[0].Access = 0 }},
		{`uses undeclared bucket "nope"`, func(t *topology.Topology) {
			t.Functions[1].Buckets = append(t.Functions[1].Buckets, topology.BucketAccess{Bucket: "nope", Access: topology.Read})
		}},
		{`no valid access to bucket "files"`, func(t *topology.Topology) { t.Functions[1].Buckets[0].Access = 0 }},
		{`drains undeclared queue "gone"`, func(t *topology.Topology) { t.Functions[2].Drains = []string{"gone"} }},
		{`route "GET /v1/things/{id}" targets "lifecycle"`, func(t *topology.Topology) { t.Routes[0].Function = "lifecycle" }},
		{`undeclared dead-letter queue "gone"`, func(t *topology.Topology) { t.Queues[0].DeadLetterQueue = "gone" }},
		{`leads into a dead-letter cycle`, func(t *topology.Topology) {
			t.Queues[1].DeadLetterQueue, t.Queues[1].MaxReceiveCount = "lifecycle", 1
		}},
		{`visibility timeout 3m0s is shorter than its consumer's timeout 5m0s`, func(t *topology.Topology) { t.Functions[4].Timeout = 5 * time.Minute }},
		{`notifies undeclared queue "x"`, func(t *topology.Topology) { t.Buckets[0].NotifyQueue = "x" }},
		{`schedule "offpeak" targets "api"`, func(t *topology.Topology) { t.Schedules[0].Target = "api" }},
		{`function "offpeak" is invoked by no route, queue or schedule`, func(t *topology.Topology) { t.Schedules = nil }},
		{`table "main" declared twice`, func(t *topology.Topology) { t.Tables = append(t.Tables, t.Tables[0]) }},
		{`batch size 20 is outside 1..10`, func(t *topology.Topology) { t.Queues[0].BatchSize = 20 }},
	} {
		topo := workTopology()
		tc.mutate(&topo)
		if err := Validate(topo); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
	}
}

// The Stripe secret's ARN and the plans' override, set when deploying,
// reach the functions that read them; only the admin function may read
// the Stripe secret, and only it.
func TestDeploySettingsReachTheirFunctions(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:parley/stripe-AbCdEf"
	stage := mustStage(t, "prod").WithEnvOverrides(topology.Default(), func(k string) (string, bool) {
		return map[string]string{"STRIPE_SECRET_KEY_ARN": arn, "PLANS": `{"team":{"base":300}}`}[k], k == "STRIPE_SECRET_KEY_ARN" || k == "PLANS"
	})
	s := synth(t, topology.Default(), stage, false)
	env := func(fn string) map[string]any {
		return props(s.resource(s.stack.Functions[fn]))["Environment"].(map[string]any)["Variables"].(map[string]any)
	}
	if e := env("admin"); e["STRIPE_SECRET_KEY_ARN"] != arn || e["PLANS"] != `{"team":{"base":300}}` {
		t.Errorf("admin environment: %v", e)
	}
	if e := env("chat"); e["PLANS"] == nil || e["STRIPE_SECRET_KEY_ARN"] != nil {
		t.Errorf("chat environment: %v", e)
	}
	raw, _ := json.Marshal(s.json)
	if n := strings.Count(string(raw), arn); n != 2 { // the admin function's environment and its one grant
		t.Errorf("the Stripe secret appears %d times in the template, want 2 (admin's environment and grant)", n)
	}
}
