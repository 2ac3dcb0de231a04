package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/compliance"
	"github.com/parley-dev/parley/pkg/topology"
)

// ComplianceHTTP builds the compliance function's handler: the audit
// chain's export and verification (the admin store), restores from the
// archive bucket into the chat table (its owner, pkg/chatdata).
func ComplianceHTTP(d Deps) (http.Handler, error) {
	pages, adminStore, authn, rt := httpBase(d)
	compliance.NewAPI(compliance.Deps{
		Chain: adminStore, Trail: adminStore, Bots: adminStore,
		Archives:      archiveObjects{s3: d.S3, bucket: d.Config.Env[topology.EnvVar("bucket", topology.ArchiveBucket)]},
		Conversations: chatdata.NewStore(d.DB, d.Config.Table(topology.ChatTable), pages),
		Auth:          authn, Clock: d.Clock, IndexLag: time.Second,
	}).Register(rt)
	return rt, nil
}

// archiveObjects opens objects of the archive bucket.
type archiveObjects struct {
	s3     *s3.Client
	bucket string
}

func (o archiveObjects) Open(ctx context.Context, key string) (io.ReadCloser, bool, error) {
	out, err := o.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &o.bucket, Key: &key})
	var nf *s3types.NoSuchKey
	if errors.As(err, &nf) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return out.Body, true, nil
}
