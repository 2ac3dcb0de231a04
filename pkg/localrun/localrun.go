// Package localrun is the local stand-in for AWS around Parley's handlers:
// it starts (or finds) the emulator, provisions the topology's resources,
// bootstraps a first account, serves every route of the topology over HTTP
// by building the API Gateway event the Lambda would get, polls queues for
// the workers and fires the schedules. `make run` and the tests use it.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/cursor"
	"github.com/parley-dev/parley/pkg/emulator"
	"github.com/parley-dev/parley/pkg/id"
	"github.com/parley-dev/parley/pkg/lambdahttp"
	"github.com/parley-dev/parley/pkg/schedule"
	"github.com/parley-dev/parley/pkg/topology"
)

// Options configure a local stack. Zero values take the defaults noted.
type Options struct {
	// Addr to listen on (default 127.0.0.1:3000; port 0 picks a free one).
	Addr string
	// Endpoint of a running emulator (default: $AWS_ENDPOINT_URL, else a
	// moto_server this stack starts and stops).
	Endpoint string
	// Stage names resources (default "local").
	Stage string
	// DevEmail and DevPAT bootstrap the first account (defaults
	// admin@localhost and a generated token).
	DevEmail, DevPAT string
	// Topology to run (default topology.Default()).
	Topology *topology.Topology
	// Getenv reads configuration (default os.Getenv); the provisioned
	// resource names take precedence over it.
	Getenv func(string) string
	// Log receives the handlers' JSON logs (default: discarded).
	Log *slog.Logger
	// Workers and Scheduled override the handlers app builds, for tests of
	// the runner itself.
	Workers   map[string]app.WorkerFunc
	Scheduled map[string]app.ScheduledFunc
}

// Stack is a running local Parley.
type Stack struct {
	// URL serves the API.
	URL string
	// Endpoint is the emulator's.
	Endpoint string
	// AWS is an SDK configuration pointed at the emulator, with the
	// round-trip counter installed.
	AWS aws.Config
	// Env is the environment the functions run with.
	Env map[string]string
	// PAT is the bootstrapped account's token; AccountID its id.
	PAT, AccountID string
	// Deps are the dependencies the functions share.
	Deps app.Deps

	emu       *emulator.Server
	srv       *http.Server
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	scheduled map[string]app.ScheduledFunc
}

// Start brings a stack up and returns once it serves.
func Start(ctx context.Context, o Options) (*Stack, error) {
	o = withDefaults(o)
	t := *o.Topology
	s := &Stack{Endpoint: o.Endpoint}
	if s.Endpoint == "" {
		emu, err := emulator.Start(ctx)
		if err != nil {
			return nil, err
		}
		s.emu, s.Endpoint = emu, emu.URL
	}
	fail := func(err error) (*Stack, error) { s.Close(); return nil, err }

	awsCfg, err := emulator.Config(ctx, s.Endpoint)
	if err != nil {
		return fail(err)
	}
	app.Instrument(&awsCfg)
	s.AWS = awsCfg
	if err := reachable(ctx, awsCfg, s.Endpoint); err != nil {
		return fail(err)
	}
	env, err := Provision(ctx, awsCfg, t, o.Stage)
	if err != nil {
		return fail(err)
	}
	env["STAGE"] = o.Stage
	// SES sends only from verified identities; verify the configured sender.
	if sender := o.Getenv("SES_SENDER"); sender != "" {
		if _, err := sesv2.NewFromConfig(awsCfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
			var exists *sestypes.AlreadyExistsException
			if !errors.As(err, &exists) {
				return fail(fmt.Errorf("verify SES sender %s: %w", sender, err))
			}
		}
	}
	if env["SIGNING_SECRET"] = o.Getenv("SIGNING_SECRET"); env["SIGNING_SECRET"] == "" {
		env["SIGNING_SECRET"] = "local-" + id.ULID(time.Now())
	}
	// The sealing keyring must outlive a restart, or secrets sealed in a
	// kept emulator (LocalStack) would no longer open: a fixed local value
	// unless SEALING_SECRET is set. Never use it outside local development.
	if env["SEALING_SECRET"] = o.Getenv("SEALING_SECRET"); env["SEALING_SECRET"] == "" {
		env["SEALING_SECRET"] = LocalSealingSecret
	}
	// Receipts must stay verifiable across restarts: a fixed local key
	// unless RECEIPT_SIGNING_KEY is set. Never use it outside local work.
	if env["RECEIPT_SIGNING_KEY"] = o.Getenv("RECEIPT_SIGNING_KEY"); env["RECEIPT_SIGNING_KEY"] == "" {
		env["RECEIPT_SIGNING_KEY"] = LocalReceiptSigningKey
	}
	// make run serves bots and integrations on this machine: allow their
	// private urls unless told otherwise. Deployed functions never do.
	if env["ALLOW_PRIVATE_URLS"] = o.Getenv("ALLOW_PRIVATE_URLS"); env["ALLOW_PRIVATE_URLS"] == "" {
		env["ALLOW_PRIVATE_URLS"] = "true"
	}
	s.Env = env
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return o.Getenv(k)
	}

	// Every function gets its own configuration, read as its Lambda would.
	deps := map[string]app.Deps{}
	for _, fn := range t.Functions {
		cfg, err := app.LoadConfig(ctx, fn, getenv, awsCfg)
		if err != nil {
			return fail(err)
		}
		deps[fn.Name] = app.NewDeps(awsCfg, cfg, o.Log)
	}
	all, err := app.LoadConfig(ctx, topology.Function{Name: "local", Tables: allTables(t)}, getenv, awsCfg)
	if err != nil {
		return fail(err)
	}
	s.Deps = app.NewDeps(awsCfg, all, o.Log)

	if s.AccountID, s.PAT, err = Bootstrap(ctx, s.Deps, o.DevEmail, o.DevPAT); err != nil {
		return fail(err)
	}

	mux := http.NewServeMux()
	for _, fn := range t.Functions {
		if fn.Kind != topology.HTTP {
			continue
		}
		h, err := app.HTTPHandler(fn.Name, deps[fn.Name])
		if err != nil {
			return fail(err)
		}
		invoke := lambdahttp.Handler(h)
		for _, r := range t.RoutesOf(fn.Name) {
			mux.Handle(r.MuxKey(), gateway(r, invoke))
		}
	}
	mux.HandleFunc("POST /_local/schedules/{name}", s.fireHandler)
	// API Gateway's own answer for a route it doesn't have.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Not Found"}`)
	})

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.startWorkers(runCtx, t, o, deps, env); err != nil {
		return fail(err)
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", o.Addr, err))
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.srv.Serve(ln) }()
	return s, nil
}

func withDefaults(o Options) Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:3000"
	}
	if o.Endpoint == "" {
		o.Endpoint = o.Getenv("AWS_ENDPOINT_URL")
	}
	if o.Stage == "" {
		o.Stage = "local"
	}
	if o.DevEmail == "" {
		o.DevEmail = "admin@localhost"
	}
	if o.Topology == nil {
		t := topology.Default()
		o.Topology = &t
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return o
}

// allTables is read-write access to every table: the local runner's own
// configuration (bootstrap, tests) names them all.
func allTables(t topology.Topology) []topology.TableAccess {
	var out []topology.TableAccess
	for _, tb := range t.Tables {
		out = append(out, topology.WritesTable(tb.Name))
	}
	return out
}

// reachable checks the emulator answers a real call, so a wrong
// AWS_ENDPOINT_URL fails at start with advice rather than on first request.
func reachable(ctx context.Context, cfg aws.Config, endpoint string) error {
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(callCtx, &dynamodb.ListTablesInput{}); err != nil {
		return fmt.Errorf("the AWS emulator at %s does not answer (%v).\n%w", endpoint, err, emulator.ErrNotInstalled)
	}
	return nil
}

// gateway plays API Gateway for one route: HTTP request in, v2 event to the
// function, proxy response back out.
func gateway(route topology.Route, invoke lambdahttp.Func) http.Handler {
	params := route.Params()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pathParams := map[string]string{}
		for _, p := range params {
			pathParams[p] = r.PathValue(p)
		}
		ev, err := lambdahttp.Event(r, route.Key(), id.ULID(time.Now()), pathParams)
		if err != nil {
			http.Error(w, `{"message":"Bad Request"}`, http.StatusBadRequest)
			return
		}
		res, err := invoke(r.Context(), ev)
		if err != nil {
			// What API Gateway answers when the integration fails.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"message":"Internal Server Error"}`)
			return
		}
		lambdahttp.Write(w, res)
	})
}

func (s *Stack) startWorkers(ctx context.Context, t topology.Topology, o Options, deps map[string]app.Deps, env map[string]string) error {
	sqsClient := sqs.NewFromConfig(s.AWS)
	for _, q := range t.Queues {
		if q.Consumer == "" {
			continue
		}
		fn := o.Workers[q.Consumer]
		if fn == nil {
			var err error
			if fn, err = app.Worker(q.Consumer, deps[q.Consumer]); err != nil {
				return err
			}
		}
		url := env[topology.EnvVar("queue", q.Name)]
		attrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			poll(ctx, sqsClient, url, attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], q.BatchSize, fn, o.Log)
		}()
	}
	s.scheduled = map[string]app.ScheduledFunc{}
	for _, sc := range t.Schedules {
		fn := o.Scheduled[sc.Target]
		if fn == nil {
			var err error
			if fn, err = app.Scheduled(sc.Target, deps[sc.Target]); err != nil {
				return err
			}
		}
		s.scheduled[sc.Name] = fn
		raw := sc.Expression
		if sc.EnvOverride != "" && o.Getenv(sc.EnvOverride) != "" {
			raw = o.Getenv(sc.EnvOverride)
		}
		expr, err := schedule.Parse(raw)
		if err != nil {
			return err
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); tick(ctx, sc.Name, expr, s.Fire, o.Log) }()
	}
	return nil
}

// Fire runs a schedule's target now, as EventBridge would at its time.
func (s *Stack) Fire(ctx context.Context, name string) error { return s.FirePeriod(ctx, name, "") }

// FirePeriod fires a schedule with an event whose detail carries period
// (YYYY-MM; "" for none): the invoicing schedule invoices that month.
func (s *Stack) FirePeriod(ctx context.Context, name, period string) error {
	fn, ok := s.scheduled[name]
	if !ok {
		return apperr.NotFound("schedule", name)
	}
	ev := ScheduledEvent(name, time.Now())
	if period != "" {
		ev.Detail, _ = json.Marshal(map[string]string{"period": period})
	}
	return fn(ctx, ev)
}

func (s *Stack) fireHandler(w http.ResponseWriter, r *http.Request) {
	err := s.FirePeriod(r.Context(), r.PathValue("name"), r.URL.Query().Get("period"))
	switch {
	case apperr.Is(err, apperr.ResourceNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// Close stops serving, polling and firing, and stops the emulator if this
// stack started it.
func (s *Stack) Close() {
	if s.srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = s.srv.Shutdown(shutdownCtx)
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.emu.Stop()
}

// LocalReceiptSigningKey signs receipts under `make run` when
// RECEIPT_SIGNING_KEY is not set.
const LocalReceiptSigningKey = "parley-local-receipt-signing-key-not-for-deployments"

// LocalSealingSecret is the sealing keyring of `make run` when
// SEALING_SECRET is not set: stable across restarts, public, local only.
const LocalSealingSecret = "parley-local-sealing-key-not-for-deployments"

// Bootstrap makes sure the account with email exists and holds a personal
// access token whose value is pat (a new one when pat is empty). It is
// idempotent: restarting against a kept emulator reuses both.
func Bootstrap(ctx context.Context, d app.Deps, email, pat string) (accountID, token string, err error) {
	store := admindata.NewStore(d.DB, d.Config.Table(topology.AdminTable), cursor.New(d.Config.SigningKey))
	if accountID, err = store.AccountIDByEmail(ctx, email); err != nil {
		return "", "", err
	}
	now := d.Clock.Now()
	if accountID == "" {
		accountID = id.NewAt(id.Account, now)
		acc := admindata.Account{ID: accountID, Email: email, DisplayName: "Local admin", EmailVerified: true, CreatedAt: clock.Format(now)}
		if err := store.CreateAccount(ctx, acc); err != nil {
			return "", "", err
		}
	}
	if pat == "" {
		pat = auth.NewTokenValue()
	}
	err = store.PutToken(ctx, accountID, auth.HashToken(pat), admindata.PAT{ID: id.NewAt(id.PAT, now), CreatedAt: clock.Format(now), Note: "bootstrap (DEV_PAT)"})
	if err != nil && !apperr.Is(err, apperr.AlreadyExists) {
		return "", "", err
	}
	return accountID, pat, nil
}
