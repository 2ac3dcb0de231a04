package tables_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/testenv"
)

// BenchmarkCreateRows reports the AWS calls of createTableRows with 1,000
// rows, k being the table's indexed columns (x-parley indexes and the key
// column): write calls (BatchWriteItem of 25 without a key column,
// TransactWriteItems of up to 100 writes with one) and the others. It
// fails above ⌈1000 × (1 + k) / 25⌉ write calls or 4 others.
func BenchmarkCreateRows(b *testing.B) {
	env := testenv.Stack(b)
	cases := []struct {
		name      string
		k         int
		keyColumn string
		schema    map[string]any
	}{
		{"k=0", 0, "", map[string]any{"a": map[string]any{"type": "string"}, "b": map[string]any{"type": "number"}}},
		{"k=1-indexed", 1, "", map[string]any{"a": map[string]any{"type": "string", "x-parley": map[string]any{"index": true}}, "b": map[string]any{"type": "number"}}},
		{"k=1-keyColumn", 1, "a", map[string]any{"a": map[string]any{"type": "string"}, "b": map[string]any{"type": "number"}}},
		{"k=2-key+indexed", 2, "a", map[string]any{"a": map[string]any{"type": "string"}, "b": map[string]any{"type": "number", "x-parley": map[string]any{"index": true}}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			f := newBot(b, env, env.NewAccount(b))
			body := map[string]any{"name": "benchTable", "schema": c.schema}
			if c.keyColumn != "" {
				body["keyColumn"] = c.keyColumn
			}
			want(b, f.do(b, "POST", "/v1/tables", body), 200, "")
			var writes, others int
			for i := 0; i < b.N; i++ {
				batch := make([]any, 1000)
				for j := range batch {
					batch[j] = map[string]any{"a": fmt.Sprintf("r%d-%d", i, j), "b": j}
				}
				res := f.do(b, "POST", "/v1/tables/benchTable/rows", map[string]any{"rows": batch})
				if res.Status != 200 || len(res.Body["rows"].([]any)) != 1000 {
					b.Fatalf("createTableRows: %d %.300s", res.Status, res.Raw)
				}
				w, o := split(res.Calls.Ops)
				if limit := (1000*(1+c.k) + 24) / 25; w > limit || o > 4 {
					b.Fatalf("%d write calls (limit %d) and %d others (limit 4): %s", w, limit, o, res.Calls.Ops)
				}
				writes, others = writes+w, others+o
				b.StopTimer()
				want(b, f.do(b, "POST", "/v1/tables/benchTable/rows/delete", map[string]any{"deleteAllRows": true}), 200, "")
				b.StartTimer()
			}
			b.ReportMetric(float64(writes)/float64(b.N), "write-calls/op")
			b.ReportMetric(float64(others)/float64(b.N), "other-calls/op")
		})
	}
}

func split(ops string) (writes, others int) {
	for _, kv := range strings.Split(ops, ",") {
		k, v, _ := strings.Cut(kv, "=")
		var n int
		fmt.Sscan(v, &n)
		if k == "DynamoDB.BatchWriteItem" || k == "DynamoDB.TransactWriteItems" {
			writes += n
		} else {
			others += n
		}
	}
	return writes, others
}

var _ = testenv.Want
