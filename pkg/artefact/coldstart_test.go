package artefact

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/topology"
)

// coldStartEvent is the first event each function gets in the benchmark:
// a real authenticated request for HTTP functions, a one-message batch for
// workers, the scheduled event for the window.
func (r *rig) coldStartEvent(b *testing.B, fn topology.Function) any {
	switch fn.Name {
	case topology.AdminFunction:
		return apiEvent(b, "GET /v1/admin/account/me", "/v1/admin/account/me", r.bearer(), "")
	case topology.ChatFunction:
		return apiEvent(b, "GET /v1/chat/users", "/v1/chat/users", r.bearer("x-bot-id", "bot_01JABCDEF0123456789ABCDEFG"), "")
	case topology.DeletionsFunction:
		return apiEvent(b, "GET /api/public/bot/{botId}/conversations/delete/{jobId}",
			"/api/public/bot/bot_x/conversations/delete/cdj-00000000-0000-4000-8000-000000000000", r.bearer(), "")
	case topology.PoliciesFunction:
		return apiEvent(b, "GET /api/v1/policy/list", "/api/v1/policy/list", r.bearer(), "")
	case topology.FilesFunction:
		return apiEvent(b, "GET /v1/files", "/v1/files", r.bearer("x-bot-id", "bot_01JABCDEF0123456789ABCDEFG"), "")
	case topology.TablesFunction:
		return apiEvent(b, "GET /v1/tables", "/v1/tables", r.bearer("x-bot-id", "bot_01JABCDEF0123456789ABCDEFG"), "")
	case topology.ComplianceFunction:
		return apiEvent(b, "GET /api/v1/audit/verify", "/api/v1/audit/verify", r.bearer(), "")
	case topology.OffpeakFunction:
		return sampleEvent(b, "scheduled-offpeak.json")
	case topology.InvoicingFunction:
		return sampleEvent(b, "scheduled-invoicing.json")
	}
	if fn.Kind == topology.Worker {
		return sqsEvent("arn:aws:sqs:us-east-1:123456789012:worker", map[string]string{"m-1": "{not json"})
	}
	b.Fatalf("no cold-start event for function %s", fn.Name)
	return nil
}

// BenchmarkColdStart starts each function's bootstrap under the RIE
// several times (PARLEY_COLDSTARTS, default 7) and reports the medians of:
// init-ms, the RIE's init duration (bootstrap process start to its first
// request for work: Go runtime, configuration, SDK clients, handler);
// first-invoke-ms, the first invocation's duration in the runtime (cold
// connections, first use of each client);
// and first-call-ms, the client's round trip for that first invocation,
// init included (what the first caller waits, less Lambda's own sandbox
// set-up). It is a measurement, not a test: nothing fails on a slow start.
//
//	make bench-coldstart
func BenchmarkColdStart(b *testing.B) {
	r := setup(b)
	starts := 7
	if v, err := strconv.Atoi(os.Getenv("PARLEY_COLDSTARTS")); err == nil && v > 0 {
		starts = v
	}
	type row struct {
		name                         string
		init, invoke, call, warmCall time.Duration
	}
	var rows []row
	for _, fn := range r.topo.Functions {
		b.Run(fn.Name, func(b *testing.B) {
			payload, err := json.Marshal(r.coldStartEvent(b, fn))
			if err != nil {
				b.Fatal(err)
			}
			var inits, invokes, calls, warm []time.Duration
			for b.Loop() {
				for range starts {
					f := r.start(b, fn.Name, r.Environment(fn))
					first, err := f.Invoke(b.Context(), payload)
					if err != nil || first.Status != 200 {
						b.Fatalf("first invocation: %v %d %s\n%s", err, first.Status, first.Body, f.Log())
					}
					second, err := f.Invoke(b.Context(), payload)
					if err != nil || second.Status != 200 {
						b.Fatalf("second invocation: %v %d %s", err, second.Status, second.Body)
					}
					reps := f.Reports(2)
					if len(reps) < 1 || reps[0].Init == 0 {
						b.Fatalf("no init reported:\n%s", f.Log())
					}
					inits = append(inits, reps[0].Init)
					invokes = append(invokes, reps[0].Duration)
					calls = append(calls, first.Latency)
					warm = append(warm, second.Latency)
					f.Stop()
				}
			}
			rw := row{name: fn.Name, init: median(inits), invoke: median(invokes), call: median(calls), warmCall: median(warm)}
			rows = append(rows, rw)
			b.ReportMetric(ms(rw.init), "init-ms")
			b.ReportMetric(ms(rw.invoke), "first-invoke-ms")
			b.ReportMetric(ms(rw.call), "first-call-ms")
			b.ReportMetric(ms(rw.warmCall), "warm-call-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
	// The table for the README, medians of `starts` cold starts each.
	fmt.Printf("\n| function | init (ms) | first invocation (ms) | first call, init included (ms) | warm call (ms) |\n|---|---|---|---|---|\n")
	for _, rw := range rows {
		fmt.Printf("| %s | %.1f | %.1f | %.1f | %.1f |\n", rw.name, ms(rw.init), ms(rw.invoke), ms(rw.call), ms(rw.warmCall))
	}
	fmt.Printf("(median of %d starts per function)\n", starts)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
