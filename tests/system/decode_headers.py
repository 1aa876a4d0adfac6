"""How Python's email package reads the headers of lettermerge's emails.

usage: decode_headers.py FILE.eml...
Prints one JSON object: "files" maps each file to what email.policy.default reads (Subject, the
display names and addresses of From, To and Cc, the defects it found) and what the RFC 2047
decoder of email.header reads from the raw display names; "joins_adjacent_encoded_words" says
whether this Python ignores the space between two encoded-words of a display name, as RFC 2047
6.2 asks (CPython issue gh-128110: Python 3.11 reads "=?utf-8?b?YQ==?= =?utf-8?b?YQ==?=" as
"a a").
"""
import email
import email.policy
import email.utils
import json
import sys
from email.header import decode_header, make_header


def modern(data):
    message = email.message_from_bytes(data, policy=email.policy.default)
    out = {"subject": str(message["Subject"]), "defects": [repr(d) for d in message.defects]}
    for name in ("From", "To", "Cc"):
        header = message[name]
        if header is None:
            continue
        out[name] = [[a.display_name, a.addr_spec] for a in header.addresses]
        out["defects"] += [f"{name}: {d!r}" for d in header.defects]
    if message["Subject"] is not None:
        out["defects"] += [f"Subject: {d!r}" for d in message["Subject"].defects]
    return out


def legacy(data):
    message = email.message_from_bytes(data)
    out = {}
    for name in ("From", "To", "Cc"):
        raw = message.get(name)
        if raw is None:
            continue
        unfolded = raw.replace("\r\n", "").replace("\n", "")
        out[name] = [[str(make_header(decode_header(n))), a]
                     for n, a in email.utils.getaddresses([unfolded])]
    return out


probe = b"To: =?utf-8?b?YQ==?= =?utf-8?b?YQ==?= <a@example.org>\r\n\r\n"
joins = modern(probe)["To"][0][0] == "aa"
files = {}
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    files[path] = {"modern": modern(data), "legacy": legacy(data)}
print(json.dumps({"joins_adjacent_encoded_words": joins, "files": files}))
