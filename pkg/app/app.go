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
	"github.com/parley-dev/parley/pkg/httpapi"
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
		DB: dynamostore.RetryConflicts(dynamodb.NewFromConfig(awsCfg)), SQS: sqs.NewFromConfig(awsCfg),
		Events: eventbridge.NewFromConfig(awsCfg), Mail: sesv2.NewFromConfig(awsCfg),
		S3:    newS3(awsCfg),
		Clock: clock.System{}, Log: log, Config: cfg, AWS: awsCfg,
	}
}

// HTTPHandler assembles the handler of an HTTP function.
func HTTPHandler(name string, d Deps) (http.Handler, error) {
	pages := cursor.New(d.Config.SigningKey)
	adminStore := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), pages)
	authn := auth.New(adminStore)
	rt := httpapi.NewRouter(d.Log)
	switch name {
	case topology.AdminFunction:
		registerAdmin(rt, d, adminStore, authn)
	case topology.ChatFunction:
		store, dir, out := chatParts(d, adminStore, pages)
		chat.NewAPI(store, auth.New(dir), d.Clock, out).Register(rt)
	case topology.DeletionsFunction:
		if err := registerDeletions(rt, d, adminStore, authn, pages); err != nil {
			return nil, err
		}
	case topology.PoliciesFunction:
		registerPolicies(rt, d, adminStore, authn, pages)
	case topology.FilesFunction:
		if err := registerFiles(rt, d, adminStore, authn, pages); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no HTTP function named %q", name)
	}
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

// NewHTTPFunction is what an HTTP function's main calls at cold start.
func NewHTTPFunction(ctx context.Context, name string, log *slog.Logger) (http.Handler, error) {
	d, err := coldStart(ctx, name, log)
	if err != nil {
		return nil, err
	}
	return HTTPHandler(name, d)
}

// NewWorkerFunction is what a queue worker's main calls at cold start.
func NewWorkerFunction(ctx context.Context, name string, log *slog.Logger) (WorkerFunc, error) {
	d, err := coldStart(ctx, name, log)
	if err != nil {
		return nil, err
	}
	return Worker(name, d)
}

// NewScheduledFunction is what a scheduled function's main calls at cold start.
func NewScheduledFunction(ctx context.Context, name string, log *slog.Logger) (ScheduledFunc, error) {
	d, err := coldStart(ctx, name, log)
	if err != nil {
		return nil, err
	}
	return Scheduled(name, d)
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
		return lifecycleWorker(d)
	case topology.DeliveryFunction:
		return deliveryWorker(d)
	case topology.IndexerFunction:
		return indexerWorker(d)
	}
	return nil, fmt.Errorf("no worker function named %q", name)
}

// Scheduled assembles the handler of a scheduled function.
func Scheduled(name string, d Deps) (ScheduledFunc, error) {
	switch name {
	case topology.OffpeakFunction:
		return offpeak(d)
	}
	return nil, fmt.Errorf("no scheduled function named %q", name)
}

// chatParts builds the chat store, the chat function's auth directory (the
// admin store, which reads the bot record with the token) and its outbound
// connections.
func chatParts(d Deps, adminStore *admindata.Store, pages *cursor.Codec) (*chatdata.Store, *admindata.Store, chat.Outbound) {
	store := chatdata.NewStore(d.DB, d.Config.Table(topology.ChatTable), pages)
	dir := adminStore
	return store, dir, chat.Outbound{
		Dispatch:  chat.NewDispatcher(d.SQS, d.Config.Env[topology.EnvVar("queue", topology.DeliveryQueue)]),
		Hook:      chat.Webhook{Client: &http.Client{Timeout: 8 * time.Second}, Clock: d.Clock},
		Directory: dir,
		Eraser:    chatEraser(d),
		Log:       d.Log,
	}
}

// deliveryWorker runs delivery jobs one by one, reporting the failed ones.
func deliveryWorker(d Deps) (WorkerFunc, error) {
	pages := cursor.New(d.Config.SigningKey)
	store, _, out := chatParts(d, admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), pages), pages)
	w := chat.NewWorker(store, botRecords{db: d.DB, table: d.Config.Table(topology.AdminTable)}, out.Dispatch, out.Hook, d.Log)
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
