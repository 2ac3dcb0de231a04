package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/parley-dev/parley/pkg/apperr"
	"github.com/parley-dev/parley/pkg/audit"
	"github.com/parley-dev/parley/pkg/auth"
	"github.com/parley-dev/parley/pkg/clock"
	"github.com/parley-dev/parley/pkg/httpapi"
)

// Handler unit tests: no emulator; the policy store and the audit trail
// are fakes (structs of functions). A method a test does not set panics
// through the nil embedded interface, so an unexpected call fails the test.

type fakeStore struct {
	Store
	create func(ctx context.Context, p Policy, commit audit.Commit) error
	get    func(ctx context.Context, ws, id string) (Policy, error)
}

func (f fakeStore) Create(ctx context.Context, p Policy, commit audit.Commit) error {
	return f.create(ctx, p, commit)
}
func (f fakeStore) Get(ctx context.Context, ws, id string) (Policy, error) { return f.get(ctx, ws, id) }

type fakeTrail struct {
	audit.Trail
	recorded []audit.Record
}

func (f *fakeTrail) Commit(_ context.Context, _ []types.TransactWriteItem, recs ...audit.Record) error {
	f.recorded = append(f.recorded, recs...)
	return nil
}

func call(h httpapi.Handler, body any, path map[string]string) (httpapi.Response, error) {
	raw, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", "/api/v1/policy/create", bytes.NewReader(raw))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range path {
		r.SetPathValue(k, v)
	}
	return h(r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{WorkspaceID: "ws_1", AccountID: "acc_1"})))
}

func TestCreateRefusesABadConfigAndWritesNothing(t *testing.T) {
	store := fakeStore{create: func(context.Context, Policy, audit.Commit) error {
		t.Fatal("a refused policy was stored")
		return nil
	}}
	a := NewAPI(store, &fakeTrail{}, nil, nil, nil, &clock.Fixed{T: time.Now()})
	for name, cfg := range map[string]any{
		"no maxAge":   map[string]any{},
		"bad maxAge":  map[string]any{"maxAge": "30 days"},
		"bad action":  map[string]any{"maxAge": "P30D", "action": "shred"},
		"not object":  []any{1},
		"bad basis":   map[string]any{"maxAge": "P30D", "basis": "lastSeen"},
		"bad unknown": map[string]any{"maxAge": "P30D", "shred": true},
	} {
		_, err := call(a.create, map[string]any{"name": "n", "description": "d", "type": "retention", "config": cfg}, nil)
		if !apperr.Is(err, apperr.InvalidPayload) {
			t.Errorf("%s: %v, want InvalidPayload", name, err)
		}
	}
}

func TestCreateStoresThePolicyWithItsAuditRecord(t *testing.T) {
	var stored Policy
	trail := &fakeTrail{}
	store := fakeStore{create: func(ctx context.Context, p Policy, commit audit.Commit) error { stored = p; return commit(ctx, nil) }}
	a := NewAPI(store, trail, nil, nil, nil, &clock.Fixed{T: time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)})
	if _, err := call(a.create, map[string]any{"name": "n", "description": "d", "type": "retention", "config": map[string]any{"maxAge": "P30D"}}, nil); err != nil {
		t.Fatal(err)
	}
	if stored.WorkspaceID != "ws_1" || stored.Config.Action != ActionArchive || stored.Config.Resources != ResourceConversations {
		t.Fatalf("stored %+v", stored)
	}
	if len(trail.recorded) != 1 || trail.recorded[0].Action != AuditCreate || trail.recorded[0].ResourceID != stored.ID || trail.recorded[0].AccountID != "acc_1" {
		t.Fatalf("audit %+v", trail.recorded)
	}
}

func TestFetchOfAnotherWorkspacesPolicyIsNotFound(t *testing.T) {
	store := fakeStore{get: func(_ context.Context, ws, id string) (Policy, error) {
		if ws != "ws_1" {
			t.Fatalf("read workspace %s", ws)
		}
		return Policy{}, apperr.NotFound("policy", id)
	}}
	a := NewAPI(store, &fakeTrail{}, nil, nil, nil, &clock.Fixed{T: time.Now()})
	if _, err := call(a.fetch, nil, map[string]string{"policyId": "policy_x"}); !apperr.Is(err, apperr.ResourceNotFound) {
		t.Fatalf("%v, want ResourceNotFound", err)
	}
}
