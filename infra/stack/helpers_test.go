package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/parley-dev/parley/pkg/topology"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// workTopology has every kind of resource the stack must handle, shaped like
// the architecture's background work, independent of what Default declares
// today.
func workTopology() topology.Topology {
	return topology.Topology{
		Functions: []topology.Function{
			// api reads main only through one of its indexes; files reads
			// and writes main and puts and reads files; offpeak drains the
			// DLQ; lifecycle archives (put only) and erases files.
			{Name: "api", Kind: topology.HTTP, Tables: []topology.TableAccess{topology.ReadsTable("main", "byOwner")}, Timeout: 10 * time.Second, MemoryMB: 256},
			{Name: "files", Kind: topology.HTTP, Tables: []topology.TableAccess{topology.WritesTable("main")},
				Buckets: []topology.BucketAccess{{Bucket: "files", Access: topology.ReadWrite}}, Timeout: 10 * time.Second},
			{Name: "offpeak", Kind: topology.Scheduled, Tables: []topology.TableAccess{topology.WritesTable("jobs"), topology.ReadsTable("main", "gsi1")},
				SendsTo: []string{"lifecycle"}, Drains: []string{"lifecycle-dlq"}, Timeout: time.Minute},
			{Name: "lifecycle", Kind: topology.Worker, Tables: []topology.TableAccess{topology.WritesTable("main"), {Table: "jobs", Access: topology.Write}},
				Buckets:             []topology.BucketAccess{{Bucket: "archive", Access: topology.Write}, {Bucket: "files", Access: topology.Read | topology.Delete}},
				ReservedConcurrency: 5, Timeout: time.Minute, MemoryMB: 512},
			{Name: "indexer", Kind: topology.Worker, Tables: []topology.TableAccess{topology.WritesTable("main", "gsi1", "byOwner")},
				Buckets: []topology.BucketAccess{{Bucket: "files", Access: topology.Read}}, Timeout: 30 * time.Second},
		},
		Routes: []topology.Route{
			{Method: "GET", Path: "/v1/things/{id}", Function: "api"},
			{Method: "POST", Path: "/v1/things", Function: "api"},
			{Method: "PUT", Path: "/v1/files", Function: "files"},
		},
		Tables: []topology.Table{
			{Name: "main", PartitionKey: "pk", SortKey: "sk", TTLAttribute: "expiresAt",
				Indexes: []topology.Index{{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"}, {Name: "byOwner", PartitionKey: "owner"}}},
			{Name: "jobs", PartitionKey: "pk"},
		},
		Buckets: []topology.Bucket{
			{Name: "files", NotifyQueue: "file-events"},
			{Name: "archive", Archive: true},
		},
		Queues: []topology.Queue{
			{Name: "lifecycle", DeadLetterQueue: "lifecycle-dlq", MaxReceiveCount: 5, VisibilityTimeout: 6 * time.Minute, Consumer: "lifecycle", BatchSize: 10},
			{Name: "lifecycle-dlq"},
			{Name: "file-events", DeadLetterQueue: "file-events-dlq", MaxReceiveCount: 3, VisibilityTimeout: 3 * time.Minute, Consumer: "indexer", BatchSize: 5},
			{Name: "file-events-dlq"},
		},
		Schedules: []topology.Schedule{
			{Name: "offpeak", Expression: "cron(0 3 * * ? *)", EnvOverride: "OFFPEAK_SCHEDULE", Target: "offpeak"},
		},
	}
}

// fakeAssets makes a placeholder bootstrap per function: synthesis only
// hashes and zips them.
func fakeAssets(t *testing.T, topo topology.Topology) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range topo.Functions {
		if err := os.MkdirAll(filepath.Join(dir, f.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type synthesized struct {
	stack *Stack
	tmpl  assertions.Template
	json  map[string]any
	topo  topology.Topology
	stage Stage
}

func synth(t *testing.T, topo topology.Topology, stage Stage, dataPlaneOnly bool) synthesized {
	t.Helper()
	st, err := NewStack(newTestApp(t), StackName(stage.Name), &Props{
		Stage:         stage,
		Topology:      topo,
		AssetDir:      fakeAssets(t, topo),
		DataPlaneOnly: dataPlaneOnly,
	})
	if err != nil {
		t.Fatalf("NewStack: %v", err)
	}
	tmpl := assertions.Template_FromStack(st.Stack, nil)
	return synthesized{stack: st, tmpl: tmpl, json: *tmpl.ToJSON(), topo: topo, stage: stage}
}

func mustStage(t *testing.T, name string) Stage {
	t.Helper()
	s, err := StageNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// check runs an assertions call, which panics on mismatch, as a test error.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

func (s synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

func logicalIDOf(st *Stack, construct awscdk.IResource) string {
	child := construct.Node().DefaultChild().(awscdk.CfnElement)
	return *st.GetLogicalId(child)
}

// refs collects the logical ids an expression references through Ref and
// Fn::GetAtt, anywhere inside it.
func refs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["Ref"].(string); ok {
			out = append(out, r)
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
			out = append(out, fmt.Sprint(ga[0]))
		}
		for _, x := range v {
			out = append(out, refs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, refs(x)...)
		}
	}
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// only wraps one resource in a template, to assert on exactly that resource.
func only(r map[string]any) assertions.Template {
	return assertions.Template_FromJSON(&map[string]any{"Resources": map[string]any{"R": r}}, nil)
}

func (s synthesized) resource(c awscdk.IResource) map[string]any {
	return s.json["Resources"].(map[string]any)[logicalIDOf(s.stack, c)].(map[string]any)
}

func newTestApp(t *testing.T) awscdk.App {
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
}

// cfnLogicalID is the logical id of an L1 construct (a CfnResource).
func cfnLogicalID(st *Stack, r awscdk.CfnElement) string { return *st.GetLogicalId(r) }
