package usage

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// BenchmarkConcurrentWriters models 100 bots writing 1,000 messages per
// second in total to one workspace for a minute, each message's
// transaction holding its counter items for hold (DynamoDB rejects a
// transaction that touches an item another one holds: TransactionConflict).
// It reports, for the workspace counters with 1 item (no sharding) and
// with Shards items, the busiest item's writes per second and the share of
// transactions that would meet a conflict. Run:
//
//	go test ./pkg/usage -run '^$' -bench ConcurrentWriters -benchtime 1x
func BenchmarkConcurrentWriters(b *testing.B) {
	const bots, rate, seconds = 100, 1000, 60
	hold := 10 * time.Millisecond
	for _, shards := range []int{1, 32, Shards} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			for range b.N {
				r := rand.New(rand.NewPCG(1, 2))
				type write struct {
					at   time.Duration
					item int
				}
				var ws []write
				t := time.Duration(0)
				n := 0
				for t < seconds*time.Second {
					t += time.Duration(r.ExpFloat64() / rate * float64(time.Second))
					id := fmt.Sprintf("msg_%d_%d", r.IntN(bots), n)
					n++
					ws = append(ws, write{at: t, item: Shard(id) % shards})
				}
				sort.Slice(ws, func(i, j int) bool { return ws[i].at < ws[j].at })
				lastEnd := map[int]time.Duration{}
				perSecond := map[[2]int]int{}
				conflicts, busiest := 0, 0
				for _, w := range ws {
					if end, ok := lastEnd[w.item]; ok && end > w.at {
						conflicts++
					}
					lastEnd[w.item] = w.at + hold
					k := [2]int{w.item, int(w.at / time.Second)}
					perSecond[k]++
					busiest = max(busiest, perSecond[k])
				}
				b.ReportMetric(float64(len(ws))/seconds, "tx/s")
				b.ReportMetric(float64(busiest), "max-writes/s/item")
				b.ReportMetric(100*float64(conflicts)/float64(len(ws)), "%conflicting")
			}
		})
	}
}
