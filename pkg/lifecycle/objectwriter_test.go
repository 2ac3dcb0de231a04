package lifecycle

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fakeObjects records what an ObjectWriter sends.
type fakeObjects struct {
	puts, parts, completes, aborts int
	maxPart                        int
	body                           bytes.Buffer
}

func (f *fakeObjects) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.puts++
	_, err := io.Copy(&f.body, in.Body)
	return &s3.PutObjectOutput{}, err
}
func (f *fakeObjects) CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String("u1")}, nil
}
func (f *fakeObjects) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	f.parts++
	n, err := io.Copy(&f.body, in.Body)
	f.maxPart = max(f.maxPart, int(n))
	return &s3.UploadPartOutput{ETag: aws.String("e")}, err
}
func (f *fakeObjects) CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	f.completes++
	return &s3.CompleteMultipartUploadOutput{}, nil
}
func (f *fakeObjects) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	f.aborts++
	return &s3.AbortMultipartUploadOutput{}, nil
}

func TestObjectWriterSmallObjectIsOnePut(t *testing.T) {
	f := &fakeObjects{}
	w := NewObjectWriter(context.Background(), f, "b", "k", "application/gzip")
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if f.puts != 1 || f.parts != 0 || f.body.String() != "hello" {
		t.Fatalf("puts %d parts %d body %q", f.puts, f.parts, f.body.String())
	}
}

// A large object streams in parts: memory holds at most one part.
func TestObjectWriterStreamsLargeObjectsInParts(t *testing.T) {
	f := &fakeObjects{}
	w := NewObjectWriter(context.Background(), f, "b", "k", "application/gzip")
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 12 { // 12 MiB in 1 MiB writes
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if w.buf.Len() >= PartSize {
			t.Fatalf("buffer holds %d bytes, more than a part", w.buf.Len())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if f.puts != 0 || f.parts != 3 || f.completes != 1 || f.maxPart != PartSize || f.body.Len() != 12<<20 {
		t.Fatalf("puts %d parts %d completes %d max part %d body %d", f.puts, f.parts, f.completes, f.maxPart, f.body.Len())
	}
	w2 := NewObjectWriter(context.Background(), f, "b", "k2", "application/gzip")
	_, _ = w2.Write(bytes.Repeat([]byte("x"), PartSize+1))
	if err := w2.Abort(); err != nil || f.aborts != 1 {
		t.Fatalf("abort: %v, %d aborts", err, f.aborts)
	}
}
