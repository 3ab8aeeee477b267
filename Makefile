# capy build. `make test` is what README and CI run; keep it under 10 minutes
# on a 2-core machine.
GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 10s
TESTFLAGS ?=

.PHONY: all build test lint fuzz bench run demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

run: build
	$(BIN)/capy --help

# The whole story (init, invite, redeem, sync, deploy, CI, kick) against a
# throwaway capyd; cleans up after itself.
demo:
	bash scripts/demo.sh

clean:
	rm -rf $(BIN)
