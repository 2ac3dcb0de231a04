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

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/parley-dev/parley/pkg/admin"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/awscalls"
	"github.com/parley-dev/parley/pkg/chat"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/dynamostore"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/topology"
)

// Config is a function's configuration, read from its environment.
type Config struct {
	Stage string
	// Env holds the resource variables the topology declares (TABLE_ADMIN…).
	Env map[string]string
	// SigningKey signs page tokens.
	SigningKey []byte
}

// Table returns the physical name of a topology table.
func (c Config) Table(name string) string { return c.Env[topology.EnvVar("table", name)] }

// LoadConfig reads the configuration of function fn from getenv. Every
// missing variable is reported in one error. The signing key comes from
// SIGNING_SECRET (locally) or from the Secrets Manager secret named by
// SIGNING_SECRET_ARN (deployed).
func LoadConfig(ctx context.Context, fn topology.Function, getenv func(string) string, awsCfg aws.Config) (Config, error) {
	cfg := Config{Stage: getenv("STAGE"), Env: map[string]string{}}
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
	default:
		missing = append(missing, "SIGNING_SECRET or SIGNING_SECRET_ARN")
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
	Clock  clock.Clock
	Log    *slog.Logger
	Config Config
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
	return Deps{DB: dynamodb.NewFromConfig(awsCfg), Clock: clock.System{}, Log: log, Config: cfg}
}

// HTTPHandler assembles the handler of an HTTP function.
func HTTPHandler(name string, d Deps) (http.Handler, error) {
	pages := cursor.New(d.Config.SigningKey)
	adminStore := admin.NewStore(d.DB, d.Config.Table(topology.AdminTable), pages)
	authn := auth.New(adminStore)
	rt := httpapi.NewRouter(d.Log)
	switch name {
	case topology.AdminFunction:
		admin.NewAPI(adminStore, authn, d.Clock).Register(rt)
	case topology.ChatFunction:
		chat.NewAPI(chat.NewStore(d.DB, d.Config.Table(topology.ChatTable), pages), authn, d.Clock).Register(rt)
	default:
		return nil, fmt.Errorf("no HTTP function named %q", name)
	}
	return rt, nil
}

// NewHTTPFunction is what an HTTP function's main calls at cold start:
// configuration, clients and handler, built once.
func NewHTTPFunction(ctx context.Context, name string, log *slog.Logger) (http.Handler, error) {
	fn, ok := topology.Default().Function(name)
	if !ok {
		return nil, fmt.Errorf("function %q is not in the topology", name)
	}
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(ctx, fn, os.Getenv, awsCfg)
	if err != nil {
		return nil, err
	}
	return HTTPHandler(name, NewDeps(awsCfg, cfg, log))
}

// WorkerFunc is the Lambda handler of a queue worker: it reports failed
// messages per item (partial batch response).
type WorkerFunc func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ScheduledFunc is the Lambda handler of a scheduled function.
type ScheduledFunc func(context.Context, events.EventBridgeEvent) error

// Worker assembles the handler of a queue worker. The topology declares
// none yet: the deletion-jobs work adds the lifecycle worker here.
func Worker(name string, d Deps) (WorkerFunc, error) {
	return nil, fmt.Errorf("no worker function named %q", name)
}

// Scheduled assembles the handler of a scheduled function (none yet).
func Scheduled(name string, d Deps) (ScheduledFunc, error) {
	return nil, fmt.Errorf("no scheduled function named %q", name)
}
