package files

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-dev/parley/pkg/extract/extracttest"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/topology"
)

// FiftyPagePDF is the 50-page report the benchmarks index (exported to
// the package's external tests).
func FiftyPagePDF() []byte { return longPDF(50) }

// longPDF is a report of pages pages: a heading and four paragraphs of
// about 600 characters each per page (about 2,700 characters a page).
func longPDF(pages int) []byte {
	var doc [][]extracttest.Para
	for p := 1; p <= pages; p++ {
		page := []extracttest.Para{{Text: fmt.Sprintf("Chapter %d: regional operations review", p), Heading: 2}}
		for i := 0; i < 4; i++ {
			page = append(page, extracttest.Para{Text: strings.Repeat(fmt.Sprintf("In quarter %d the region %d shipped %d orders on time, and the warehouse team reduced returns by %d percent. ", i+1, p, 1000+p*7+i, p%9+1), 4)})
		}
		doc = append(doc, page)
	}
	return extracttest.PDF(doc)
}

// sinkData stores nothing (as DynamoDB would, off the worker's heap) and
// counts passages; sinkIndex drops vectors and counts them.
type sinkData struct {
	*memData
	passages atomic.Int64
}

func (s *sinkData) PutPassages(_ context.Context, _ string, ps []Passage) error {
	s.passages.Add(int64(len(ps)))
	return nil
}

type sinkIndex struct {
	search.VectorIndex
	vectors, calls atomic.Int64
}

func (s *sinkIndex) Put(_ context.Context, vs []search.Vector) error {
	s.vectors.Add(int64(len(vs)))
	s.calls.Add(1)
	return nil
}

// peakHeap samples the heap while f runs and answers the largest growth
// over the heap at the start.
func peakHeap(f func()) (uint64, time.Duration) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base, peak := m.HeapAlloc, m.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
				var s runtime.MemStats
				runtime.ReadMemStats(&s)
				peak = max(peak, s.HeapAlloc)
			}
		}
	}()
	start := time.Now()
	f()
	took := time.Since(start)
	close(done)
	wg.Wait()
	return peak - base, took
}

type pdfRun struct {
	pages                 int
	bytes                 int
	passages, vectorCalls int64
	took                  time.Duration
	heapGrowth            uint64
	status, failedReason  string
}

func indexPDF(tb testing.TB, pages int) pdfRun {
	tb.Helper()
	content := longPDF(pages)
	key := filedata.ObjectKey("bot_1", "file_1", 1)
	f := File{ID: "file_1", BotID: "bot_1", Key: "report.pdf", ContentType: "application/pdf", Gen: 1, Status: filedata.UploadPending,
		DeclaredSize: int64(len(content)), Index: true, ChargedTo: "ws_1"}
	d := &sinkData{memData: newMemData(f)}
	idx := &sinkIndex{}
	ix, _ := testIndexer(d.memData, &memObjects{objects: map[string][]byte{key: content}})
	ix.Data, ix.Index, ix.Embed, ix.Batch = d, idx, search.Local{Dim: topology.PassageDimensions}, 0
	var err error
	growth, took := peakHeap(func() { err = ix.Handle(context.Background(), notification(key), 1) })
	if err != nil {
		tb.Fatal(err)
	}
	got := d.files["file_1"]
	return pdfRun{pages: pages, bytes: len(content), passages: d.passages.Load(), vectorCalls: idx.calls.Load(), took: took, heapGrowth: growth,
		status: got.Status, failedReason: got.FailedReason}
}

// A 50-page PDF indexes in seconds, in batches (bounded-parallel embedding
// calls, one vector write per batch), with memory that does not grow with
// the document: a 200-page one peaks about as high.
func TestFiftyPagePDFIndexesInSecondsWithBoundedMemory(t *testing.T) {
	r50 := indexPDF(t, 50)
	if r50.status != filedata.IndexingCompleted {
		t.Fatalf("50 pages: %s %s", r50.status, r50.failedReason)
	}
	r200 := indexPDF(t, 200)
	t.Logf("50 pages (%d KB): %d passages in %v, %d vector writes, heap +%.1f MB; 200 pages: %d passages in %v, heap +%.1f MB",
		r50.bytes>>10, r50.passages, r50.took.Round(time.Millisecond), r50.vectorCalls, float64(r50.heapGrowth)/(1<<20),
		r200.passages, r200.took.Round(time.Millisecond), float64(r200.heapGrowth)/(1<<20))
	if r50.passages < 100 || r50.took > 20*time.Second {
		t.Fatalf("50 pages: %d passages in %v", r50.passages, r50.took)
	}
	if r50.vectorCalls != (r50.passages+63)/64 {
		t.Fatalf("%d vector writes for %d passages: not batched by 64", r50.vectorCalls, r50.passages)
	}
	if r200.heapGrowth > 3*r50.heapGrowth+(16<<20) {
		t.Fatalf("memory grows with the document: +%d bytes at 50 pages, +%d at 200", r50.heapGrowth, r200.heapGrowth)
	}
}

// BenchmarkIndexPDF50 indexes a 50-page PDF (go test -run '^$' -bench IndexPDF ./pkg/files).
func BenchmarkIndexPDF50(b *testing.B) {
	var r pdfRun
	for i := 0; i < b.N; i++ {
		r = indexPDF(b, 50)
	}
	b.ReportMetric(float64(r.passages), "passages")
	b.ReportMetric(r.took.Seconds(), "s/file")
	b.ReportMetric(float64(r.pages)/r.took.Seconds(), "pages/s")
	b.ReportMetric(float64(r.heapGrowth)/(1<<20), "peak-heap-MB")
}
