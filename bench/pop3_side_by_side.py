#!/usr/bin/env python3
"""POP3 on Roost and Dovecot side by side, in one run: the same generated
mail in one user's maildrop on each server, then the first POP3 session
after delivery (login, STAT, LIST, UIDL) timed on each, a second session
(warm), and RETR throughput. Prints a table with ratios.

Roost gets the mail through its LMTP, Dovecot the same messages through
`doveadm import` (side_by_side.fill). Dovecot's LMTP is not used for the
fill: it rescans the maildrop at every delivery and slows to a few
messages a second past 80,000 (measured 2026-11-23: 85,000 in 35 minutes,
with a POP3 login every 5,000 to move new/ to cur/), while the import
takes 100,000 in minutes.

    scripts/build && sudo bench/pop3_side_by_side.py [--messages 100000] [--retr 2000]

Needs Debian's dovecot-lmtpd, dovecot-pop3d and doveadm (installed if
missing) and root (Dovecot's master runs as root)."""

import argparse
import os
import socket
import sys
import time

from side_by_side import fill, install_dovecot, servers


class Pop3:
    """A minimal POP3 client that reads multi-line answers in large pieces,
    so that the client's own speed is not what is measured."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.buffer = b""
        self.line()

    def line(self):
        while b"\r\n" not in self.buffer:
            self.fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def command(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        reply = self.line()
        if not reply.startswith(b"+OK"):
            sys.exit(f"{text.split()[0]}: {reply!r}")
        return reply

    def multiline(self, text):
        self.command(text)
        # The body is either empty (".\r\n" at once) or ends in "\r\n.\r\n".
        # Pieces are kept in a list and only the newest one searched, so
        # that a long answer costs the client linear time.
        while len(self.buffer) < 3:
            self.fill()
        if self.buffer.startswith(b".\r\n"):
            self.buffer = self.buffer[3:]
            return b""
        pieces = [self.buffer]
        tail = b""  # the last bytes before the newest piece
        while True:
            joined = tail + pieces[-1]
            end = joined.find(b"\r\n.\r\n")
            if end >= 0:
                body = b"".join(pieces)
                end = len(body) - len(joined) + end
                self.buffer = body[end + 5:]
                return body[:end + 2]
            tail = joined[-4:]
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            pieces.append(chunk)

    def close(self):
        self.sock.sendall(b"QUIT\r\n")
        self.sock.close()


def timed(work):
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def session(port, messages, retr):
    """One session's timings in seconds: login, STAT, LIST, UIDL, and the
    RETR of `retr` messages (with the bytes they came to)."""
    c = Pop3(port)
    out = {}
    c.command("USER user1")
    out["login"], _ = timed(lambda: c.command("PASS pw"))
    out["STAT"], stat = timed(lambda: c.command("STAT"))
    count = int(stat.split()[1])
    if count != messages:
        sys.exit(f"STAT says {count} messages, {messages} were delivered")
    out["LIST"], listing = timed(lambda: c.multiline("LIST"))
    out["UIDL"], uidls = timed(lambda: c.multiline("UIDL"))
    if listing.count(b"\r\n") != messages or uidls.count(b"\r\n") != messages:
        sys.exit("LIST or UIDL did not list every message")
    octets = 0

    def retrieve():
        nonlocal octets
        for n in range(1, retr + 1):
            octets += len(c.multiline(f"RETR {n}"))
    if retr:
        out["RETR"], _ = timed(retrieve)
        out["octets"] = octets
    c.close()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100000, help="messages in the maildrop")
    parser.add_argument("--retr", type=int, default=2000, help="messages retrieved for the RETR row")
    parser.add_argument("--connections", type=int, default=4, help="LMTP connections delivering the maildrop")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("pop3_side_by_side needs root (Dovecot's master runs as root)")
    install_dovecot("dovecot-lmtpd", "dovecot-pop3d")
    each = max(1, args.messages // args.connections)
    messages = each * args.connections
    with servers("roost-pop3-side-by-side-", ["user1"], pop3=True) as (base, roost, dovecot):
        fill(base, roost, dovecot, messages, args.connections)
        results = {}
        for name, server in (("Roost", roost), ("Dovecot", dovecot)):
            first = session(server.pop3_port, messages, 0)
            second = session(server.pop3_port, messages, args.retr)
            results[name] = (first, second)
        print(f"\nPOP3 on a {messages}-message maildrop, one run (ms; RETR in MB/s)")
        print("| operation | Roost | Dovecot | Dovecot / Roost |")
        print("|---|---|---|---|")
        for label, which in (("first session after delivery", 0), ("second session", 1)):
            for op in ("login", "STAT", "LIST", "UIDL"):
                r = results["Roost"][which][op] * 1000
                d = results["Dovecot"][which][op] * 1000
                print(f"| {op}, {label} | {r:.1f} | {d:.1f} | {d / r:.1f}x |")
        r = results["Roost"][1]
        d = results["Dovecot"][1]
        r_rate = r["octets"] / r["RETR"] / 1e6
        d_rate = d["octets"] / d["RETR"] / 1e6
        print(f"| RETR of {args.retr} messages, one after another | {r_rate:.0f} MB/s | {d_rate:.0f} MB/s "
              f"| {r_rate / d_rate:.1f}x (Roost / Dovecot) |")


if __name__ == "__main__":
    main()
