#!/usr/bin/env python3
"""Generate a synthetic lettermerge campaign for benchmarks.

    python3 bench/gen_recipients.py [--subjects] [--all-email] N OUTDIR

writes

    OUTDIR/lettermerge.toml        copy of the repository's without its [schedule], so `send`
                                   sends at once (bench/schedule.sh adds its own)
    OUTDIR/templates/              copy of the repository's templates (partials, fr/ko/zh, footnotes)
    OUTDIR/recipients.toml         N recipients, ~340 bytes each (100,000 -> ~34 MB)
    OUTDIR/recipients.csv          the same N recipients as CSV (same column names)
    OUTDIR/lettermerge-csv.toml    the settings with recipients = "recipients.csv" (for reference)
    OUTDIR/csv/                    a second complete campaign that reads recipients.csv:
                                   lettermerge.toml (= lettermerge-csv.toml), templates/, and
                                   recipients.csv (a hard link to OUTDIR/recipients.csv)

`lettermerge` always reads DIR/lettermerge.toml, so the CSV run uses `-C OUTDIR/csv`.

The output is deterministic: the same N gives byte-identical files. Recipients use the keys of
the root recipients.toml (id, name, salutation, title, organization, address, email, cc,
language, timezone; with --subjects also the translated [recipient.letter] subject that the
root file gives fr/ko/zh recipients, ~+60 bytes each), with the
language cycling en/fr/ko/zh and a few optional keys left out now and then so every template
branch is exercised (no salutation, no title, no email = print-only, no cc).

With --all-email every recipient has an email (no print-only ones), so N recipients make N emails
for `lettermerge send` (bench/send.sh). Without it the output is unchanged.
"""

import csv
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LANGUAGES = ["en", "fr", "ko", "zh"]

TIMEZONES = [
    "Europe/Oslo",
    "Europe/Paris",
    "Asia/Seoul",
    "America/Toronto",
    "Europe/London",
    "Europe/Berlin",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Asia/Singapore",
]

# (city line, country) pairs; a fourth address line (district) is added for every third recipient.
PLACES = [
    ("0244 Oslo", "Norway"),
    ("75008 Paris", "France"),
    ("04537 Seoul", "Republic of Korea"),
    ("Ottawa, Ontario K1N 5H3", "Canada"),
    ("London W1B 1JL", "United Kingdom"),
    ("10179 Berlin", "Germany"),
    ("Wellington 6012", "New Zealand"),
    ("Minato-ku, Tokyo 106-0046", "Japan"),
    ("Singapore 247969", "Singapore"),
]

STREETS = ["Tuengen allé", "avenue George V", "Myeongdong-gil", "St. Patrick Street",
           "Portland Place", "Märkisches Ufer", "Glenmore Street", "Moto-Azabu",
           "Tanglin Road"]

# Per language: name, salutation, title, organization, translated subject (None for en).
# The subject goes into [recipient.letter] (CSV column letter.subject) only with --subjects:
# the figures are for ~340-byte recipients without it.
PEOPLE = {
    "en": ("H.E. the Ambassador of China",
           "Your Excellency",
           "Ambassador to Norway",
           "Embassy of China",
           None),
    "fr": ("Son Excellence l'Ambassadeur de Chine",
           "Excellence",
           "Ambassadeur en France",
           "Ambassade de Chine",
           "Le rapatriement forcé de réfugiés nord-coréens par la République populaire de Chine"),
    "ko": ("주한 중국대사 귀하",
           "존경하는 대사님께",
           "특명전권대사",
           "중국대사관",
           "중화인민공화국의 탈북 난민 강제북송에 관하여"),
    "zh": ("中国驻新加坡大使阁下",
           "尊敬的大使阁下",
           "特命全权大使",
           "中国大使馆",
           "关于中华人民共和国强制遣返朝鲜难民的问题"),
}

CSV_COLUMNS = ["id", "name", "salutation", "title", "organization", "address", "email", "cc",
               "language", "timezone", "letter.subject"]


def recipient(i, subjects=False, all_email=False):
    """The i-th recipient (1-based) as an ordered dict; absent optional keys are left out."""
    lang = LANGUAGES[(i - 1) % 4]
    name, salutation, title, organization, subject = PEOPLE[lang]
    rid = f"r-{i:06d}"
    city, country = PLACES[i % len(PLACES)]
    address = [f"{(i * 7) % 200 + 1} {STREETS[(i * 5) % len(STREETS)]}"]
    if i % 3 == 0:
        address.append(f"District {i % 23 + 1}")
    address += [city, country]
    r = {"id": rid, "name": name}
    if i % 11 != 0:
        r["salutation"] = salutation          # 1 in 11: the template's fallback greeting
    if i % 13 != 0:
        r["title"] = title
    r["organization"] = organization
    r["address"] = address
    if all_email or i % 10 != 0:
        r["email"] = f"{rid}@example.org"     # 1 in 10: print-only
    if i % 5 != 0:                            # 1 in 5: no cc; else one or two
        cc = [f"consul-{i:06d}@example.org"]
        if i % 2 == 0:
            cc.append(f"press-{i:06d}@example.org")
        r["cc"] = cc
    r["language"] = lang
    r["timezone"] = TIMEZONES[i % len(TIMEZONES)]
    if subjects and subject is not None:
        r["letter"] = {"subject": subject}
    return r


def toml_str(s):
    # A JSON string is a valid TOML basic string (same escapes, \uXXXX included).
    return json.dumps(s, ensure_ascii=False)


def toml_value(v):
    if isinstance(v, list):
        return "[" + ", ".join(toml_str(x) for x in v) + "]"
    return toml_str(v)


def toml_entry(r):
    lines = ["[[recipient]]"]
    for key, value in r.items():
        if key != "letter":
            lines.append(f"{key} = {toml_value(value)}")
    if "letter" in r:
        lines.append("[recipient.letter]")
        for key, value in r["letter"].items():
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n\n"


def csv_row(r):
    row = []
    for col in CSV_COLUMNS:
        if col.startswith("letter."):
            v = r.get("letter", {}).get(col[len("letter."):], "")
        else:
            v = r.get(col, "")
        if col == "address":
            v = "\n".join(v)                  # a multi-line quoted cell is a list
        elif col in ("cc", "bcc"):
            v = ";".join(v)                   # cc cells split on ';'
        row.append(v)
    return row


def csv_settings(text):
    """lettermerge.toml with recipients = "recipients.csv" set in [campaign]."""
    out, done = [], False
    for line in text.splitlines(keepends=True):
        out.append(line)
        if not done and line.strip() == "[campaign]":
            out.append('recipients = "recipients.csv"\n')
            done = True
    if not done:
        raise SystemExit("lettermerge.toml has no [campaign] table")
    return "".join(out)


def unscheduled(text):
    """lettermerge.toml without its [schedule] table."""
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        header = line.strip()
        if header.startswith("[") and not header.startswith("[["):
            inside = header == "[schedule]"
        if not inside:
            out.append(line)
    return "".join(out)


def settings_text():
    return unscheduled((REPO / "lettermerge.toml").read_text(encoding="utf-8"))


def copy_campaign(dest):
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "lettermerge.toml").write_text(settings_text(), encoding="utf-8")
    if (dest / "templates").exists():
        shutil.rmtree(dest / "templates")
    shutil.copytree(REPO / "templates", dest / "templates")


def main():
    flags = {"--subjects", "--all-email"}
    args = [a for a in sys.argv[1:] if a not in flags]
    subjects = "--subjects" in sys.argv[1:]
    all_email = "--all-email" in sys.argv[1:]
    if len(args) != 2 or not args[0].isdigit():
        sys.exit(f"usage: {sys.argv[0]} [--subjects] [--all-email] N OUTDIR")
    n = int(args[0])
    out = Path(args[1])
    copy_campaign(out)

    with open(out / "recipients.toml", "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# recipients.toml: {n} synthetic recipients for benchmarks "
                "(bench/gen_recipients.py).\n\n")
        for i in range(1, n + 1):
            f.write(toml_entry(recipient(i, subjects, all_email)))

    with open(out / "recipients.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(CSV_COLUMNS)
        for i in range(1, n + 1):
            w.writerow(csv_row(recipient(i, subjects, all_email)))

    settings = csv_settings(settings_text())
    (out / "lettermerge-csv.toml").write_text(settings, encoding="utf-8")
    csv_dir = out / "csv"
    copy_campaign(csv_dir)
    (csv_dir / "lettermerge.toml").write_text(settings, encoding="utf-8")
    target = csv_dir / "recipients.csv"
    if target.exists():
        target.unlink()
    try:
        os.link(out / "recipients.csv", target)
    except OSError:
        shutil.copyfile(out / "recipients.csv", target)

    size_toml = (out / "recipients.toml").stat().st_size
    size_csv = (out / "recipients.csv").stat().st_size
    print(f"{n} recipients in {out}: recipients.toml {size_toml / 1e6:.1f} MB "
          f"({size_toml / max(n, 1):.0f} B each), recipients.csv {size_csv / 1e6:.1f} MB",
          file=sys.stderr)


if __name__ == "__main__":
    main()
