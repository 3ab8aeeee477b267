#!/bin/sh
# Install capy and capyd from a capy release.
#
#   sh install.sh [--prefix DIR] [BASE_URL]
#   CAPY_RELEASE_URL=BASE_URL sh install.sh
#
# BASE_URL is the directory of a release: it holds SHA256SUMS and the
# archives capy_<version>_<os>_<arch>.tar.gz that `make release` writes. The
# script picks this machine's archive (uname), downloads it and SHA256SUMS,
# checks the archive's SHA-256 against SHA256SUMS and only then installs
# capy and capyd into the prefix: --prefix DIR, else $CAPY_PREFIX, else
# /usr/local/bin for root and ~/.local/bin for anyone else. It never calls
# sudo: run it as the user who may write the prefix. A download or a
# checksum that fails installs nothing. Plain http:// is refused except on
# loopback (the checksum file comes from the same place, so it would prove
# nothing).
#
# Windows: download the .zip from the release and check it with
# `Get-FileHash -Algorithm SHA256` against SHA256SUMS.
set -eu

say() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$1" >&2; shift; for h in "$@"; do printf 'install: hint: %s\n' "$h" >&2; done; exit 1; }

prefix="${CAPY_PREFIX:-}"
base="${CAPY_RELEASE_URL:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) die "unknown option $1" "usage: install.sh [--prefix DIR] [BASE_URL]" ;;
    *) base="$1"; shift ;;
  esac
done
[ -n "$base" ] || die "no release URL" "give it as an argument or in CAPY_RELEASE_URL, e.g. install.sh https://example.com/capy/v0.1.0"
base="${base%/}"
case "$base" in
  https://*) ;;
  http://127.0.0.1[:/]*|http://127.0.0.1|http://localhost[:/]*|http://localhost|http://\[::1\]*) ;;
  http://*) die "refusing plain http: $base" "use the https:// URL of the release (the checksums come from the same place)" ;;
  *) die "not an http(s) URL: $base" ;;
esac

if [ -z "$prefix" ]; then
  if [ "$(id -u)" = 0 ]; then prefix=/usr/local/bin; else prefix="${HOME:?HOME is not set}/.local/bin"; fi
fi

os=$(uname -s)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW*|MSYS*|CYGWIN*) die "this script installs on Linux and macOS" "on Windows, download capy_<version>_windows_<arch>.zip from $base and check it against SHA256SUMS" ;;
  *) die "no capy release for the operating system $os" "build from source: go install github.com/capy-oss/capy/cmd/capy@latest" ;;
esac
arch=$(uname -m)
case "$arch" in
  x86_64|amd64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) die "no capy release for the architecture $arch" "build from source: go install github.com/capy-oss/capy/cmd/capy@latest" ;;
esac

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --proto '=https,http' -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed" "install one of them"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "neither sha256sum nor shasum is installed: the download cannot be checked" "install coreutils (sha256sum) or perl (shasum)"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t capy-install)
trap 'rm -rf "$tmp"' EXIT INT TERM

say "fetching $base/SHA256SUMS"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "could not download $base/SHA256SUMS" "is $base the directory of a capy release?"
# The one archive for this machine, named in SHA256SUMS.
line=$(grep -E "^[0-9a-f]{64}  capy_[^ /]+_${os}_${arch}\.tar\.gz\$" "$tmp/SHA256SUMS" || true)
[ -n "$line" ] || die "SHA256SUMS names no archive for $os/$arch"
[ "$(printf '%s\n' "$line" | wc -l | tr -d ' ')" = 1 ] || die "SHA256SUMS names several archives for $os/$arch"
want=${line%%  *}
archive=${line#*  }

say "fetching $base/$archive"
fetch "$base/$archive" "$tmp/$archive" || die "could not download $base/$archive"
got=$(sha256 "$tmp/$archive")
if [ "$got" != "$want" ]; then
  die "checksum mismatch for $archive: SHA256SUMS says $want, the download is $got; nothing was installed" \
      "download again; if it persists, the release or the connection is not what it should be"
fi
say "checksum ok: $archive"

mkdir "$tmp/x"
tar -xzf "$tmp/$archive" -C "$tmp/x"
dir="$tmp/x/${archive%.tar.gz}"
for b in capy capyd; do
  [ -f "$dir/$b" ] || die "$archive holds no $b"
done
mkdir -p "$prefix"
# Copy next to the target, then rename: a running capy is never half
# overwritten, and a failure leaves the old one.
for b in capy capyd; do
  cp "$dir/$b" "$prefix/.$b.install-tmp"
  chmod 0755 "$prefix/.$b.install-tmp"
  mv -f "$prefix/.$b.install-tmp" "$prefix/$b"
done
say "installed capy and capyd into $prefix: $("$prefix/capy" --version 2>/dev/null || echo "$archive")"
case ":$PATH:" in
  *":$prefix:"*) ;;
  *) say "note: $prefix is not on your PATH; add it, e.g. export PATH=\"$prefix:\$PATH\"" ;;
esac
