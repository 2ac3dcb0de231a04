# Parley: `make run` serves the API on 127.0.0.1:3000; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
PORT ?= 3000
STAGE ?= dev
# Every Lambda function: each functions/<name> except the local runner.
FUNCTIONS := $(filter-out local,$(notdir $(wildcard functions/*)))
CONFORMANCE := pkg/conformance/testdata
# The SDK runtime suite: a bot and an integration on the pinned @botpress/sdk.
SDKRUNTIME := pkg/sdkruntime/testdata

.PHONY: run test deps vet unit bench bench-deletion bench-coldstart sizes build synth deploy diff cdk-bootstrap fire demo demo-deletion clean

## run: start the emulator, provision, bootstrap and serve every route (Ctrl-C stops all)
run:
	$(GO) run ./functions/local

## test: vet, then unit, integration, conformance and infrastructure tests
test: deps vet
	$(GO) test -count=1 ./...
	@if [ -f infra/go.mod ]; then cd infra && $(GO) test -count=1 ./...; fi

## deps: Go modules and the pinned npm packages of the conformance and SDK runtime suites
deps:
	$(GO) mod download
	@if [ -f infra/go.mod ]; then cd infra && $(GO) mod download; fi
	cd $(CONFORMANCE) && npm ci --no-audit --no-fund --loglevel=error
	cd $(SDKRUNTIME) && npm ci --no-audit --no-fund --loglevel=error

vet:
	@test -z "$$(gofmt -l functions pkg infra)" || { echo "gofmt needed:"; gofmt -l functions pkg infra; exit 1; }
	$(GO) vet ./...
	@if [ -f infra/go.mod ]; then cd infra && $(GO) vet ./...; fi

## unit: the tests that need no emulator
unit:
	$(GO) test -count=1 ./pkg/apperr ./pkg/auth ./pkg/app ./pkg/cursor ./pkg/httpapi ./pkg/id ./pkg/lambdahttp ./pkg/schedule

## bench: AWS round trips per operation (reported as calls/op) against the emulator
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./pkg/...

## build: one arm64 `bootstrap` per function, for provided.al2023
# lambda.norpc leaves out aws-lambda-go's legacy RPC mode, which
# provided.al2023 never uses (pkg/artefact builds its test binaries the same way).
BUILD_TAGS ?= lambda.norpc
build: $(FUNCTIONS:%=build/%/bootstrap)
build/%/bootstrap: FORCE
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags '$(BUILD_TAGS)' -trimpath -buildvcs=false -ldflags="-s -w" -o $@ ./functions/$*
FORCE:

## sizes: each function's deployed (stripped, linux/arm64) size, with and without lambda.norpc
sizes:
	@printf '| function | without lambda.norpc (MB) | with lambda.norpc (MB) |\n|---|---|---|\n'
	@d=$$(mktemp -d); for f in $(FUNCTIONS); do \
	  for tags in none lambda.norpc; do \
	    GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags "$$tags" -trimpath -buildvcs=false -ldflags="-s -w" -o $$d/$$f.$$tags ./functions/$$f || exit 1; \
	  done; \
	  awk -v f=$$f -v a=$$(stat -c %s $$d/$$f.none) -v b=$$(stat -c %s $$d/$$f.lambda.norpc) 'BEGIN { printf "| %s | %.1f | %.1f |\n", f, a/1e6, b/1e6 }'; \
	done; rm -rf $$d

## bench-coldstart: each function's bootstrap under the Lambda runtime emulator: init and first-invocation medians (COLDSTARTS starts each)
COLDSTARTS ?= 7
bench-coldstart:
	PARLEY_COLDSTARTS=$(COLDSTARTS) $(GO) test -count=1 -run '^$$' -bench BenchmarkColdStart -benchtime 1x ./pkg/artefact

# Pinned CDK CLI, fetched by npx; only deploy/diff/cdk-bootstrap need it.
CDK ?= npx --yes aws-cdk@2.1148.1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

## synth: write infra/cdk.out/parley-$(STAGE).template.json (in-process, no CDK CLI)
synth: build
	rm -rf infra/cdk.out
	cd infra && $(GO) run . -stage $(STAGE) -out cdk.out

## deploy: synth, then deploy stack parley-$(STAGE) with the credentials in your shell
deploy: synth
	cd infra && $(CDK) deploy --app cdk.out parley-$(STAGE)

## diff: what a deploy would change
diff: synth
	cd infra && $(CDK) diff --app cdk.out parley-$(STAGE)

## cdk-bootstrap: once per account and region
cdk-bootstrap:
	cd infra && $(CDK) bootstrap

## demo: a whole conversation against `make run` (DEV_PAT=<its token> make demo; needs curl and jq)
demo:
	PORT=$(PORT) bash pkg/chat/testdata/demo.sh

## demo-deletion: deletion jobs by a bot API key's JWT against `make run` (needs curl, jq, openssl)
demo-deletion:
	PORT=$(PORT) bash pkg/deletion/testdata/demo.sh

## bench-deletion: one deletion job of CONVERSATIONS conversations × 20 messages through window, queue and worker
CONVERSATIONS ?= 10000
bench-deletion:
	PARLEY_BENCH_CONVERSATIONS=$(CONVERSATIONS) $(GO) test -run '^$$' -bench BenchmarkDeletionJob -benchtime 1x -timeout 0 ./pkg/deletion

## fire: run a schedule now against `make run` (SCHEDULE=offpeak; PERIOD=YYYY-MM for invoicing)
fire:
	curl -fsS -X POST "http://127.0.0.1:$(PORT)/_local/schedules/$(SCHEDULE)$(if $(PERIOD),?period=$(PERIOD))"

clean:
	rm -rf build cdk.out infra/cdk.out
