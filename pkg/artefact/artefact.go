// Package artefact runs Parley's deployable artefacts, the `bootstrap`
// binaries of functions/*, as Lambda runs them: under the AWS Lambda Runtime
// Interface Emulator (RIE), with the environment the CDK stack gives each
// function. Its tests prove every binary starts and answers its event; its
// benchmark measures cold starts.
package artefact

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The RIE, pinned. The Go module proxy serves it only as a pseudo-version.
const (
	RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// BuildTags are the tags every function is built with: lambda.norpc drops
// aws-lambda-go's legacy net/rpc mode, which provided.al2023 never uses and
// which keeps every exported method of every SDK client alive.
const BuildTags = "lambda.norpc"

// InstallRIE installs the pinned RIE into dir (with `go install`, so the
// Go module proxy and module cache serve it) and returns its path. A binary
// already in dir is reused.
func InstallRIE(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", RIEPackage+"@"+RIEVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	cmd.Dir = dir // outside any module: `go install pkg@version` needs none
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", RIEPackage, RIEVersion, err, out)
	}
	return bin, nil
}

// Build compiles functions/<name> of the module at root, for this machine,
// with BuildTags, as dir/<name>/bootstrap (one `go build` for all of them,
// which links in parallel). It returns each bootstrap's path by name.
func Build(ctx context.Context, root, dir string, names ...string) (map[string]string, error) {
	out := filepath.Join(dir, "bin") + string(filepath.Separator)
	args := []string{"build", "-tags", BuildTags, "-trimpath", "-o", out}
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	paths := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(out, n), p); err != nil {
			return nil, err
		}
		paths[n] = p
	}
	return paths, nil
}

// Supported reports why the RIE cannot run here, or nil: it is a Linux
// program (Lambda's sandbox), built for the host's architecture.
func Supported() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the Lambda Runtime Interface Emulator runs on Linux only (this is %s)", runtime.GOOS)
	}
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("no go command to build the functions and install the emulator")
	}
	return nil
}

// Function is one bootstrap running under its own RIE.
type Function struct {
	// URL is the RIE's invoke endpoint.
	URL string
	// Started is when the RIE process was started.
	Started time.Time
	cmd     *exec.Cmd
	log     *syncBuffer
	done    chan struct{}
}

// Start runs bootstrap under the RIE at rie, with exactly env as the
// function's environment (the RIE hands its own to the function), and
// returns once the RIE accepts invocations. Lambda initialises a function
// on its first invocation; so does the RIE.
func Start(ctx context.Context, rie, bootstrap string, env map[string]string) (*Function, error) {
	invokePort, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(invokePort)
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = environ(env)
	// Its own process group, so Stop ends the function's process too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	f := &Function{URL: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	f.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(f.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return f, nil
		}
		select {
		case <-f.done:
			return nil, fmt.Errorf("the RIE exited at start:\n%s", f.Log())
		case <-ctx.Done():
			f.Stop()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.Stop()
			return nil, fmt.Errorf("the RIE did not listen on %s within 10s:\n%s", addr, f.Log())
		}
	}
}

// Invocation is one invocation's answer.
type Invocation struct {
	// Status is the RIE's HTTP status: 200 when the function answered,
	// even with an error payload.
	Status int
	Body   []byte
	// Latency is the client's round trip, init included on a cold start.
	Latency time.Duration
}

// Invoke sends payload to the function and waits for its answer.
func (f *Function) Invoke(ctx context.Context, payload []byte) (Invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(payload))
	if err != nil {
		return Invocation{}, err
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("invoke: %w\n%s", err, f.Log())
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return Invocation{Status: res.StatusCode, Body: body, Latency: time.Since(start)}, err
}

// Log is everything the RIE and the function wrote so far.
func (f *Function) Log() string { return f.log.String() }

// WaitLog waits until the log holds substr, or timeout passes, and reports
// whether it does: output reaches the log through a pipe, a little after
// the invocation's answer.
func (f *Function) WaitLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(f.Log(), substr) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Report is what the RIE reported for an invocation: its duration (from
// handing the event to the runtime to its answer) and, on a cold start, the
// init duration (from starting the bootstrap process to its first request
// for work, as Lambda's "Init Duration").
type Report struct {
	Init, Duration time.Duration
}

var (
	// The RIE's REPORT line has an "Init Duration", but it times only the
	// start of an asynchronous init, and its "Duration" includes waiting
	// for the init; rapid's INIT REPORT and INVOKE RTDONE are the real ones.
	initReport   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	invokeReport = regexp.MustCompile(`INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([0-9.]+)ms\)`)
)

// Reports parses the RIE's reports, one per invocation in order, once
// there are n of them (or a second has passed). The first carries the
// init duration.
func (f *Function) Reports(n int) []Report {
	deadline := time.Now().Add(time.Second)
	for strings.Count(f.Log(), "REPORT RequestId:") < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var out []Report
	var init time.Duration
	sc := bufio.NewScanner(strings.NewReader(f.Log()))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if m := initReport.FindStringSubmatch(sc.Text()); m != nil && init == 0 {
			init = millis(m[1])
		}
		if m := invokeReport.FindStringSubmatch(sc.Text()); m != nil {
			r := Report{Duration: millis(m[1])}
			if len(out) == 0 {
				r.Init = init
			}
			out = append(out, r)
		}
	}
	return out
}

// Stop ends the RIE and the function it runs.
func (f *Function) Stop() {
	if f.cmd.Process == nil {
		return
	}
	pgid := f.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(2 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-f.done
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // the bootstrap, if it outlived the RIE
}

func millis(s string) time.Duration {
	v, _ := strconv.ParseFloat(s, 64)
	return time.Duration(v * float64(time.Millisecond))
}

// environ turns env into a process environment, sorted, with nothing of
// the caller's own environment but PATH (so the function sees what Lambda
// would give it, not the developer's shell).
func environ(env map[string]string) []string {
	out := make([]string, 0, len(env)+1)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	if _, ok := env["PATH"]; !ok {
		out = append(out, "PATH="+os.Getenv("PATH"))
	}
	sort.Strings(out)
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
