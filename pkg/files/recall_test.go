package files

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/topology"
)

// The labelled set (testdata/corpus): documents in every indexed format and
// questions, each with the file and a piece of the passage that answers
// it. "lexical" questions share words with their passage; "paraphrase"
// questions say it otherwise.
type question struct {
	Q, File, Answer, Kind string
}

type corpus struct {
	data  *memData
	index *search.Memory
	embed search.Embedder
	// files and passages indexed, per file name.
	passages map[string]int
}

// indexCorpus runs every document of the labelled set through the indexer
// (extraction, passages, embedding, vectors), as an upload would.
func indexCorpus(tb testing.TB, embed search.Embedder) *corpus {
	tb.Helper()
	dir := filepath.Join("testdata", "corpus")
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	d, o := newMemData(), &memObjects{objects: map[string][]byte{}}
	ix, idx := testIndexer(d, o)
	ix.Embed, ix.Batch = embed, 64
	for _, e := range entries {
		if e.Name() == "questions.json" {
			continue
		}
		content, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		ct, _ := contentTypeOf(nil, e.Name())
		f := File{ID: e.Name(), BotID: "bot_1", Key: e.Name(), ContentType: ct, Gen: 1, Status: filedata.UploadPending,
			DeclaredSize: int64(len(content)), Index: true, ChargedTo: "ws_1"}
		d.files[f.ID] = f
		key := filedata.ObjectKey("bot_1", f.ID, 1)
		o.objects[key] = content
		if err := ix.Handle(context.Background(), notification(key), 1); err != nil {
			tb.Fatal(err)
		}
		if got := d.files[f.ID]; got.Status != filedata.IndexingCompleted {
			tb.Fatalf("%s: %s (%s)", f.ID, got.Status, got.FailedReason)
		}
	}
	c := &corpus{data: d, index: idx, embed: embed, passages: map[string]int{}}
	for _, f := range d.files {
		c.passages[f.ID] = f.Passages
	}
	return c
}

func questions(tb testing.TB) []question {
	raw, err := os.ReadFile(filepath.Join("testdata", "corpus", "questions.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var qs []question
	if err := json.Unmarshal(raw, &qs); err != nil {
		tb.Fatal(err)
	}
	return qs
}

// rank answers the 1-based rank of the first passage of the right file
// holding the answer among the top k, or 0.
func (c *corpus) rank(tb testing.TB, q question, k int) int {
	v, err := c.embed.Embed(context.Background(), []string{q.Q})
	if err != nil {
		tb.Fatal(err)
	}
	hits, err := c.index.Query(context.Background(), v[0], k, Filter("bot_1", nil))
	if err != nil {
		tb.Fatal(err)
	}
	for i, h := range hits {
		p := c.data.passages[h.Key]
		if p.FileID == q.File && strings.Contains(p.Content, q.Answer) {
			return i + 1
		}
	}
	return 0
}

// recall is recall@k per kind of question.
func (c *corpus) recall(tb testing.TB, qs []question, k int, report func(q question, rank int)) map[string]float64 {
	hit, n := map[string]int{}, map[string]int{}
	for _, q := range qs {
		r := c.rank(tb, q, k)
		n[q.Kind]++
		if r > 0 {
			hit[q.Kind]++
		}
		if report != nil {
			report(q, r)
		}
	}
	out := map[string]float64{}
	for kind := range n {
		out[kind] = float64(hit[kind]) / float64(n[kind])
	}
	return out
}

func TestLabelledSetRecallAt3(t *testing.T) {
	qs := questions(t)
	files := map[string]bool{}
	for _, q := range qs {
		files[q.File] = true
		if _, err := os.Stat(filepath.Join("testdata", "corpus", q.File)); err != nil {
			t.Fatalf("question %q names a missing file: %v", q.Q, err)
		}
	}
	if len(qs) < 30 || len(files) < 6 {
		t.Fatalf("%d questions on %d documents; the set needs at least 30 on 6", len(qs), len(files))
	}
	c := indexCorpus(t, search.Local{Dim: topology.PassageDimensions})
	total := 0
	for _, n := range c.passages {
		total += n
	}
	got := c.recall(t, qs, 3, func(q question, rank int) {
		if rank == 0 {
			t.Logf("missed (%s): %q in %s", q.Kind, q.Q, q.File)
		}
	})
	t.Logf("local embedder, %d documents, %d passages: recall@3 lexical %.2f, paraphrase %.2f", len(c.passages), total, got["lexical"], got["paraphrase"])
	if got["lexical"] < 0.8 {
		t.Fatalf("recall@3 on questions that share words with their passage is %.2f; want at least 0.8", got["lexical"])
	}
}

// BenchmarkRecall reports recall@1 and @3 of the local embedder on the
// labelled set (go test -run '^$' -bench Recall ./pkg/files).
func BenchmarkRecall(b *testing.B) {
	qs := questions(b)
	c := indexCorpus(b, search.Local{Dim: topology.PassageDimensions})
	var r1, r3 map[string]float64
	for i := 0; i < b.N; i++ {
		r1 = c.recall(b, qs, 1, nil)
		r3 = c.recall(b, qs, 3, nil)
	}
	for _, kind := range []string{"lexical", "paraphrase"} {
		b.ReportMetric(r1[kind], "recall@1-"+kind)
		b.ReportMetric(r3[kind], "recall@3-"+kind)
	}
}
