package stack

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-dev/parley/pkg/topology"
)

// Validate reports every inconsistency in a topology that would otherwise
// surface as a failed deployment: unknown references, duplicate names,
// functions nothing invokes, DLQ cycles and queue timeouts shorter than their
// consumer's (which Lambda rejects).
func Validate(t topology.Topology) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	fns := map[string]topology.Function{}
	for _, f := range t.Functions {
		if _, dup := fns[f.Name]; dup {
			bad("function %q declared twice", f.Name)
		}
		fns[f.Name] = f
	}
	tables, buckets, queues := set[string]{}, set[string]{}, map[string]topology.Queue{}
	tableDecls := map[string]topology.Table{}
	for _, tb := range t.Tables {
		tableDecls[tb.Name] = tb
		if tables[tb.Name] {
			bad("table %q declared twice", tb.Name)
		}
		if tb.PartitionKey == "" {
			bad("table %q has no partition key", tb.Name)
		}
		tables[tb.Name] = true
	}
	for _, b := range t.Buckets {
		if buckets[b.Name] {
			bad("bucket %q declared twice", b.Name)
		}
		buckets[b.Name] = true
	}
	for _, q := range t.Queues {
		if _, dup := queues[q.Name]; dup {
			bad("queue %q declared twice", q.Name)
		}
		queues[q.Name] = q
	}

	invoked := set[string]{}
	for _, f := range t.Functions {
		seen := set[string]{}
		for _, ta := range f.Tables {
			decl, ok := tableDecls[ta.Table]
			switch {
			case !ok:
				bad("function %q uses undeclared table %q", f.Name, ta.Table)
			case seen["table "+ta.Table]:
				bad("function %q declares table %q twice", f.Name, ta.Table)
			case ta.Access&^topology.ReadWrite != 0 || ta.Access == 0:
				bad("function %q: access %s to table %q (tables take read, write or both)", f.Name, ta.Access, ta.Table)
			}
			seen["table "+ta.Table] = true
			for _, ix := range ta.Indexes {
				if ok && !slices.ContainsFunc(decl.Indexes, func(i topology.Index) bool { return i.Name == ix }) {
					bad("function %q queries undeclared index %q of table %q", f.Name, ix, ta.Table)
				}
			}
		}
		for _, ba := range f.Buckets {
			switch {
			case !buckets[ba.Bucket]:
				bad("function %q uses undeclared bucket %q", f.Name, ba.Bucket)
			case seen["bucket "+ba.Bucket]:
				bad("function %q declares bucket %q twice", f.Name, ba.Bucket)
			case ba.Access == 0 || ba.Access&^(topology.ReadWrite|topology.Delete) != 0:
				bad("function %q: no valid access to bucket %q", f.Name, ba.Bucket)
			}
			seen["bucket "+ba.Bucket] = true
		}
		for _, n := range f.Drains {
			if _, ok := queues[n]; !ok {
				bad("function %q drains undeclared queue %q", f.Name, n)
			}
		}
		for _, n := range f.SendsTo {
			if _, ok := queues[n]; !ok {
				bad("function %q sends to undeclared queue %q", f.Name, n)
			}
		}
		switch f.Kind {
		case topology.HTTP, topology.Worker, topology.Scheduled:
		default:
			bad("function %q has unknown kind %q", f.Name, f.Kind)
		}
	}
	routes := set[string]{}
	for _, r := range t.Routes {
		if routes[r.Key()] {
			bad("route %q declared twice", r.Key())
		}
		routes[r.Key()] = true
		if f, ok := fns[r.Function]; !ok || f.Kind != topology.HTTP {
			bad("route %q targets %q, which is not an HTTP function", r.Key(), r.Function)
		}
		invoked[r.Function] = true
	}
	for _, q := range t.Queues {
		if q.DeadLetterQueue != "" {
			if _, ok := queues[q.DeadLetterQueue]; !ok {
				bad("queue %q has undeclared dead-letter queue %q", q.Name, q.DeadLetterQueue)
			}
			if q.MaxReceiveCount < 1 {
				bad("queue %q has a dead-letter queue but no MaxReceiveCount", q.Name)
			}
		}
		if q.BatchSize < 0 || q.BatchSize > 10 {
			bad("queue %q batch size %d is outside 1..10", q.Name, q.BatchSize)
		}
		if q.Consumer == "" {
			continue
		}
		f, ok := fns[q.Consumer]
		if !ok || f.Kind != topology.Worker {
			bad("queue %q is consumed by %q, which is not a worker function", q.Name, q.Consumer)
			continue
		}
		invoked[f.Name] = true
		timeout := f.Timeout
		if timeout == 0 {
			timeout = defaultLambdaTimeout
		}
		visibility := q.VisibilityTimeout
		if visibility == 0 {
			visibility = defaultVisibilityTimeout
		}
		if visibility < timeout {
			bad("queue %q visibility timeout %s is shorter than its consumer's timeout %s", q.Name, visibility, timeout)
		}
	}
	for _, q := range t.Queues {
		if dlqCycle(queues, q.Name) {
			bad("queue %q leads into a dead-letter cycle", q.Name)
		}
	}
	for _, b := range t.Buckets {
		if _, ok := queues[b.NotifyQueue]; b.NotifyQueue != "" && !ok {
			bad("bucket %q notifies undeclared queue %q", b.Name, b.NotifyQueue)
		}
	}
	for _, s := range t.Schedules {
		if f, ok := fns[s.Target]; !ok || f.Kind != topology.Scheduled {
			bad("schedule %q targets %q, which is not a scheduled function", s.Name, s.Target)
		}
		if s.Expression == "" {
			bad("schedule %q has no expression", s.Name)
		}
		invoked[s.Target] = true
	}
	for _, f := range t.Functions {
		if !invoked[f.Name] {
			bad("function %q is invoked by no route, queue or schedule", f.Name)
		}
	}
	return errors.Join(errs...)
}

// Lambda's and SQS's defaults when the topology leaves a value at zero.
const (
	defaultLambdaTimeout     = 3 * time.Second
	defaultVisibilityTimeout = 30 * time.Second
)

type set[T comparable] map[T]bool

func dlqCycle(queues map[string]topology.Queue, start string) bool {
	seen := set[string]{}
	for n := queues[start].DeadLetterQueue; n != ""; n = queues[n].DeadLetterQueue {
		if n == start || seen[n] {
			return true
		}
		seen[n] = true
	}
	return false
}
