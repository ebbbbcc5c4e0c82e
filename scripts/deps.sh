#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks for the tests and the demo: Node 24 LTS (from
# the npm registry into .cache/node when the machine's node is older; the Makefile puts it first on PATH),
# redis-server, prometheus, tmux, openssl, docker-compose (static checks only), chromium and python3-venv (apt),
# a MongoDB-wire server (mongod if on PATH, else FerretDB v1 built with Go into .cache/bin), Toxiproxy
# and Jaeger v2 (Go, into .cache/bin), helm and
# kubernetes-validate (scripts/k8s-tools.sh), and the npm packages (npm ci, and bench/peers' for make bench).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: make deps   (or bash scripts/deps.sh); idempotent: installs only what is missing"
  exit 0
fi

FERRETDB_VERSION=v1.24.2
TOXIPROXY_VERSION=v2.5.0
# Jaeger v2.13.0: its Go module is tagged v1.76.0 (the v2 binary is cmd/jaeger); docker compose runs the same release.
JAEGER_MODULE_VERSION=v1.76.0
# The Dockerfile's node image carries the same version.
NODE_VERSION=24.21.0
CACHE_DIR="$PWD/.cache"

node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || echo 0)
if [ "${node_major:-0}" -lt 24 ] && [ ! -x "$CACHE_DIR/node/node_modules/node/bin/node" ]; then
  command -v npm >/dev/null || { echo "deps: no node/npm at all; install Node.js first (any version with npm)" >&2; exit 1; }
  echo "deps: node $(node --version) is older than 24; installing Node $NODE_VERSION from the npm registry into .cache/node"
  mkdir -p "$CACHE_DIR/node"
  npm install --prefix "$CACHE_DIR/node" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_VERSION"
fi
export PATH="$CACHE_DIR/node/node_modules/node/bin:$PATH"

missing_apt=()
command -v redis-server >/dev/null || missing_apt+=(redis-server)
command -v prometheus >/dev/null || missing_apt+=(prometheus)
command -v promtool >/dev/null || missing_apt+=(prometheus)
command -v tmux >/dev/null || missing_apt+=(tmux)
# The Redis TLS test makes its own CA and certificates.
command -v openssl >/dev/null || missing_apt+=(openssl)
command -v docker-compose >/dev/null || missing_apt+=(docker-compose)
# Headless Chromium for the report screenshot test (never a downloaded browser).
command -v chromium >/dev/null || missing_apt+=(chromium)
if [ ${#missing_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "deps: missing ${missing_apt[*]}; install them with: apt-get install ${missing_apt[*]}" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "deps: installing ${missing_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" >/dev/null
fi

if ! command -v mongod >/dev/null && [ ! -x "$CACHE_DIR/bin/ferretdb" ]; then
  command -v go >/dev/null || { echo "deps: no mongod and no Go toolchain to build FerretDB; install golang-go or mongod" >&2; exit 1; }
  echo "deps: building FerretDB $FERRETDB_VERSION (SQLite backend) into .cache/bin"
  src_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  rm -rf "$CACHE_DIR/ferretdb-src" && mkdir -p "$CACHE_DIR/bin"
  cp -r "$src_dir" "$CACHE_DIR/ferretdb-src" && chmod -R u+w "$CACHE_DIR/ferretdb-src"
  # The module zip has no build/version/version.txt (it is generated from git), and FerretDB panics without it.
  echo "$FERRETDB_VERSION" > "$CACHE_DIR/ferretdb-src/build/version/version.txt"
  (cd "$CACHE_DIR/ferretdb-src" && go build -o "$CACHE_DIR/bin/ferretdb" ./cmd/ferretdb)
  rm -rf "$CACHE_DIR/ferretdb-src"
fi

# Toxiproxy: the fault tests cut a replica off Redis with it, and make bench puts network latency
# between the replicas and their servers.
if [ ! -x "$CACHE_DIR/bin/toxiproxy-server" ]; then
  command -v go >/dev/null || { echo "deps: no Go toolchain to build Toxiproxy; install golang-go" >&2; exit 1; }
  echo "deps: building Toxiproxy $TOXIPROXY_VERSION into .cache/bin"
  build_dir=$(mktemp -d)
  GOBIN="$build_dir" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  mkdir -p "$CACHE_DIR/bin" && mv "$build_dir/server" "$CACHE_DIR/bin/toxiproxy-server" && rm -rf "$build_dir"
fi

# Jaeger v2 for the test that runs the compose file's Jaeger configuration (deploy/jaeger/config.yaml).
if [ ! -x "$CACHE_DIR/bin/jaeger" ]; then
  command -v go >/dev/null || { echo "deps: no Go toolchain to build Jaeger; install golang-go" >&2; exit 1; }
  echo "deps: building Jaeger v2 (module $JAEGER_MODULE_VERSION) into .cache/bin (a few minutes the first time)"
  # Built in its own module (its go.mod has a replace directive, which `go install pkg@version` refuses);
  # without the UI assets (a git submodule, not in the module zip): the query API is what the test reads.
  src_dir=$(go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  rm -rf "$CACHE_DIR/jaeger-src" && mkdir -p "$CACHE_DIR/bin"
  cp -r "$src_dir" "$CACHE_DIR/jaeger-src" && chmod -R u+w "$CACHE_DIR/jaeger-src"
  (cd "$CACHE_DIR/jaeger-src" && go build -o "$CACHE_DIR/bin/jaeger" ./cmd/jaeger)
  rm -rf "$CACHE_DIR/jaeger-src"
fi

# helm and kubernetes-validate for make k8s-check (the Helm chart, checked offline).
command -v python3 >/dev/null && python3 -c 'import ensurepip' 2>/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "deps: installing python3-venv with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
}
bash scripts/k8s-tools.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund
fi
# The peers make bench compares with, apart from the service's packages (bench/peers/package.json).
if [ ! -d bench/peers/node_modules ] || [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
  echo "deps: npm ci in bench/peers"
  npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error
fi
