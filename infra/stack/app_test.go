package stack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-dev/parley/pkg/topology"
)

func TestNewAppWritesTheStageTemplate(t *testing.T) {
	out := t.TempDir()
	app, st, err := NewApp(AppOptions{Stage: "prod", AssetDir: fakeAssets(t, topology.Default()), Outdir: out})
	if err != nil {
		t.Fatal(err)
	}
	if got := *st.StackName(); got != "parley-prod" {
		t.Errorf("stack name %s", got)
	}
	if !*st.TerminationProtection() {
		t.Error("prod stack without termination protection")
	}
	app.Synth(nil)
	if _, err := os.Stat(filepath.Join(out, "parley-prod.template.json")); err != nil {
		t.Error(err)
	}
}

func TestNewAppReadsStageFromContext(t *testing.T) {
	_, st, err := NewApp(AppOptions{
		AssetDir: fakeAssets(t, topology.Default()), Outdir: t.TempDir(),
		context: map[string]any{"stage": "prod"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := *st.StackName(); got != "parley-prod" {
		t.Errorf("stack name %s", got)
	}
	if _, _, err := NewApp(AppOptions{Stage: "qa", Outdir: t.TempDir()}); err == nil {
		t.Error("unknown stage accepted")
	}
}
