package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/compliance"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/lifecycle"
	"github.com/parley-dev/parley/pkg/lifecycledata"
	"github.com/parley-dev/parley/pkg/topology"
)

// ComplianceHTTP builds the compliance function's handler: the audit
// chain's export and verification (the admin store), restores from the
// archive bucket into the chat table (its owner, pkg/chatdata), legal
// holds, data requests and receipts (the lifecycle table's owner).
func ComplianceHTTP(d Deps) (http.Handler, error) {
	pages, adminStore, authn, rt := httpBase(d)
	compliance.NewAPI(compliance.Deps{
		Chain: adminStore, Trail: adminStore, Bots: adminStore,
		Archives:      archiveObjects{s3: d.S3, bucket: d.Config.Env[topology.EnvVar("bucket", topology.ArchiveBucket)]},
		Conversations: chatdata.NewStore(d.DB, d.Config.Table(topology.ChatTable), pages),
		Auth:          authn, Clock: d.Clock, IndexLag: time.Second,
	}).Register(rt)
	lc := d.Config.Table(topology.LifecycleTable)
	users := chatdata.NewUserKind(d.DB, d.Config.Table(topology.ChatTable))
	compliance.NewHoldAPI(holds(d), adminStore, users, adminStore, authn, d.Clock).Register(rt)
	compliance.NewRequestAPI(lifecycledata.NewRequestStore(d.DB, lc), adminStore, adminStore, d.SQS, lifecycleQueue(d),
		exportLinks{d: d}, authn, d.Clock, d.Log).Register(rt)
	compliance.NewReceiptAPI(lifecycledata.NewReceiptStore(d.DB, lc, pages), d.Config.Receipts, authn).Register(rt)
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

// exportLinks presigns short-lived downloads of export archives.
type exportLinks struct{ d Deps }

// exportLinkLife bounds a download link's life.
const exportLinkLife = 15 * time.Minute

func (e exportLinks) DownloadURL(ctx context.Context, key string) (string, error) {
	bucket := e.d.Config.Env[topology.EnvVar("bucket", topology.ArchiveBucket)]
	// Presigning makes no call: the round-trip counter stays out.
	p := s3.NewPresignClient(e.d.S3, func(po *s3.PresignOptions) {
		po.ClientOptions = append(po.ClientOptions, func(so *s3.Options) { so.APIOptions = nil })
		po.Expires = exportLinkLife
	})
	out, err := p.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return "", err
	}
	return out.URL, nil
}

// dataRequests is the lifecycle worker's handler of data requests.
func dataRequests(d Deps) lifecycle.Handler {
	chat := d.Config.Table(topology.ChatTable)
	adminStore := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey))
	w := &compliance.RequestWorker{
		Requests: lifecycledata.NewRequestStore(d.DB, d.Config.Table(topology.LifecycleTable)),
		Bots:     adminStore, Holds: holds(d), Receipts: receipts(d),
		Users: chatdata.NewUserKind(d.DB, chat), Conversations: chatdata.NewConversationKind(d.DB, chat), Owns: chatdata.OwnsLine,
		Exports: d.S3, Bucket: d.Config.Env[topology.EnvVar("bucket", topology.ArchiveBucket)], DB: d.DB,
		Clock: d.Clock, Log: d.Log,
	}
	return w.Handle
}

// resumeRequests queues again every data request not finished (a lost work
// item, a crash): the off-peak window does it after draining the outbox.
func resumeRequests(ctx context.Context, d Deps) error {
	open, err := lifecycledata.NewRequestStore(d.DB, d.Config.Table(topology.LifecycleTable)).Open(ctx)
	if err != nil {
		return err
	}
	var work []any
	for _, r := range open {
		work = append(work, map[string]string{"workspaceId": r.WorkspaceID, "requestId": r.ID})
	}
	return lifecycle.Enqueue(ctx, d.SQS, lifecycleQueue(d), compliance.RequestKind, work)
}
