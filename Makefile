# Parley: `make run` serves the API on 127.0.0.1:3000; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
PORT ?= 3000
STAGE ?= dev
# Every Lambda function: each functions/<name> except the local runner.
FUNCTIONS := $(filter-out local,$(notdir $(wildcard functions/*)))
CONFORMANCE := pkg/conformance/testdata

.PHONY: run test deps vet unit bench build synth deploy fire clean

## run: start the emulator, provision, bootstrap and serve every route (Ctrl-C stops all)
run:
	$(GO) run ./functions/local

## test: vet, then unit, integration, conformance and infrastructure tests
test: deps vet
	$(GO) test -count=1 ./...
	@if [ -f infra/go.mod ]; then cd infra && $(GO) test -count=1 ./...; fi

## deps: Go modules and the conformance suite's pinned npm packages
deps:
	$(GO) mod download
	@if [ -f infra/go.mod ]; then cd infra && $(GO) mod download; fi
	cd $(CONFORMANCE) && npm ci --no-audit --no-fund --loglevel=error

vet:
	@test -z "$$(gofmt -l functions pkg)" || { echo "gofmt needed:"; gofmt -l functions pkg; exit 1; }
	$(GO) vet ./...

## unit: the tests that need no emulator
unit:
	$(GO) test -count=1 ./pkg/apperr ./pkg/auth ./pkg/app ./pkg/cursor ./pkg/httpapi ./pkg/id ./pkg/lambdahttp ./pkg/schedule

## bench: AWS round trips per operation (reported as calls/op) against the emulator
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./pkg/...

## build: one arm64 `bootstrap` per function, for provided.al2023
build: $(FUNCTIONS:%=build/%/bootstrap)
build/%/bootstrap: FORCE
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $@ ./functions/$*
FORCE:

## fire: run a schedule now against `make run` (SCHEDULE=offpeak)
fire:
	curl -fsS -X POST http://127.0.0.1:$(PORT)/_local/schedules/$(SCHEDULE)

clean:
	rm -rf build cdk.out infra/cdk.out
