#!/usr/bin/env bash
# make bench: the micro-benchmarks (go test -bench, the bench_test.go files)
# and the whole-command / service harness (internal/bench), printed as one
# markdown table; see BENCHMARKS.md. Arguments go to capybench
# (`make bench BENCH_ARGS="-runs 20 -backends sqlite"`; `-h` lists them).
#
# Needs Go. Uses, when present (and installs unless BENCH_NO_INSTALL=1):
#   dotenvx      npm install -g @dotenvx/dotenvx           (peer)
#   sops, age    go install (pinned versions below)         (peer)
#   PostgreSQL   initdb/pg_ctl on PATH or /usr/lib/postgresql/*/bin, or
#                CAPY_TEST_DATABASE_URL (never installed by this script)
# Whatever is missing is reported as MISSING / skipped in the table, never
# as a pass.
set -euo pipefail
cd "$(dirname "$0")/.."

SOPS_VERSION=${SOPS_VERSION:-v3.13.3}
AGE_VERSION=${AGE_VERSION:-v1.3.2}
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
export PATH="$PATH:$gobin"

if [ -z "${BENCH_NO_INSTALL:-}" ]; then
  if ! command -v dotenvx >/dev/null; then
    if command -v npm >/dev/null; then
      echo "bench: installing dotenvx (npm install -g @dotenvx/dotenvx)…" >&2
      npm install -g @dotenvx/dotenvx >&2 || echo "bench: could not install dotenvx; it will be reported MISSING" >&2
    else
      echo "bench: no npm, so no dotenvx; it will be reported MISSING" >&2
    fi
  fi
  if ! command -v sops >/dev/null; then
    echo "bench: installing sops $SOPS_VERSION into $gobin…" >&2
    go install "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION" >&2 || echo "bench: could not install sops; it will be reported MISSING" >&2
  fi
  if ! command -v age-keygen >/dev/null; then
    echo "bench: installing age $AGE_VERSION into $gobin…" >&2
    go install "filippo.io/age/cmd/...@$AGE_VERSION" >&2 || echo "bench: could not install age; sops will be reported MISSING" >&2
  fi
fi

mkdir -p "${BIN:-bin}"
exec go run ./internal/bench/cmd/capybench -tags "${GOTAGS:-urfave_cli_no_docs}" -out "${BIN:-bin}/bench-results.md" "$@"
