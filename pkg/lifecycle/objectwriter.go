package lifecycle

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// PartSize is the size of each part of a multipart upload: S3's minimum,
// and the most an ObjectWriter holds in memory.
const PartSize = 5 << 20

// ObjectStore is the part of S3 an ObjectWriter uses.
type ObjectStore interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

var _ ObjectStore = (*s3.Client)(nil)

// ObjectWriter streams an object to S3, encrypted at rest (SSE-S3): an
// object smaller than PartSize is one PutObject on Close; a larger one is a
// multipart upload, a part each time PartSize bytes are buffered. Memory
// stays under PartSize whatever the object's size.
type ObjectWriter struct {
	ctx         context.Context
	s3          ObjectStore
	bucket, key string
	contentType string
	buf         bytes.Buffer
	uploadID    *string
	parts       []s3types.CompletedPart
	err         error
}

// NewObjectWriter starts an object; nothing is sent before PartSize bytes
// or Close.
func NewObjectWriter(ctx context.Context, s ObjectStore, bucket, key, contentType string) *ObjectWriter {
	return &ObjectWriter{ctx: ctx, s3: s, bucket: bucket, key: key, contentType: contentType}
}

// Write buffers p, sending a part whenever PartSize bytes are held.
func (w *ObjectWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, _ := w.buf.Write(p)
	for w.buf.Len() >= PartSize && w.err == nil {
		w.err = w.sendPart(w.buf.Next(PartSize))
	}
	return n, w.err
}

func (w *ObjectWriter) sendPart(part []byte) error {
	if w.uploadID == nil {
		out, err := w.s3.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket: &w.bucket, Key: &w.key, ContentType: &w.contentType, ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		})
		if err != nil {
			return fmt.Errorf("start upload of %s: %w", w.key, err)
		}
		w.uploadID = out.UploadId
	}
	n := int32(len(w.parts) + 1)
	out, err := w.s3.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket: &w.bucket, Key: &w.key, UploadId: w.uploadID, PartNumber: &n,
		Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part))),
	})
	if err != nil {
		return fmt.Errorf("upload part %d of %s: %w", n, w.key, err)
	}
	w.parts = append(w.parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: &n})
	return nil
}

// Close sends what is buffered and completes the object; on an earlier
// failure it aborts the upload, so no partial object is ever visible.
func (w *ObjectWriter) Close() error {
	if w.err == nil && w.uploadID == nil {
		body := w.buf.Bytes()
		_, err := w.s3.PutObject(w.ctx, &s3.PutObjectInput{
			Bucket: &w.bucket, Key: &w.key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
			ContentType: &w.contentType, ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		})
		if err != nil {
			return fmt.Errorf("put %s: %w", w.key, err)
		}
		return nil
	}
	if w.err == nil && w.buf.Len() > 0 {
		w.err = w.sendPart(w.buf.Next(w.buf.Len()))
	}
	if w.err != nil {
		if w.uploadID != nil {
			if _, err := w.s3.AbortMultipartUpload(w.ctx, &s3.AbortMultipartUploadInput{Bucket: &w.bucket, Key: &w.key, UploadId: w.uploadID}); err != nil {
				return fmt.Errorf("%w (and aborting the upload: %v)", w.err, err)
			}
		}
		return w.err
	}
	_, err := w.s3.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &w.bucket, Key: &w.key, UploadId: w.uploadID, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		return fmt.Errorf("complete %s: %w", w.key, err)
	}
	return nil
}

// Abort gives the object up: a multipart upload already started is
// aborted (an upload left behind is also removed by the bucket's lifecycle
// rule for incomplete uploads), nothing else was sent.
func (w *ObjectWriter) Abort() error {
	var err error
	if w.uploadID != nil {
		_, err = w.s3.AbortMultipartUpload(w.ctx, &s3.AbortMultipartUploadInput{Bucket: &w.bucket, Key: &w.key, UploadId: w.uploadID})
	}
	w.uploadID, w.err = nil, fmt.Errorf("aborted")
	return err
}
