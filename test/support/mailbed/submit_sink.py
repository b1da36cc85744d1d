#!/usr/bin/python3
"""mailbed submission sink: an SMTP server with real AUTH and TLS, for Yubin's tests.

Started by mailbed.sh next to it (see test/support/mailbed.ts). Copied from the project's
shared testbed; this copy re-reads the passwd file when it changes, so users that a test
adds while the sink runs (Mailbed.addUser) can log in at once, as they can with Dovecot.

Postfix's smtp-sink (port 11025) is the fast sink, but it has no TLS and only fakes
AUTH (it answers any AUTH with "250 2.0.0 Ok", not "235", so real clients treat it as a
failure).  This server (Debian's python3-aiosmtpd) fills that gap:

  127.0.0.1:11587  SMTP + STARTTLS, AUTH PLAIN LOGIN CRAM-MD5 (allowed before TLS too)
  127.0.0.1:11465  implicit TLS ("SMTPS"), same AUTH

Credentials come from mailbed's passwd file (user:{PLAIN}password:...), re-read on change. AUTH is verified
(235 on success, 535 on failure) but optional unless --auth-required is given.  Every
accepted message is written to OUTDIR/<seq>.eml (bytes exactly as received, after
dot-unstuffing) plus OUTDIR/<seq>.json with the envelope, login and TLS state.
Runs in the foreground; drops root privileges to --user after loading the key.
"""
import argparse, asyncio, hashlib, hmac, json, os, pwd, secrets, signal, ssl, sys, time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def load_users(path):
    users = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(":")
            if len(parts) >= 2 and parts[1].startswith("{PLAIN}"):
                users[parts[0]] = parts[1][len("{PLAIN}"):]
    return users


class Users:
    """The passwd file's users, re-read when its mtime or size changes (like Dovecot)."""
    def __init__(self, path):
        self.path, self.stamp, self.users = path, None, {}

    def get(self, name):
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp != self.stamp:
            self.users, self.stamp = load_users(self.path), stamp
        return self.users.get(name)


class Handler:
    def __init__(self, outdir, users):
        self.outdir, self.users, self.seq = outdir, users, 0

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            ok = self.users.get(user) == auth_data.password.decode("utf-8", "replace")
            return AuthResult(success=ok, handled=False, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    async def auth_CRAM__MD5(self, server, args):   # -> mechanism "CRAM-MD5"
        challenge = "<%s.%d@mailbed.test>" % (secrets.token_hex(8), int(time.time()))
        resp = await server.challenge_auth(challenge)
        if not isinstance(resp, bytes):
            return AuthResult(success=False, handled=True)
        try:
            user, digest = resp.decode().rsplit(" ", 1)
        except ValueError:
            return AuthResult(success=False, handled=False)
        pw = self.users.get(user)
        want = hmac.new(pw.encode(), challenge.encode(), hashlib.md5).hexdigest() if pw else None
        ok = want is not None and hmac.compare_digest(want, digest.lower())
        return AuthResult(success=ok, handled=False,
                          auth_data=LoginPassword(user.encode(), b""))

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        name = "%d.%06d" % (int(time.time()), self.seq)
        with open(os.path.join(self.outdir, name + ".eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {
            "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options, "rcpt_options": envelope.rcpt_options,
            "login": (session.login_data.decode("utf-8", "replace")
                      if isinstance(session.login_data, bytes) else session.login_data),
            "tls": session.ssl is not None or getattr(server, "implicit_tls", False),
            "peer": list(session.peer)[:2],
            "helo": session.host_name, "size": len(envelope.original_content or b""),
        }
        with open(os.path.join(self.outdir, name + ".json"), "w") as f:
            json.dump(meta, f)
        return "250 2.0.0 Ok: queued as %s" % name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=11587)
    ap.add_argument("--tls-port", type=int, default=11465)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--passwd", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--user", default=None, help="drop privileges to this user (when root)")
    ap.add_argument("--auth-required", action="store_true")
    a = ap.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    users = Users(a.passwd)
    users.get("")   # read it once now, while the file is surely readable
    os.makedirs(a.outdir, exist_ok=True)
    if os.getuid() == 0 and a.user:
        pw = pwd.getpwnam(a.user)
        os.chown(a.outdir, pw.pw_uid, pw.pw_gid)
        os.setgroups([]); os.setgid(pw.pw_gid); os.setuid(pw.pw_uid)

    handler = Handler(a.outdir, users)

    def factory(implicit_tls):
        def make():
            smtp = SMTP(handler, hostname="mailbed.test", ident="mailbed submit sink",
                        tls_context=None if implicit_tls else ctx,
                        require_starttls=False, auth_required=a.auth_required,
                        auth_require_tls=False, authenticator=handler.authenticator,
                        data_size_limit=64 * 1024 * 1024, enable_SMTPUTF8=True)
            smtp.implicit_tls = implicit_tls
            return smtp
        return make

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    servers = [
        loop.run_until_complete(loop.create_server(factory(False), a.host, a.port)),
        loop.run_until_complete(loop.create_server(factory(True), a.host, a.tls_port, ssl=ctx)),
    ]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print("submit_sink listening on %s:%d (STARTTLS) and %s:%d (TLS)"
          % (a.host, a.port, a.host, a.tls_port), flush=True)
    try:
        loop.run_forever()
    finally:
        for s in servers:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
