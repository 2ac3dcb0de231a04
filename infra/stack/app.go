package stack

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/parley-dev/parley/pkg/topology"
)

// AppOptions selects what NewApp synthesizes. Empty fields fall back to the
// CDK context (`-c stage=prod`, `-c assets=../build`), then to defaults.
type AppOptions struct {
	Stage    string
	AssetDir string
	// Outdir is the cloud assembly directory; empty means cdk.out, or the
	// directory the cdk CLI asks for.
	Outdir string
	// context adds CDK context, as the cdk CLI does through the environment.
	context map[string]any
}

// DefaultAssetDir is where the Makefile leaves <function>/bootstrap,
// relative to infra/.
const DefaultAssetDir = "../build"

// StackName is the CloudFormation stack name for a stage.
func StackName(stage string) string { return "parley-" + stage }

// NewApp builds the CDK app holding the stack of one stage.
func NewApp(opts AppOptions) (awscdk.App, *Stack, error) {
	props := &awscdk.AppProps{
		// The cdk CLI sets this itself; `go run .` needs it for `sam local`
		// to find each function's code in cdk.out.
		Context: &map[string]any{"aws:cdk:enable-asset-metadata": true, "aws:cdk:enable-path-metadata": true},
	}
	for k, v := range opts.context {
		(*props.Context)[k] = v
	}
	if opts.Outdir != "" {
		props.Outdir = jsii.String(opts.Outdir)
	}
	app := awscdk.NewApp(props)
	stageName := firstNonEmpty(opts.Stage, contextString(app, "stage"), "dev")
	stage, err := StageNamed(stageName)
	if err != nil {
		return nil, nil, err
	}
	topo := topology.Default()
	stage = stage.WithEnvOverrides(topo, os.LookupEnv)
	st, err := NewStack(app, StackName(stage.Name), &Props{
		StackProps: awscdk.StackProps{
			Description:           jsii.String("Parley chatbot backend (" + stage.Name + ")"),
			TerminationProtection: jsii.Bool(stage.RetainData),
		},
		Stage:    stage,
		Topology: topo,
		AssetDir: firstNonEmpty(opts.AssetDir, contextString(app, "assets"), DefaultAssetDir),
	})
	if err != nil {
		return nil, nil, err
	}
	return app, st, nil
}

func contextString(app awscdk.App, key string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
		return v
	}
	return ""
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
