#!/usr/bin/env bash
# Builds the offline Kubernetes tools when missing: helm (go install, pinned) into .cache/bin and
# kubernetes-validate (PyPI, pinned; it bundles the Kubernetes schemas) into .cache/k8s-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: bash scripts/k8s-tools.sh   (make deps runs it); idempotent"
  exit 0
fi

HELM_VERSION=v3.22.0
KUBERNETES_VALIDATE_VERSION=1.37.0
CACHE_DIR="$PWD/.cache"

if ! "$CACHE_DIR/bin/helm" version --short 2>/dev/null | grep "^${HELM_VERSION%.0}" >/dev/null; then
  command -v go >/dev/null || { echo "k8s-tools: no Go toolchain to build helm; install golang-go" >&2; exit 1; }
  echo "k8s-tools: building helm $HELM_VERSION into .cache/bin (a few minutes the first time)"
  mkdir -p "$CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

if ! "$CACHE_DIR/k8s-venv/bin/kubernetes-validate" --version 2>/dev/null | grep "$KUBERNETES_VALIDATE_VERSION" >/dev/null; then
  echo "k8s-tools: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into .cache/k8s-venv"
  rm -rf "$CACHE_DIR/k8s-venv"
  python3 -m venv "$CACHE_DIR/k8s-venv"
  "$CACHE_DIR/k8s-venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
