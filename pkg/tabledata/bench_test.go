package tabledata_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/parley-dev/parley/pkg/tabledata"
	"github.com/parley-dev/parley/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// The benchmark table: 20,000 rows; "customer" is indexed (x-parley) with
// 400 values, 50 rows each; "amount" (0…19,999) is indexed too; "city"
// is not.
const (
	benchRows      = 20000
	benchCustomers = 400
)

var (
	seedOnce  sync.Once
	seedErr   error
	benchBot  = "bot_bench"
	benchTbl  tabledata.Table
	benchData *tabledata.Store
)

func seed(b *testing.B) (*tabledata.Store, tabledata.Table) {
	env := testenv.Stack(b)
	seedOnce.Do(func() {
		ctx := context.Background()
		s := tabledata.NewStore(env.Deps.DB, env.Env["TABLE_TABLES"])
		def := func(typ string) json.RawMessage { return json.RawMessage(`{"type":"` + typ + `"}`) }
		t := tabledata.Table{ID: "table_01BENCH0000000000000000000", Name: "benchTable", Factor: 1, CreatedAt: "2026-01-01T00:00:00.000Z",
			UpdatedAt: "2026-01-01T00:00:00.000Z", Columns: []tabledata.Column{
				{ID: "c1", Name: "customer", Def: def("string"), Indexed: true},
				{ID: "c2", Name: "amount", Def: def("number"), Indexed: true},
				{ID: "c3", Name: "city", Def: def("string")},
			}}
		if seedErr = s.CreateTable(ctx, benchBot, t, 100); seedErr != nil {
			return
		}
		first, err := s.ReserveRows(ctx, benchBot, t, benchRows, 0)
		if seedErr = err; err != nil {
			return
		}
		var changes []tabledata.Change
		for i := 0; i < benchRows; i++ {
			changes = append(changes, tabledata.Change{New: tabledata.Row{ID: first + int64(i), CreatedAt: t.CreatedAt, UpdatedAt: t.CreatedAt,
				Data: map[string]any{"c1": fmt.Sprintf("cust%03d", i%benchCustomers), "c2": float64(i), "c3": fmt.Sprintf("city%d", i%7)}}})
		}
		if _, seedErr = s.WriteRows(ctx, benchBot, t, changes); seedErr != nil {
			return
		}
		benchTbl, seedErr = s.Table(ctx, benchBot, t.Name)
		benchData = s
	})
	if seedErr != nil {
		b.Fatal(seedErr)
	}
	return benchData, benchTbl
}

// BenchmarkFind reports the items a page of findTableRows reads on a
// 20,000-row table (Query ScannedCount plus rows read by key): an
// equality on an indexed column with 50 matches, a range of 50 on one,
// a page ordered by one, and, for contrast, a filter on an unindexed
// column (1 MB Query pages of the table's rows, never a Scan).
func BenchmarkFind(b *testing.B) {
	s, t := seed(b)
	ctx := context.Background()
	cases := []struct {
		name    string
		plan    tabledata.Plan
		match   func(tabledata.Row) bool
		want    int
		maxRead int
	}{
		{"indexed-eq-50", tabledata.Plan{Column: "c1", Values: []any{"cust123"}}, nil, 50, 100},
		{"indexed-range-50", tabledata.Plan{Column: "c2", Lower: &tabledata.Bound{Value: 1000.0, Inclusive: true}, Upper: &tabledata.Bound{Value: 1049.0, Inclusive: true}}, nil, 50, 100},
		{"indexed-order-page-100", tabledata.Plan{Column: "c2", Desc: true}, nil, 100, 200},
		{"unindexed-eq", tabledata.Plan{}, func(r tabledata.Row) bool { return r.Data["c3"] == "city3" }, 2857, benchRows},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var read int
			runs := b.N
			if c.plan.Column == "" {
				// A read of the whole table takes the emulator ~45 s (its Query
				// walks the partition per page); once is enough to count it.
				runs = 1
			}
			for i := 0; i < runs; i++ {
				got := 0
				n, err := s.Scan(ctx, benchBot, t, c.plan, func(r tabledata.Row) (bool, error) {
					if c.match == nil || c.match(r) {
						got++
					}
					return c.name != "indexed-order-page-100" || got < 100, nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if got != c.want || n > c.maxRead {
					b.Fatalf("%s: %d rows reading %d items; want %d rows reading at most %d", c.name, got, n, c.want, c.maxRead)
				}
				read += n
			}
			b.ReportMetric(float64(read)/float64(runs), "items-read/op")
		})
	}
}
