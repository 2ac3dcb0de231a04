package app

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
	"github.com/parley-dev/parley/pkg/seal"
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
			declared = append(declared, r.MuxKey())
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

func TestSealingIsApartFromPageTokens(t *testing.T) {
	fn, _ := topology.Default().Function(topology.AdminFunction)
	ring := strings.Repeat("r", 32)
	env := map[string]string{"SIGNING_SECRET": "page-key-1", "SEALING_SECRET": ring}
	load := func() Config {
		t.Helper()
		for k := range topology.Default().Environment("", fn) {
			if env[k] == "" {
				env[k] = "x"
			}
		}
		cfg, err := LoadConfig(context.Background(), fn, func(k string) string { return env[k] }, aws.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	before := Deps{Config: load()}
	// A value sealed before the keyring existed (key derived from the
	// page-token secret), and one sealed now.
	legacyKey := sha256.Sum256(append([]byte("parley/integration-secrets/"), before.Config.SigningKey...))
	legacy, _ := seal.LegacySeal(legacyKey[:], "old", "int_1/token")
	sealed, err := integrationSealer(before).Seal("new", "int_1/token")
	if err != nil || seal.KeyID(sealed) != seal.DefaultKeyID {
		t.Fatalf("%q %v", sealed, err)
	}
	if v, err := integrationSealer(before).Open(legacy, "int_1/token"); err != nil || v != "old" {
		t.Fatalf("legacy value: %q %v", v, err)
	}
	// Rotating the page-token key leaves sealed values readable.
	env["SIGNING_SECRET"] = "page-key-2"
	after := Deps{Config: load()}
	if v, err := integrationSealer(after).Open(sealed, "int_1/token"); err != nil || v != "new" {
		t.Fatalf("after a page-token key change: %q %v", v, err)
	}
	// Each purpose has its own keys.
	if _, err := botKeySealer(after).Open(sealed, "int_1/token"); err == nil {
		t.Fatal("an integration secret opened as a bot API key")
	}
	// The admin function refuses to start without a keyring.
	delete(env, "SEALING_SECRET")
	if _, err := LoadConfig(context.Background(), fn, func(k string) string { return env[k] }, aws.Config{}); err == nil || !strings.Contains(err.Error(), "SEALING_SECRET") {
		t.Fatalf("no keyring: %v", err)
	}
}

// Every route declares, through its middleware, the scope and permission it
// requires (httpapi.Requirement): the security sweep is generated from it,
// so a route that declares nothing fails here the day it is added.
func TestEveryRouteDeclaresItsRequirement(t *testing.T) {
	top := topology.Default()
	for _, fn := range top.Functions {
		if fn.Kind != topology.HTTP {
			continue
		}
		h, err := HTTPHandler(fn.Name, Deps{Clock: clock.System{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Config: Config{SigningKey: []byte("k"), Settings: fn.Settings}})
		if err != nil {
			t.Fatal(err)
		}
		rt := h.(*httpapi.Router)
		if u := rt.Undeclared(); len(u) > 0 {
			t.Errorf("%s: routes without a declared requirement (wrap their middleware in httpapi.Describe, or use httpapi.Public): %v", fn.Name, u)
		}
		for _, r := range top.RoutesOf(fn.Name) {
			req, _ := rt.Requirement(r.MuxKey())
			if req.Scope != "public" && req.Scope != "account" && req.Permission == "" {
				t.Errorf("%s: scope %q without a permission", r.Key(), req.Scope)
			}
		}
	}
}
