#!/usr/bin/env bash
# Peak memory and time of `send` against a hostile SMTP server (tests/system/hostile_smtp.py) that
# floods instead of answering: a greeting with no line end, an endless multi-line reply, a 1 MB
# EHLO line. Issue 22's figure: peak RSS under 100 MB against the endless line.
#
#   bash bench/hostile_smtp.sh                 # the release build (built if missing)
#   BIN=/path/to/lettermerge bash bench/hostile_smtp.sh   # another binary, to compare
#
# Loopback only; each flood is bounded (2 GB a connection) and the server ends with this script.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release/lettermerge}
[ -n "${BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT
mkdir -p "$work/campaign/templates"
cat > "$work/campaign/templates/letter.md" <<'LETTER'
Dear {{recipient.name}},

We write to you about {{letter.subject}}.
LETTER
cat > "$work/campaign/recipients.toml" <<'RECIPIENTS'
[[recipient]]
id = "alice"
name = "Alice Ambassador"
email = "alice@example.org"
RECIPIENTS
printf 'mode\tpeak RSS\twall\texit\twhat it said\n'
for mode in no-line-end endless-reply huge-ehlo; do
  coproc SERVER { exec python3 tests/system/hostile_smtp.py "$mode"; }
  read -r _ port <&"${SERVER[0]}"
  cat > "$work/campaign/lettermerge.toml" <<SETTINGS
[campaign]
id = "hostile"
[sender]
name = "Ada"
email = "ada@example.org"
[letter]
subject = "Free the prisoners"
[smtp]
host = "127.0.0.1"
port = $port
security = "none"
connections = 4
retries = 1
backoff_ms = 10
SETTINGS
  rm -f "$work/campaign"/lettermerge-journal.*
  set +e
  /usr/bin/time -f '%M %e' -o "$work/time" timeout 120 "$bin" -C "$work/campaign" send --yes 2>"$work/err"
  status=$?
  set -e
  read -r rss wall < <(tail -1 "$work/time")
  said=$(grep -m1 -o 'alice: .*' "$work/err" | cut -c1-100 || true)
  printf '%s\t%d MB\t%s s\t%s\t%s\n' "$mode" $((rss / 1024)) "$wall" "$status" "$said"
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
done
