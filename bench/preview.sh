#!/usr/bin/env bash
# Benchmark the preview (issue 6) in headless Chromium, release build: the first page load for a
# campaign of N=1000 recipients (target <= 200 ms) and how soon a change to recipients.toml is
# visible in the open page (target <= 1 s).
#
#   bash bench/preview.sh
#
# Needs chromium and chromium-driver (apt-get install chromium chromium-driver). LOADS and
# CHANGES set the number of runs; KEEP=1 keeps the campaign.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-1000}"

die() { echo "preview.sh: $*" >&2; exit 1; }
command -v chromium >/dev/null || die "chromium missing: apt-get install chromium chromium-driver"
command -v chromedriver >/dev/null || die "chromedriver missing: apt-get install chromium-driver"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lettermerge-preview-bench.XXXXXX")"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

python3 "$ROOT/bench/gen_recipients.py" --subjects "$N" "$WORK" >/dev/null
echo "== campaign: $N recipients in $WORK"
cd "$ROOT"
CAMPAIGN="$WORK" cargo bench --quiet --features system-tests --bench preview
