#!/usr/bin/env bash
# Best effort: Python mailmerge 2.3 (https://github.com/awdeorio/mailmerge) side by side with
# lettermerge, in dry-run, on the same synthetic recipients.
#
# Installs mailmerge==2.3.* into a venv under the work dir, converts the campaign to mailmerge's
# own format (a CSV database and one Jinja template that holds the en/fr/ko/zh letters, with the
# partials, footnotes, demands and signers of the real templates expanded in place), then times
#   mailmerge --no-limit --dry-run --output-format raw > /dev/null
# mailmerge is single-threaded and builds an email.message per recipient; it writes no files.
#
# Environment:
#   N=100000        recipients
#   RUNS=1          timed runs (the median and best are printed when more than one)
#   BENCH_DIR=...   work dir (default: a new temp dir, removed at the end unless KEEP=1)
#   CAMPAIGN=DIR    reuse a campaign made by gen_recipients.py (its recipients.csv) instead of
#                   generating N recipients
#   NO_TASKSET=1    do not pin to CPUs 0,1
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-100000}"
RUNS="${RUNS:-1}"
CPUS="${CPUS:-0,1}"
die() { echo "mailmerge.sh: $*" >&2; exit 1; }

if [ -n "${BENCH_DIR:-}" ]; then
  WORK="$BENCH_DIR"
  mkdir -p "$WORK"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/mailmerge-bench.XXXXXX")"
  if [ "${KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$WORK"' EXIT
  fi
fi

# --- mailmerge in a venv ------------------------------------------------------------------------
VENV="$WORK/venv"
if [ ! -x "$VENV/bin/mailmerge" ]; then
  echo "== installing mailmerge 2.3 into $VENV" >&2
  python3 -m venv "$VENV" || die "python3 -m venv failed"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mailmerge==2.3.*" \
    || die "pip install mailmerge==2.3.* failed (no network?)"
fi
MM_VERSION="$("$VENV/bin/pip" show mailmerge 2>/dev/null | awk '/^Version:/ {print $2}')"

# --- data ---------------------------------------------------------------------------------------
if [ -n "${CAMPAIGN:-}" ]; then
  SRC="$CAMPAIGN"
else
  SRC="$WORK/campaign"
  echo "== generating $N recipients in $SRC" >&2
  python3 "$ROOT/bench/gen_recipients.py" "$N" "$SRC" || die "generating data failed"
fi
[ -f "$SRC/recipients.csv" ] || die "$SRC has no recipients.csv"

MM="$WORK/mm"
mkdir -p "$MM"
echo "== converting $SRC to mailmerge's format in $MM" >&2
python3 - "$SRC" "$MM" <<'PY' || die "conversion failed"
"""lettermerge campaign -> mailmerge_database.csv + mailmerge_template.txt + mailmerge_server.conf"""
import csv
import re
import sys
import tomllib
from pathlib import Path

src, out = Path(sys.argv[1]), Path(sys.argv[2])
settings = tomllib.loads((src / "lettermerge.toml").read_text(encoding="utf-8"))
sender, letter = settings["sender"], settings["letter"]
date = settings["campaign"]["date"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre"]
DATES = {
    "en": f"{date.day} {MONTHS_EN[date.month - 1]} {date.year}",
    "fr": f"{date.day} {MONTHS_FR[date.month - 1]} {date.year}",
    "ko": f"{date.year}년 {date.month}월 {date.day}일",
    "zh": f"{date.year}年{date.month}月{date.day}日",
}
JOIN = {"en": (", ", " and "), "fr": (", ", " et "), "ko": (", ", " 및 "), "zh": ("、", "和")}
SLOT = re.compile(r"{{\s*([^}]*?)\s*}}")


def partial(name):
    return (src / "templates" / "partials" / f"{name}.md").read_text(encoding="utf-8")


def jinja_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expand_each_signers(text, lang):
    """{{#each letter.signers}}…{{/each}}: the signers are campaign constants, so expand them."""
    def repl(m):
        body, parts = m.group(1), []
        for s in letter.get("signers", []):
            b = re.sub(r"{{#if (\w+)}}(.*?){{/if}}",
                       lambda m2: m2.group(2) if s.get(m2.group(1)) else "", body, flags=re.S)
            b = re.sub(r"{{(\w+)}}", lambda m2: s.get(m2.group(1), ""), b)
            parts.append(b)
        return "".join(parts)
    return re.sub(r"{{#each letter\.signers}}(.*?){{/each}}", repl, text, flags=re.S)


def convert(text, lang):
    text = re.sub(r"{{!--.*?--}}\n?", "", text, flags=re.S)
    # A standalone partial line is replaced by the partial (which ends with its own newline).
    text = re.sub(r"^{{>\s*(\w+)\s*}}\n", lambda m: partial(m.group(1)), text, flags=re.M)
    text = re.sub(r"{{>\s*(\w+)\s*}}", lambda m: partial(m.group(1)).rstrip("\n"), text)
    # Handlebars drops a line that holds only a block tag ({{#if}}, {{else}}, {{/each}} …).
    text = re.sub(r"^[ \t]*({{(?:[#/][^}]*|else)}})[ \t]*\n", r"\1", text, flags=re.M)
    text = expand_each_signers(text, lang)
    notes = []

    def footnote(m):
        notes.append(m.group(1))
        return f"[^{len(notes)}]"
    text = re.sub(r"{{#footnote}}(.*?){{/footnote}}", footnote, text, flags=re.S)

    def slot(m):
        s = m.group(1)
        if s.startswith("#if recipient."):
            return "{% if " + s[len("#if recipient."):] + " %}"
        if s == "else":
            return "{% else %}"
        if s == "/if":
            return "{% endif %}"
        if s == "format_date date":
            return DATES[lang]
        if s == "letter.subject":
            return "{{ letter_subject or " + jinja_str(letter["subject"]) + " }}"
        if s == "letter.closing":
            return letter.get("closing", "")
        if s.startswith("enumerate letter.demands"):
            return "\n".join(f"{i}. {d}" for i, d in enumerate(letter["demands"], 1))
        if s.startswith("sender."):
            return str(sender[s[len("sender."):]])
        if s == "lines sender.address":
            return "\\\n".join(sender["address"])
        if s == "lines recipient.address":
            return '{{ address | replace("\\n", "\\\\\\n") }}'
        if s == "join recipient.cc":  # "A, B and C" with the language's words, like {{join}}
            sep, conj = JOIN.get(lang, JOIN["en"])
            return ('{% set l = cc.split(";") %}{{ l[:-1] | join(' + jinja_str(sep) + ') ~ '
                    + jinja_str(conj) + ' ~ l[-1] if l | length > 1 else l[0] }}')
        if s.startswith("recipient."):
            return "{{ " + s[len("recipient."):] + " }}"
        raise SystemExit(f"cannot convert {{{{{s}}}}} in the {lang} template")
    text = SLOT.sub(slot, text)
    if notes:
        if not re.sub(r"({%[^%]*%})+$", "", text).endswith("\n"):
            text += "\n"
        text += "\n" + "\n".join(f"[^{i}]: {n}\n" for i, n in enumerate(notes, 1))
    return text


bodies = {}
for lang, name in [("en", "letter.md"), ("fr", "letter.fr.md"), ("ko", "letter.ko.md"),
                   ("zh", "letter.zh.md")]:
    bodies[lang] = convert((src / "templates" / name).read_text(encoding="utf-8"), lang)

subject = "{{ letter_subject or " + jinja_str(letter["subject"]) + " }}"
template = (
    'TO: {{ email or "print-only@example.invalid" }}\n'
    f"SUBJECT: {subject}\n"
    f'FROM: {sender["name"]} <{sender["email"]}>'
    '{% if cc %}\nCC: {{ cc | replace(";", ", ") }}{% endif %}\n'
    "\n"
    '{% if language == "fr" %}' + bodies["fr"]
    + '{% elif language == "ko" %}' + bodies["ko"]
    + '{% elif language == "zh" %}' + bodies["zh"]
    + "{% else %}" + bodies["en"] + "{% endif %}\n"
)
(out / "mailmerge_template.txt").write_text(template, encoding="utf-8")

# The database: recipients.csv with Jinja-friendly column names (letter.subject -> letter_subject),
# and every column the template reads present.
with open(src / "recipients.csv", encoding="utf-8", newline="") as f, \
     open(out / "mailmerge_database.csv", "w", encoding="utf-8", newline="") as g:
    r = csv.reader(f)
    w = csv.writer(g, lineterminator="\n")
    header = [h.replace(".", "_") for h in next(r)]
    extra = [c for c in ("salutation", "title", "organization", "cc", "email", "language",
                         "letter_subject") if c not in header]
    w.writerow(header + extra)
    for row in r:
        w.writerow(row + [""] * len(extra))

(out / "mailmerge_server.conf").write_text(
    "[smtp_server]\nhost = localhost\nport = 25\nratelimit = 0\n", encoding="utf-8")
PY

MMBIN="$VENV/bin/mailmerge"
ARGS=(--template "$MM/mailmerge_template.txt" --database "$MM/mailmerge_database.csv"
      --config "$MM/mailmerge_server.conf" --dry-run --output-format raw)

# A sample of the first four messages (en, fr, ko, zh), to see that the conversion is right.
"$MMBIN" "${ARGS[@]}" --limit 4 >"$WORK/mailmerge-sample.txt" 2>&1 \
  || { cat "$WORK/mailmerge-sample.txt" >&2; die "mailmerge failed on the first 4 messages"; }
if [ "${KEEP:-0}" = 1 ] || [ -n "${BENCH_DIR:-}" ]; then
  echo "== sample of mailmerge's output: $WORK/mailmerge-sample.txt" >&2
fi

PIN=()
if [ "${NO_TASKSET:-0}" != 1 ] && command -v taskset >/dev/null && taskset -c "$CPUS" true 2>/dev/null; then
  PIN=(taskset -c "$CPUS")
fi
ROWS=$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline="", encoding="utf-8"))) - 1)' "$MM/mailmerge_database.csv")

: >"$WORK/mailmerge.runs"
for i in $(seq 1 "$RUNS"); do
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -o "$WORK/mm.$i" -f '%e %M' "${PIN[@]}" "$MMBIN" "${ARGS[@]}" --no-limit \
      >/dev/null 2>"$WORK/mm.$i.log" || { tail "$WORK/mm.$i.log" >&2; die "mailmerge run $i failed"; }
  else
    python3 - "$WORK/mm.$i" "${PIN[@]}" "$MMBIN" "${ARGS[@]}" --no-limit >/dev/null 2>"$WORK/mm.$i.log" <<'PY' || die "mailmerge run $i failed"
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - t
with open(sys.argv[1], "w") as f:
    f.write(f"{wall:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
sys.exit(rc)
PY
  fi
  tail -n 1 "$WORK/mm.$i" >>"$WORK/mailmerge.runs"
  echo "   mailmerge run $i: $(awk '{printf "%.2f s, %d MB", $1, $2/1024}' "$WORK/mm.$i")" >&2
done

echo
echo "mailmerge $MM_VERSION (Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())')), dry-run, $ROWS recipients, output to /dev/null${PIN:+, pinned to $CPUS}"
sort -n -k1,1 "$WORK/mailmerge.runs" | awk '{w[NR]=$1; r[NR]=$2} END {
  m = (NR % 2) ? w[(NR+1)/2] : (w[NR/2] + w[NR/2+1]) / 2
  printf "%-28s best %7.2f s  median %7.2f s  max RSS %4.0f MB  (%.0f letters/s)\n", \
    "mailmerge --dry-run", w[1], m, r[1] / 1024, '"$ROWS"' / m }'
