// Command infra synthesizes Parley's CloudFormation stack for one stage:
//
//	go run . -stage prod -out cdk.out      # without the cdk CLI
//	cdk synth -c stage=prod                 # with it (cdk.json runs this)
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/parley-dev/parley/infra/stack"
)

func main() {
	var opts stack.AppOptions
	flag.StringVar(&opts.Stage, "stage", "", "stage to synthesize: dev or prod (default: context stage, else dev)")
	flag.StringVar(&opts.AssetDir, "assets", "", "directory holding <function>/bootstrap (default: context assets, else "+stack.DefaultAssetDir+")")
	flag.StringVar(&opts.Outdir, "out", "", "cloud assembly directory (default: cdk.out)")
	flag.Parse()
	if err := synth(opts); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func synth(opts stack.AppOptions) error {
	defer jsii.Close()
	app, _, err := stack.NewApp(opts)
	if err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}
