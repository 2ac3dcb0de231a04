// Package emulator starts and configures the local AWS emulator (moto's
// server) that `make run` and the tests use in place of AWS.
package emulator

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Region is the region local runs use; moto answers 500 without one.
const Region = "us-east-1"

// ErrNotInstalled is returned when no emulator binary can be found.
var ErrNotInstalled = errors.New(`no AWS emulator found: install moto's server with
    pip install 'moto[server]'
or run LocalStack and point Parley at it with
    AWS_ENDPOINT_URL=http://localhost:4566`)

// Server is a running moto_server process.
type Server struct {
	URL     string
	cmd     *exec.Cmd
	cleanup func()
}

// Start launches moto_server on a free loopback port and returns once it
// answers a real DynamoDB call (a TCP connect alone is not proof: moto
// accepts connections before its services are ready).
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	s, err := start(ctx, serialCommand)
	if err != nil {
		// The wrapper needs moto importable by python3; moto_server alone
		// still serves, with DynamoDB requests interleaved.
		s, err = start(ctx, func(port int) (*exec.Cmd, func()) {
			return exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port)), func() {}
		})
	}
	return s, err
}

//go:embed moto_serial.py
var serialScript []byte

// serialCommand runs moto through moto_serial.py, which serializes DynamoDB
// requests as DynamoDB's conditional writes and transactions require.
func serialCommand(port int) (*exec.Cmd, func()) {
	f, err := os.CreateTemp("", "parley-moto-*.py")
	if err != nil {
		return exec.Command("false"), func() {}
	}
	_, _ = f.Write(serialScript)
	f.Close()
	return exec.Command("python3", f.Name(), "127.0.0.1", strconv.Itoa(port)), func() { os.Remove(f.Name()) }
}

func start(ctx context.Context, command func(port int) (*exec.Cmd, func())) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd, cleanup := command(port)
	cmd.Stdout, cmd.Stderr = nil, nil
	// Own process group, so stopping it also stops the workers moto forks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, fmt.Errorf("start moto: %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, cleanup: cleanup}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := s.waitReady(ctx, exited); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, exited <-chan error) error {
	cfg, err := Config(ctx, s.URL)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("moto_server exited before answering: %v", err)
		default:
		}
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := db.ListTables(callCtx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto_server did not answer within 30s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the emulator and every process it started.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 50; i++ {
			if syscall.Kill(s.cmd.Process.Pid, 0) != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(done)
	}()
	<-done
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cleanup()
}

// Reset wipes all of the emulator's state (moto's /moto-api/reset).
func Reset(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto reset: %s", resp.Status)
	}
	return nil
}

// Config returns an AWS configuration pointed at an emulator endpoint, with
// the region and dummy credentials an emulator needs. Without an endpoint it
// loads the ordinary default configuration.
func Config(ctx context.Context, endpoint string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	if endpoint != "" {
		opts = append([]func(*config.LoadOptions) error{
			config.WithBaseEndpoint(endpoint),
			config.WithRegion(envOr("AWS_REGION", Region)),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
				envOr("AWS_ACCESS_KEY_ID", "test"), envOr("AWS_SECRET_ACCESS_KEY", "test"), "")),
		}, opts...)
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
