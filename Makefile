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

.PHONY: all build test lint fuzz bench run demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -tags '$(GOTAGS)' -o $(BIN)/ ./cmd/...

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
	@echo "capyd: serving http://127.0.0.1:8787 (data in $(CAPYD_DATA); Ctrl-C stops it)"
	@echo "capyd: in another terminal: $(BIN)/capy login --service http://127.0.0.1:8787 you@example.com"
	@echo "capyd: login codes are not mailed; read them from $(CAPYD_DATA)/mail.log"
	$(BIN)/capyd --data-dir $(CAPYD_DATA)

# The whole story (init, invite, redeem, sync, deploy, CI, kick) against a
# throwaway capyd; cleans up after itself.
demo:
	bash scripts/demo.sh

clean:
	rm -rf $(BIN)
