package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/extract/extracttest"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/search"
)

// memData is an in-memory IndexData keeping filedata's conditions: a
// transition applies only at the file's generation and status.
type memData struct {
	mu       sync.Mutex
	files    map[string]File
	passages map[string]Passage
	measured int
	quotaErr bool
}

func newMemData(fs ...File) *memData {
	m := &memData{files: map[string]File{}, passages: map[string]Passage{}}
	for _, f := range fs {
		m.files[f.ID] = f
	}
	return m
}

func (m *memData) File(_ context.Context, bot, id string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[id]
	if !ok || f.BotID != bot {
		return File{}, apperr.NotFound("file", id)
	}
	return f, nil
}

func (m *memData) at(f File) bool {
	cur, ok := m.files[f.ID]
	return ok && cur.Gen == f.Gen && cur.Status == f.Status
}

func (m *memData) SetStatus(_ context.Context, f File, status, reason string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.at(f) {
		return filedata.ErrChanged
	}
	cur := m.files[f.ID]
	cur.Status, cur.FailedReason = status, reason
	m.files[f.ID] = cur
	return nil
}

func (m *memData) Measured(_ context.Context, f File, status string, storage, vectors, passages, limit int64, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.at(f) {
		return filedata.ErrChanged
	}
	if m.quotaErr || storage > limit || vectors > limit {
		return filedata.ErrQuota
	}
	m.measured++
	cur := m.files[f.ID]
	cur.Status, cur.StoredBytes, cur.VectorBytes, cur.Passages = status, cur.StoredBytes+storage, cur.VectorBytes+vectors, int(passages)
	m.files[f.ID] = cur
	return nil
}

func (m *memData) PutPassages(_ context.Context, _ string, ps []Passage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		m.passages[filedata.VectorKey(p.FileID, p.Gen, p.Position)] = p
	}
	return nil
}

func (m *memData) ErasePassages(_ context.Context, _, file string, gen int, also func([]string) error) error {
	m.mu.Lock()
	var keys []string
	for k, p := range m.passages {
		if p.FileID == file && (gen == 0 || p.Gen == gen) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	if err := also(keys); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.passages, k)
	}
	return nil
}

// memObjects is the files bucket in memory.
type memObjects struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func (o *memObjects) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, ok := o.objects[*in.Key]
	if !ok {
		return nil, &s3types.NotFound{}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(b)))}, nil
}

func (o *memObjects) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, ok := o.objects[*in.Key]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func (o *memObjects) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.objects, *in.Key)
	return &s3.DeleteObjectOutput{}, nil
}

type failingEmbedder struct{ search.Embedder }

func (failingEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("throttled")
}

// notification is an S3 event as moto sends it: the key form-encoded, the
// event time without a zone.
func notification(key string) string {
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventTime":"2026-05-04T12:00:00.123","eventName":"ObjectCreated:Put",`+
		`"s3":{"bucket":{"name":"files-bucket"},"object":{"key":%q,"size":12}}}]}`, url.QueryEscape(key))
}

func pending(content []byte, key string, index bool) File {
	return File{ID: "file_1", BotID: "bot_1", Key: key, ContentType: "text/markdown", Gen: 1, Status: filedata.UploadPending,
		DeclaredSize: int64(len(content)), Index: index, ChargedTo: "ws_1", Tags: map[string]string{"lang": "en"}}
}

func testIndexer(d *memData, o *memObjects) (*Indexer, *search.Memory) {
	idx := search.NewMemory()
	return &Indexer{Data: d, Objects: o, Bucket: "files-bucket", Plans: fakePlans{community}, Embed: search.Local{Dim: 64}, Index: idx,
		Clock: &clock.Fixed{T: now}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Batch: 2}, idx
}

func TestIndexerCompletesAndIndexesOnce(t *testing.T) {
	doc := []byte("# Guide\n\nFirst part about billing.\n\n## Next\n\nSecond part about shipping.\n\n## Last\n\nThird part.\n")
	f := pending(doc, "guide.md", true)
	key := filedata.ObjectKey("bot_1", "file_1", 1)
	d, o := newMemData(f), &memObjects{objects: map[string][]byte{key: doc}}
	ix, idx := testIndexer(d, o)
	if err := ix.Handle(context.Background(), notification(key), 1); err != nil {
		t.Fatal(err)
	}
	got := d.files["file_1"]
	if got.Status != filedata.IndexingCompleted || got.StoredBytes != int64(len(doc)) || got.Passages != 3 || got.VectorBytes <= 0 || idx.Len() != 3 || len(d.passages) != 3 {
		t.Fatalf("file %+v, %d vectors, %d passages", got, idx.Len(), len(d.passages))
	}
	vs, _ := idx.Get(context.Background(), []string{filedata.VectorKey("file_1", 1, 0)})
	if vs[0].Meta["bot"] != "bot_1" || fmt.Sprint(vs[0].Meta["tags"]) != fmt.Sprint([]string{TagToken("lang", "en")}) {
		t.Fatalf("vector metadata %v", vs[0].Meta)
	}
	// S3 sends duplicates (multipart uploads two): nothing changes twice.
	for i := 0; i < 2; i++ {
		if err := ix.Handle(context.Background(), notification(key), 1); err != nil {
			t.Fatal(err)
		}
	}
	if d.measured != 2 {
		t.Fatalf("measured %d times, want 2 (upload, indexing)", d.measured)
	}
	// S3's test event and unknown messages are dropped.
	for _, body := range []string{`{"Service":"Amazon S3","Event":"s3:TestEvent"}`, "not json", `{"type":"mystery"}`} {
		if err := ix.Handle(context.Background(), body, 1); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
}

func TestIndexerRejectsWithReasons(t *testing.T) {
	doc := []byte("plain words")
	key := filedata.ObjectKey("bot_1", "file_1", 1)
	cases := []struct {
		name       string
		file       File
		data       []byte
		quota      bool
		status     string
		reason     string
		objectLeft bool
	}{
		{"wrong size", func() File { f := pending(doc, "a.txt", false); f.DeclaredSize = 99; return f }(), doc, false, filedata.UploadFailed, "declared as 99 bytes", false},
		{"storage quota", pending(doc, "a.txt", false), doc, true, filedata.UploadFailed, "file storage quota", false},
		{"unsupported", func() File { f := pending(doc, "a.png", true); f.ContentType = "image/png"; return f }(), doc, false, filedata.IndexingFailed, "image/png cannot be indexed", true},
		{"damaged pdf", func() File { f := pending(doc, "a.pdf", true); f.ContentType = "application/pdf"; return f }(), doc, false, filedata.IndexingFailed, "the PDF is damaged or not a PDF", true},
		{"no text", pending([]byte("  \n "), "a.md", true), []byte("  \n "), false, filedata.IndexingFailed, "no text to index", true},
	}
	for _, c := range cases {
		d, o := newMemData(c.file), &memObjects{objects: map[string][]byte{key: c.data}}
		d.quotaErr = c.quota
		ix, idx := testIndexer(d, o)
		if err := ix.Handle(context.Background(), notification(key), 1); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := d.files["file_1"]
		_, left := o.objects[key]
		if got.Status != c.status || !strings.Contains(got.FailedReason, c.reason) || left != c.objectLeft || idx.Len() != 0 {
			t.Errorf("%s: %s %q, object kept %v, %d vectors", c.name, got.Status, got.FailedReason, left, idx.Len())
		}
	}
}

func TestIndexerStaleAndOrphanUploads(t *testing.T) {
	f := pending([]byte("new"), "a.txt", false)
	f.Gen = 2
	stale, orphan := filedata.ObjectKey("bot_1", "file_1", 1), filedata.ObjectKey("bot_1", "file_gone", 1)
	d, o := newMemData(f), &memObjects{objects: map[string][]byte{stale: []byte("old"), orphan: []byte("x")}}
	ix, _ := testIndexer(d, o)
	for _, k := range []string{stale, orphan} {
		if err := ix.Handle(context.Background(), notification(k), 1); err != nil {
			t.Fatal(err)
		}
	}
	if len(o.objects) != 0 || d.files["file_1"].Status != filedata.UploadPending {
		t.Fatalf("objects %v, file %+v", o.objects, d.files["file_1"])
	}
}

func TestIndexerRetriesThenSaysSo(t *testing.T) {
	doc := []byte("Some words to index.")
	key := filedata.ObjectKey("bot_1", "file_1", 1)
	d, o := newMemData(pending(doc, "a.txt", true)), &memObjects{objects: map[string][]byte{key: doc}}
	ix, _ := testIndexer(d, o)
	ix.Embed = failingEmbedder{}
	if err := ix.Handle(context.Background(), notification(key), 1); err == nil {
		t.Fatal("a temporary failure was not returned for redelivery")
	}
	if got := d.files["file_1"]; got.Status != filedata.IndexingPending {
		t.Fatalf("after the first attempt: %+v", got)
	}
	// The redelivery resumes at indexing; the last attempt gives up clearly.
	if err := ix.Handle(context.Background(), notification(key), 3); err != nil {
		t.Fatal(err)
	}
	if got := d.files["file_1"]; got.Status != filedata.IndexingFailed || !strings.Contains(got.FailedReason, "after 3 attempts") {
		t.Fatalf("after the last attempt: %+v", got)
	}
	// The vector quota is checked on what indexing measured; nothing stays.
	d, o = newMemData(pending(doc, "a.txt", true)), &memObjects{objects: map[string][]byte{key: doc}}
	ix, idx := testIndexer(d, o)
	ix.Plans = fakePlans{Limits{Plan: "tiny", StorageBytes: 1 << 20, VectorBytes: 10, MaxFileBytes: 1 << 20}}
	if err := ix.Handle(context.Background(), notification(key), 1); err != nil {
		t.Fatal(err)
	}
	if got := d.files["file_1"]; got.Status != filedata.IndexingFailed || !strings.Contains(got.FailedReason, "vector storage quota") || idx.Len() != 0 || len(d.passages) != 0 {
		t.Fatalf("over the vector quota: %+v, %d vectors, %d passages", got, idx.Len(), len(d.passages))
	}
}

func TestRetagRewritesVectorTags(t *testing.T) {
	doc := extracttest.DOCX([]extracttest.Para{{Text: "Title", Heading: 1}, {Text: "A paragraph of the document."}}, nil)
	f := pending(doc, "a.docx", true)
	f.ContentType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	key := filedata.ObjectKey("bot_1", "file_1", 1)
	d, o := newMemData(f), &memObjects{objects: map[string][]byte{key: doc}}
	ix, idx := testIndexer(d, o)
	if err := ix.Handle(context.Background(), notification(key), 1); err != nil {
		t.Fatal(err)
	}
	cur := d.files["file_1"]
	cur.Tags = map[string]string{"team": "ops"}
	d.files["file_1"] = cur
	if err := ix.Handle(context.Background(), `{"type":"retag","botId":"bot_1","fileId":"file_1"}`, 1); err != nil {
		t.Fatal(err)
	}
	q, _ := search.Local{Dim: 64}.Embed(context.Background(), []string{"paragraph"})
	hits, _ := idx.Query(context.Background(), q[0], 5, Filter("bot_1", map[string]string{"team": "ops"}))
	old, _ := idx.Query(context.Background(), q[0], 5, Filter("bot_1", map[string]string{"lang": "en"}))
	if len(hits) != cur.Passages || len(old) != 0 {
		t.Fatalf("retagged hits %d of %d, old tag hits %d", len(hits), cur.Passages, len(old))
	}
}
