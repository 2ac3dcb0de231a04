package stack

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/topology"
)

// grant is one action allowed on one resource expression of a role's policy.
type grant struct {
	action string
	// id is the logical id the resource refers to; suffix the literal text
	// joined after it ("/index/gsi1", "/*"), empty for the resource itself.
	id, suffix string
}

// grantsOf lists every action a role is allowed, per resource.
func (s synthesized) grantsOf(role string) []grant {
	var out []grant
	for _, pol := range s.resources("AWS::IAM::Policy") {
		if !slices.Contains(refs(props(pol)["Roles"]), role) {
			continue
		}
		for _, st := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			for _, r := range asList(st["Resource"]) {
				ids := refs(r)
				id := strings.Join(ids, ",")
				if s, ok := r.(string); ok {
					id = s // a literal: "*" or a hand-written ARN
				}
				suffix := strings.Join(flatStrings([]any{r}), "")
				for _, a := range flatStrings(st["Action"]) {
					out = append(out, grant{action: a, id: id, suffix: suffix})
				}
			}
		}
	}
	return out
}

// What an action does to the data it names. Deletes of items are writes
// (DynamoDB's grants do not tell them apart); of objects, their own kind.
type effect int

const (
	noData effect = iota
	reads
	writes
	deletes
)

func effectOf(action string) effect {
	a := strings.ToLower(action)
	svc, op, _ := strings.Cut(a, ":")
	switch svc {
	case "dynamodb":
		switch {
		case op == "describetable":
			return noData
		case strings.HasPrefix(op, "get"), strings.HasPrefix(op, "batchget"), op == "query", op == "scan",
			op == "conditioncheckitem", strings.HasPrefix(op, "partiqlselect"):
			return reads
		}
		return writes // put, update, delete, batch write, PartiQL writes, "*"
	case "s3":
		switch {
		case strings.HasPrefix(op, "deleteobject"):
			return deletes
		case strings.HasPrefix(op, "putobject"), strings.HasPrefix(op, "abort"), strings.HasPrefix(op, "restoreobject"),
			op == "*", strings.HasPrefix(op, "put"):
			return writes
		case strings.HasPrefix(op, "get"), strings.HasPrefix(op, "list"):
			return reads
		}
		return writes
	case "s3vectors":
		switch op {
		case "queryvectors", "getvectors", "listvectors":
			return reads
		case "deletevectors":
			return deletes
		}
		return writes
	case "sqs":
		switch op {
		case "sendmessage", "sendmessagebatch", "*":
			return writes
		case "getqueueattributes", "getqueueurl":
			return noData
		}
		return reads // receive, delete, change visibility: consuming
	}
	return noData
}

// assertLeastPrivilege checks, per function, that its role is allowed
// exactly what its declaration says: no write (put, update, delete, send) on
// a resource it only reads, no read on one it only writes, no object
// deletion it does not declare, queries only on the indexes it names, no
// Scan, and no data action on "*" or on any index wildcard.
func (s synthesized) assertLeastPrivilege(t *testing.T) {
	for _, v := range s.privilegeViolations() {
		t.Error(v)
	}
}

func (s synthesized) privilegeViolations() []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	fns := s.resources("AWS::Lambda::Function")
	for _, f := range s.topo.Functions {
		role := refs(props(fns[logicalIDOf(s.stack, s.stack.Functions[f.Name])])["Role"])[0]
		tables, buckets, queues, vectors := map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
		for ix, cfn := range s.stack.VectorIndexes {
			vectors[cfnLogicalID(s.stack, cfn)] = ix
		}
		for _, n := range f.TableNames() {
			tables[logicalIDOf(s.stack, s.stack.Tables[n])] = n
		}
		for _, b := range s.topo.Buckets {
			buckets[logicalIDOf(s.stack, s.stack.Buckets[b.Name])] = b.Name
		}
		for _, q := range s.topo.Queues {
			queues[logicalIDOf(s.stack, s.stack.Queues[q.Name])] = q.Name
		}
		consumes := map[string]bool{}
		for _, n := range f.Drains {
			consumes[n] = true
		}
		for _, q := range s.topo.Queues {
			if q.Consumer == f.Name {
				consumes[q.Name] = true
			}
		}

		granted := map[string][]string{} // "table main", "index main/gsi1", "bucket files"… -> actions
		for _, g := range s.grantsOf(role) {
			if strings.EqualFold(g.action, BedrockAction) {
				if !f.Embeds || s.embedder(f) != "bedrock" {
					bad("function %s may invoke Bedrock models, though it does not embed with Bedrock", f.Name)
				}
				if !strings.HasSuffix(g.suffix, "::foundation-model/amazon.titan-embed-text-v2:0") {
					bad("function %s: %s on %q, not the Titan embeddings model", f.Name, g.action, g.suffix)
				}
				granted["bedrock"] = append(granted["bedrock"], g.action)
				continue
			}
			e := effectOf(g.action)
			if e == noData {
				continue
			}
			if g.id == "*" || strings.Contains(g.suffix, "*") && !strings.HasPrefix(g.action, "s3:") {
				bad("function %s: %s on wildcard resource %q%s", f.Name, g.action, g.id, g.suffix)
				continue
			}
			if strings.EqualFold(g.action, "dynamodb:Scan") {
				bad("function %s may Scan %s: Parley never scans", f.Name, g.id)
			}
			switch {
			case tables[g.id] != "":
				ta := f.TableAccess(tables[g.id])
				if ix, ok := strings.CutPrefix(g.suffix, "/index/"); ok {
					if !slices.Contains(ta.Indexes, ix) {
						bad("function %s: %s on index %s of table %s, which it does not declare", f.Name, g.action, ix, ta.Table)
					}
					if e != reads {
						bad("function %s: %s on index %s of table %s: indexes are only queried", f.Name, g.action, ix, ta.Table)
					}
					granted["index "+ta.Table+"/"+ix] = append(granted["index "+ta.Table+"/"+ix], g.action)
					continue
				}
				if g.suffix != "" {
					bad("function %s: %s on %s%s", f.Name, g.action, ta.Table, g.suffix)
				}
				if e == writes && !ta.Access.Writes() {
					bad("function %s: write action %s on table %s, which it only reads", f.Name, g.action, ta.Table)
				}
				if e == reads && !ta.Access.Reads() {
					bad("function %s: read action %s on table %s, which it only writes", f.Name, g.action, ta.Table)
				}
				granted["table "+ta.Table] = append(granted["table "+ta.Table], g.action)
			case buckets[g.id] != "":
				ba := f.BucketAccess(buckets[g.id])
				want := map[effect]bool{reads: ba.Access.Reads(), writes: ba.Access.Writes(), deletes: ba.Access.Deletes()}[e]
				if !want {
					bad("function %s: %s on bucket %s, whose access is %s", f.Name, g.action, ba.Bucket, ba.Access)
				}
				granted["bucket "+ba.Bucket] = append(granted["bucket "+ba.Bucket], g.action)
			case vectors[g.id] != "":
				va := f.VectorAccess(vectors[g.id])
				want := map[effect]bool{reads: va.Access.Reads(), writes: va.Access.Writes(), deletes: va.Access.Deletes()}[e]
				if !want {
					bad("function %s: %s on vector index %s, whose access is %s", f.Name, g.action, va.Index, va.Access)
				}
				granted["vectors "+va.Index] = append(granted["vectors "+va.Index], g.action)
			case queues[g.id] != "":
				q := queues[g.id]
				if e == writes && !slices.Contains(f.SendsTo, q) {
					bad("function %s: %s on queue %s, which it does not send to", f.Name, g.action, q)
				}
				if e == reads && !consumes[q] {
					bad("function %s: %s on queue %s, which it neither consumes nor drains", f.Name, g.action, q)
				}
				granted["queue "+q] = append(granted["queue "+q], g.action)
			}
		}

		// And what it declares, it gets.
		need := func(what string, actions ...string) {
			for _, a := range actions {
				if !slices.Contains(granted[what], a) {
					bad("function %s lacks %s on %s", f.Name, a, what)
				}
			}
		}
		for _, ta := range f.Tables {
			if ta.Access.Reads() {
				need("table "+ta.Table, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
			}
			if ta.Access.Writes() {
				need("table "+ta.Table, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
			}
			for _, ix := range ta.Indexes {
				need("index "+ta.Table+"/"+ix, "dynamodb:Query")
			}
		}
		for _, ba := range f.Buckets {
			if ba.Access.Reads() {
				need("bucket "+ba.Bucket, "s3:GetObject*", "s3:List*")
			}
			if ba.Access.Writes() {
				need("bucket "+ba.Bucket, "s3:PutObject")
			}
			if ba.Access.Deletes() {
				need("bucket "+ba.Bucket, "s3:DeleteObject*")
			}
		}
		for _, va := range f.Vectors {
			if va.Access.Reads() {
				need("vectors "+va.Index, VectorReadActions...)
			}
			if va.Access.Writes() {
				need("vectors "+va.Index, VectorWriteActions...)
			}
			if va.Access.Deletes() {
				need("vectors "+va.Index, VectorDeleteActions...)
			}
		}
		if f.Embeds && s.embedder(f) == "bedrock" {
			need("bedrock", BedrockAction)
		}
		for _, n := range f.SendsTo {
			need("queue "+n, "sqs:SendMessage")
		}
		for n := range consumes {
			need("queue "+n, "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
		}
	}
	return out
}

// TestLeastPrivilegeCatchesOverGrants proves the check above fails on the
// grants it exists to forbid.
func TestLeastPrivilegeCatchesOverGrants(t *testing.T) {
	for _, tc := range []struct {
		action string
		want   effect
	}{
		{"dynamodb:PutItem", writes}, {"dynamodb:DeleteItem", writes}, {"dynamodb:BatchWriteItem", writes},
		{"dynamodb:Query", reads}, {"dynamodb:ConditionCheckItem", reads}, {"dynamodb:DescribeTable", noData},
		{"s3:PutObject", writes}, {"s3:Abort*", writes}, {"s3:DeleteObject*", deletes}, {"s3:GetObject*", reads},
		{"s3:List*", reads}, {"sqs:SendMessage", writes}, {"sqs:ReceiveMessage", reads}, {"sqs:GetQueueUrl", noData},
		{"s3vectors:QueryVectors", reads}, {"s3vectors:GetVectors", reads}, {"s3vectors:PutVectors", writes}, {"s3vectors:DeleteVectors", deletes},
		{"events:PutEvents", noData},
	} {
		if got := effectOf(tc.action); got != tc.want {
			t.Errorf("effectOf(%s) = %d, want %d", tc.action, got, tc.want)
		}
	}
	// A function that only reads a table, given more, must be caught.
	topo := workTopology()
	wide := topo
	wide.Functions = slices.Clone(topo.Functions)
	wide.Functions[0].Tables = []topology.TableAccess{topology.WritesTable("main", "gsi1", "byOwner")}
	s := synth(t, wide, mustStage(t, "dev"), false)
	s.topo = topo // judge the wider grants against the narrow declaration
	v := strings.Join(s.privilegeViolations(), "\n")
	for _, want := range []string{
		"function api: write action dynamodb:PutItem on table main, which it only reads",
		"function api: dynamodb:Query on index gsi1 of table main, which it does not declare",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("violations lack %q; got:\n%s", want, v)
		}
	}
}
