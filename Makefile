# capy build. `make test` is what README and CI run; keep it under 10 minutes
# on a 2-core machine.
GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 10s
TESTFLAGS ?=
# urfave_cli_no_docs leaves out urfave/cli's man-page generator (md2man,
# blackfriday), which neither binary uses and whose package init cost every
# capy command about 0.6 ms (BENCHMARKS.md).
GOTAGS    ?= urfave_cli_no_docs
BENCH_ARGS ?=

# The stamp both binaries print (`capy version`, internal/buildinfo): what
# `git describe` says, the commit, and the commit's time as the build date,
# so that two builds of one commit are the same bytes. A tree without git
# says so in the version. Any of them can be given: make VERSION=v1.2.3 …
ifndef VERSION
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)
endif
ifeq ($(strip $(VERSION)),)
VERSION := unknown (built without git)
endif
COMMIT            ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
BUILDINFO := github.com/capy-oss/capy/internal/buildinfo
LDFLAGS   := -X '$(BUILDINFO).version=$(VERSION)' -X '$(BUILDINFO).commit=$(COMMIT)' -X '$(BUILDINFO).date=$(SOURCE_DATE_EPOCH)'
STAMP     := -version '$(VERSION)' -commit '$(COMMIT)' -source-date-epoch '$(SOURCE_DATE_EPOCH)'
# make release: the GOOS/GOARCH pairs (all = linux, darwin, windows × amd64, arm64).
RELEASE_TARGETS ?= all
# make image: the linux architectures of the image (the first one also
# becomes a `docker load` tarball).
IMAGE_ARCHES    ?= amd64,arm64

.PHONY: all build test lint fuzz bench run demo clean release image

all: build

# A first build compiles every dependency (SQLite, PostgreSQL, Prometheus…)
# and takes minutes on a small machine: it says so and lists the packages
# as they compile (-v), instead of a silent wait.
build:
	@if [ -x $(BIN)/capyd ]; then \
	  echo "build: capy and capyd $(VERSION) -> $(BIN)/"; \
	else \
	  echo "build: first build of capy and capyd $(VERSION) -> $(BIN)/: compiling every dependency takes a few minutes once (packages are listed as they compile); later builds take seconds"; \
	fi
	CGO_ENABLED=0 $(GO) build $$([ -x $(BIN)/capyd ] || echo -v) -tags '$(GOTAGS)' -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

test:
	$(GO) test -race -timeout 15m $(TESTFLAGS) ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Every fuzz target for FUZZTIME each (`make fuzz FUZZTIME=10m` for long runs).
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

# Micro-benchmarks (bench_test.go) plus whole commands, peers and capyd
# load on SQLite and PostgreSQL, as one table (BENCHMARKS.md). Takes about
# 20 minutes; `make bench BENCH_ARGS="-h"` lists the knobs.
bench:
	GOTAGS='$(GOTAGS)' BIN='$(BIN)' bash scripts/bench.sh $(BENCH_ARGS)

# Start the real service with its defaults: SQLite, KEK, pepper and the
# development mail.log in $(CAPYD_DATA); Ctrl-C stops it, data stays.
CAPYD_DATA ?= ./capyd-data
run: build
	@echo "capyd: starting $(BIN)/capyd"
	@echo "capyd: serving http://127.0.0.1:8787 (data in $(CAPYD_DATA); Ctrl-C stops it)"
	@echo "capyd: in another terminal: $(BIN)/capy login --service http://127.0.0.1:8787 you@example.com"
	@echo "capyd: login codes are not mailed; read them from $(CAPYD_DATA)/mail.log"
	$(BIN)/capyd --data-dir $(CAPYD_DATA)

# The whole story (init, invite, redeem, sync, deploy, CI, kick) against a
# throwaway capyd; cleans up after itself.
demo:
	bash scripts/demo.sh

# Release archives for every target in $(BIN)/release: capy_<version>_<os>_<arch>.tar.gz
# (.zip for Windows) with both binaries, README.md, CHANGELOG.md, LICENSE and
# shell completions, and SHA256SUMS. Reproducible: the same commit and Go give
# the same bytes (internal/release, whose test proves it for linux/amd64).
release:
	@echo "release: capy $(VERSION) for $(RELEASE_TARGETS) targets -> $(BIN)/release/ (cross-compiling each target: minutes the first time)"
	rm -rf $(BIN)/release
	GO='$(GO)' $(GO) run ./scripts/release archives $(STAMP) -targets '$(RELEASE_TARGETS)' -out $(BIN)/release
	@cd $(BIN)/release && ls -l && cat SHA256SUMS

# capyd's container image without a Docker engine, in $(BIN)/image: an OCI
# layout (oci/) for every IMAGE_ARCHES and a `docker load` tarball. The
# Dockerfile builds the same image with Docker.
image:
	@echo "image: capyd $(VERSION) for linux/$(IMAGE_ARCHES) -> $(BIN)/image/"
	GO='$(GO)' $(GO) run ./scripts/release image $(STAMP) -arches '$(IMAGE_ARCHES)' -out $(BIN)/image

clean:
	rm -rf $(BIN)
