"""Runs protocol scripts (tests/protocol/<protocol>/), one scenario per
file, each against a fresh roostd with IMAP, POP3 and LMTP listeners. The
format:

    # comments
    @users alice:secret bob:pw     users to create before the daemon starts
    @conf LINE                     a line for roost.conf (after the test's own settings)
    @connect NAME [PROTOCOL]       open connection NAME to the script's protocol (or to PROTOCOL,
                                   imap or pop3); it becomes current; its greeting is read
    @use NAME                      make NAME current
    C: text                        send text + CRLF on the current connection; for IMAP, when it
                                   ends in a synchronizing literal {n}, expect a "+" line first
                                   (the next C: lines are the literal's bytes)
    C!: text                       send text + CRLF and expect no continuation (a refusal)
    C+: text                       queue text + CRLF; queued lines go out in one write before the
                                   next line that is not C+: (pipelining)
    S: pattern                     the next line received must match; "..." matches any
                                   run of characters
    S*: pattern                    skip lines until one matches (for untagged noise)
    S=: text                       the next line received must be exactly text ("..." included)
    @lmtp USER                     deliver the following lines (until a line ".") over LMTP
    @closed                        the server must have closed the current connection
    @sleep SECONDS

Every read waits at most 10 seconds."""

import glob
import os
import re
import smtplib
import time
import unittest

from roosttest import Instance, LineClient, free_port

GREETINGS = {"imap": "* OK ", "pop3": "+OK "}
SETTINGS = ("[imap]\nmax_message_size = 64K\nidle_keepalive = 30s\nmax_bad_commands = 5\n"
            "[pop3]\nmax_bad_commands = 5\n")


def pattern_regex(pattern):
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("...")) + "$")


class ScriptError(AssertionError):
    pass


class Runner:
    def __init__(self, path, protocol):
        self.path = path
        self.protocol = protocol
        self.name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            self.lines = f.read().split("\n")

    def run(self):
        users = []
        conf = []
        for line in self.lines:
            if line.startswith("@users "):
                users = [u.split(":", 1) for u in line.split()[1:]]
            elif line.startswith("@conf "):
                conf.append(line[len("@conf "):])
        # A port free when chosen may be taken by a parallel test before the
        # daemon binds it: choose again, a few times.
        for attempt in range(3):
            self.ports = {"imap": free_port(), "pop3": free_port()}
            self.lmtp_port = free_port()
            self.instance = Instance(
                "".join(f"[listener {p}]\nservice = {p}\naddress = 127.0.0.1:{port}\ntls = starttls\n"
                        for p, port in self.ports.items())
                + f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp_port}\n",
                "[auth]\nallow_plaintext_loopback = true\n" + SETTINGS + "\n".join(conf) + "\n")
            for name, password in users:
                self.instance.add_user(name, password)
            try:
                self.instance.start(program="roostd")
                break
            except AssertionError as e:
                self.instance.close()
                if "Address already in use" not in str(e) or attempt == 2:
                    raise
        self.connections = {}
        self.current = None
        try:
            self.execute()
        finally:
            for c in self.connections.values():
                c.close()
            self.instance.close()

    def fail(self, number, message):
        raise ScriptError(f"{self.name}:{number}: {message}")

    def execute(self):
        i = 0
        queued = []
        while i < len(self.lines):
            number = i + 1
            line = self.lines[i]
            i += 1
            if not line.strip() or line.startswith("#") or line.startswith("@users ") or line.startswith("@conf "):
                continue
            if queued and not line.startswith("C+: "):
                self.current.send(b"".join(queued))
                queued = []
            if line.startswith("@connect "):
                words = line.split()
                name = words[1]
                protocol = words[2] if len(words) > 2 else self.protocol
                self.connections[name] = LineClient("127.0.0.1", self.ports[protocol])
                self.current = self.connections[name]
                self.current.protocol = protocol
                greeting = self.current.line()
                if not greeting.startswith(GREETINGS[protocol]):
                    self.fail(number, "greeting: " + greeting)
            elif line.startswith("@use "):
                self.current = self.connections[line.split()[1]]
            elif line.startswith("@sleep "):
                time.sleep(float(line.split()[1]))
            elif line.startswith("@closed"):
                if not self.current.closed():
                    self.fail(number, "the connection is still open")
            elif line.startswith("@lmtp "):
                body = []
                while self.lines[i] != ".":
                    body.append(self.lines[i])
                    i += 1
                i += 1
                with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
                    lmtp.sendmail("sender@example.org", [line.split()[1]], "\r\n".join(body).encode() + b"\r\n")
            elif line.startswith("C+: "):
                queued.append(line[4:].encode() + b"\r\n")
            elif line.startswith("C!: "):
                self.current.send(line[4:].encode() + b"\r\n")
            elif line.startswith("C: ") or line == "C:":
                text = line[3:]
                self.current.send(text.encode() + b"\r\n")
                if self.current.protocol == "imap" and re.search(r"\{(\d+)\}$", text):
                    cont = self.current.line()
                    if not cont.startswith("+"):
                        self.fail(number, "expected a continuation, got " + cont)
            elif line.startswith("S=: "):
                got = self.current.line()
                if got != line[4:]:
                    self.fail(number, f"expected exactly {line[4:]!r}, got {got!r}")
            elif line.startswith("S: ") or line.startswith("S*: ") or line == "S:":
                skip = line.startswith("S*: ")
                pattern = line[4:] if skip else line[3:]
                regex = pattern_regex(pattern)
                while True:
                    try:
                        got = self.current.line()
                    except Exception as e:
                        self.fail(number, f"expected {pattern!r}, got {e}")
                    if regex.match(got):
                        break
                    if not skip:
                        self.fail(number, f"expected {pattern!r}, got {got!r}")
            else:
                self.fail(number, "unknown line: " + line)


def run_all(test, protocol, suffix):
    paths = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "protocol", protocol, "*." + suffix)))
    test.assertGreater(len(paths), 0)
    for path in paths:
        with test.subTest(script=os.path.basename(path)):
            Runner(path, protocol).run()
