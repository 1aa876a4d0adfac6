"""An independent SMTP server for lettermerge's system tests: aiosmtpd with STARTTLS and AUTH.

usage: aiosmtpd_server.py PORT CERT KEY OUTDIR USER PASSWORD [implicit]
With "implicit", TLS from the first byte (port 465's way) instead of STARTTLS.
Each accepted message is written to OUTDIR as N.eml with its envelope in N.json.
Prints "ready" once it listens; runs until killed.
"""
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, outdir, user, password = sys.argv[1:7]
implicit = sys.argv[7:8] == ["implicit"]
count = 0


class Handler:
    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        base = os.path.join(outdir, str(count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       # An implicit-TLS server takes nothing but TLS (aiosmtpd sets
                       # session.ssl only for STARTTLS).
                       "tls": implicit or session.ssl is not None,
                       "helo": session.host_name,
                       "login": session.authenticated}, f)
        return "250 OK queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and \
        auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd answers 535 itself when the login is wrong.
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
if implicit:
    # aiosmtpd counts only STARTTLS as TLS for AUTH; here every byte is TLS already.
    controller = Controller(Handler(), hostname="127.0.0.1", port=int(port),
                            ssl_context=context, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
else:
    controller = Controller(Handler(), hostname="127.0.0.1", port=int(port),
                            tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True,
                            auth_required=True)
controller.start()
print("ready", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
