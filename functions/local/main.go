// Command local runs the whole of Parley on this machine (`make run`): the
// AWS emulator, every function's handler behind a local API Gateway, the
// queue pollers and the schedules. It is not deployed; the topology does
// not list it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-dev/parley/pkg/emulator"
	"github.com/parley-dev/parley/pkg/localrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	stack, err := localrun.Start(ctx, localrun.Options{
		Addr:     "127.0.0.1:" + port,
		DevEmail: os.Getenv("DEV_EMAIL"),
		DevPAT:   os.Getenv("DEV_PAT"),
		Log:      slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if errors.Is(err, emulator.ErrNotInstalled) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
	fmt.Printf("Parley serves %s (emulator %s)\n", stack.URL, stack.Endpoint)
	if os.Getenv("DEV_PAT") == "" {
		fmt.Printf("Personal access token (shown once; set DEV_PAT to choose it): %s\n", stack.PAT)
	} else {
		fmt.Println("Personal access token: the value of DEV_PAT")
	}
	fmt.Printf("Try: curl -H \"Authorization: Bearer $DEV_PAT\" %s/v1/admin/account/me\n", stack.URL)
	<-ctx.Done()
	fmt.Println("stopping")
	stack.Close()
}
