package app

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/topology"
)

// Every route the topology declares is served by its function, and every
// route a function serves is declared (so API Gateway routes it).
func TestEveryDeclaredRouteIsServed(t *testing.T) {
	top := topology.Default()
	for _, fn := range top.Functions {
		if fn.Kind != topology.HTTP {
			continue
		}
		h, err := HTTPHandler(fn.Name, Deps{Clock: clock.System{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Config: Config{SigningKey: []byte("k"), Settings: fn.Settings}})
		if err != nil {
			t.Fatal(err)
		}
		var declared []string
		for _, r := range top.RoutesOf(fn.Name) {
			declared = append(declared, r.Key())
		}
		served := h.(*httpapi.Router).Routes()
		sort.Strings(declared)
		sort.Strings(served)
		if strings.Join(declared, "\n") != strings.Join(served, "\n") {
			t.Errorf("%s: declared\n%s\nserved\n%s", fn.Name, strings.Join(declared, "\n"), strings.Join(served, "\n"))
		}
	}
}

func TestLoadConfigListsEveryMissingVariable(t *testing.T) {
	fn, _ := topology.Default().Function(topology.ChatFunction)
	_, err := LoadConfig(context.Background(), fn, func(string) string { return "" }, aws.Config{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, v := range []string{"TABLE_ADMIN", "TABLE_CHAT", "SIGNING_SECRET"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%v does not name %s", err, v)
		}
	}
	env := map[string]string{"TABLE_ADMIN": "a", "TABLE_CHAT": "c", "TABLE_LIFECYCLE": "l", "QUEUE_DELIVERY": "q", "QUEUE_LIFECYCLE": "lq", "SIGNING_SECRET": "s", "STAGE": "dev"}
	cfg, err := LoadConfig(context.Background(), fn, func(k string) string { return env[k] }, aws.Config{})
	if err != nil || cfg.Table(topology.ChatTable) != "c" || string(cfg.SigningKey) != "s" || cfg.Stage != "dev" {
		t.Fatalf("%+v %v", cfg, err)
	}
}
