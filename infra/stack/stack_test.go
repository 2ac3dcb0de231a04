package stack

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/parley-dev/parley/pkg/topology"
)

// TestStackMatchesTopology synthesizes the declared topology and one with
// every resource kind, for both stages, and checks the template against the
// declaration it came from.
func TestStackMatchesTopology(t *testing.T) {
	for _, tc := range []struct {
		name string
		topo topology.Topology
	}{
		{"default", topology.Default()},
		{"work", workTopology()},
	} {
		for _, stage := range StageNames() {
			t.Run(tc.name+"/"+stage, func(t *testing.T) {
				// GIVEN a topology and a stage WHEN the stack is synthesized
				st := mustStage(t, stage)
				if tc.name == "work" {
					st.Quotas = map[string]string{"bots-per-workspace": "100"}
					st.AlarmEmail = "ops@example.com"
				}
				s := synth(t, tc.topo, st, false)
				// THEN the template holds exactly what the topology declares
				t.Run("counts", s.assertCounts)
				t.Run("tables", s.assertTables)
				t.Run("functions", s.assertFunctions)
				t.Run("environment", s.assertEnvironment)
				t.Run("roles", s.assertRoles)
				t.Run("least privilege", s.assertLeastPrivilege)
				t.Run("no wildcard data actions", s.assertNoWildcardDataActions)
				t.Run("routes", s.assertRoutes)
				t.Run("api stage", s.assertAPIStage)
				t.Run("removal", s.assertRemoval)
				t.Run("dlq alarms", s.assertDLQAlarms)
			})
		}
	}
}

func (s synthesized) assertCounts(t *testing.T) {
	httpFns := map[string]bool{}
	for _, r := range s.topo.Routes {
		httpFns[r.Function] = true
	}
	consumed, notifying, dlqs := 0, 0, 0
	for _, q := range s.topo.Queues {
		if q.Consumer != "" {
			consumed++
		}
		if isDeadLetterQueue(s.topo, q.Name) {
			dlqs++
		}
	}
	for _, b := range s.topo.Buckets {
		if b.NotifyQueue != "" {
			notifying++
		}
	}
	// CDK's S3 notifications handler is one extra function when used.
	handler := min(notifying, 1)
	want := map[string]int{
		"AWS::DynamoDB::Table":                  len(s.topo.Tables),
		"AWS::S3::Bucket":                       len(s.topo.Buckets),
		"AWS::S3::BucketPolicy":                 len(s.topo.Buckets), // TLS only
		"AWS::SQS::Queue":                       len(s.topo.Queues),
		"AWS::SQS::QueuePolicy":                 len(s.topo.Queues), // TLS only
		"AWS::Events::Rule":                     len(s.topo.Schedules),
		"AWS::Lambda::Function":                 len(s.topo.Functions) + handler,
		"AWS::Lambda::EventSourceMapping":       consumed,
		"AWS::Lambda::Permission":               len(httpFns) + len(s.topo.Schedules),
		"AWS::Logs::LogGroup":                   len(s.topo.Functions) + 1,
		"AWS::CloudWatch::Alarm":                len(s.topo.Functions) + dlqs,
		"AWS::SNS::Topic":                       1,
		"AWS::SecretsManager::Secret":           3,
		"AWS::ApiGatewayV2::Api":                1,
		"AWS::ApiGatewayV2::Stage":              1,
		"AWS::ApiGatewayV2::Route":              len(s.topo.Routes),
		"AWS::ApiGatewayV2::Integration":        len(httpFns),
		"Custom::S3BucketNotifications":         notifying,
		"AWS::IAM::Role":                        len(s.topo.Functions) + handler,
		"AWS::ApiGatewayV2::Authorizer":         0,
		"AWS::DynamoDB::GlobalTable":            0,
		"Custom::S3AutoDeleteObjects":           0,
		"Custom::LogRetention":                  0,
		"AWS::Lambda::LayerVersion":             0,
		"AWS::ApiGatewayV2::ApiMapping":         0,
		"AWS::ApiGatewayV2::VpcLink":            0,
		"AWS::Scheduler::Schedule":              0,
		"AWS::SecretsManager::RotationSchedule": 0,
	}
	for typ, n := range want {
		check(t, typ, func() { s.tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(float64(n))) })
	}
}

func (s synthesized) assertTables(t *testing.T) {
	for _, tb := range s.topo.Tables {
		key := []any{map[string]any{"AttributeName": tb.PartitionKey, "KeyType": "HASH"}}
		if tb.SortKey != "" {
			key = append(key, map[string]any{"AttributeName": tb.SortKey, "KeyType": "RANGE"})
		}
		want := map[string]any{
			"KeySchema":                        key,
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"DeletionProtectionEnabled":        s.stage.RetainData,
		}
		if tb.TTLAttribute != "" {
			want["TimeToLiveSpecification"] = map[string]any{"AttributeName": tb.TTLAttribute, "Enabled": true}
		} else {
			want["TimeToLiveSpecification"] = assertions.Match_Absent()
		}
		var gsis []any
		for _, ix := range tb.Indexes {
			k := []any{map[string]any{"AttributeName": ix.PartitionKey, "KeyType": "HASH"}}
			if ix.SortKey != "" {
				k = append(k, map[string]any{"AttributeName": ix.SortKey, "KeyType": "RANGE"})
			}
			gsis = append(gsis, map[string]any{"IndexName": ix.Name, "KeySchema": k, "Projection": map[string]any{"ProjectionType": "ALL"}})
		}
		if len(gsis) > 0 {
			want["GlobalSecondaryIndexes"] = assertions.Match_ArrayEquals(&gsis)
		} else {
			want["GlobalSecondaryIndexes"] = assertions.Match_Absent()
		}
		// The declared keys are the table's key, not merely present in it.
		r := s.resources("AWS::DynamoDB::Table")[logicalIDOf(s.stack, s.stack.Tables[tb.Name])]
		if r == nil {
			t.Fatalf("table %s not in template", tb.Name)
		}
		check(t, "table "+tb.Name, func() {
			only(r).HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), assertions.Match_ObjectLike(&want))
		})
		for _, a := range props(r)["AttributeDefinitions"].([]any) {
			if a.(map[string]any)["AttributeType"] != "S" {
				t.Errorf("table %s: attribute %v is not a string", tb.Name, a)
			}
		}
	}
}

func (s synthesized) assertFunctions(t *testing.T) {
	fns := s.resources("AWS::Lambda::Function")
	for _, f := range s.topo.Functions {
		r := fns[logicalIDOf(s.stack, s.stack.Functions[f.Name])]
		if r == nil {
			t.Fatalf("function %s not in template", f.Name)
		}
		p := props(r)
		got := map[string]any{
			"Runtime":       p["Runtime"],
			"Architectures": p["Architectures"],
			"Handler":       p["Handler"],
			"LogFormat":     p["LoggingConfig"].(map[string]any)["LogFormat"],
			"Reserved":      p["ReservedConcurrentExecutions"],
			"Timeout":       p["Timeout"],
		}
		want := map[string]any{
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"LogFormat":     "JSON",
			"Reserved":      nil,
			"Timeout":       nil,
		}
		if f.ReservedConcurrency > 0 {
			want["Reserved"] = float64(f.ReservedConcurrency)
		}
		if f.Timeout > 0 {
			want["Timeout"] = f.Timeout.Seconds()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("function %s: got %v, want %v", f.Name, got, want)
		}
		// Logs go to the function's own group, kept for the stage's period.
		lg := refs(p["LoggingConfig"])
		groups := s.resources("AWS::Logs::LogGroup")
		if len(lg) != 1 || groups[lg[0]] == nil {
			t.Errorf("function %s: log group %v not in template", f.Name, lg)
		} else if got := props(groups[lg[0]])["RetentionInDays"]; got != retentionDays[s.stage.LogRetention] {
			t.Errorf("function %s: log retention %v, want %v", f.Name, got, s.stage.LogRetention)
		}
	}
}

func (s synthesized) assertEnvironment(t *testing.T) {
	fns := s.resources("AWS::Lambda::Function")
	for _, f := range s.topo.Functions {
		p := props(fns[logicalIDOf(s.stack, s.stack.Functions[f.Name])])
		vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		want := map[string]any{EnvStage: s.stage.Name}
		for _, n := range f.TableNames() {
			want[topology.EnvVar("table", n)] = map[string]any{"Ref": logicalIDOf(s.stack, s.stack.Tables[n])}
		}
		for _, n := range f.BucketNames() {
			want[topology.EnvVar("bucket", n)] = map[string]any{"Ref": logicalIDOf(s.stack, s.stack.Buckets[n])}
		}
		for _, n := range f.QueueNames() {
			want[topology.EnvVar("queue", n)] = map[string]any{"Ref": logicalIDOf(s.stack, s.stack.Queues[n])}
		}
		for _, v := range f.Vectors {
			want[topology.EnvVar("vectors", v.Index)] = topology.VectorIndexLocation(s.stage.Name, v.Index)
		}
		for k, v := range f.Settings {
			want[k] = v
			if sv, ok := s.stage.Settings[k]; ok {
				want[k] = sv
			}
			// A schedule's expression and window are the stage's.
			for _, sc := range s.topo.Schedules {
				if k == sc.EnvOverride {
					want[k] = s.stage.Schedules[sc.Name].Expression
				}
				if k == topology.EnvVar("window", sc.Name) {
					want[k] = s.stage.Schedules[sc.Name].Window.String()
				}
			}
		}
		for k, v := range s.stage.Quotas {
			want[topology.EnvVar("quota", k)] = v
		}
		if f.Kind == topology.HTTP {
			want[EnvSigningSecretARN] = map[string]any{"Ref": logicalIDOf(s.stack, s.stack.Secret)}
		}
		if f.Seals {
			want[EnvSealingSecretARN] = map[string]any{"Ref": logicalIDOf(s.stack, s.stack.SealingSecret)}
		}
		if f.SignsReceipts {
			want[EnvReceiptSecretARN] = map[string]any{"Ref": logicalIDOf(s.stack, s.stack.ReceiptSecret)}
		}
		for _, sc := range s.topo.Schedules {
			if sc.Target == f.Name {
				want[sc.EnvOverride] = s.stage.Schedules[sc.Name].Expression
				want[topology.EnvVar("window", sc.Name)] = s.stage.Schedules[sc.Name].Window.String()
			}
		}
		if !reflect.DeepEqual(vars, want) {
			t.Errorf("function %s environment:\n got %v\nwant %v", f.Name, vars, want)
		}
	}
}

// assertRoles checks each function's role is its own and reaches exactly
// the tables, indexes, buckets, queues and secret the topology gives it.
func (s synthesized) assertRoles(t *testing.T) {
	fns := s.resources("AWS::Lambda::Function")
	policies := s.resources("AWS::IAM::Policy")
	roles := s.resources("AWS::IAM::Role")
	seenRoles := map[string]string{}
	for _, f := range s.topo.Functions {
		p := props(fns[logicalIDOf(s.stack, s.stack.Functions[f.Name])])
		role := refs(p["Role"])[0]
		if other, dup := seenRoles[role]; dup {
			t.Errorf("functions %s and %s share role %s", f.Name, other, role)
		}
		seenRoles[role] = f.Name

		managed := props(roles[role])["ManagedPolicyArns"]
		if s := strings.Join(flatStrings(managed), ""); !strings.HasSuffix(s, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole") {
			t.Errorf("function %s: managed policies %v, want only AWSLambdaBasicExecutionRole", f.Name, managed)
		}

		allowed := map[string]string{} // logical id -> what
		for _, n := range f.TableNames() {
			allowed[logicalIDOf(s.stack, s.stack.Tables[n])] = "table " + n
		}
		for _, n := range f.BucketNames() {
			allowed[logicalIDOf(s.stack, s.stack.Buckets[n])] = "bucket " + n
		}
		for _, n := range f.QueueNames() {
			allowed[logicalIDOf(s.stack, s.stack.Queues[n])] = "queue " + n
		}
		sender := f.Settings["SES_SENDER"]
		if v, ok := s.stage.Settings["SES_SENDER"]; ok {
			sender = v
		}
		if f.PutsEvents || (f.SendsEmail && sender != "") {
			// The bus and SES identity ARNs are built from the stack's
			// partition, region and account.
			allowed["AWS::Partition"], allowed["AWS::Region"], allowed["AWS::AccountId"] = "partition", "region", "account"
		}
		for _, q := range s.topo.Queues {
			if q.Consumer == f.Name {
				allowed[logicalIDOf(s.stack, s.stack.Queues[q.Name])] = "queue " + q.Name
			}
		}
		for _, v := range f.Vectors {
			allowed[cfnLogicalID(s.stack, s.stack.VectorIndexes[v.Index])] = "vector index " + v.Index
		}
		if f.Embeds && s.embedder(f) == "bedrock" {
			// The Titan model's ARN is built from the partition and region.
			allowed["AWS::Partition"], allowed["AWS::Region"] = "partition", "region"
		}
		if f.Kind == topology.HTTP {
			allowed[logicalIDOf(s.stack, s.stack.Secret)] = "signing secret"
		}
		if f.Seals {
			allowed[logicalIDOf(s.stack, s.stack.SealingSecret)] = "sealing secret"
		}
		if f.SignsReceipts {
			allowed[logicalIDOf(s.stack, s.stack.ReceiptSecret)] = "receipt signing secret"
		}

		reached := map[string]bool{}
		actions := map[string][]string{}
		for _, pol := range policies {
			if !slices.Contains(refs(props(pol)["Roles"]), role) {
				continue
			}
			for _, st := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				if slices.Contains(flatStrings(st["Resource"]), "*") {
					t.Errorf("function %s: statement on Resource \"*\": %v", f.Name, st)
				}
				for _, id := range refs(st["Resource"]) {
					if _, ok := allowed[id]; !ok {
						t.Errorf("function %s reaches %s, which the topology does not give it", f.Name, id)
					}
					reached[id] = true
					actions[id] = append(actions[id], flatStrings(st["Action"])...)
				}
			}
		}
		for id, what := range allowed {
			if !reached[id] {
				t.Errorf("function %s: no grant on its %s", f.Name, what)
			}
		}
		for _, n := range f.SendsTo {
			if !slices.Contains(actions[logicalIDOf(s.stack, s.stack.Queues[n])], "sqs:SendMessage") {
				t.Errorf("function %s cannot send to queue %s", f.Name, n)
			}
		}
	}
}

func (s synthesized) assertNoWildcardDataActions(t *testing.T) {
	var statements []any
	for _, pol := range s.resources("AWS::IAM::Policy") {
		statements = append(statements, props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any)...)
	}
	for _, role := range s.resources("AWS::IAM::Role") {
		for _, pol := range asList(props(role)["Policies"]) {
			if pol, ok := pol.(map[string]any); ok {
				statements = append(statements, pol["PolicyDocument"].(map[string]any)["Statement"].([]any)...)
			}
		}
	}
	if len(statements) == 0 && len(s.topo.Functions) > 0 {
		t.Fatal("no policy statements found")
	}
	for _, st := range statements {
		st := st.(map[string]any)
		if !slices.Contains(flatStrings(st["Resource"]), "*") {
			continue
		}
		for _, a := range flatStrings(st["Action"]) {
			if isDataAction(a) {
				t.Errorf("data action %s on Resource \"*\": %v", a, st)
			}
		}
	}
}

// isDataAction reports whether an IAM action reads or writes items, objects
// or messages (as opposed to, say, configuring a bucket's notifications).
func isDataAction(a string) bool {
	a = strings.ToLower(a)
	switch {
	case a == "*", strings.HasPrefix(a, "dynamodb:"), strings.HasPrefix(a, "sqs:"):
		return true
	case strings.HasPrefix(a, "s3:"):
		return a == "s3:*" || strings.Contains(a, "object") || strings.HasPrefix(a, "s3:list") || strings.HasPrefix(a, "s3:get*")
	}
	return false
}

func (s synthesized) assertRoutes(t *testing.T) {
	routes := s.resources("AWS::ApiGatewayV2::Route")
	integrations := s.resources("AWS::ApiGatewayV2::Integration")
	byKey := map[string]map[string]any{}
	for _, r := range routes {
		byKey[props(r)["RouteKey"].(string)] = props(r)
	}
	for _, r := range s.topo.Routes {
		p := byKey[r.Key()]
		if p == nil {
			t.Errorf("route %s not in template", r.Key())
			continue
		}
		target := refs(p["Target"])
		if len(target) != 1 || integrations[target[0]] == nil {
			t.Errorf("route %s: target %v is not an integration", r.Key(), p["Target"])
			continue
		}
		in := props(integrations[target[0]])
		if in["IntegrationType"] != "AWS_PROXY" || in["PayloadFormatVersion"] != "2.0" {
			t.Errorf("route %s: integration %v, want AWS_PROXY with payload 2.0", r.Key(), in)
		}
		fn := logicalIDOf(s.stack, s.stack.Functions[r.Function])
		if got := refs(in["IntegrationUri"]); !slices.Equal(got, []string{fn}) {
			t.Errorf("route %s reaches %v, want function %s (%s)", r.Key(), got, r.Function, fn)
		}
		if p["AuthorizationType"] != nil && p["AuthorizationType"] != "NONE" {
			t.Errorf("route %s: authorization %v; Parley checks tokens itself", r.Key(), p["AuthorizationType"])
		}
	}
	if len(routes) != len(s.topo.Routes) {
		t.Errorf("%d routes in template, %d declared", len(routes), len(s.topo.Routes))
	}
}

func (s synthesized) assertAPIStage(t *testing.T) {
	want := map[string]any{
		"StageName":  "$default",
		"AutoDeploy": true,
		"DefaultRouteSettings": map[string]any{
			"ThrottlingRateLimit":  s.stage.ThrottleRate,
			"ThrottlingBurstLimit": s.stage.ThrottleBurst,
		},
		"AccessLogSettings": map[string]any{
			"DestinationArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^ApiAccessLogs")), "Arn"}},
			"Format":         assertions.Match_StringLikeRegexp(jsii.String(`\$context\.requestId`)),
		},
	}
	check(t, "api stage", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), assertions.Match_ObjectLike(&want))
	})
	check(t, "api", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), &map[string]any{"ProtocolType": "HTTP"})
	})
	check(t, "ApiUrl output", func() { s.tmpl.HasOutput(jsii.String("ApiUrl"), &map[string]any{}) })
}

// assertRemoval checks prod keeps every piece of data and dev cleans up.
func (s synthesized) assertRemoval(t *testing.T) {
	want := "Delete"
	if s.stage.RetainData {
		want = "Retain"
	}
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SecretsManager::Secret"} {
		for id, r := range s.resources(typ) {
			if r["DeletionPolicy"] != want || r["UpdateReplacePolicy"] != want {
				t.Errorf("%s %s: DeletionPolicy %v, UpdateReplacePolicy %v, want %s",
					typ, id, r["DeletionPolicy"], r["UpdateReplacePolicy"], want)
			}
		}
	}
}

func (s synthesized) assertDLQAlarms(t *testing.T) {
	alarms := s.resources("AWS::CloudWatch::Alarm")
	topic := logicalIDOf(s.stack, s.stack.AlarmTopic)
	for _, q := range s.topo.Queues {
		if !isDeadLetterQueue(s.topo, q.Name) {
			continue
		}
		dlq := logicalIDOf(s.stack, s.stack.Queues[q.Name])
		found := false
		for _, a := range alarms {
			p := props(a)
			if p["MetricName"] != "ApproximateNumberOfMessagesVisible" || !slices.Contains(refs(p["Dimensions"]), dlq) {
				continue
			}
			found = true
			if p["Namespace"] != "AWS/SQS" || p["Threshold"] != float64(s.stage.Alarms.DLQMessages) ||
				p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || !slices.Equal(refs(p["AlarmActions"]), []string{topic}) {
				t.Errorf("alarm on DLQ %s: %v", q.Name, p)
			}
		}
		if !found {
			t.Errorf("no alarm on dead-letter queue %s", q.Name)
		}
	}
}

func flatStrings(v any) []string {
	var out []string
	for _, x := range asList(v) {
		switch x := x.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			if j, ok := x["Fn::Join"].([]any); ok {
				var parts []string
				for _, p := range j[1].([]any) {
					if s, ok := p.(string); ok {
						parts = append(parts, s)
					}
				}
				out = append(out, strings.Join(parts, ""))
			}
		}
	}
	return out
}

var retentionDays = map[awslogs.RetentionDays]any{
	awslogs.RetentionDays_ONE_WEEK:     float64(7),
	awslogs.RetentionDays_ONE_MONTH:    float64(30),
	awslogs.RetentionDays_THREE_MONTHS: float64(90),
	awslogs.RetentionDays_ONE_YEAR:     float64(365),
}

// embedder is the EMBEDDER a function runs with in the stage.
func (s synthesized) embedder(f topology.Function) string {
	if v, ok := s.stage.Settings["EMBEDDER"]; ok {
		return v
	}
	return f.Settings["EMBEDDER"]
}
