// Package files is the Files API (/v1/files*): presigned uploads and
// downloads, file metadata, passage search for retrieval-augmented
// generation, and the indexing worker fed by the files bucket's
// ObjectCreated notifications. It declares what it needs as interfaces;
// pkg/app wires them to the files table's owner (pkg/filedata), S3, the
// vector index and the embedder (pkg/search), the admin side (plans) and
// the lifecycle (erasures).
package files

import (
	"context"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parley-dev/parley/pkg/filedata"
)

// The records of the Files API are the files table's (pkg/filedata owns
// its layout).
type (
	File           = filedata.File
	Owner          = filedata.Owner
	Room           = filedata.Room
	MetadataUpdate = filedata.MetadataUpdate
	ListFilter     = filedata.ListFilter
	Passage        = filedata.Passage
	PassageRef     = filedata.PassageRef
)

// Data is what the API keeps in the files table.
type Data interface {
	File(ctx context.Context, bot, id string) (File, error)
	FileByKey(ctx context.Context, bot, key string) (File, bool, error)
	// CreateFile fails with filedata.ErrKeyTaken or filedata.ErrQuota.
	CreateFile(ctx context.Context, f File, room Room) error
	// ReplaceFile fails with filedata.ErrChanged or filedata.ErrQuota.
	ReplaceFile(ctx context.Context, old, f File, room Room, intent types.TransactWriteItem) error
	UpdateMetadata(ctx context.Context, bot, id string, up MetadataUpdate) (File, error)
	// DeleteFile fails with filedata.ErrChanged.
	DeleteFile(ctx context.Context, f File, intent types.TransactWriteItem) error
	ListFiles(ctx context.Context, bot string, f ListFilter, token string) ([]File, string, error)
	Files(ctx context.Context, bot string, ids []string) (map[string]File, error)
	// Read reads files and passages in one batch read.
	Read(ctx context.Context, bot string, files []string, passages []PassageRef) (map[string]File, map[PassageRef]Passage, error)
}

// IndexData is what the indexing worker reads and writes in the files table.
type IndexData interface {
	File(ctx context.Context, bot, id string) (File, error)
	// SetStatus and Measured fail with filedata.ErrChanged when the file
	// moved on; Measured with filedata.ErrQuota when the bytes don't fit.
	SetStatus(ctx context.Context, f File, status, reason string, at time.Time) error
	Measured(ctx context.Context, f File, status string, storage, vectors, passages, limit int64, at time.Time) error
	PutPassages(ctx context.Context, bot string, ps []Passage) error
	ErasePassages(ctx context.Context, bot, file string, gen int, also func(vectorKeys []string) error) error
}

// Presigner signs upload and download URLs (no round trip).
type Presigner interface {
	PresignPutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

var _ Presigner = (*s3.PresignClient)(nil)

// Objects is the part of S3 the indexing worker uses.
type Objects interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ Objects = (*s3.Client)(nil)

// Limits are what a workspace's plan allows the Files API.
type Limits struct {
	Plan string
	// StorageBytes bounds the workspace's stored file contents,
	// VectorBytes its indexed passages (vectors and text), MaxFileBytes
	// one file.
	StorageBytes, VectorBytes, MaxFileBytes int64
}

// Plans is the admin side: the limits of a workspace's plan.
type Plans interface {
	Limits(ctx context.Context, workspaceID string) (Limits, error)
}

// Eraser is the lifecycle's side of deleting: the transaction item that
// records an erasure intent (written with the deletion or replacement),
// and the kick asking the lifecycle worker to act on it now.
type Eraser interface {
	EraseIntent(bot, kind, id string, at time.Time) types.TransactWriteItem
	Kick(ctx context.Context, bot, kind, id string) error
}

// Jobs queues work for the indexing worker beyond uploads: re-tagging the
// vectors of a file whose tags changed.
type Jobs interface {
	Retag(ctx context.Context, bot, file string) error
}
