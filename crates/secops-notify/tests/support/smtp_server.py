"""A real SMTP server for secops-notify's tests (Debian: python3-aiosmtpd).

usage: smtp_server.py OUTDIR MODE [CERT KEY] [USER PASSWORD]
MODE is plain, starttls (STARTTLS required before MAIL) or implicit (SMTPS).
Binds 127.0.0.1 on a free port (or the ADDR:PORT of $SMTP_LISTEN), prints
the port on stdout, then saves each
message as OUTDIR/<n>.json: {"subject", "to", "from", "body" (decoded),
"mail_from", "rcpt_tos", "data" (raw), "login", "tls"}.
"""

import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

outdir, mode = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
context = None
if mode in ("starttls", "implicit"):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(rest[0], rest[1])
    rest = rest[2:]
credentials = (rest[0].encode(), rest[1].encode()) if len(rest) >= 2 else None
count = 0


class Handler:
    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        login = getattr(session, "test_login", None)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        record = {
            "subject": str(parsed["Subject"]),
            "to": str(parsed["To"]),
            "from": str(parsed["From"]),
            "body": parsed.get_content(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "login": login.decode() if isinstance(login, bytes) else login,
            "tls": session.ssl is not None,
        }
        path = os.path.join(outdir, "%04d.json" % count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        credentials is not None
        and isinstance(auth_data, LoginPassword)
        and (auth_data.login, auth_data.password) == credentials
    )
    if ok:
        session.test_login = auth_data.login
    # handled=False: aiosmtpd then answers 535 itself on failure.
    return AuthResult(success=ok, handled=False)


def factory():
    kwargs = {}
    if credentials is not None:
        # SMTP_AUTH_OPTIONAL=1: AUTH offered, a client may also send without
        # it (a relay that trusts its network and takes logins too).
        required = os.environ.get("SMTP_AUTH_OPTIONAL") != "1"
        kwargs.update(authenticator=authenticator, auth_required=required)
        # Implicit TLS is encrypted from the first byte; aiosmtpd only
        # tracks STARTTLS, so it must not insist on that.
        kwargs["auth_require_tls"] = mode == "starttls"
    if mode == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    return SMTP(Handler(), hostname="test.invalid", **kwargs)


async def main():
    loop = asyncio.get_running_loop()
    host, port = os.environ.get("SMTP_LISTEN", "127.0.0.1:0").rsplit(":", 1)
    server = await loop.create_server(
        factory, host, int(port), ssl=context if mode == "implicit" else None
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
