// Package app wires Parley's functions: it reads the configuration once,
// builds the AWS clients once and assembles each function's handler. Lambda
// mains and the local runner both call it, so both run the same handlers.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/awscalls"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/chatdata"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/egress"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/receipt"
	"github.com/parley-dev/parley/pkg/seal"
	"github.com/parley-dev/parley/pkg/topology"
)

// Config is a function's configuration, read from its environment.
type Config struct {
	Stage string
	// Env holds the resource variables the topology declares (TABLE_ADMIN…).
	Env map[string]string
	// SigningKey signs page tokens, and nothing else.
	SigningKey []byte
	// Sealing is the keyring sealing stored secrets (functions whose
	// topology says Seals; nil elsewhere).
	Sealing *seal.Keyring
	// Receipts signs receipts (functions that sign them).
	Receipts receipt.Signer
	// Settings are the function's non-resource settings (topology defaults
	// overridden by the environment).
	Settings map[string]string
}

// Setting returns a setting's value.
func (c Config) Setting(name string) string { return c.Settings[name] }

// Table returns the physical name of a topology table.
func (c Config) Table(name string) string { return c.Env[topology.EnvVar("table", name)] }

// LoadConfig reads the configuration of function fn from getenv. Every
// missing variable is reported in one error. The page-token signing key
// comes from SIGNING_SECRET (locally) or from the Secrets Manager secret
// named by SIGNING_SECRET_ARN (deployed); the sealing keyring, for the
// functions that seal, from SEALING_SECRET or SEALING_SECRET_ARN (a plain
// value, or {"current":"k2","keys":{"k1":"…","k2":"…"}} to rotate).
func LoadConfig(ctx context.Context, fn topology.Function, getenv func(string) string, awsCfg aws.Config) (Config, error) {
	cfg := Config{Stage: getenv("STAGE"), Env: map[string]string{}, Settings: map[string]string{}}
	for k, def := range fn.Settings {
		cfg.Settings[k] = def
		if v := getenv(k); v != "" {
			cfg.Settings[k] = v
		}
	}
	// PLANS (JSON) overrides the plans' quotas and prices of every function
	// of the deployment (admindata.ConfigurePlans).
	if err := admindata.ConfigurePlans(getenv("PLANS")); err != nil {
		return cfg, err
	}
	var missing []string
	for k := range topology.Default().Environment("", fn) {
		v := getenv(k)
		if v == "" {
			missing = append(missing, k)
		}
		cfg.Env[k] = v
	}
	secret, arn := getenv("SIGNING_SECRET"), getenv("SIGNING_SECRET_ARN")
	switch {
	case secret != "":
		cfg.SigningKey = []byte(secret)
	case arn != "":
		out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
		if err != nil {
			return cfg, fmt.Errorf("read signing secret %s: %w", arn, err)
		}
		cfg.SigningKey = []byte(aws.ToString(out.SecretString))
	case fn.Kind == topology.HTTP:
		// Only HTTP functions sign page tokens and seal keys.
		missing = append(missing, "SIGNING_SECRET or SIGNING_SECRET_ARN")
	}
	ring, ringARN := getenv("SEALING_SECRET"), getenv("SEALING_SECRET_ARN")
	if ring == "" && ringARN != "" {
		out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ringARN})
		if err != nil {
			return cfg, fmt.Errorf("read sealing secret %s: %w", ringARN, err)
		}
		ring = aws.ToString(out.SecretString)
	}
	switch {
	case ring != "":
		k, err := seal.ParseKeyring(ring)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", fn.Name, err)
		}
		cfg.Sealing = k
	case fn.Seals:
		missing = append(missing, "SEALING_SECRET or SEALING_SECRET_ARN")
	}
	receiptKey, receiptARN := getenv("RECEIPT_SIGNING_KEY"), getenv("RECEIPT_SIGNING_KEY_ARN")
	if receiptKey == "" && receiptARN != "" {
		out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &receiptARN})
		if err != nil {
			return cfg, fmt.Errorf("read receipt signing secret %s: %w", receiptARN, err)
		}
		receiptKey = aws.ToString(out.SecretString)
	}
	switch {
	case receiptKey != "":
		signer, err := receipt.NewSigner([]byte(receiptKey))
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", fn.Name, err)
		}
		cfg.Receipts = signer
	case fn.SignsReceipts:
		missing = append(missing, "RECEIPT_SIGNING_KEY or RECEIPT_SIGNING_KEY_ARN")
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return cfg, fmt.Errorf("%s: missing environment: %s", fn.Name, strings.Join(missing, ", "))
	}
	return cfg, nil
}

// Deps are the clients and services a function's handlers share.
type Deps struct {
	DB     dynamostore.Client
	SQS    *sqs.Client
	Events *eventbridge.Client
	Mail   *sesv2.Client
	S3     *s3.Client
	Clock  clock.Clock
	Log    *slog.Logger
	Config Config
	// AWS is the SDK configuration the clients were built from (for the
	// clients only some functions need).
	AWS aws.Config
}

// AWSConfig loads the SDK configuration with the round-trip counter
// installed. AWS_ENDPOINT_URL points it at an emulator without any code
// branch.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, err
	}
	Instrument(&cfg)
	return cfg, nil
}

// Instrument adds the round-trip counter to an SDK configuration.
func Instrument(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, awscalls.Middleware)
}

// NewDeps builds a function's dependencies from an SDK configuration.
func NewDeps(awsCfg aws.Config, cfg Config, log *slog.Logger) Deps {
	return Deps{
		DB: dynamostore.RetryConflicts(dynamostore.WithItemLimits(dynamodb.NewFromConfig(awsCfg))), SQS: sqs.NewFromConfig(awsCfg),
		Events: eventbridge.NewFromConfig(awsCfg), Mail: sesv2.NewFromConfig(awsCfg),
		S3:    newS3(awsCfg),
		Clock: clock.System{}, Log: log, Config: cfg, AWS: awsCfg,
	}
}

// HTTPHandler assembles the handler of the named HTTP function: what the
// local runner and the route tests use. A Lambda main calls its own
// builder through Start* instead, so its binary links only that function's
// code.
func HTTPHandler(name string, d Deps) (http.Handler, error) {
	switch name {
	case topology.AdminFunction:
		return AdminHTTP(d)
	case topology.ChatFunction:
		return ChatHTTP(d)
	case topology.DeletionsFunction:
		return DeletionsHTTP(d)
	case topology.PoliciesFunction:
		return PoliciesHTTP(d)
	case topology.ComplianceFunction:
		return ComplianceHTTP(d)
	case topology.TablesFunction:
		return TablesHTTP(d)
	case topology.FilesFunction:
		return FilesHTTP(d)
	}
	return nil, fmt.Errorf("no HTTP function named %q", name)
}

// httpBase is what every HTTP function starts from: page tokens, the admin
// store (tokens, memberships), the authenticator and a router.
func httpBase(d Deps) (*cursor.Codec, *admindata.Store, *auth.Authenticator, *httpapi.Router) {
	pages := cursor.New(d.Config.SigningKey)
	adminStore := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), pages)
	return pages, adminStore, auth.New(adminStore), httpapi.NewRouter(d.Log)
}

// AdminHTTP builds the admin function's handler.
func AdminHTTP(d Deps) (http.Handler, error) {
	_, adminStore, authn, rt := httpBase(d)
	registerAdmin(rt, d, adminStore, authn)
	return rt, nil
}

// ChatHTTP builds the chat function's handler.
func ChatHTTP(d Deps) (http.Handler, error) {
	pages, adminStore, _, rt := httpBase(d)
	store, dir, out := chatParts(d, adminStore, pages)
	chat.NewAPI(store, auth.New(dir), d.Clock, out).Register(rt)
	return rt, nil
}

// DeletionsHTTP builds the deletion jobs function's handler.
func DeletionsHTTP(d Deps) (http.Handler, error) {
	pages, adminStore, authn, rt := httpBase(d)
	if err := registerDeletions(rt, d, adminStore, authn, pages); err != nil {
		return nil, err
	}
	return rt, nil
}

// PoliciesHTTP builds the retention policies function's handler.
func PoliciesHTTP(d Deps) (http.Handler, error) {
	pages, adminStore, authn, rt := httpBase(d)
	registerPolicies(rt, d, adminStore, authn, pages)
	return rt, nil
}

// coldStart reads a function's configuration and builds its clients, once.
func coldStart(ctx context.Context, name string, log *slog.Logger) (Deps, error) {
	fn, ok := topology.Default().Function(name)
	if !ok {
		return Deps{}, fmt.Errorf("function %q is not in the topology", name)
	}
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return Deps{}, err
	}
	cfg, err := LoadConfig(ctx, fn, os.Getenv, awsCfg)
	if err != nil {
		return Deps{}, err
	}
	return NewDeps(awsCfg, cfg, log), nil
}

// StartHTTP is what an HTTP function's main calls at cold start, with its
// own builder (AdminHTTP, ChatHTTP …): nothing else is linked in.
func StartHTTP(ctx context.Context, name string, build func(Deps) (http.Handler, error), log *slog.Logger) (http.Handler, error) {
	d, err := coldStart(ctx, name, log)
	if err != nil {
		return nil, err
	}
	return build(d)
}

// StartWorker is what a queue worker's main calls at cold start.
func StartWorker(ctx context.Context, name string, build func(Deps) (WorkerFunc, error), log *slog.Logger) (WorkerFunc, error) {
	d, err := coldStart(ctx, name, log)
	if err != nil {
		return nil, err
	}
	return build(d)
}

// StartScheduled is what a scheduled function's main calls at cold start.
func StartScheduled(ctx context.Context, name string, build func(Deps) (ScheduledFunc, error), log *slog.Logger) (ScheduledFunc, error) {
	d, err := coldStart(ctx, name, log)
	if err != nil {
		return nil, err
	}
	return build(d)
}

// WorkerFunc is the Lambda handler of a queue worker: it reports failed
// messages per item (partial batch response).
type WorkerFunc func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ScheduledFunc is the Lambda handler of a scheduled function.
type ScheduledFunc func(context.Context, events.EventBridgeEvent) error

// Worker assembles the handler of a queue worker.
func Worker(name string, d Deps) (WorkerFunc, error) {
	switch name {
	case topology.LifecycleFunction:
		return LifecycleWorker(d)
	case topology.DeliveryFunction:
		return DeliveryWorker(d)
	case topology.IndexerFunction:
		return IndexerWorker(d)
	}
	return nil, fmt.Errorf("no worker function named %q", name)
}

// Scheduled assembles the handler of a scheduled function.
func Scheduled(name string, d Deps) (ScheduledFunc, error) {
	switch name {
	case topology.OffpeakFunction:
		return Offpeak(d)
	case topology.InvoicingFunction:
		return Invoicing(d)
	}
	return nil, fmt.Errorf("no scheduled function named %q", name)
}

// chatParts builds the chat store, the chat function's auth directory (the
// admin store, which reads the bot record with the token) and its outbound
// connections.
func chatParts(d Deps, adminStore *admindata.Store, pages *cursor.Codec) (*chatdata.Store, *admindata.Store, chat.Outbound) {
	store := chatdata.NewStore(d.DB, d.Config.Table(topology.ChatTable), pages)
	store.Meter = meter{store: adminStore}
	dir := adminStore
	return store, dir, chat.Outbound{
		Dispatch:      deliveryDispatcher(d),
		Hook:          chat.Webhook{Client: outboundClient(d), Clock: d.Clock},
		Directory:     dir,
		Installations: dir,
		Report:        reporter{store: dir},
		Eraser:        chatEraser(d),
		Log:           d.Log,
	}
}

// deliveryDispatcher sends jobs to the delivery queue.
func deliveryDispatcher(d Deps) *chat.Dispatcher {
	return chat.NewDispatcher(d.SQS, d.Config.Env[topology.EnvVar("queue", topology.DeliveryQueue)])
}

// outboundClient is the one HTTP client of every request Parley makes to
// bots' and integrations' servers (deliveries, actions, webhooks,
// lifecycle operations): what may be reached is decided here.
func outboundClient(d Deps) *http.Client {
	return egress.NewClient(8*time.Second, d.Config.Setting(egress.Setting) == "true")
}

// DeliveryWorker builds the delivery worker: it runs delivery jobs one by
// one, reporting the failed ones.
func DeliveryWorker(d Deps) (WorkerFunc, error) {
	pages := cursor.New(d.Config.SigningKey)
	store, dir, out := chatParts(d, admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), pages), pages)
	w := chat.NewWorker(store, dir, out.Dispatch, out.Hook, out.Report, d.Log)
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var res events.SQSEventResponse
		for _, r := range ev.Records {
			if err := w.Handle(ctx, r.Body); err != nil {
				d.Log.WarnContext(ctx, "delivery job failed", "message_id", r.MessageId, "error", err)
				res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return res, nil
	}, nil
}
