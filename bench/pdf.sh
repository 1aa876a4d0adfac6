#!/usr/bin/env bash
# Benchmark PDF output (issue 5) on this machine, release build, both CPUs:
#   (a) 1,000 one-page letters with a footnote and Chinese text: render --format pdf, wall time
#       and peak RSS (targets: <= 5 s, <= 300 MB), and the pages, checked with pdfinfo;
#   (b) the built-in campaign's letters (two pages, en/fr/ko/zh) for N_ROOT=1000 recipients;
#   (c) the same 1,000 one-page letters with --combined (one more file of 1,000 pages);
#   (d) with BUILD=1: what the PDF dependency adds to a clean release build (two clean builds in
#       a scratch target dir, with and without --no-default-features). Slow: ~15 min.
#
#   bash bench/pdf.sh
#
# Needs fonts-noto-cjk (the Chinese text) and poppler-utils (pdfinfo). LETTERMERGE=... times a
# given binary instead of building target/release/lettermerge; KEEP=1 keeps the work dir.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-1000}"
N_ROOT="${N_ROOT:-1000}"
RUNS="${RUNS:-3}"

die() { echo "pdf.sh: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lettermerge-pdf-bench.XXXXXX")"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

command -v pdfinfo >/dev/null || die "pdfinfo missing: apt-get install poppler-utils"
fc-list 2>/dev/null | grep "Noto Serif CJK" >/dev/null || die "no Noto Serif CJK: apt-get install fonts-noto-cjk"

# shellcheck source=bench/timed.sh
. "$ROOT/bench/timed.sh"
release_binary

# median RESULT_PREFIX: the run with the median wall time, "wall rss cpu".
median() { for i in $(seq 1 "$RUNS"); do cat "$1.$i"; done | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

# --- (a) one-page letters -----------------------------------------------------------------------
ONE="$WORK/one-page"
mkdir -p "$ONE/templates"
cat >"$ONE/lettermerge.toml" <<'EOF'
[campaign]
id = "pdf-bench"
date = 2026-12-10

[sender]
name = "Ada Advocate"
organization = "Northern Lantern Refugee Advocacy"
address = ["Eksempelveien 10", "0150 Oslo", "Norway"]
email = "ada@example.org"

[letter]
subject = "The forced repatriation of North Korean refugees"
EOF
cat >"$ONE/templates/letter.md" <<'EOF'
{{format_date date}}

{{recipient.name}}\
{{lines recipient.address}}

**Re: {{letter.subject}}（强制遣返）**

Dear {{recipient.name}},

We write about the people returned against their will.{{footnote "UN Doc. A/HRC/25/63, 7 February 2014."}} 我们呼吁停止强制遣返朝鲜难民。 We ask you to convey our concern.

Yours sincerely,

Ada Advocate
EOF
python3 - "$ONE/recipients.toml" "$N" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write(f'[[recipient]]\nid = "r-{i:06d}"\nname = "Recipient {i}"\naddress = ["Street {i}", "0150 Oslo", "Norway"]\n\n')
PY
for i in $(seq 1 "$RUNS"); do
  rm -rf "$ONE/out"
  note "(a) $N one-page letters, run $i"
  timed "$WORK/a.$i" "$BIN" -C "$ONE" render --format pdf || { cat "$WORK/a.$i.log" >&2; die "render failed"; }
done
COUNT="$(ls "$ONE/out"/*.pdf | wc -l)"
[ "$COUNT" = "$N" ] || die "$COUNT of $N PDFs written"
PAGES="$(pdfinfo "$ONE/out/r-000001.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')"
[ "$PAGES" = 1 ] || die "the one-page letter has $PAGES pages"

# --- (b) the built-in campaign's letters --------------------------------------------------------
note "(b) generating $N_ROOT recipients of the built-in campaign"
python3 "$ROOT/bench/gen_recipients.py" "$N_ROOT" "$WORK/root" >/dev/null
for i in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/root/out"
  note "(b) built-in campaign, run $i"
  timed "$WORK/b.$i" "$BIN" -C "$WORK/root" render --format pdf || { cat "$WORK/b.$i.log" >&2; die "render failed"; }
done
ROOT_PAGES="$(for f in "$WORK"/root/out/r-00000[1-4].pdf; do pdfinfo "$f" 2>/dev/null | awk '/^Pages:/ {print $2}'; done | tr '\n' ' ')"

# --- (c) combined -------------------------------------------------------------------------------
for i in $(seq 1 "$RUNS"); do
  rm -rf "$ONE/out"
  note "(c) $N one-page letters --combined, run $i"
  timed "$WORK/c.$i" "$BIN" -C "$ONE" render --format pdf --combined || { cat "$WORK/c.$i.log" >&2; die "render failed"; }
done
COMBINED_PAGES="$(pdfinfo "$ONE/out/letters.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')"
[ "$COMBINED_PAGES" = "$N" ] || die "letters.pdf has $COMBINED_PAGES pages, not $N"

# --- (d) build cost -----------------------------------------------------------------------------
BUILD_LINE=""
if [ "${BUILD:-0}" = 1 ]; then
  T="$WORK/target"
  note "(d) clean release build without PDF"
  s=$(date +%s); (cd "$ROOT" && CARGO_TARGET_DIR="$T/no-pdf" cargo build --release --quiet --no-default-features); e=$(date +%s)
  NOPDF=$((e - s))
  note "(d) clean release build with PDF"
  s=$(date +%s); (cd "$ROOT" && CARGO_TARGET_DIR="$T/pdf" cargo build --release --quiet); e=$(date +%s)
  WITHPDF=$((e - s))
  SIZE_NO=$(( $(stat -c %s "$T/no-pdf/release/lettermerge") / 1048576 ))
  SIZE_PDF=$(( $(stat -c %s "$T/pdf/release/lettermerge") / 1048576 ))
  BUILD_LINE="(d) clean release build: ${NOPDF} s without PDF, ${WITHPDF} s with (+$((WITHPDF - NOPDF)) s); binary ${SIZE_NO} MB -> ${SIZE_PDF} MB"
fi

# --- report -------------------------------------------------------------------------------------
read -r AW AM AC <<<"$(median "$WORK/a")"
read -r BW BM BC <<<"$(median "$WORK/b")"
read -r CW CM CC <<<"$(median "$WORK/c")"
verdict() { python3 -c "import sys; print('PASS' if float(sys.argv[1]) <= float(sys.argv[2]) else 'MISS')" "$1" "$2"; }
echo
echo "lettermerge render --format pdf, $(nproc) CPUs, median of $RUNS"
echo "(a) $N one-page letters (footnote, Chinese): ${AW} s wall ($(verdict "$AW" 5) <= 5 s), peak RSS $((AM / 1024)) MB ($(verdict "$((AM / 1024))" 300) <= 300 MB), ${AC} s CPU"
echo "(b) $N_ROOT letters of the built-in campaign (pages of the first four: $ROOT_PAGES): ${BW} s wall, peak RSS $((BM / 1024)) MB, ${BC} s CPU"
echo "(c) (a) with --combined ($COMBINED_PAGES pages in letters.pdf): ${CW} s wall, peak RSS $((CM / 1024)) MB, ${CC} s CPU"
[ -z "$BUILD_LINE" ] || echo "$BUILD_LINE"
