#!/usr/bin/env bash
# Checks the Helm chart offline: helm lint --strict, then every values file in its ci/ folder
# rendered with helm template and validated against the Kubernetes JSON schemas of the oldest and
# newest supported versions (kubernetes-validate --strict: unknown fields fail). Builds helm into
# .cache/bin and kubernetes-validate into .cache/k8s-venv when missing (make deps does too).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: make k8s-check   (or CHART=path/to/chart bash scripts/k8s-check.sh)"
  exit 0
fi

CHART="${CHART:-deploy/helm/local-cache-sync}"
KUBE_VERSIONS=(1.30.0 1.37.0)
bash scripts/k8s-tools.sh
HELM="$PWD/.cache/bin/helm"
VALIDATE="$PWD/.cache/k8s-venv/bin/kubernetes-validate"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0
for values in "$CHART"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  if ! "$HELM" lint --strict "$CHART" -f "$values" >"$out/lint-$name.txt" 2>&1; then
    cat "$out/lint-$name.txt"; echo "k8s-check: helm lint failed for $name"; failed=1; continue
  fi
  for version in "${KUBE_VERSIONS[@]}"; do
    manifest="$out/$name-$version.yaml"
    if ! "$HELM" template check "$CHART" -f "$values" --kube-version "$version" >"$manifest" 2>"$out/err"; then
      cat "$out/err"; echo "k8s-check: helm template failed for $name on $version"; failed=1; continue
    fi
    # CRDs (ServiceMonitor) have no bundled schema: a warning, checked by service/test/static/helm-chart.test.ts.
    if ! "$VALIDATE" --strict --quiet -k "$version" "$manifest"; then
      echo "k8s-check: $name does not validate against Kubernetes $version"; failed=1
    else
      echo "k8s-check: $name valid on Kubernetes $version ($(grep -c '^kind:' "$manifest") resources)"
    fi
  done
done
exit $failed
