package artefact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/parley-dev/parley/pkg/admindata"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/emulator"
	"github.com/parley-dev/parley/pkg/lambdahttp"
	"github.com/parley-dev/parley/pkg/localrun"
	"github.com/parley-dev/parley/pkg/topology"
)

// rig is what every test and benchmark here shares: moto with the stage's
// resources provisioned, a personal access token in its admin table, the
// pinned RIE and every function's bootstrap built with BuildTags.
type rig struct {
	topo       topology.Topology
	stage      string
	endpoint   string
	resources  map[string]string // TABLE_…, BUCKET_…, QUEUE_… (queues by URL)
	secretARN  string
	sealingARN string
	receiptARN string
	pat        string
	rie        string
	bootstrap  map[string]string
	// Made by the admin function's test, used by the others'.
	workspace, bot string
}

// malformedBot's admin record does not decode.
const malformedBot = "bot_malformed"

var (
	shared     *rig
	sharedErr  error
	sharedSkip string
	setupOnce  sync.Once
	teardown   []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(teardown) - 1; i >= 0; i-- {
		teardown[i]()
	}
	os.Exit(code)
}

// setup builds the rig once; it skips, saying why, where the RIE or an
// emulator cannot run.
func setup(tb testing.TB) *rig {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: the artefact tests build every function and run it under the Lambda runtime emulator")
	}
	setupOnce.Do(func() { shared, sharedSkip, sharedErr = newRig() })
	if sharedSkip != "" {
		tb.Skip(sharedSkip)
	}
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

func newRig() (*rig, string, error) {
	if err := Supported(); err != nil {
		return nil, "skipped: " + err.Error(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := &rig{topo: topology.Default(), stage: "rie"}

	srv, err := emulator.Start(ctx)
	if errors.Is(err, emulator.ErrNotInstalled) {
		return nil, "skipped: the functions' binaries need an AWS emulator to run against: " + err.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	teardown = append(teardown, srv.Stop)
	r.endpoint = srv.URL
	awsCfg, err := emulator.Config(ctx, srv.URL)
	if err != nil {
		return nil, "", err
	}
	if r.resources, err = localrun.Provision(ctx, awsCfg, r.topo, r.stage); err != nil {
		return nil, "", err
	}
	// HTTP functions read their signing key from Secrets Manager, as deployed.
	const signingKey = "rie-signing-key-0123456789abcdef"
	sec, err := secretsmanager.NewFromConfig(awsCfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("parley-" + r.stage + "-signing"), SecretString: aws.String(signingKey)})
	if err != nil {
		return nil, "", fmt.Errorf("create signing secret: %w", err)
	}
	r.secretARN = aws.ToString(sec.ARN)
	// Functions that seal read the sealing keyring from its own secret.
	ring, err := secretsmanager.NewFromConfig(awsCfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("parley-" + r.stage + "-sealing"), SecretString: aws.String("rie-sealing-key-0123456789abcdef0123456789")})
	if err != nil {
		return nil, "", fmt.Errorf("create sealing secret: %w", err)
	}
	r.sealingARN = aws.ToString(ring.ARN)
	rk, err := secretsmanager.NewFromConfig(awsCfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("parley-" + r.stage + "-receipts"), SecretString: aws.String("rie-receipt-signing-secret-0123456789")})
	if err != nil {
		return nil, "", fmt.Errorf("create receipt signing secret: %w", err)
	}
	r.receiptARN = aws.ToString(rk.ARN)
	var all []topology.TableAccess
	for _, tb := range r.topo.Tables {
		all = append(all, topology.WritesTable(tb.Name))
	}
	getenv := func(k string) string {
		if k == "SIGNING_SECRET" {
			return signingKey
		}
		return r.resources[k]
	}
	cfg, err := app.LoadConfig(ctx, topology.Function{Name: "bootstrap", Tables: all}, getenv, awsCfg)
	if err != nil {
		return nil, "", err
	}
	deps := app.NewDeps(awsCfg, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, r.pat, err = localrun.Bootstrap(ctx, deps, "rie@localhost", ""); err != nil {
		return nil, "", err
	}
	// A bot record the delivery worker cannot read (its url is a map).
	bad := admindata.BotKey(malformedBot)
	bad["url"] = &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{}}
	if _, err := dynamodb.NewFromConfig(awsCfg).PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(cfg.Table(topology.AdminTable)), Item: bad}); err != nil {
		return nil, "", err
	}

	dir, err := os.MkdirTemp("", "parley-artefacts-")
	if err != nil {
		return nil, "", err
	}
	teardown = append(teardown, func() { os.RemoveAll(dir) })
	// Kept between runs: `go install` of the pinned version is idempotent.
	rieDir := filepath.Join(os.TempDir(), "parley-rie-"+RIEVersion)
	if err := os.MkdirAll(rieDir, 0o755); err != nil {
		return nil, "", err
	}
	if r.rie, err = InstallRIE(ctx, rieDir); err != nil {
		return nil, "", err
	}
	var names []string
	for _, f := range r.topo.Functions {
		names = append(names, f.Name)
	}
	if r.bootstrap, err = Build(ctx, "../..", dir, names...); err != nil {
		return nil, "", err
	}
	return r, "", nil
}

// Environment is what the CDK stack gives function fn, pointed at the
// emulator: STAGE, its resources (queues by URL), its settings with their
// defaults, SIGNING_SECRET_ARN for HTTP functions, and what Lambda itself
// sets (region, credentials, the function's name, timeout and log format).
func (r *rig) Environment(fn topology.Function) map[string]string {
	env := map[string]string{
		"STAGE":                           r.stage,
		"AWS_ENDPOINT_URL":                r.endpoint,
		"AWS_REGION":                      emulator.Region,
		"AWS_DEFAULT_REGION":              emulator.Region,
		"AWS_ACCESS_KEY_ID":               "test",
		"AWS_SECRET_ACCESS_KEY":           "test",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_FUNCTION_NAME":        topology.PhysicalName(r.stage, fn.Name),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(max(fn.MemoryMB, 128)),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(max(fn.Timeout, 3*time.Second).Seconds())),
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
	}
	for k, v := range r.topo.Environment(r.stage, fn) {
		env[k] = v
		if real, ok := r.resources[k]; ok {
			env[k] = real
		}
	}
	for k, v := range fn.Settings {
		env[k] = v
	}
	if fn.Kind == topology.HTTP {
		env["SIGNING_SECRET_ARN"] = r.secretARN
	}
	if fn.Seals {
		env["SEALING_SECRET_ARN"] = r.sealingARN
	}
	if fn.SignsReceipts {
		env["RECEIPT_SIGNING_KEY_ARN"] = r.receiptARN
	}
	return env
}

func (r *rig) function(tb testing.TB, name string) topology.Function {
	tb.Helper()
	fn, ok := r.topo.Function(name)
	if !ok {
		tb.Fatalf("no function %q in the topology", name)
	}
	return fn
}

// start runs a function's bootstrap under the RIE with env, stopping it
// when the test ends.
func (r *rig) start(tb testing.TB, name string, env map[string]string) *Function {
	tb.Helper()
	f, err := Start(context.Background(), r.rie, r.bootstrap[name], env)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		f.Stop()
		if tb.Failed() {
			tb.Logf("%s under the RIE logged:\n%s", name, f.Log())
		}
	})
	return f
}

// invoke sends an event and decodes the answer into out (when not nil).
func invoke(tb testing.TB, f *Function, event any, out any) Invocation {
	tb.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	inv, err := f.Invoke(ctx, payload)
	if err != nil {
		tb.Fatal(err)
	}
	if inv.Status != 200 {
		tb.Fatalf("invocation answered %d: %s\nlog:\n%s", inv.Status, inv.Body, f.Log())
	}
	if out != nil {
		if err := json.Unmarshal(inv.Body, out); err != nil {
			tb.Fatalf("answer %s: %v\nlog:\n%s", inv.Body, err, f.Log())
		}
	}
	return inv
}

// apiEvent is the API Gateway (HTTP API, payload 2.0) event for a request
// on one of the topology's routes.
func apiEvent(tb testing.TB, routeKey, path string, headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	method, pattern, _ := strings.Cut(routeKey, " ")
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	params := map[string]string{}
	pp, ap := strings.Split(pattern, "/"), strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	for i, seg := range pp {
		if strings.HasPrefix(seg, "{") && i < len(ap) {
			params[strings.Trim(seg, "{}")] = ap[i]
		}
	}
	ev, err := lambdahttp.Event(req, routeKey, "rie-"+strconv.FormatInt(time.Now().UnixNano(), 36), params)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// sqsEvent is an SQS event source batch with the given bodies, by id.
func sqsEvent(queueARN string, bodies map[string]string) events.SQSEvent {
	var ev events.SQSEvent
	for id, body := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: id, ReceiptHandle: "rh-" + id, Body: body, EventSource: "aws:sqs", EventSourceARN: queueARN,
			AWSRegion:  emulator.Region,
			Attributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10)},
		})
	}
	return ev
}

// sampleEvent reads one of events/.
func sampleEvent(tb testing.TB, name string) json.RawMessage {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
