package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/extract"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/search"
)

// Indexer is the files queue's worker: it completes uploads the bucket
// notifies (the size checked against the declared one, the bytes counted in
// the workspace's usage), indexes the files that asked for it (text
// extracted, passages embedded and stored with their vectors) and re-tags
// the vectors of files whose tags changed. Every step is conditional on the
// file's generation and status, so duplicate notifications (S3 sends some,
// multipart uploads two) and retries change nothing twice.
type Indexer struct {
	Data    IndexData
	Objects Objects
	Bucket  string
	Plans   Plans
	Embed   search.Embedder
	Index   search.VectorIndex
	Clock   clock.Clock
	Log     *slog.Logger
	// TempDir receives downloads (default os.TempDir(); /tmp on Lambda).
	TempDir string
	// Batch is how many passages are embedded and written together (64).
	Batch int
	// MaxPassages bounds one file's passages (20,000).
	MaxPassages int
	// Attempts is how many deliveries of a message the worker tries before
	// it gives up on indexing and says so on the file (3).
	Attempts int
}

// Job is a message the API queues for the worker.
type Job struct {
	Type   string `json:"type"`
	BotID  string `json:"botId"`
	FileID string `json:"fileId"`
}

// JobRetag re-tags a file's vectors.
const JobRetag = "retag"

// s3Event is an S3 event notification, decoded tolerantly: moto's differs
// from AWS's (event times without a zone, form-encoded keys).
type s3Event struct {
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
	Event string `json:"Event"`
}

// Handle runs one message of the files queue (attempt is its delivery
// count, 1 for the first).
func (ix *Indexer) Handle(ctx context.Context, body string, attempt int) error {
	var job Job
	if err := json.Unmarshal([]byte(body), &job); err == nil && job.Type != "" {
		if job.Type == JobRetag {
			return ix.retag(ctx, job.BotID, job.FileID)
		}
		ix.log().WarnContext(ctx, "unknown files job", "type", job.Type)
		return nil
	}
	var ev s3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		ix.log().WarnContext(ctx, "unreadable files queue message", "error", err)
		return nil // a message that can never be read is dropped, not retried
	}
	var errs []error
	for _, r := range ev.Records {
		if !strings.HasPrefix(r.EventName, "ObjectCreated") {
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			key = r.S3.Object.Key
		}
		if err := ix.uploaded(ctx, key, attempt); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

func (ix *Indexer) log() *slog.Logger {
	if ix.Log == nil {
		return slog.Default()
	}
	return ix.Log
}

func (ix *Indexer) attempts() int {
	if ix.Attempts <= 0 {
		return 3
	}
	return ix.Attempts
}

// uploaded handles an object of the files bucket being created.
func (ix *Indexer) uploaded(ctx context.Context, key string, attempt int) error {
	bot, file, gen, ok := filedata.ParseObjectKey(key)
	if !ok {
		ix.log().WarnContext(ctx, "object outside the files layout", "key", key)
		return nil
	}
	f, err := ix.Data.File(ctx, bot, file)
	if apperr.Is(err, apperr.ResourceNotFound) || (err == nil && gen < f.Gen) {
		// Uploaded after its file was deleted or replaced: not kept.
		return ix.deleteObject(ctx, key)
	}
	if err != nil {
		return err
	}
	if gen != f.Gen {
		return nil
	}
	switch f.Status {
	case filedata.UploadPending:
		return ix.completeUpload(ctx, f, key, attempt)
	case filedata.IndexingPending:
		return ix.index(ctx, f, attempt) // a retried or interrupted run resumes
	}
	return nil // a duplicate notification
}

func (ix *Indexer) deleteObject(ctx context.Context, key string) error {
	_, err := ix.Objects.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(ix.Bucket), Key: aws.String(key)})
	return err
}

func (ix *Indexer) completeUpload(ctx context.Context, f File, key string, attempt int) error {
	head, err := ix.Objects.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(ix.Bucket), Key: aws.String(key)})
	var nf *s3types.NotFound
	if errors.As(err, &nf) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	size := aws.ToInt64(head.ContentLength)
	now := ix.Clock.Now()
	if size != f.DeclaredSize {
		reason := fmt.Sprintf("the upload was %d bytes but the file was declared as %d bytes: upsert the file again with the right size and upload exactly that many bytes", size, f.DeclaredSize)
		return ix.rejectUpload(ctx, f, key, reason)
	}
	limits, err := ix.Plans.Limits(ctx, f.ChargedTo)
	if err != nil {
		return err
	}
	next := filedata.UploadCompleted
	if f.Index {
		next = filedata.IndexingPending
	}
	switch err := ix.Data.Measured(ctx, f, next, size, 0, 0, limits.StorageBytes, now); {
	case errors.Is(err, filedata.ErrQuota):
		return ix.rejectUpload(ctx, f, key, fmt.Sprintf("the workspace's file storage quota (%d bytes on the %s plan) is used up: delete files or change plan, then upload again", limits.StorageBytes, limits.Plan))
	case errors.Is(err, filedata.ErrChanged):
		return nil // handled by a duplicate notification, or replaced
	case err != nil:
		return err
	}
	if !f.Index {
		return nil
	}
	f.Status, f.StoredBytes = filedata.IndexingPending, size
	return ix.index(ctx, f, attempt)
}

// rejectUpload marks the upload failed and removes the object: nothing of
// it is kept or counted.
func (ix *Indexer) rejectUpload(ctx context.Context, f File, key, reason string) error {
	err := ix.Data.SetStatus(ctx, f, filedata.UploadFailed, reason, ix.Clock.Now())
	if err != nil && !errors.Is(err, filedata.ErrChanged) {
		return err
	}
	return ix.deleteObject(ctx, key)
}

func (ix *Indexer) batch() int {
	if ix.Batch <= 0 {
		return 64
	}
	return ix.Batch
}

func (ix *Indexer) maxPassages() int {
	if ix.MaxPassages <= 0 {
		return 20000
	}
	return ix.MaxPassages
}

// index extracts, splits, embeds and stores a file's passages, Batch at a
// time (memory holds one batch and one page of the document, never the
// whole text), then completes the file with its vectors' bytes counted.
func (ix *Indexer) index(ctx context.Context, f File, attempt int) error {
	format, ok := extract.FormatOf(f.ContentType, f.Key)
	if !ok {
		return ix.failIndexing(ctx, f, extract.Unsupported(f.ContentType).Error())
	}
	tmp, size, err := ix.download(ctx, f)
	if err != nil {
		return ix.retryOrFail(ctx, f, attempt, err)
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()

	var pending []extract.Passage
	var vectorBytes int64
	n := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		texts := make([]string, len(pending))
		for i, p := range pending {
			texts[i] = p.Embedding()
		}
		vecs, err := ix.Embed.Embed(ctx, texts)
		if err != nil {
			return err
		}
		stored := make([]Passage, len(pending))
		vectors := make([]search.Vector, len(pending))
		tags := TagTokens(f.Tags)
		for i, p := range pending {
			stored[i] = Passage{Content: p.Content, Subtype: string(p.Subtype), Page: p.Page, Position: p.Position, Gen: f.Gen, FileID: f.ID}
			meta := map[string]any{"bot": f.BotID, "file": f.ID}
			if len(tags) > 0 {
				meta["tags"] = tags
			}
			vectors[i] = search.Vector{Key: filedata.VectorKey(f.ID, f.Gen, p.Position), Data: vecs[i], Meta: meta}
			raw, _ := json.Marshal(meta)
			vectorBytes += int64(4*len(vecs[i]) + len(vectors[i].Key) + len(raw) + len(p.Content))
		}
		// Passages first: every vector then has the passage a search reads.
		if err := ix.Data.PutPassages(ctx, f.BotID, stored); err != nil {
			return err
		}
		if err := ix.Index.Put(ctx, vectors); err != nil {
			return err
		}
		pending = pending[:0]
		return nil
	}
	chunker := extract.NewChunker(func(p extract.Passage) error {
		n++
		if n > ix.maxPassages() {
			return &extract.Error{Reason: fmt.Sprintf("the document is too long to index: more than %d passages; split it into smaller files", ix.maxPassages())}
		}
		pending = append(pending, p)
		if len(pending) >= ix.batch() {
			return flush()
		}
		return nil
	})
	err = extract.Blocks(format, tmp, size, chunker.Add)
	if err == nil {
		err = chunker.Close()
	}
	if err == nil {
		err = flush()
	}
	var unreadable *extract.Error
	if errors.As(err, &unreadable) {
		if cerr := ix.erase(ctx, f); cerr != nil {
			return cerr
		}
		return ix.failIndexing(ctx, f, unreadable.Reason)
	}
	if err != nil {
		return ix.retryOrFail(ctx, f, attempt, err)
	}
	limits, err := ix.Plans.Limits(ctx, f.ChargedTo)
	if err != nil {
		return err
	}
	switch err := ix.Data.Measured(ctx, f, filedata.IndexingCompleted, 0, vectorBytes, int64(chunker.Passages()), limits.VectorBytes, ix.Clock.Now()); {
	case errors.Is(err, filedata.ErrQuota):
		if cerr := ix.erase(ctx, f); cerr != nil {
			return cerr
		}
		return ix.failIndexing(ctx, f, fmt.Sprintf("the workspace's vector storage quota (%d bytes on the %s plan) has no room for this file's %d bytes of passages: delete indexed files or change plan", limits.VectorBytes, limits.Plan, vectorBytes))
	case errors.Is(err, filedata.ErrChanged):
		// Replaced or deleted while indexing: what this run wrote is erased.
		return ix.erase(ctx, f)
	case err != nil:
		return err
	}
	ix.log().InfoContext(ctx, "file indexed", "bot", f.BotID, "file", f.ID, "passages", chunker.Passages(), "vector_bytes", vectorBytes)
	return nil
}

// retryOrFail returns err for SQS to redeliver, until the last attempt,
// which marks the file indexing_failed instead.
func (ix *Indexer) retryOrFail(ctx context.Context, f File, attempt int, err error) error {
	if attempt < ix.attempts() {
		return err
	}
	ix.log().ErrorContext(ctx, "indexing failed", "bot", f.BotID, "file", f.ID, "attempts", attempt, "error", err)
	if cerr := ix.erase(ctx, f); cerr != nil {
		return errors.Join(err, cerr)
	}
	return ix.failIndexing(ctx, f, fmt.Sprintf("indexing failed after %d attempts because of a temporary error; upsert the file again to retry", attempt))
}

func (ix *Indexer) failIndexing(ctx context.Context, f File, reason string) error {
	err := ix.Data.SetStatus(ctx, f, filedata.IndexingFailed, reason, ix.Clock.Now())
	if errors.Is(err, filedata.ErrChanged) {
		return ix.erase(ctx, f)
	}
	return err
}

// erase removes what indexing wrote for f's generation.
func (ix *Indexer) erase(ctx context.Context, f File) error {
	return ix.Data.ErasePassages(ctx, f.BotID, f.ID, f.Gen, func(keys []string) error { return ix.Index.Delete(ctx, keys) })
}

// download streams the content to a temporary file (the extractors read
// at random offsets; memory stays bounded whatever the size).
func (ix *Indexer) download(ctx context.Context, f File) (*os.File, int64, error) {
	out, err := ix.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(ix.Bucket), Key: aws.String(filedata.ObjectKey(f.BotID, f.ID, f.Gen))},
		func(o *s3.Options) {
			// The upload's size was checked; an object written without a
			// checksum is read without the SDK complaining on stderr.
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
			o.DisableLogOutputChecksumValidationSkipped = true
		})
	if err != nil {
		return nil, 0, err
	}
	defer out.Body.Close()
	tmp, err := os.CreateTemp(ix.TempDir, "parley-file-*")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(tmp, io.LimitReader(out.Body, MaxIndexedBytes+1))
	if err == nil && n > MaxIndexedBytes {
		err = fmt.Errorf("content over %d bytes", MaxIndexedBytes)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, 0, err
	}
	return tmp, n, nil
}

// retag rewrites the tags in the vectors of a file's passages (searchFiles
// filters on them), 100 vectors at a time; the live record stays the
// authority meanwhile.
func (ix *Indexer) retag(ctx context.Context, bot, file string) error {
	f, err := ix.Data.File(ctx, bot, file)
	if apperr.Is(err, apperr.ResourceNotFound) {
		return nil
	}
	if err != nil || f.Status != filedata.IndexingCompleted {
		return err
	}
	tags := TagTokens(f.Tags)
	for start := 0; start < f.Passages; start += search.MaxGetVectors {
		keys := make([]string, 0, search.MaxGetVectors)
		for p := start; p < min(start+search.MaxGetVectors, f.Passages); p++ {
			keys = append(keys, filedata.VectorKey(f.ID, f.Gen, p))
		}
		vs, err := ix.Index.Get(ctx, keys)
		if err != nil {
			return err
		}
		for i := range vs {
			if vs[i].Meta == nil {
				vs[i].Meta = map[string]any{"bot": f.BotID, "file": f.ID}
			}
			if len(tags) > 0 {
				vs[i].Meta["tags"] = tags
			} else {
				delete(vs[i].Meta, "tags")
			}
		}
		if err := ix.Index.Put(ctx, vs); err != nil {
			return err
		}
	}
	return nil
}
