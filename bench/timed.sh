# Sourced by bench/schedule.sh and bench/pdf.sh (which define ROOT, die and note first).

# release_binary: sets BIN to $LETTERMERGE when given, else builds and uses the release binary.
release_binary() {
  if [ -n "${LETTERMERGE:-}" ]; then
    BIN="$LETTERMERGE"
  else
    note "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/lettermerge"
  fi
  [ -x "$BIN" ] || die "no binary at $BIN"
}

# timed RESULT cmd...: runs cmd (stdout dropped, stderr to RESULT.log); RESULT gets
# "wall_s maxrss_kb cpu_s" (CPU = user + system of the command and its children).
timed() {
  local result="$1"
  shift
  python3 - "$result" "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1] + ".log", "w"))
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{wall:.2f} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime:.2f}\n")
sys.exit(rc)
PY
}
