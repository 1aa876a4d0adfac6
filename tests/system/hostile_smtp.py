"""A hostile SMTP server on 127.0.0.1, for tests and bench/hostile_smtp.sh only.

Usage: hostile_smtp.py MODE [CERT KEY]

Prints "ready PORT" once listening, then serves each connection as MODE says:

  no-line-end      "220 " and then bytes without a line end
  endless-reply    "220-" lines without a last line
  huge-ehlo        a fair greeting, then a 1 MB EHLO line
  invalid-utf8     a greeting of bytes that are not UTF-8
  drip             a fair greeting, one byte a second
  echo-535         a fair server that refuses AUTH with a reply echoing the AUTH line and the
                   decoded password
  tls-no-line-end  implicit TLS (CERT and KEY), then "220 " and bytes without a line end: a
                   server trusted by its certificate that floods all the same

Everything is bounded: a flood stops after FLOOD bytes per connection or when the client goes,
and the server exits after LIFETIME seconds or when its stdin closes.
"""

import base64
import os
import socket
import ssl
import sys
import threading
import time

FLOOD = 2 * 1024 * 1024 * 1024
LIFETIME = 120
CHUNK = 64 * 1024


def flood(conn, first, chunk):
    conn.sendall(first)
    sent = 0
    while sent < FLOOD:
        conn.sendall(chunk)
        sent += len(chunk)


def read_line(conn):
    line = b""
    while not line.endswith(b"\n") and len(line) < 65536:
        byte = conn.recv(1)
        if not byte:
            break
        line += byte
    return line


EHLO = b"250-hostile.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"


def serve(mode, conn, tls):
    try:
        if tls is not None:
            conn = tls.wrap_socket(conn, server_side=True)
        if mode in ("no-line-end", "tls-no-line-end"):
            flood(conn, b"220 ", b"a" * CHUNK)
        elif mode == "endless-reply":
            flood(conn, b"", b"220-hostile.test says hello\r\n" * 2048)
        elif mode == "huge-ehlo":
            conn.sendall(b"220 hostile.test ESMTP\r\n")
            read_line(conn)
            conn.sendall(b"250-" + b"x" * (1024 * 1024) + b"\r\n250 OK\r\n")
            read_line(conn)
        elif mode == "invalid-utf8":
            conn.sendall(b"220 \xff\xfe\xc3\x28 hostile\r\n")
            read_line(conn)
            conn.sendall(b"250 \xff\xfe\r\n")
            read_line(conn)
        elif mode == "drip":
            for byte in b"220 hostile.test ESMTP a very slow greeting\r\n":
                conn.sendall(bytes([byte]))
                time.sleep(1)
        elif mode == "echo-535":
            conn.sendall(b"220 hostile.test ESMTP\r\n")
            while True:
                line = read_line(conn)
                if not line:
                    break
                word = line.split(b" ")[0].upper().strip()
                if word in (b"EHLO", b"HELO"):
                    conn.sendall(EHLO)
                elif word == b"AUTH":
                    parts = line.strip().split(b" ")
                    decoded = b""
                    if len(parts) > 2:
                        decoded = base64.b64decode(parts[2] + b"==")
                    conn.sendall(
                        b"535 5.7.8 Authentication failed for "
                        + line.strip()
                        + b" (you sent "
                        + decoded.replace(b"\0", b" ")
                        + b")\r\n"
                    )
                elif word == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    break
                else:
                    conn.sendall(b"250 OK\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    mode = sys.argv[1]
    tls = None
    if len(sys.argv) > 3:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print("ready", listener.getsockname()[1], flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    deadline = time.time() + LIFETIME
    listener.settimeout(1)
    while time.time() < deadline:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(mode, conn, tls), daemon=True).start()


if __name__ == "__main__":
    main()
