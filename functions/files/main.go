// Command files is the Lambda function serving the Files API (/v1/files*).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/parley-dev/parley/pkg/app"
	"github.com/parley-dev/parley/pkg/lambdahttp"
	"github.com/parley-dev/parley/pkg/topology"
)

func main() {
	log := slog.New(lambdacontext.NewLogHandler())
	h, err := app.StartHTTP(context.Background(), topology.FilesFunction, app.FilesHTTP, log)
	if err != nil {
		log.Error("start-up failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(lambdahttp.Handler(h))
}
