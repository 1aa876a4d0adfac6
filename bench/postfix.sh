# Sourced by bench/send.sh and bench/schedule.sh: Postfix's smtp-sink and smtp-source, from
# Debian's postfix package, unpacked into $WORK/postfix (no daemon, nothing installed), or taken
# from POSTFIX_DIR. Needs WORK, die and note from the caller; sets SINK, SOURCE, PF_ENV, pf and
# PF_VERSION, and defines start_sink.

# --- smtp-sink and smtp-source from Debian's postfix package ------------------------------------
if [ -n "${POSTFIX_DIR:-}" ]; then
  PF="$POSTFIX_DIR"
else
  PF="$WORK/postfix"
  if [ ! -x "$PF/usr/sbin/smtp-sink" ]; then
    mkdir -p "$WORK/deb"
    note "apt-get download postfix"
    # As root apt warns that _apt cannot write the folder ("Download is performed unsandboxed");
    # harmless, so its output only goes to a log.
    if ! (cd "$WORK/deb" && apt-get download postfix) >"$WORK/apt.log" 2>&1; then
      note "download failed: apt-get update, then again"
      apt-get update >>"$WORK/apt.log" 2>&1 || true
      (cd "$WORK/deb" && apt-get download postfix) >>"$WORK/apt.log" 2>&1 \
        || { tail -n 5 "$WORK/apt.log" >&2; die "apt-get download postfix failed"; }
    fi
    DEB="$(ls "$WORK"/deb/postfix_*.deb | head -n 1)"
    dpkg -x "$DEB" "$PF" || die "dpkg -x $DEB failed"
  fi
fi
SINK="$PF/usr/sbin/smtp-sink"
SOURCE="$PF/usr/sbin/smtp-source"
[ -x "$SINK" ] && [ -x "$SOURCE" ] || die "no smtp-sink/smtp-source under $PF/usr/sbin"
# They link libpostfix-util.so and libpostfix-global.so, which are in the same package.
PFLIBS="$PF/usr/lib/postfix"
PF_ENV=(env "LD_LIBRARY_PATH=$PFLIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
pf() { "${PF_ENV[@]}" "$@"; }
PF_VERSION="$(zcat "$PF/usr/share/doc/postfix/changelog.Debian.gz" 2>/dev/null | head -n 1 | sed -n 's/^postfix (\([^)]*\)).*/\1/p' || true)"
USAGE="$(pf "$SOURCE" 2>&1 || true)"   # no arguments: prints its usage and exits 1
case "$USAGE" in
  *usage:*) ;;
  *) echo "$USAGE" | head -n 3 >&2; die "smtp-source does not run (missing libraries?)" ;;
esac

# start_sink PORT LOG [PIN...]: smtp-sink on 127.0.0.1:PORT counting messages into LOG; sets
# SINK_PID (the caller kills it on exit).
start_sink() {
  local port="$1" log="$2"
  shift 2
  SINK_ARGS=(-c "127.0.0.1:$port" 1000)
  # -u: the user to drop to after binding; required as root, not allowed otherwise.
  [ "$(id -u)" = 0 ] && SINK_ARGS=(-u nobody "${SINK_ARGS[@]}")
  note "smtp-sink ${SINK_ARGS[*]} (${*:-unpinned})"
  "${PF_ENV[@]}" "$@" "$SINK" "${SINK_ARGS[@]}" >"$log" 2>&1 &
  SINK_PID=$!
  for _ in $(seq 1 50); do
    kill -0 "$SINK_PID" 2>/dev/null || break
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' \
      "$port" 2>/dev/null && break
    sleep 0.1
  done
  if ! kill -0 "$SINK_PID" 2>/dev/null || grep -q "fatal" "$log"; then
    tr '\r' '\n' <"$log" | tail -n 3 >&2
    die "smtp-sink did not start on 127.0.0.1:$port"
  fi
}
