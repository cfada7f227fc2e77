#!/usr/bin/env python3
"""A loopback SMTP server for Paperhub's mail tests, on aiosmtpd.

Every accepted message is written to DIR as N.eml (raw) and N.json (envelope,
headers and the decoded text and HTML parts, parsed by Python's email
package), each through a temporary file and a rename. Fault modes:

  --tempfail N   answer the first N DATA commands with 451 (then accept)
  --reject       answer every RCPT with 550 (permanent failure)
  --hold-after K after K accepted messages, stall the next MAIL FROM for
                 good and create DIR/held, so a test can kill the sender
                 between two mails

Prints "READY <port>" on stdout once listening (port 0 picks a free one).
Installed by scripts/install-smtp-sink.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, tempfail, reject, hold_after):
        self.out = out
        self.tempfail = tempfail
        self.reject = reject
        self.hold_after = hold_after
        self.accepted = 0
        self.held = False

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.hold_after is not None and self.accepted >= self.hold_after and not self.held:
            self.held = True
            open(os.path.join(self.out, "held"), "w").close()
            await asyncio.sleep(3600)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail > 0:
            self.tempfail -= 1
            return "451 4.3.0 Temporary failure, try again later"
        self.accepted += 1
        n = self.accepted
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_type()] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": [[k, str(v)] for k, v in msg.items()],
            "content_type": msg.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
        }
        for name, data in (("%d.eml" % n, raw), ("%d.json" % n, json.dumps(record).encode())):
            tmp = os.path.join(self.out, "." + name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(self.out, name))
        return "250 2.0.0 OK queued as %d" % n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tempfail", type=int, default=0)
    p.add_argument("--reject", action="store_true")
    p.add_argument("--hold-after", type=int, default=None)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    port = a.port
    if port == 0:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    controller = Controller(
        Sink(a.dir, a.tempfail, a.reject, a.hold_after), hostname="127.0.0.1", port=port
    )
    controller.start()
    print("READY %d" % port, flush=True)
    try:
        sys.stdin.read()  # until the test closes stdin or kills us
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
