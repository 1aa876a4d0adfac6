#!/usr/bin/env bash
# Benchmark `lettermerge send` against the figures of the issue, on Postfix's smtp-sink:
#   (a) N=10,000 letters over SMTP to smtp-sink on 127.0.0.1, journal durable (WAL,
#       synchronous=FULL), no rate limit              target >= 5x Python mailmerge 2.3's rate
#   (b) the same run                                  target >= 0.30x `smtp-source -s 8 -d`
# smtp-sink and smtp-source come from Debian's postfix package, unpacked (no daemon, nothing
# installed). Every run of every program goes to the same sink, and the ratios are taken within
# each run (lettermerge, smtp-source and mailmerge are timed one after the other, RUNS times).
#
# Placement: smtp-sink is pinned to SINK_CPU (1), every client to CLIENT_CPU (0). Unpinned,
# single-connection figures swing 5x with which core each process lands on.
#
# Environment:
#   N=10000          letters (every generated recipient has an email: gen_recipients --all-email)
#   RUNS=3           runs of each
#   CONNECTIONS=8    [smtp] connections for lettermerge
#   PORT=...         the sink's port (default: a free port picked at start)
#   CLIENT_CPU=0     CPU(s) for lettermerge, smtp-source and mailmerge (a taskset -c list)
#   SINK_CPU=1       CPU for smtp-sink
#   NO_TASKSET=1     do not pin anything
#   MAILMERGE=0      skip Python mailmerge (default: run it, best effort: skipped if pip cannot
#                    install it)
#   SIZED=0          skip the extra smtp-source run with messages as big as lettermerge's
#   POSTFIX_DIR=...  an already unpacked postfix package tree (holding usr/sbin/smtp-sink)
#   LETTERMERGE=...  a lettermerge binary to time instead of building target/release/lettermerge
#   BENCH_DIR=...    work dir (default: a new temp dir, removed at the end unless KEEP=1)
#
# Exits non-zero if something fails to run: the download, the build, the sink, a timed run, or a
# run whose letters did not all reach the sink. A missed target only prints MISS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-10000}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-8}"
CLIENT_CPU="${CLIENT_CPU:-0}"
SINK_CPU="${SINK_CPU:-1}"
MAILMERGE="${MAILMERGE:-1}"
SIZED="${SIZED:-1}"

die() { echo "send.sh: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }

# --- work dir and cleanup -----------------------------------------------------------------------
SINK_PID=""
CLEAN_WORK=0
cleanup() {
  if [ -n "$SINK_PID" ] && kill -0 "$SINK_PID" 2>/dev/null; then
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
  fi
  if [ "$CLEAN_WORK" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
if [ -n "${BENCH_DIR:-}" ]; then
  WORK="$BENCH_DIR"
  mkdir -p "$WORK"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/lettermerge-send-bench.XXXXXX")"
  [ "${KEEP:-0}" = 1 ] || CLEAN_WORK=1
fi
WORK="$(cd "$WORK" && pwd)"

# --- smtp-sink and smtp-source ------------------------------------------------------------------
# shellcheck source=bench/postfix.sh
. "$ROOT/bench/postfix.sh"

# --- build and data -----------------------------------------------------------------------------
if [ -n "${LETTERMERGE:-}" ]; then
  BIN="$LETTERMERGE"
  note "using $BIN (no build)"
else
  note "cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/lettermerge"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

CAMP="$WORK/campaign"
note "generating $N recipients, all with email, in $CAMP"
python3 "$ROOT/bench/gen_recipients.py" --all-email "$N" "$CAMP" || die "generating data failed"

if [ -z "${PORT:-}" ]; then
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
cat >>"$CAMP/lettermerge.toml" <<EOF

[smtp]
host = "127.0.0.1"
port = $PORT
security = "none"
connections = $CONNECTIONS
retries = 3
EOF

# The size of a letter on the wire: the .eml of a sample (the language cycles every 4, the
# optional keys every 2 to 13 recipients, so 396 recipients are representative).
SAMPLE="$WORK/sample"
python3 "$ROOT/bench/gen_recipients.py" --all-email 396 "$SAMPLE" 2>/dev/null || die "generating the sample failed"
"$BIN" -C "$SAMPLE" render --format eml --out "$SAMPLE/out" >/dev/null 2>&1 || die "render --format eml failed"
MSG_BYTES="$(find "$SAMPLE/out" -name '*.eml' -printf '%s\n' | awk '{s += $1} END {printf "%d", s / NR}')"
RCPTS="$(python3 -c '
import sys, tomllib
r = tomllib.load(open(sys.argv[1], "rb"))["recipient"]
print("%.2f" % (sum(1 + len(x.get("cc", [])) for x in r) / len(r)))' "$CAMP/recipients.toml")"

# --- pinning and the sink -----------------------------------------------------------------------
PIN_CLIENT=()
PIN_SINK=()
if [ "${NO_TASKSET:-0}" != 1 ] && command -v taskset >/dev/null \
   && taskset -c "$CLIENT_CPU" true 2>/dev/null && taskset -c "$SINK_CPU" true 2>/dev/null; then
  PIN_CLIENT=(taskset -c "$CLIENT_CPU")
  PIN_SINK=(taskset -c "$SINK_CPU")
  PLACEMENT="clients pinned to CPU $CLIENT_CPU, smtp-sink to CPU $SINK_CPU (taskset)"
else
  PLACEMENT="NOT pinned: single-connection figures can swing 5x with the cores chosen"
fi

start_sink "$PORT" "$WORK/sink.log" "${PIN_SINK[@]}"

# The sink's running count of messages received (-c prints "sess=… quit=… mesg=…" with \r).
sink_count() {
  sleep 0.2
  tr '\r' '\n' <"$WORK/sink.log" | grep -o 'mesg=[0-9]*' | tail -n 1 | cut -d= -f2 | grep . || echo 0
}

# --- Python mailmerge 2.3 (best effort) ---------------------------------------------------------
MM_OK=0
MM_DRY=""
MMW="$WORK/mailmerge"
if [ "$MAILMERGE" = 1 ]; then
  note "mailmerge: install and convert the campaign with bench/mailmerge.sh (it also times one --dry-run)"
  if BENCH_DIR="$MMW" CAMPAIGN="$CAMP" RUNS=1 CPUS="$CLIENT_CPU" NO_TASKSET="${NO_TASKSET:-0}" \
       bash "$ROOT/bench/mailmerge.sh" >"$MMW.out" 2>"$MMW.err"; then
    MM_OK=1
    MM_VERSION="$("$MMW/venv/bin/pip" show mailmerge 2>/dev/null | awk '/^Version:/ {print $2}')"
    MM_DRY="$(awk '/^mailmerge --dry-run/ {print $7}' "$MMW.out")"   # "… best X s  median Y s …"
    cat >"$MMW/mm/mailmerge_server.conf" <<EOF
[smtp_server]
host = 127.0.0.1
port = $PORT
security = Never
ratelimit = 0
EOF
  else
    tail -n 3 "$MMW.err" >&2
    note "mailmerge could not be set up: skipped (the issue measured 750-1,000/s on this sink)"
  fi
fi

# --- timing -------------------------------------------------------------------------------------
GNU_TIME=""
if [ -x /usr/bin/time ] && /usr/bin/time -f '%e' -o /dev/null true 2>/dev/null; then
  GNU_TIME=/usr/bin/time
fi

# timed RESULT LOG cmd...: runs cmd (stdout to /dev/null, stderr to LOG);
# RESULT gets "wall_s user_s sys_s" (user/sys "-" without GNU time).
timed() {
  local result="$1" log="$2" t0 t1 rc=0
  shift 2
  sync
  t0=$EPOCHREALTIME
  if [ -n "$GNU_TIME" ]; then
    "$GNU_TIME" -o "$result.cpu" -f '%U %S' "$@" >/dev/null 2>"$log" || rc=$?
  else
    "$@" >/dev/null 2>"$log" || rc=$?
    echo "- -" >"$result.cpu"
  fi
  t1=$EPOCHREALTIME
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}') $(tail -n 1 "$result.cpu")" >"$result"
  return $rc
}

# The sink's CPU time so far, in clock ticks: how busy it was while a client ran.
sink_ticks() { awk '{print $14 + $15}' "/proc/$SINK_PID/stat"; }
TICK_HZ="$(getconf CLK_TCK)"

clear_journal() { rm -f "$CAMP"/lettermerge-journal.sqlite "$CAMP"/lettermerge-journal.sqlite-*; }

# expect_sink NAME RUN BEFORE EXPECTED: the sink must have received EXPECTED more messages.
expect_sink() {
  local got=$(( $(sink_count) - $3 ))
  [ "$got" = "$4" ] || die "run $2 of $1: the sink received $got messages, expected $4"
}

: >"$WORK/runs"   # one line per run: i lm_wall prep_wall lm_sent src_wall sized_wall mm_wall lm_user lm_sys lm_sending, then the sink's CPU ticks during lm, src, sized
note "timing, $RUNS runs each; $PLACEMENT"
LM_ODD=""
for i in $(seq 1 "$RUNS"); do
  # prepare: send --dry-run merges and builds every letter and opens the journal, sends nothing
  clear_journal
  timed "$WORK/prep.$i" "$WORK/prep.$i.log" "${PIN_CLIENT[@]}" "$BIN" -C "$CAMP" send --dry-run \
    || { tail -n 5 "$WORK/prep.$i.log" >&2; die "run $i: send --dry-run failed"; }
  clear_journal

  before=$(sink_count)
  rc=0
  t_lm=$(sink_ticks)
  timed "$WORK/lm.$i" "$WORK/lm.$i.log" "${PIN_CLIENT[@]}" "$BIN" -C "$CAMP" send --yes || rc=$?
  t_lm=$(( $(sink_ticks) - t_lm ))
  summary="$(grep -E '^sent [0-9]+, [0-9]+ not sent' "$WORK/lm.$i.log" | tail -n 1 || true)"
  [ -n "$summary" ] || { tail -n 5 "$WORK/lm.$i.log" >&2; die "run $i: lettermerge send failed (exit $rc, no summary)"; }
  sent=$(echo "$summary" | awk '{print $2 + 0}')
  # The sending itself, on lettermerge's own clock: "sent N, 0 not sent in 0.82 s (…)".
  sending=$(echo "$summary" | sed -n 's/.* not sent in \([0-9.]*\) s.*/\1/p')
  [ -n "$sending" ] || sending=-
  if [ "$rc" != 0 ] || [ "$sent" != "$N" ] || [ "$(wc -l <"$WORK/lm.$i.log")" != 1 ]; then
    LM_ODD+="   run $i: exit $rc, \"$summary\"; $(( $(wc -l <"$WORK/lm.$i.log") - 1 )) other lines in $WORK/lm.$i.log"$'\n'
  fi
  expect_sink lettermerge "$i" "$before" "$sent"
  [ -f "$CAMP/lettermerge-journal.sqlite" ] || die "run $i: lettermerge wrote no journal"

  before=$(sink_count)
  t_src=$(sink_ticks)
  timed "$WORK/src.$i" "$WORK/src.$i.log" "${PF_ENV[@]}" "${PIN_CLIENT[@]}" \
    "$SOURCE" -s 8 -d -m "$N" -c -f from@example.org -t to@example.org "127.0.0.1:$PORT" \
    || { tail -c 300 "$WORK/src.$i.log" >&2; die "run $i: smtp-source failed"; }
  t_src=$(( $(sink_ticks) - t_src ))
  expect_sink smtp-source "$i" "$before" "$N"

  if [ "$SIZED" = 1 ]; then
    before=$(sink_count)
    t_sz=$(sink_ticks)
    timed "$WORK/sized.$i" "$WORK/sized.$i.log" "${PF_ENV[@]}" "${PIN_CLIENT[@]}" \
      "$SOURCE" -s 8 -d -m "$N" -l "$MSG_BYTES" -c -f from@example.org -t to@example.org "127.0.0.1:$PORT" \
      || { tail -c 300 "$WORK/sized.$i.log" >&2; die "run $i: smtp-source -l failed"; }
    t_sz=$(( $(sink_ticks) - t_sz ))
    expect_sink "smtp-source -l" "$i" "$before" "$N"
  fi

  if [ "$MM_OK" = 1 ]; then
    before=$(sink_count)
    timed "$WORK/mm.$i" "$WORK/mm.$i.log" "${PIN_CLIENT[@]}" "$MMW/venv/bin/mailmerge" \
      --template "$MMW/mm/mailmerge_template.txt" --database "$MMW/mm/mailmerge_database.csv" \
      --config "$MMW/mm/mailmerge_server.conf" --no-dry-run --no-limit --output-format raw \
      || { tail -n 5 "$WORK/mm.$i.log" >&2; die "run $i: mailmerge failed"; }
    expect_sink mailmerge "$i" "$before" "$N"
  fi

  read -r lmw lmu lms <"$WORK/lm.$i"
  prw=$(cut -d' ' -f1 "$WORK/prep.$i")
  srw=$(cut -d' ' -f1 "$WORK/src.$i")
  szw=$([ "$SIZED" = 1 ] && cut -d' ' -f1 "$WORK/sized.$i" || echo -)
  mmw=$([ "$MM_OK" = 1 ] && cut -d' ' -f1 "$WORK/mm.$i" || echo -)
  [ "$SIZED" = 1 ] || t_sz=-
  echo "$i $lmw $prw $sent $srw $szw $mmw $lmu $lms $sending $t_lm $t_src $t_sz" >>"$WORK/runs"
  echo "   run $i: lettermerge $lmw s (prepare $prw s, sent $sent, cpu ${lmu}u ${lms}s)," \
       "smtp-source $srw s, sized $szw s, mailmerge $mmw s" >&2
done
clear_journal

# --- report -------------------------------------------------------------------------------------
echo
echo "lettermerge send: $N letters (~$MSG_BYTES bytes each, $RCPTS RCPT on average) to Postfix ${PF_VERSION:-?} smtp-sink on 127.0.0.1:$PORT"
echo "  [smtp] connections = $CONNECTIONS, no rate limit; journal durable (WAL, synchronous=FULL), deleted before each run"
echo "  $PLACEMENT; $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$MM_OK" = 1 ] && echo "  mailmerge $MM_VERSION: one SMTP connection per message, same letters (text only), same envelopes"
echo
python3 - "$WORK/runs" "$N" "$MM_OK" "$SIZED" "$MSG_BYTES" "${MM_DRY:-}" "$TICK_HZ" <<'PY'
import statistics, sys
hz = float(sys.argv[7])

rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
n, mm_ok, sized, msg_bytes, mm_dry = int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1", int(sys.argv[5]), sys.argv[6]
f = lambda x: None if x == "-" else float(x)
runs = []
for r in rows:
    i, lmw, prw, sent, srw, szw, mmw = r[0], f(r[1]), f(r[2]), int(r[3]), f(r[4]), f(r[5]), f(r[6])
    runs.append({
        "lm": sent / lmw,
        "lm_x": sent / (lmw - prw) if lmw > prw else float("nan"),
        "lm_s": sent / f(r[9]) if f(r[9]) else None,
        "prep": prw, "lmw": lmw,
        "src": n / srw,
        "sized": n / szw if szw else None,
        "mm": n / mmw if mmw else None,
    })

def line(label, key, unit="/s", fmt="{:>9,.0f}"):
    vals = [r[key] for r in runs if r[key] is not None]
    if not vals:
        print(f"{label:<44} {'not run':>9}")
        return
    best = min(vals) if unit == " s" else max(vals)
    print(f"{label:<44} {fmt.format(best)}{unit:<3} {fmt.format(statistics.median(vals))}{unit}")

print(f"{'':<44} {'best':>12} {'median':>12}")
line("lettermerge send, end to end", "lm")
line("lettermerge send, excluding prepare", "lm_x")
line("lettermerge send, sending (its own clock)", "lm_s")
line("  prepare (send --dry-run wall)", "prep", " s", "{:>9.2f}")
line("  send wall", "lmw", " s", "{:>9.2f}")
line("smtp-source -s 8 -d (default message)", "src")
if sized:
    line(f"smtp-source -s 8 -d -l {msg_bytes} (info)", "sized")
line("mailmerge --no-dry-run (new conn. per letter)", "mm")
if mm_dry:
    print(f"{'mailmerge --dry-run (info, 1 run)':<44} {n / float(mm_dry):>9,.0f}/s")

print()
print("per run (ratios within the same run):")
hdr = f"{'run':>4} {'lm e2e/s':>9} {'lm send/s':>9} {'sending/s':>9} {'source/s':>9} {'mailmerge/s':>11}  {'vs mm e2e':>9} {'vs mm send':>10}  {'vs src e2e':>10} {'vs src send':>11} {'vs src sending':>14}"
print(hdr)
for k, r in enumerate(runs, 1):
    vm = f"{r['lm'] / r['mm']:>8.1f}x {r['lm_x'] / r['mm']:>9.1f}x" if r["mm"] else f"{'-':>9} {'-':>10}"
    mm = f"{r['mm']:>11,.0f}" if r["mm"] else f"{'-':>11}"
    sending = f"{r['lm_s']:>9,.0f}" if r["lm_s"] else f"{'-':>9}"
    vs_sending = f"{r['lm_s'] / r['src']:>14.2f}" if r["lm_s"] else f"{'-':>14}"
    print(f"{k:>4} {r['lm']:>9,.0f} {r['lm_x']:>9,.0f} {sending} {r['src']:>9,.0f} {mm}  {vm}  "
          f"{r['lm'] / r['src']:>10.2f} {r['lm_x'] / r['src']:>11.2f} {vs_sending}")

print()
# How busy the sink was: its CPU time while each client ran. A sink near 100 % busy is the limit,
# whatever the client; lettermerge's sending is timed on its own clock, smtp-source by its wall.
print("the sink's CPU while each client sent (its busy share of that client's sending time):")
for k, (r, row) in enumerate(zip(runs, rows), 1):
    lm_s = f(row[9])
    parts = [f"lettermerge {float(row[10]) / hz:.2f} s" + (f" ({float(row[10]) / hz / lm_s:.0%})" if lm_s else ""),
             f"smtp-source {float(row[11]) / hz:.2f} s ({float(row[11]) / hz / f(row[4]):.0%})"]
    if sized and row[12] != "-":
        parts.append(f"smtp-source -l {float(row[12]) / hz:.2f} s ({float(row[12]) / hz / f(row[5]):.0%})")
    print(f"  run {k}: " + ", ".join(parts))

print()
def verdict(label, key, ref, target, fmt):
    vals = [r[key] / r[ref] for r in runs if r[ref] and r[key]]
    if not vals:
        note = ""
        if ref == "mm":
            note = f"  (the issue measured mailmerge at 750-1,000/s: {target * 750:,.0f}-{target * 1000:,.0f}/s needed)"
        print(f"{label:<44} {'not run':>9}   target >= {fmt.format(target)}{note}")
        return
    med = statistics.median(vals)
    ok = "PASS" if med >= target else f"MISS x{target / med:.1f}"
    print(f"{label:<44} best {fmt.format(max(vals))}  median {fmt.format(med)}   target >= {fmt.format(target)}  {ok}")
print("targets (judged on the median of the per-run ratios):")
verdict("lettermerge / mailmerge, end to end", "lm", "mm", 5, "{:.1f}x")
verdict("lettermerge / mailmerge, excluding prepare", "lm_x", "mm", 5, "{:.1f}x")
verdict("lettermerge / smtp-source, end to end", "lm", "src", 0.30, "{:.2f}")
verdict("lettermerge / smtp-source, sending", "lm_s", "src", 0.30, "{:.2f}")
# Information only: the sending by the difference of two walls (send and dry run) swings with
# the dry run's own noise; the line above times the same sending on the program's own clock.
vals = [r["lm_x"] / r["src"] for r in runs if r["src"]]
if vals:
    print(f"{'(info) lettermerge / smtp-source, excl. prepare':<44} best {max(vals):.2f}  median {statistics.median(vals):.2f}   (wall of send - wall of the dry run)")
PY
if [ -n "$LM_ODD" ]; then
  echo
  echo "lettermerge runs that did not end cleanly:"
  printf '%s' "$LM_ODD"
fi
