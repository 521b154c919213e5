#!/usr/bin/env python3
"""IMAP on Roost and Dovecot side by side, in one run: the same generated
mail in one INBOX on each server (side_by_side.fill), then what a webmail
backend asks of a big folder, timed on each server the first time after
delivery and again warm: SELECT, UID FETCH 1:* (FLAGS), FETCH 1:* ENVELOPE,
SORT by ARRIVAL, DATE, SUBJECT, FROM, REVERSE SIZE and DISPLAYFROM, THREAD
REFERENCES, SEARCH FROM, SUBJECT, SINCE, UNSEEN, and BODY and TEXT for a
word one message holds, STATUS (MESSAGES SIZE), a QRESYNC resync after 100
flag changes by another session, and the IDLE notification latency (from
the LMTP reply to the EXISTS, p50 and p99).

Every answer is checked before its time counts: SORT and THREAD must name
every message once, SEARCH for the rare word must find it, the resync must
report the 100 changes, and Roost's answer is compared with Dovecot's
(the last column says where they differ, and how).

    scripts/build && sudo bench/imap_side_by_side.py [--messages 100000]

Needs Debian's dovecot-imapd, dovecot-lmtpd and doveadm (installed if
missing) and root (Dovecot's master runs as root)."""

import argparse
import datetime
import email.utils
import os
import re
import smtplib
import socket
import statistics
import sys
import time

from side_by_side import fill, install_dovecot, servers

LITERAL = re.compile(rb"\{(\d+)\+?\}$")


class Imap:
    """A minimal IMAP client that reads answers (with literals) in large
    pieces, so that the client's own speed is not what is measured."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.buffer = bytearray()
        self.start = 0
        self.chunk = bytearray(1 << 20)
        self.chunk_view = memoryview(self.chunk)
        self.counter = 0
        self.line()

    def fill(self):
        n = self.sock.recv_into(self.chunk)
        if not n:
            raise EOFError("connection closed")
        if self.start == len(self.buffer):
            self.buffer.clear()
            self.start = 0
        elif self.start > (1 << 20):
            del self.buffer[:self.start]
            self.start = 0
        self.buffer += self.chunk_view[:n]

    def line(self):
        """One response line with its literals inlined, as bytes."""
        out = b""
        while True:
            end = self.buffer.find(b"\r\n", self.start)
            while end < 0:
                self.fill()
                end = self.buffer.find(b"\r\n", self.start)
            piece = bytes(self.buffer[self.start:end])
            self.start = end + 2
            out += piece
            literal = LITERAL.search(piece)
            if not literal:
                return out
            n = int(literal.group(1))
            while len(self.buffer) - self.start < n:
                self.fill()
            out += b"\r\n" + bytes(self.buffer[self.start:self.start + n])
            self.start += n

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def command(self, text):
        """Sends a command; returns (untagged lines, seconds to the tagged OK).
        The clock stops when the tagged line has arrived, found at the end of
        what was received (the server sends nothing after it); the lines are
        parsed afterwards, so the client's per-line cost is not measured."""
        self.counter += 1
        tag = f"t{self.counter} ".encode()
        begin = time.perf_counter()
        self.send(f"t{self.counter} {text}")
        while True:
            self.fill()
            if self.buffer.endswith(b"\r\n"):
                last = self.buffer.rfind(b"\r\n", self.start, len(self.buffer) - 2)
                if self.buffer.startswith(tag, self.start if last < 0 else last + 2):
                    break
        elapsed = time.perf_counter() - begin
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag):
                if not line.startswith(tag + b"OK"):
                    sys.exit(f"{text}: {line[:200]!r}")
                return untagged, elapsed
            untagged.append(line)

    def close(self):
        try:
            self.command("LOGOUT")
        except (EOFError, OSError):
            pass
        self.sock.close()


def numbers(untagged, word):
    """The numbers of a SEARCH or SORT answer."""
    for line in untagged:
        if line.startswith(b"* " + word):
            return [int(n) for n in line.split()[2:] if n.isdigit()]
    return []


def thread_members(untagged):
    for line in untagged:
        if line.startswith(b"* THREAD"):
            return sorted(int(n) for n in re.findall(rb"\d+", line[len(b"* THREAD"):]))
    return []


def login(port):
    c = Imap(port)
    c.command("LOGIN user1 pw")
    return c


def operations(rare_word, sent_since, yesterday):
    """(label, command, how to compare two answers, sanity check)."""
    def search(lines):
        return numbers(lines, b"SEARCH")

    def sort(lines):
        return numbers(lines, b"SORT")

    def count_fetch(lines):
        return sum(1 for line in lines if b" FETCH " in line)

    return [
        ("UID FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)", count_fetch, lambda v, n: v == n),
        ("FETCH 1:* ENVELOPE", "FETCH 1:* ENVELOPE", count_fetch, lambda v, n: v == n),
        ("SORT ARRIVAL", "SORT (ARRIVAL) UTF-8 ALL", sort, lambda v, n: sorted(v) == list(range(1, n + 1))),
        ("SORT DATE", "SORT (DATE) UTF-8 ALL", sort, lambda v, n: sorted(v) == list(range(1, n + 1))),
        ("SORT SUBJECT", "SORT (SUBJECT) UTF-8 ALL", sort, lambda v, n: sorted(v) == list(range(1, n + 1))),
        ("SORT FROM", "SORT (FROM) UTF-8 ALL", sort, lambda v, n: sorted(v) == list(range(1, n + 1))),
        ("SORT REVERSE SIZE", "SORT (REVERSE SIZE) UTF-8 ALL", sort, lambda v, n: sorted(v) == list(range(1, n + 1))),
        ("SORT DISPLAYFROM", "SORT (DISPLAYFROM) UTF-8 ALL", sort,
         lambda v, n: sorted(v) == list(range(1, n + 1))),
        ("THREAD REFERENCES", "THREAD REFERENCES UTF-8 ALL", thread_members,
         lambda v, n: v == list(range(1, n + 1))),
        ("SEARCH FROM", "SEARCH FROM @example7.test", search, lambda v, n: 0 < len(v) < n),
        ("SEARCH SUBJECT", "SEARCH SUBJECT budget", search, lambda v, n: 0 < len(v) < n),
        # Delivery gave every message today's INTERNALDATE; the Date: fields
        # spread over years.
        ("SEARCH SINCE", f"SEARCH SINCE {yesterday}", search, lambda v, n: len(v) == n),
        ("SEARCH SENTSINCE", f"SEARCH SENTSINCE {sent_since}", search, lambda v, n: 0 < len(v) < n),
        ("SEARCH UNSEEN", "SEARCH UNSEEN", search, lambda v, n: len(v) == n),
        ("SEARCH BODY (rare word)", f"SEARCH BODY {rare_word}", search, lambda v, n: len(v) >= 1),
        ("SEARCH TEXT (rare word)", f"SEARCH TEXT {rare_word}", search, lambda v, n: len(v) >= 1),
    ]


def run_operations(port, ops, messages):
    """Each operation twice, in one session after SELECT: first and warm."""
    c = login(port)
    out = {}
    untagged, out["SELECT"] = c.command("SELECT INBOX")
    exists = [int(line.split()[1]) for line in untagged if line.endswith(b" EXISTS")]
    if exists != [messages]:
        sys.exit(f"SELECT says {exists}, {messages} were delivered")
    answers = {}
    for label, command, value, check in ops:
        lines, first = c.command(command)
        v = value(lines)
        if not check(v, messages):
            sys.exit(f"{label}: implausible answer {str(v)[:200]}")
        _, warm = c.command(command)
        out[label] = (first, warm)
        answers[label] = v
    c.close()
    c = login(port)
    _, out["SELECT warm"] = c.command("SELECT INBOX")
    c.close()
    status = login(port)
    lines, first = status.command("STATUS INBOX (MESSAGES SIZE)")
    _, warm = status.command("STATUS INBOX (MESSAGES SIZE)")
    if not any(f"MESSAGES {messages}".encode() in line for line in lines):
        sys.exit(f"STATUS: {lines}")
    out["STATUS (MESSAGES SIZE)"] = (first, warm)
    status.close()
    return out, answers


def qresync(port, messages):
    """Seconds for SELECT (QRESYNC ...) after another session changed 100
    messages' flags; checks that the 100 come back."""
    a = login(port)
    a.command("ENABLE QRESYNC")
    lines, _ = a.command("SELECT INBOX")
    text = b"\n".join(lines)
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", text).group(1))
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", text).group(1))
    a.command("UNSELECT")
    b = login(port)
    b.command("SELECT INBOX")
    step = max(1, messages // 100)
    changed = ",".join(str(1 + i * step) for i in range(100))
    b.command(f"STORE {changed} +FLAGS.SILENT (\\Flagged)")
    b.close()
    lines, elapsed = a.command(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))")
    fetched = sum(1 for line in lines if b" FETCH " in line)
    if fetched != 100:
        sys.exit(f"QRESYNC resync reported {fetched} changed messages, not 100")
    a.close()
    return elapsed


def idle_latency(imap_port, lmtp_port, samples):
    """Seconds from each LMTP delivery's reply to the EXISTS in IDLE."""
    c = login(imap_port)
    lines, _ = c.command("SELECT INBOX")
    exists = [int(line.split()[1]) for line in lines if line.endswith(b" EXISTS")][0]
    c.send("i IDLE")
    if not c.line().startswith(b"+"):
        sys.exit("IDLE refused")
    lmtp = smtplib.LMTP("127.0.0.1", lmtp_port)
    out = []
    for i in range(samples):
        lmtp.sendmail("bench@example.org", ["user1@example.org"],
                      f"Subject: idle {i}\r\nMessage-ID: <idle{i}@bench>\r\n\r\nping\r\n")
        replied = time.perf_counter()
        while True:
            line = c.line()
            if line.endswith(b" EXISTS") and int(line.split()[1]) > exists:
                exists = int(line.split()[1])
                break
        out.append(time.perf_counter() - replied)
    lmtp.quit()
    c.send("DONE")
    c.sock.close()
    return out


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100000, help="messages in the INBOX")
    parser.add_argument("--idle-samples", type=int, default=50, help="deliveries timed in IDLE")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("imap_side_by_side needs root (Dovecot's master runs as root)")
    install_dovecot("dovecot-lmtpd", "dovecot-imapd")
    with servers("roost-imap-side-by-side-", ["user1"], imap=True) as (base, roost, dovecot):
        # One LMTP connection: the generator's seed is per connection, and
        # several would deliver every message several times.
        fill(base, roost, dovecot, args.messages, 1)
        # A word only one message holds (the generator plants "zq<n>x<r>"
        # in message n's body), and the day its Date: names.
        probe = login(roost.imap_port)
        probe.command("EXAMINE INBOX")
        lines, _ = probe.command(f"FETCH {args.messages // 2} (BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (DATE)])")
        text = b"\n".join(lines)
        rare = re.search(rb"\bzq\d+x\d+\b", text)
        date = re.search(rb"Date: ([^\r\n]+)", text)
        if not rare or not date:
            sys.exit("no planted word or Date: in the probe message")
        rare_word = rare.group(0).decode()
        day = lambda d: f"{d.day}-{d.strftime('%b')}-{d.year}"
        sent_since = day(email.utils.parsedate_to_datetime(date.group(1).decode()))
        yesterday = day(datetime.date.today() - datetime.timedelta(days=1))
        probe.close()
        ops = operations(rare_word, sent_since, yesterday)
        results = {}
        answers = {}
        for name, server in (("Roost", roost), ("Dovecot", dovecot)):
            results[name], answers[name] = run_operations(server.imap_port, ops, args.messages)
            results[name]["QRESYNC resync after 100 changes"] = (qresync(server.imap_port, args.messages), None)
            results[name]["IDLE"] = idle_latency(server.imap_port, server.port, args.idle_samples)
        print(f"\nIMAP on a {args.messages}-message INBOX, one run (ms)")
        print("| operation | Roost first | Dovecot first | first: Dovecot / Roost | Roost warm | Dovecot warm "
              "| warm: Dovecot / Roost | answers |")
        print("|---|---|---|---|---|---|---|---|")
        r, d = results["Roost"], results["Dovecot"]
        print(f"| SELECT | {r['SELECT'] * 1000:.1f} | {d['SELECT'] * 1000:.1f} | {d['SELECT'] / r['SELECT']:.1f}x "
              f"| {r['SELECT warm'] * 1000:.1f} | {d['SELECT warm'] * 1000:.1f} "
              f"| {d['SELECT warm'] / r['SELECT warm']:.1f}x | |")
        for label in [op[0] for op in ops] + ["STATUS (MESSAGES SIZE)", "QRESYNC resync after 100 changes"]:
            rf, rw = r[label]
            df, dw = d[label]
            same = ""
            if label in answers["Roost"]:
                a, b = answers["Roost"][label], answers["Dovecot"][label]
                if a == b:
                    same = "same"
                elif isinstance(a, list) and isinstance(b, list) and sorted(a) == sorted(b):
                    first = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
                    same = f"same set, order differs from position {first + 1}"
                elif isinstance(a, list):
                    same = f"differs: Roost {len(a)}, Dovecot {len(b)}"
                else:
                    same = f"differs: Roost {a}, Dovecot {b}"
            warm = f"| {rw * 1000:.1f} | {dw * 1000:.1f} | {dw / rw:.1f}x" if rw is not None else "| | |"
            print(f"| {label} | {rf * 1000:.1f} | {df * 1000:.1f} | {df / rf:.1f}x {warm} | {same} |")
        for name in ("Roost", "Dovecot"):
            lat = results[name]["IDLE"]
            print(f"IDLE notification, {name}: p50 {percentile(lat, 50) * 1000:.1f} ms, "
                  f"p99 {percentile(lat, 99) * 1000:.1f} ms, mean {statistics.mean(lat) * 1000:.1f} ms "
                  f"({len(lat)} deliveries)")


if __name__ == "__main__":
    main()
