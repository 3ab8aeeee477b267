#!/usr/bin/env bash
# make demo: the whole capy story in one command, on a throwaway capyd with
# its embedded SQLite. Needs only Go. Everything lives in a temp directory
# that is removed at the end (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

bold=$'\e[1m'; dim=$'\e[2m'; green=$'\e[32m'; red=$'\e[31m'; reset=$'\e[0m'
if [ -n "${NO_COLOR:-}" ] || [ ! -t 1 ]; then bold=; dim=; green=; red=; reset=; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/capy-demo.XXXXXX")
capyd_pid=
cleanup() {
  if [ -n "$capyd_pid" ]; then kill "$capyd_pid" 2>/dev/null || true; wait "$capyd_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
# show WHO DIR CMD…: print the command, run it, print its output indented.
show() {
  local who=$1 dir=$2; shift 2
  printf '%s%s$%s %s\n' "$dim" "$who" "$reset" "$*"
  (cd "$dir" && CAPY_HOME="$tmp/home-$who" "$@") 2>&1 | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

step "build"
go build -o "$tmp/bin/" ./cmd/capy ./cmd/capyd
export PATH="$tmp/bin:$PATH" NO_COLOR=1

step "start capyd (embedded SQLite, development mailer)"
port=$(( 20000 + RANDOM % 20000 ))
export CAPY_SERVICE="http://127.0.0.1:$port"
capyd --data-dir "$tmp/capyd" --listen "127.0.0.1:$port" --ops-listen "" >"$tmp/capyd.log" 2>&1 &
capyd_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$capyd_pid" 2>/dev/null || { cat "$tmp/capyd.log"; exit 1; }
  sleep 0.1
done
echo "    capyd is serving on $CAPY_SERVICE"
mail_log="$tmp/capyd/mail.log"

# login WHO EMAIL: the real `capy login`, fed the code from the dev mail log.
login() {
  local who=$1 email=$2 before
  before=$( (wc -l <"$mail_log") 2>/dev/null || echo 0)
  printf '%s%s$%s capy login %s   %s(code read from capyd'"'"'s development mail log)%s\n' "$dim" "$who" "$reset" "$email" "$dim" "$reset"
  {
    for _ in $(seq 200); do
      code=$(tail -n +"$((before + 1))" "$mail_log" 2>/dev/null | grep "\"to\":\"$email\"" | sed 's/.*"code":"\([0-9]*\)".*/\1/' | tail -n 1 || true)
      if [ -n "$code" ]; then echo "$code"; break; fi
      sleep 0.05
    done
  } | CAPY_HOME="$tmp/home-$who" capy login "$email" 2>&1 | sed 's/^/    /'
}

step "alice signs in and creates the organisation for her repository"
login alice alice@example.com
mkdir -p "$tmp/alice"
cat >"$tmp/alice/.env" <<'ENV'
# Database
DATABASE_URL=postgres://app:s3cret@db/app
# Payments
STRIPE_KEY='sk_live_demo_${NOT_EXPANDED}'
ENV
show alice "$tmp/alice" cat .env
show alice "$tmp/alice" capy init --yes --new-org Demo --project shop 2>&1 | grep -v '^    *[0-9]*\. ' || true
show alice "$tmp/alice" cat .env

step "alice invites bob; bob joins from a clone of the repository"
code=$(cd "$tmp/alice" && CAPY_HOME="$tmp/home-alice" capy invite bob@example.com 2>/dev/null)
echo "    redeem code: ${code:0:24}… (sent to bob over a channel alice trusts)"
login bob bob@example.com
mkdir -p "$tmp/bob/.capy"
cp "$tmp/alice/.capy/project.json" "$tmp/bob/.capy/"
show bob "$tmp/bob" capy redeem --yes "$code"
show bob "$tmp/bob" capy
show bob "$tmp/bob" capy get DATABASE_URL

step "bob edits a value in plain text; a sync encrypts and shares it"
sed -i 's/^DATABASE_URL=.*/DATABASE_URL=postgres:\/\/app:rotated@db\/app/' "$tmp/bob/.env"
show bob "$tmp/bob" capy
show alice "$tmp/alice" capy
show alice "$tmp/alice" capy get DATABASE_URL

step "alice's second repository is a second project of the same organisation; bob, invited once, links it"
mkdir -p "$tmp/alice-api" "$tmp/bob-api"
printf 'API_KEY=api-demo-key\n' >"$tmp/alice-api/.env"
show alice "$tmp/alice-api" capy init --yes --org Demo --project api
show alice "$tmp/alice-api" capy projects
show bob "$tmp/bob-api" capy link api
show bob "$tmp/bob-api" capy get API_KEY

step "bob keeps a personal value in .env.local: encrypted, never pushed"
printf 'DEBUG=bob-only\n' >>"$tmp/bob/.env.local"
show bob "$tmp/bob" capy get DEBUG
show bob "$tmp/bob" cat .env.local
show bob "$tmp/bob" capy status

step "alice mints a deploy code; a CI runner with nothing but the code runs the app"
deploy=$(cd "$tmp/alice" && CAPY_HOME="$tmp/home-alice" capy deploy --name demo-ci 2>/dev/null)
mkdir -p "$tmp/ci/.capy"
cp "$tmp/alice/.capy/project.json" "$tmp/ci/.capy/"
(cd "$tmp/ci" && CAPY_HOME="$tmp/home-ci" CAPY_DEPLOY_CODE="$deploy" capy ci) 2>&1 | sed 's/^/    /'
show ci "$tmp/ci" capy run -- sh -c 'echo "app sees DATABASE_URL=$DATABASE_URL; CAPY_ variables in its environment: $(env | grep -c ^CAPY_ || true)"'

step "alice kicks bob; bob is refused at once, without re-encrypting anything"
show alice "$tmp/alice" capy kick bob@example.com --yes
set +e
show bob "$tmp/bob" capy get DATABASE_URL
status=$?
set -e
if [ "$status" -eq 4 ]; then
  printf '%s✓ bob was refused (exit %d)%s\n' "$green" "$status" "$reset"
else
  printf '%s✗ bob was not refused (exit %d)%s\n' "$red" "$status" "$reset"; exit 1
fi

step "done: everything above ran against a real capyd in $tmp, now removed"
