package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/filedata"
	"github.com/parley-dev/parley/pkg/files"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/search"
	"github.com/parley-dev/parley/pkg/topology"
)

// The Files API: the files function, the indexer worker and the file kind
// of the catalogue.

var (
	_ files.Data      = (*filedata.Store)(nil)
	_ files.IndexData = (*filedata.Store)(nil)
	_ files.Plans     = plans{}
	_ files.Eraser    = eraser{}
	_ files.Jobs      = filesJobs{}
)

func filesBucket(d Deps) string { return d.Config.Env[topology.EnvVar("bucket", topology.FilesBucket)] }

// passages is the vector index of file passages: Amazon S3 Vectors, named
// by VECTORS_PASSAGES ("<vector bucket>/<index>"); locally the emulator
// layer answers QueryVectors.
func passages(d Deps) search.VectorIndex {
	bucket, index, _ := topology.SplitVectorLocation(d.Config.Env[topology.EnvVar("vectors", topology.PassagesIndex)])
	return search.S3Vectors{Client: s3vectors.NewFromConfig(d.AWS), Bucket: bucket, Index: index}
}

// embedder is what EMBEDDER names: local (default) or bedrock.
func embedder(d Deps) (search.Embedder, error) {
	kind := d.Config.Setting("EMBEDDER")
	var client search.InvokeModelAPI
	if kind == search.EmbedderBedrock {
		client = bedrockruntime.NewFromConfig(d.AWS)
	}
	return search.NewEmbedder(kind, topology.PassageDimensions, client)
}

func fileKind(d Deps) *filedata.FileKind {
	return filedata.NewFileKind(d.DB, d.Config.Table(topology.FilesTable), d.S3, filesBucket(d), passages(d))
}

// plans reads a workspace's plan from the admin table and answers its file
// quotas (admindata.FileQuotas).
type plans struct{ admin *admindata.Store }

func (p plans) Limits(ctx context.Context, ws string) (files.Limits, error) {
	w, err := p.admin.Workspace(ctx, ws)
	if err != nil {
		return files.Limits{}, err
	}
	q, maxFile := admindata.FileQuotaOf(w.Plan)
	plan := w.Plan
	if plan == "" {
		plan = "community"
	}
	return files.Limits{Plan: plan, StorageBytes: q.Storage, VectorBytes: q.Vectors, MaxFileBytes: maxFile}, nil
}

// filesJobs queues the indexer's own jobs on the files queue.
type filesJobs struct {
	sqs *sqs.Client
	url string
}

func (j filesJobs) Retag(ctx context.Context, bot, file string) error {
	body, _ := json.Marshal(files.Job{Type: files.JobRetag, BotID: bot, FileID: file})
	_, err := j.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(j.url), MessageBody: aws.String(string(body))})
	return err
}

func presigner(d Deps) files.Presigner {
	if d.S3 == nil {
		return s3.NewPresignClient(s3.New(s3.Options{}))
	}
	// Presigning makes no call: without the API options, the round-trip
	// counter (which hooks the retry step presigning removes) stays out.
	return s3.NewPresignClient(d.S3, func(po *s3.PresignOptions) {
		po.ClientOptions = append(po.ClientOptions, func(so *s3.Options) { so.APIOptions = nil })
	})
}

func registerFiles(rt *httpapi.Router, d Deps, adminStore *admindata.Store, authn *auth.Authenticator, pages *cursor.Codec) error {
	embed, err := embedder(d)
	if err != nil {
		return err
	}
	files.NewAPI(files.Deps{
		Data:    filedata.NewStore(d.DB, d.Config.Table(topology.FilesTable), pages),
		Presign: presigner(d), Bucket: filesBucket(d),
		Plans:  plans{admin: adminStore},
		Eraser: chatEraser(d),
		Jobs:   filesJobs{sqs: d.SQS, url: d.Config.Env[topology.EnvVar("queue", topology.FilesQueue)]},
		Embed:  embed, Index: passages(d),
		Auth: authn, Clock: d.Clock, Log: d.Log,
	}).Register(rt)
	return nil
}

// indexerWorker runs the files queue's messages one by one, reporting the
// failed ones (partial batch response).
func indexerWorker(d Deps) (WorkerFunc, error) {
	embed, err := embedder(d)
	if err != nil {
		return nil, err
	}
	ix := &files.Indexer{
		Data:    filedata.NewStore(d.DB, d.Config.Table(topology.FilesTable), nil),
		Objects: d.S3, Bucket: filesBucket(d),
		Plans: plans{admin: admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey))},
		Embed: embed, Index: passages(d), Clock: d.Clock, Log: d.Log,
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var res events.SQSEventResponse
		for _, r := range ev.Records {
			attempt, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
			if err := ix.Handle(ctx, r.Body, max(attempt, 1)); err != nil {
				d.Log.WarnContext(ctx, "files message failed", "message_id", r.MessageId, "error", err)
				res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return res, nil
	}, nil
}

// FilesHTTP builds the files function's handler.
func FilesHTTP(d Deps) (http.Handler, error) {
	pages, adminStore, authn, rt := httpBase(d)
	if err := registerFiles(rt, d, adminStore, authn, pages); err != nil {
		return nil, err
	}
	return rt, nil
}

// IndexerWorker builds the file indexer, fed by the files bucket's
// ObjectCreated notifications.
func IndexerWorker(d Deps) (WorkerFunc, error) { return indexerWorker(d) }
