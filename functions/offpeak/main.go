// Command offpeak is the Lambda function the off-peak schedule fires: it
// starts due deletion jobs and resumes unfinished ones.
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
	fn, err := app.StartScheduled(context.Background(), topology.OffpeakFunction, app.Offpeak, log)
	if err != nil {
		log.Error("start-up failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(fn)
}
