#!/usr/bin/env bash
# Builds @local-cache-sync/core 0.1.0 from this repository's history (the commit before the 0.2.0
# API change) into packages/core/compat/, for the mixed-version test
# (packages/core/test/compat-0.1.test.ts). The tarball is committed, so a clone without history
# still runs the test; run this to make it again: `bash scripts/build-compat-package.sh`.
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  cat <<'USAGE'
usage: bash scripts/build-compat-package.sh
Builds @local-cache-sync/core 0.1.0 from this repository's history (the commit before the 0.2.0
API change) into packages/core/compat/local-cache-sync-core-0.1.0.tgz, which
packages/core/test/compat-0.1.test.ts runs on the same channel as this version. Needs the full
history (not a shallow clone) and npm install done.
  --help   this text
USAGE
  exit 0
fi
cd "$(dirname "$0")/.."
COMMIT=7184312825ce52c2295f536532d9ce71ba8a2b0f # 3898986^: the last commit of 0.1.0
OUT=packages/core/compat
if ! git cat-file -e "$COMMIT^{commit}" 2>/dev/null; then
  echo "build-compat-package: commit $COMMIT is not in this clone (a shallow clone?): fetch the history first" >&2
  exit 1
fi
# Inside the repository, so the build resolves TypeScript and the dependencies' types from its node_modules.
WORK=.cache/compat-build
rm -rf "$WORK"
mkdir -p "$WORK"
git archive "$COMMIT" packages/core tsconfig.json | tar -x -C "$WORK"
test "$(node -p "require('./$WORK/packages/core/package.json').version")" = 0.1.0
(cd "$WORK/packages/core" && ../../../../node_modules/.bin/tsc -p tsconfig.json && npm pack --silent --pack-destination "$OLDPWD/$OUT" >/dev/null)
rm -rf "$WORK"
ls -l "$OUT"/local-cache-sync-core-0.1.0.tgz
