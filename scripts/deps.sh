#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks for the tests and the demo: Node 24 LTS (from
# the npm registry into .cache/node when the machine's node is older; the Makefile puts it first on PATH),
# redis-server, tmux, openssl, docker-compose (static checks only), chromium and python3-venv (apt),
# a MongoDB-wire server (mongod if on PATH, else FerretDB v1 built with Go into .cache/bin), Toxiproxy,
# Jaeger v2, Prometheus 3.5 with promtool and Sloth (Go, into .cache/bin), helm and
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
# Prometheus 3.5 LTS, as docker-compose.yml pins it (its Go module tags v3.x.y as v0.30x.y).
PROMETHEUS_VERSION=3.5.5
PROMETHEUS_MODULE_VERSION=v0.305.5
# Sloth generates the freshness SLOs' recording and alerting rules from prometheus/slo/.
SLOTH_VERSION=v0.16.0
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

# Go-built tools go to .cache/bin, each with a stamp naming its version: a second run skips what
# is built, a changed pin rebuilds it. They build in parallel (the downloads overlap the compiles).
built() { [ -x "$CACHE_DIR/bin/$1" ] && [ "$(cat "$CACHE_DIR/bin/$1.version" 2>/dev/null)" = "$2" ]; }
# go_build TOOL VERSION MODULE PACKAGE [LDFLAGS]: builds PACKAGE inside MODULE@VERSION's own source
# tree (`go install pkg@version` refuses modules whose go.mod has replace directives).
go_build() {
  local tool=$1 version=$2 module=$3 package=$4 ldflags=${5:-} src
  src=$(mktemp -d)
  cp -r "$(go mod download -json "$module@$version" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')/." "$src"
  chmod -R u+w "$src"
  local tags=() stamp=$version
  # FerretDB panics without build/version/version.txt, which is generated from git (not in the module zip).
  [ "$tool" = ferretdb ] && echo "$version" > "$src/build/version/version.txt"
  if [ "$tool" = prometheus ]; then
    # Its web UI (the graphs the demo's live page links to) is not in the module zip: built with npm
    # and embedded, as Prometheus' own Makefile does (the new UI only; the old one is opt-in).
    (cd "$src/web/ui" && npm ci --no-audit --no-fund --loglevel=error && npm run build:module \
      && npm run build -w @prometheus-io/mantine-ui \
      && mkdir -p static && rm -rf static/mantine-ui && mv mantine-ui/dist static/mantine-ui)
    (cd "$src" && bash scripts/compress_assets.sh)
    tags=(-tags builtinassets)
    stamp="$version+ui"
  fi
  (cd "$src" && go build "${tags[@]}" -ldflags "$ldflags" -o "$CACHE_DIR/bin/$tool" "$package")
  rm -rf "$src"
  echo "$stamp" > "$CACHE_DIR/bin/$tool.version"
}
go_tools=()
command -v mongod >/dev/null || built ferretdb "$FERRETDB_VERSION" || go_tools+=(ferretdb)
# Toxiproxy: the fault tests cut a replica off Redis with it, and make bench puts network latency
# between the replicas and their servers.
built toxiproxy-server "$TOXIPROXY_VERSION" || go_tools+=(toxiproxy-server)
# Jaeger v2 for the test that runs the compose file's Jaeger configuration (deploy/jaeger/config.yaml).
built jaeger "$JAEGER_MODULE_VERSION" || go_tools+=(jaeger)
# Prometheus and promtool of the release docker-compose.yml runs, for the tests and the demo.
built prometheus "$PROMETHEUS_MODULE_VERSION+ui" || go_tools+=(prometheus)
built promtool "$PROMETHEUS_MODULE_VERSION" || go_tools+=(promtool)
# Sloth: make test regenerates the SLO rules from prometheus/slo/ and fails on any difference.
built sloth "$SLOTH_VERSION" || go_tools+=(sloth)
if [ ${#go_tools[@]} -gt 0 ]; then
  command -v go >/dev/null || { echo "deps: no Go toolchain to build ${go_tools[*]}; install golang-go" >&2; exit 1; }
  echo "deps: building ${go_tools[*]} into .cache/bin in parallel (a few minutes the first time)"
  mkdir -p "$CACHE_DIR/bin"
  prometheus_version="-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"
  pids=()
  for tool in "${go_tools[@]}"; do
    case $tool in
      ferretdb) go_build ferretdb "$FERRETDB_VERSION" github.com/FerretDB/FerretDB ./cmd/ferretdb ;;
      toxiproxy-server) go_build toxiproxy-server "$TOXIPROXY_VERSION" github.com/Shopify/toxiproxy/v2 ./cmd/server ;;
      # Without the UI assets (a git submodule, not in the module zip): the query API is what the test reads.
      jaeger) go_build jaeger "$JAEGER_MODULE_VERSION" github.com/jaegertracing/jaeger ./cmd/jaeger ;;
      prometheus)
        go_build prometheus "$PROMETHEUS_MODULE_VERSION" github.com/prometheus/prometheus ./cmd/prometheus "$prometheus_version" ;;
      promtool)
        go_build promtool "$PROMETHEUS_MODULE_VERSION" github.com/prometheus/prometheus ./cmd/promtool "$prometheus_version" ;;
      sloth) go_build sloth "$SLOTH_VERSION" github.com/slok/sloth ./cmd/sloth "-X github.com/slok/sloth/internal/info.Version=$SLOTH_VERSION" ;;
    esac > "$CACHE_DIR/bin/$tool.log" 2>&1 &
    pids+=("$!:$tool")
  done
  failed=()
  for entry in "${pids[@]}"; do
    wait "${entry%%:*}" || failed+=("${entry#*:}")
  done
  for tool in "${failed[@]}"; do
    echo "deps: building $tool failed:" >&2
    tail -20 "$CACHE_DIR/bin/$tool.log" >&2
  done
  [ ${#failed[@]} -eq 0 ] || exit 1
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
