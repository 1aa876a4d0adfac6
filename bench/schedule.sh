#!/usr/bin/env bash
# Benchmark campaign-day scheduling (issue 4) on Postfix's smtp-sink:
#   (a) punctuality: ON_TIME=2000 letters due at one instant; a waiting `send --yes` is started
#       LEAD=3 s before it. From the journal (status --json): how late each letter went out
#       (sent_at - due): first, median, 99th percentile, last. None may go early.
#   (b) cron's cost: `send --due --yes` on N=100000 recipients, 09:00 in each recipient's zone,
#       the day before campaign day (nothing due): the first run records every letter as
#       scheduled, the next ones are what cron repeats every few minutes. Wall time, peak RSS.
#   (c) a waiting run's idle cost: CPU time a `send --yes` uses over IDLE=20 s of waiting.
#
#   bash bench/schedule.sh
#
# Environment: N, ON_TIME, LEAD, IDLE as above; LETTERMERGE=... a binary instead of building
# target/release/lettermerge; POSTFIX_DIR=... an unpacked postfix package; KEEP=1 keeps the work
# dir. Exits non-zero if something fails to run or a letter goes out early or not at all.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-100000}"
ON_TIME="${ON_TIME:-2000}"
LEAD="${LEAD:-3}"
IDLE="${IDLE:-20}"

die() { echo "schedule.sh: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }

SINK_PID=""
WAIT_PID=""
WORK="$(mktemp -d "${TMPDIR:-/tmp}/lettermerge-schedule-bench.XXXXXX")"
cleanup() {
  for pid in "$SINK_PID" "$WAIT_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/postfix.sh
. "$ROOT/bench/postfix.sh"

# shellcheck source=bench/timed.sh
. "$ROOT/bench/timed.sh"
release_binary

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
start_sink "$PORT" "$WORK/sink.log"

# campaign DIR COUNT: a generated campaign, every recipient with email, sending to the sink.
campaign() {
  python3 "$ROOT/bench/gen_recipients.py" --all-email "$2" "$1" >/dev/null || die "generating $2 recipients failed"
  cat >>"$1/lettermerge.toml" <<EOF

[smtp]
host = "127.0.0.1"
port = $PORT
security = "none"
connections = 8
EOF
}

# --- (a) punctuality ----------------------------------------------------------------------------
A="$WORK/on-time"
campaign "$A" "$ON_TIME"
DUE="2026-12-10T09:00:00+01:00"
START="$(python3 -c "
from datetime import datetime, timedelta
print((datetime.fromisoformat('$DUE') - timedelta(seconds=$LEAD)).isoformat())")"
note "(a) $ON_TIME letters due at $DUE; send --yes started at $START"
LETTERMERGE_NOW="$START" timed "$WORK/a.time" "$BIN" -C "$A" send --yes --at "$DUE" \
  || { cat "$WORK/a.time.log" >&2; die "the waiting send failed"; }
LETTERMERGE_NOW="$DUE" "$BIN" -C "$A" status --json >"$WORK/a.json" || die "status failed"
PUNCTUAL="$(python3 - "$WORK/a.json" "$DUE" "$ON_TIME" <<'PY'
import json, sys
from datetime import datetime
rows, due, n = json.load(open(sys.argv[1])), datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
late = sorted((datetime.fromisoformat(r["sent_at"]) - due).total_seconds() for r in rows if r["state"] == "sent")
if len(late) != n:
    sys.exit(f"{len(late)} of {n} letters were sent")
if late[0] < 0:
    sys.exit(f"a letter went {-late[0]:.3f} s early")
q = lambda p: late[min(len(late) - 1, int(p * len(late)))]
print(f"first {late[0]:.3f} s, median {q(0.5):.3f} s, p99 {q(0.99):.3f} s, last {late[-1]:.3f} s after due")
PY
)" || die "punctuality: $PUNCTUAL"

# --- (b) cron's cost ----------------------------------------------------------------------------
B="$WORK/cron"
note "(b) generating $N recipients"
campaign "$B" "$N"
cat >>"$B/lettermerge.toml" <<EOF

[schedule]
at = "2026-12-10T09:00"
zone = "recipient"
EOF
EVE="2026-12-09T12:00:00+01:00"
note "(b) send --due --yes on $EVE: first run"
LETTERMERGE_NOW="$EVE" timed "$WORK/b1.time" "$BIN" -C "$B" send --due --yes \
  || { cat "$WORK/b1.time.log" >&2; die "send --due failed"; }
for i in 1 2 3; do
  note "(b) send --due --yes on $EVE: cron's repeat $i"
  LETTERMERGE_NOW="$EVE" timed "$WORK/b2.$i.time" "$BIN" -C "$B" send --due --yes \
    || { cat "$WORK/b2.$i.time.log" >&2; die "send --due failed"; }
done
SCHEDULED="$(LETTERMERGE_NOW="$EVE" "$BIN" -C "$B" status --json | python3 -c '
import json, sys; print(sum(r["state"] == "scheduled" for r in json.load(sys.stdin)))')"
[ "$SCHEDULED" = "$N" ] || die "$SCHEDULED of $N letters are scheduled"

# --- (c) idle cost ------------------------------------------------------------------------------
FIRST="r-000001"
note "(c) a waiting send, $IDLE s"
LETTERMERGE_NOW="$EVE" "$BIN" -C "$B" send --yes --at "2026-12-11T09:00" --only "$FIRST" \
  >/dev/null 2>"$WORK/c.log" &
WAIT_PID=$!
sleep 2
TICKS="$(getconf CLK_TCK)"
cpu() { awk '{print $14 + $15}' "/proc/$WAIT_PID/stat"; }
C0="$(cpu)"
sleep "$IDLE"
C1="$(cpu)"
kill -INT "$WAIT_PID"
wait "$WAIT_PID" 2>/dev/null || true
WAIT_PID=""
IDLE_CPU="$(python3 -c "print(f'{($C1 - $C0) / $TICKS:.3f}')")"

# --- report -------------------------------------------------------------------------------------
read -r AW AM AC <"$WORK/a.time"
read -r B1W B1M B1C <"$WORK/b1.time"
B2="$(for i in 1 2 3; do cat "$WORK/b2.$i.time"; done | sort -n | sed -n 2p)"
read -r B2W B2M B2C <<<"$B2"
echo
echo "lettermerge scheduling, $(nproc) CPUs; smtp-sink (Postfix ${PF_VERSION:-?}) on 127.0.0.1"
echo "(a) $ON_TIME letters due at one instant, waiting run started $LEAD s before:"
echo "    $PUNCTUAL; whole run ${AW} s wall, ${AC} s CPU, peak RSS $((AM / 1024)) MB"
echo "(b) send --due on $N recipients, nothing due yet:"
echo "    first run (records $N letters as scheduled): ${B1W} s wall, ${B1C} s CPU, peak RSS $((B1M / 1024)) MB"
echo "    cron's repeat (median of 3):                 ${B2W} s wall, ${B2C} s CPU, peak RSS $((B2M / 1024)) MB"
echo "(c) a waiting run uses ${IDLE_CPU} s of CPU over ${IDLE} s"
