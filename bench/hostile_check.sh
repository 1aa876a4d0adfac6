#!/usr/bin/env bash
# `check` on campaigns made to hurt it (issue 22, item 6): a field name of SIZE characters as a
# TOML key, and the same as a CSV column header, among the root campaign's recipients; and a
# SIZE-character value on one line that `check` must point at (an email address that is not one).
# Each is timed RUNS times on the release binary; the best and the median wall time are printed
# beside the target (1 s), with how many bytes `check` printed (the names must be cut short).
#
# Environment:
#   SIZE=1048576    characters of the long name (1 MB); SIZE=102400 is the issue's 100 KB case
#   RUNS=3          runs of each
#   LETTERMERGE=... the binary to time (default: cargo build --release, target/release/lettermerge)
#   BENCH_DIR=...   where the campaigns go (default: a new temp dir, removed at the end unless
#                   KEEP=1)
#
# Exits non-zero if the build fails or `check` does not end with status 0 or 1 (a crash).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE="${SIZE:-1048576}"
RUNS="${RUNS:-3}"

die() { echo "hostile_check.sh: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }
# shellcheck source=bench/timed.sh
. "$ROOT/bench/timed.sh"
release_binary

WORK="${BENCH_DIR:-$(mktemp -d /tmp/lettermerge-hostile.XXXXXX)}"
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || [ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$WORK"' EXIT

# campaign NAME: a copy of the root campaign's settings and templates in $WORK/NAME.
campaign() {
  local dir="$WORK/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -r "$ROOT/lettermerge.toml" "$ROOT/templates" "$dir/"
  echo "$dir"
}

note "campaigns with a ${SIZE}-character name in $WORK"
python3 - "$(campaign toml-key)" "$(campaign csv-header)" "$(campaign long-line)" "$SIZE" \
  "$ROOT/recipients.toml" <<'PY'
import csv, io, sys, tomllib
toml_dir, csv_dir, line_dir, size, root = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
long = "a" * size
text = open(root, encoding="utf-8").read()

# A TOML key: the first recipient gets `aaaa… = "x"`, a field no template reads.
head, sep, rest = text.partition("[[recipient]]\n")
open(f"{toml_dir}/recipients.toml", "w").write(f'{head}{sep}{long} = "x"\n{rest}')

# A CSV header: the same recipients as a spreadsheet, with a column named `aaaa…`.
recipients = tomllib.loads(text)["recipient"]
columns = ["id", "name", "salutation", "title", "organization", "address", "email", "cc",
           "language", "timezone", long]
out = io.StringIO()
writer = csv.writer(out, lineterminator="\n")
writer.writerow(columns)
for r in recipients:
    row = []
    for c in columns:
        v = r.get(c, "x" if c == long else "")
        row.append("\n".join(v) if c == "address" else ";".join(v) if c == "cc" else v)
    writer.writerow(row)
open(f"{csv_dir}/recipients.csv", "w").write(out.getvalue())
settings = open(f"{csv_dir}/lettermerge.toml").read()
settings = settings.replace("[campaign]\n", '[campaign]\nrecipients = "recipients.csv"\n', 1)
open(f"{csv_dir}/lettermerge.toml", "w").write(settings)

# A long line with an error on it: an email address of SIZE characters.
open(f"{line_dir}/recipients.toml", "w").write(
    text.replace('email = "', f'email = "{long}', 1))
PY
grep -q 'recipients = "recipients.csv"' "$WORK/csv-header/lettermerge.toml" ||
  die "the CSV campaign's settings do not name recipients.csv"

printf '\n%-34s %9s %9s %12s %8s\n' "check of" "best" "median" "printed" "target"
for name in toml-key csv-header long-line; do
  walls=()
  for _ in $(seq "$RUNS"); do
    set +e
    timed "$WORK/$name.time" "$BIN" -C "$WORK/$name" check
    rc=$?
    set -e
    [ "$rc" -le 1 ] || die "check of $name ended with status $rc: $(tail -5 "$WORK/$name.time.log")"
    walls+=("$(cut -d' ' -f1 "$WORK/$name.time")")
  done
  printed=$(wc -c <"$WORK/$name.time.log")
  read -r best median < <(printf '%s\n' "${walls[@]}" | sort -n |
    awk '{ a[NR] = $1 } END { print a[1], a[int((NR + 1) / 2)] }')
  verdict=$(awk -v m="$median" 'BEGIN { print (m <= 1.0) ? "PASS" : sprintf("MISS x%.0f", m / 1.0) }')
  printf '%-34s %8ss %8ss %6s bytes %8s\n' "$name ($SIZE characters)" "$best" "$median" "$printed" \
    "$verdict"
done
echo
note "what check printed for the TOML key (first 20 lines):"
head -20 "$WORK/toml-key.time.log" | cut -c1-200 >&2
