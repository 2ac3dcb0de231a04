// Command indexer is the Lambda function consuming the files queue: it
// completes uploads and indexes files, reporting failed messages one by one.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/topology"
)

func main() {
	log := slog.New(lambdacontext.NewLogHandler())
	fn, err := app.StartWorker(context.Background(), topology.IndexerFunction, app.IndexerWorker, log)
	if err != nil {
		log.Error("start-up failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(fn)
}
