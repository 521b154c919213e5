#!/usr/bin/env python3
"""POP3 on Roost and Dovecot side by side, in one run: the same generated
mail delivered to one user through each server's own LMTP, then the first
POP3 session after delivery (login, STAT, LIST, UIDL) timed on each, a
second session (warm), and RETR throughput. Prints a table with ratios.

Mail arrives in chunks with a POP3 login after each, as when a client
checks the maildrop now and then: Dovecot's LMTP rescans new/ at every
delivery, and with all 100,000 messages left in new/ it slows to a few
deliveries a second (measured: 76,000 in 15 minutes); a login moves them
to cur/. The timed session follows the last chunk, so Dovecot's "first
time" only has that chunk to take in: the comparison favours Dovecot.

    scripts/build && sudo bench/pop3_side_by_side.py [--messages 100000] [--retr 2000]

Needs Debian's dovecot-lmtpd and dovecot-pop3d (installed if missing) and
root (Dovecot's master runs as root)."""

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time

from side_by_side import Dovecot, Roost, install_dovecot, load


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
        while True:
            if self.buffer.startswith(b".\r\n"):
                body, self.buffer = b"", self.buffer[3:]
                return body
            end = self.buffer.find(b"\r\n.\r\n")
            if end >= 0:
                body, self.buffer = self.buffer[:end + 2], self.buffer[end + 5:]
                return body
            self.fill()

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
    parser.add_argument("--chunk", type=int, default=5000, help="messages delivered between two POP3 logins")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("pop3_side_by_side needs root (Dovecot's master runs as root)")
    install_dovecot("dovecot-lmtpd", "dovecot-pop3d")
    base = tempfile.mkdtemp(prefix="roost-pop3-side-by-side-")
    os.chmod(base, 0o755)
    roost = dovecot = None
    chunk = max(1, min(args.chunk, args.messages) // args.connections) * args.connections
    messages = max(1, args.messages // chunk) * chunk
    try:
        roost = Roost(base, ["user1"], pop3=True)
        dovecot = Dovecot(base, pop3=True)
        for name, server in (("Roost", roost), ("Dovecot", dovecot)):
            start = time.monotonic()
            done = 0
            while done < messages:
                load(server.port, args.connections, chunk // args.connections, "=user1")
                done += chunk
                c = Pop3(server.pop3_port)
                c.command("USER user1")
                c.command("PASS pw")
                c.close()
            print(f"{name}: {messages} messages delivered at {messages / (time.monotonic() - start):.0f}/s "
                  "(with the logins between chunks)", flush=True)
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
    finally:
        if roost:
            roost.stop()
        if dovecot:
            dovecot.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
