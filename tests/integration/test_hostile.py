"""Hostile clients, one input class per test (DESIGN invariants 4 and 8):
while a client sends what an outside review used against Roost, the daemon
stays up, its memory stays within a stated bound, and another user's NOOPs
are answered within a stated time. Each bound is far below what the input
cost before it was bounded, and far above what it costs now."""

import os
import socket
import subprocess
import threading
import time
import unittest

from roosttest import Instance, LineClient, free_port

MiB = 1024 * 1024


def rss_peak(pid):
    """The process's peak resident memory so far (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def reset_rss_peak(pid):
    """Starts VmHWM again from the current RSS (Linux: write 5 to clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


class NoopProbe:
    """Another user's session sending NOOP every 50 ms; the slowest answer
    is kept. A hostile client must not stall the io threads."""

    def __init__(self, port, user="bob", password="pw"):
        self.client = LineClient("127.0.0.1", port, timeout=30)
        self.client.line()
        assert self.client.command(f"p LOGIN {user} {password}").startswith("p OK")
        self.slowest = 0.0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            n += 1
            started = time.monotonic()
            reply = self.client.command(f"n{n} NOOP")
            self.slowest = max(self.slowest, time.monotonic() - started)
            assert reply == f"n{n} OK NOOP completed", reply
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.thread.join(30)
        self.client.close()
        return self.slowest


def without_asan_quarantine():
    """The daemon's environment for memory bounds: AddressSanitizer keeps
    freed memory in quarantine (256 MiB by default), which would count every
    buffer a long transfer went through as resident."""
    options = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (options + ":" if options else "") + "quarantine_size_mb=1"


class HostileImapTest(unittest.TestCase):
    EXTRA = ("[auth]\nallow_plaintext_loopback = true\n"
             "[limits]\nlogin_timeout = 3s\n")

    def setUp(self):
        without_asan_quarantine()
        self.port = free_port()
        self.lmtp_port = free_port()
        self.instance = Instance(
            f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\n"
            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp_port}\n", self.EXTRA)
        self.instance.add_user("alice", "secret")
        self.instance.add_user("bob", "pw")
        self.instance.start(program="roostd")
        self.pid = self.instance.daemon.pid
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.instance.close()

    def connect(self):
        c = LineClient("127.0.0.1", self.port, timeout=30)
        self.clients.append(c)
        self.assertTrue(c.line().startswith("* OK"))
        return c

    def logged_in(self):
        c = self.connect()
        self.assertTrue(c.command("a LOGIN alice secret").startswith("a OK"))
        return c

    def alive(self):
        """The daemon still runs and serves a fresh connection."""
        self.assertIsNone(self.instance.daemon.poll(), self.instance.read_log()[-3000:])
        c = self.connect()
        self.assertEqual(c.command("z NOOP"), "z OK NOOP completed")

    def until_tagged(self, c, tag):
        while True:
            line = c.line()
            if line.startswith(tag + " "):
                return line

    def test_nested_search_keys_before_login_are_refused_unparsed(self):
        # 45,000 NOTs over three lines joined by small literals: before login
        # SEARCH is refused on its first line, and no literal of it is taken.
        c = self.connect()
        c.send(b"a SEARCH " + b"NOT " * 15000 + b"{1}\r\n")
        self.assertEqual(c.line(), "a NO [CLIENTBUG] Log in first")
        c.send(b"b SEARCH " + b"NOT " * 15000 + b"{1+}\r\nx" + b"NOT " * 15000 + b"ALL\r\n")
        # Too long for a command before login: refused, the connection kept or
        # ended, never a crash.
        try:
            c.line()
        except (EOFError, ConnectionError):
            pass
        self.alive()

    def test_nesting_through_not_or_fuzzy_is_bounded_after_login(self):
        c = self.logged_in()
        c.send(b"s SELECT INBOX\r\n")
        self.assertTrue(self.until_tagged(c, "s").startswith("s OK"))
        # One line each, under the 64 KiB line limit.
        for key in (b"NOT ", b"FUZZY ", b"OR ALL "):
            c.send(b"d SEARCH " + key * (60000 // len(key)) + b"ALL\r\n")
            self.assertEqual(self.until_tagged(c, "d"), "d BAD Too deeply nested")
        # Parentheses and keys count against one depth: 20 of each is over it.
        c.send(b"e SEARCH " + b"(NOT " * 20 + b"ALL" + b")" * 20 + b"\r\n")
        self.assertEqual(self.until_tagged(c, "e"), "e BAD Too deeply nested")
        # Reasonable nesting still works.
        c.send(b"f SEARCH OR OR OR FROM a TO a CC a NOT (SUBJECT a NOT DELETED)\r\n")
        self.assertEqual(self.until_tagged(c, "f"), "f OK SEARCH completed")
        self.alive()

    def test_no_big_literal_before_login(self):
        c = self.connect()
        reset_rss_peak(self.pid)
        before = rss_peak(self.pid)
        # A synchronizing literal for a command not allowed before login: no
        # continuation, refused at once.
        c.send(b"a APPEND INBOX {52428800}\r\n")
        self.assertEqual(c.line(), "a NO [CLIENTBUG] Log in first")
        # LOGIN's literals are a few KiB at most before login.
        c.send(b"b LOGIN {100000}\r\n")
        self.assertEqual(c.line(), "b BAD [TOOBIG] Literal too large")
        c.send(b"c LOGIN {5}\r\n")
        self.assertEqual(c.line(), "+ Ready for literal data")
        c.send(b"alice {6}\r\n")
        self.assertEqual(c.line(), "+ Ready for literal data")
        c.send(b"secret\r\n")
        self.assertTrue(c.line().startswith("c OK"))
        # A non-synchronizing one that is too big ends the connection before
        # its bytes are read.
        c2 = self.connect()
        c2.send(b"a APPEND INBOX {52428800+}\r\n")
        self.assertEqual(c2.line(), "a BAD [TOOBIG] Literal too large")
        self.assertTrue(c2.line().startswith("* BYE"))
        sent = 0
        try:
            for _ in range(50):
                c2.send(b"x" * MiB)
                sent += MiB
        except OSError:
            pass
        self.assertLess(rss_peak(self.pid) - before, 20 * MiB)
        self.alive()

    def test_login_deadline_is_absolute(self):
        # login_timeout is 3 s: a byte a second, or a NOOP a second, does not
        # keep an unauthenticated connection open past it.
        for trickle in (lambda c, i: c.send(b"a LOGIN alice"[i:i + 1]),
                        lambda c, i: c.send(b"n%d NOOP\r\n" % i)):
            c = self.connect()
            started = time.monotonic()
            closed = False
            for i in range(12):
                try:
                    trickle(c, i)
                except OSError:
                    closed = True
                    break
                time.sleep(0.5)
                c.sock.settimeout(0.01)
                try:
                    data = c.sock.recv(65536)
                    if not data or b"BYE" in data:
                        closed = True
                        break
                except socket.timeout:
                    pass
                finally:
                    c.sock.settimeout(30)
            self.assertTrue(closed, "still open after %.1f s" % (time.monotonic() - started))
            self.assertLess(time.monotonic() - started, 5.5)

    def test_sequence_sets_are_merged_before_expanding(self):
        c = self.logged_in()
        for i in range(3):
            c.send(b"p%d APPEND INBOX {22+}\r\nSubject: m\r\n\r\nbody %d\r\n\r\n" % (i, i))
            self.assertTrue(self.until_tagged(c, "p%d" % i).startswith("p%d OK" % i))
        c.send(b"s SELECT INBOX\r\n")
        self.assertTrue(self.until_tagged(c, "s").startswith("s OK"))
        # 4294967295 is a number, not `*` (RFC 9051 §9: seq-number): with
        # UIDs 1-3, 4:4294967295 names no message; 4:* names UID 3.
        c.send(b"u1 UID STORE 4:4294967295 +FLAGS (\\Flagged)\r\n")
        self.assertEqual(self.until_tagged(c, "u1"), "u1 OK UID STORE completed")
        c.send(b"u2 UID SEARCH FLAGGED\r\n")
        self.assertEqual(c.line(), "* SEARCH")
        c.send(b"u3 UID EXPUNGE 10:4294967295\r\n")
        lines = []
        while True:
            line = c.line()
            if line.startswith("u3 "):
                break
            lines.append(line)
        self.assertFalse([l for l in lines if "EXPUNGE" in l], lines)
        c.send(b"u4 UID SEARCH UID 4:*\r\n")
        self.assertEqual(c.line(), "* SEARCH 3")
        self.assertTrue(c.line().startswith("u4 OK"))
        self.alive()

    def test_many_copies_of_the_whole_folder_in_one_set(self):
        # 5,000 messages put in the maildir as another program would.
        cur = os.path.join(self.instance.dir, "data", "mail", "alice", "cur")
        os.makedirs(cur, exist_ok=True)
        for i in range(5000):
            with open(os.path.join(cur, "%d.M%dP1.test:2," % (1700000000 + i, i)), "wb") as f:
                f.write(b"Subject: m%d\r\n\r\nbody\r\n" % i)
        c = self.logged_in()
        c.send(b"s SELECT INBOX\r\n")
        self.assertTrue(self.until_tagged(c, "s").startswith("s OK"))
        probe = NoopProbe(self.port)
        reset_rss_peak(self.pid)
        before = rss_peak(self.pid)
        # 12,000 copies of 1:* (expanded one by one: 60 million UIDs, 240 MB,
        # before duplicates were dropped): each message once, nothing more.
        for command in (b"f FETCH ", b"g UID FETCH "):
            c.send(command + b",".join([b"1:*"] * 12000) + b" UID\r\n")
            fetched = 0
            while True:
                line = c.line()
                if line.startswith(command[:2].decode()):
                    self.assertTrue(line.startswith(command[:2].decode() + "OK"), line)
                    break
                fetched += 1
            self.assertEqual(fetched, 5000)
        self.assertLess(rss_peak(self.pid) - before, 32 * MiB)
        self.assertLess(probe.stop(), 2.0)
        self.alive()

    def test_list_patterns_of_wildcards(self):
        c = self.logged_in()
        for i in range(20):
            c.send(b"c%d CREATE Folder%d/with/a/rather/long/name/to/match/against/%d\r\n" % (i, i, i))
            self.assertTrue(self.until_tagged(c, "c%d" % i).startswith("c%d OK" % i))
        probe = NoopProbe(self.port)
        # Four 60 KB patterns of alternating wildcards (literals: each is a
        # line's worth), three times over.
        pattern = b"*%" * 30000
        for round in range(3):
            c.send(b"l%d LIST \"\" (" % round + b" ".join([b"{%d+}\r\n" % len(pattern) + pattern] * 4) + b")\r\n")
            self.assertTrue(self.until_tagged(c, "l%d" % round).startswith("l%d OK" % round))
        self.assertLess(probe.stop(), 0.5)
        self.alive()

    def test_fetch_of_the_same_big_section_many_times(self):
        c = self.logged_in()
        body = (b"x" * 1022 + b"\r\n") * 1024  # 1 MiB
        message = b"Subject: big\r\n\r\n" + body
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
        self.assertTrue(self.until_tagged(c, "a").startswith("a OK"))
        c.send(b"s SELECT INBOX\r\n")
        self.assertTrue(self.until_tagged(c, "s").startswith("s OK"))
        reset_rss_peak(self.pid)
        before = rss_peak(self.pid)
        # 100 copies of BODY[] in one response: 100 MiB asked for, sent in
        # pieces as the client reads, never held at once.
        c.send(b"f UID FETCH 1 (" + b" ".join([b"BODY.PEEK[]"] * 100) + b")\r\n")
        received = 0
        while True:
            chunk = c.sock.recv(1 << 20)
            self.assertTrue(chunk)
            received += len(chunk)
            if chunk.endswith(b"f OK UID FETCH completed\r\n"):
                break
        self.assertGreater(received, 100 * len(message))
        self.assertLess(rss_peak(self.pid) - before, 48 * MiB)
        c.buffer = b""
        self.alive()

    def test_links_in_a_maildir_are_not_followed(self):
        mail = os.path.join(self.instance.dir, "data", "mail")
        c = self.logged_in()
        message = b"Subject: mine\r\n\r\nmy own mail\r\n"
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
        self.assertTrue(self.until_tagged(c, "a").startswith("a OK"))
        # bob's mail exists; alice's maildir gets a folder that is a link to
        # it, and a message file that is a link to a file roostd can read.
        bob = LineClient("127.0.0.1", self.port, timeout=30)
        self.clients.append(bob)
        bob.line()
        self.assertTrue(bob.command("b LOGIN bob pw").startswith("b OK"))
        secret = b"Subject: bob's\r\n\r\nbob's secret\r\n"
        bob.send(b"c APPEND INBOX {%d+}\r\n" % len(secret) + secret + b"\r\n")
        self.assertTrue(self.until_tagged(bob, "c").startswith("c OK"))
        os.symlink("../bob", os.path.join(mail, "alice", ".Bob"))
        os.symlink(self.instance.conf, os.path.join(mail, "alice", "cur", "1700000000.M1P1.evil:2,S"))
        c.send(b"l LIST \"\" *\r\n")
        listed = []
        while True:
            line = c.line()
            if line.startswith("l "):
                break
            listed.append(line)
        self.assertFalse([l for l in listed if "Bob" in l], listed)
        c.send(b"s SELECT Bob\r\n")
        self.assertTrue(self.until_tagged(c, "s").startswith("s NO [NONEXISTENT]"))
        c.send(b"t STATUS Bob (MESSAGES)\r\n")
        self.assertTrue(self.until_tagged(c, "t").startswith("t NO"))
        # The linked "message" is no message: INBOX holds alice's one.
        c.send(b"i SELECT INBOX\r\n")
        lines = []
        while True:
            line = c.line()
            lines.append(line)
            if line.startswith("i "):
                break
        self.assertIn("* 1 EXISTS", lines)
        # A message file replaced by a link is not served.
        cur = os.path.join(mail, "alice", "cur")
        name = [n for n in os.listdir(cur) if "evil" not in n][0]
        os.unlink(os.path.join(cur, name))
        os.symlink(self.instance.conf, os.path.join(cur, name))
        c.send(b"f UID FETCH 1 BODY.PEEK[]\r\n")
        answer = []
        while True:
            line = c.line()
            answer.append(line)
            if line.startswith("f "):
                break
        self.assertNotIn("data_dir", "\n".join(answer))
        self.alive()

    def test_a_crash_loop_leaves_nothing_in_tmp(self):
        # What an earlier roostd of this host left in tmp/ when it died
        # mid-delivery is removed when the folder is next opened; another
        # program's file and a running process's stay.
        self.instance.stop()
        tmp = os.path.join(self.instance.dir, "data", "mail", "alice", "tmp")
        os.makedirs(tmp, exist_ok=True)
        gone = subprocess.Popen(["true"])
        gone.wait()  # a process that no longer runs
        host = socket.gethostname()
        leftover = "1800000000.M1P%dQ1R0123456789abcdef.%s,S=20000000,W=20000000" % (gone.pid, host)
        running = "1800000000.M2P%dQ1R0123456789abcdef.%s" % (os.getpid(), host)
        foreign = "1800000000.M3P%d.otherprogram" % gone.pid
        for name in (leftover, running, foreign):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(b"x" * 1000)
        time.sleep(1.1)  # the files are older than the daemon
        self.instance.start(program="roostd")
        self.pid = self.instance.daemon.pid
        c = self.logged_in()
        c.send(b"s SELECT INBOX\r\n")
        self.assertTrue(self.until_tagged(c, "s").startswith("s OK"))
        self.assertEqual(sorted(os.listdir(tmp)), sorted([running, foreign]))

    def test_catenate_urls_share_one_budget(self):
        # A short command naming a big message over and over: the whole
        # APPEND may hold what four messages may (4 x 1 MiB here), not four
        # times that per message.
        self.instance.stop()
        self.instance.write(self.instance.listeners_text, self.EXTRA + "[imap]\nmax_message_size = 1M\n")
        self.instance.start(program="roostd")
        self.pid = self.instance.daemon.pid
        c = self.logged_in()
        big = b"Subject: big\r\n\r\n" + (b"y" * 1022 + b"\r\n") * 500  # half a MiB
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\n")
        self.assertTrue(self.until_tagged(c, "a").startswith("a OK"))
        c.send(b"s SELECT INBOX\r\n")
        self.assertTrue(self.until_tagged(c, "s").startswith("s OK"))
        one = b"CATENATE (URL \"/INBOX/;UID=1\" URL \"/INBOX/;UID=1\")"  # 1 MiB less a little
        c.send(b"m APPEND INBOX " + b" ".join([one] * 6) + b"\r\n")
        self.assertEqual(self.until_tagged(c, "m"), "m NO [TOOBIG] The catenated message is too large")
        c.send(b"n APPEND INBOX " + b" ".join([one] * 3) + b"\r\n")
        self.assertTrue(self.until_tagged(c, "n").startswith("n OK [APPENDUID"))
        self.alive()


class HostileLmtpTest(unittest.TestCase):
    EXTRA = "[lmtp]\nmax_message_size = 1M\n"

    def setUp(self):
        without_asan_quarantine()
        self.port = free_port()
        self.instance = Instance(f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.port}\n", self.EXTRA)
        for user in ("a", "a+b", "carol"):
            self.instance.add_user(user, "pw")
        self.instance.start(program="roostd")
        self.pid = self.instance.daemon.pid
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.instance.close()

    def raw(self):
        c = LineClient("127.0.0.1", self.port, timeout=30)
        self.clients.append(c)
        self.assertTrue(c.line().startswith("220 "))
        c.send(b"LHLO test\r\n")
        while not c.line().startswith("250 "):
            pass
        return c

    def stored(self, user):
        folder = os.path.join(self.instance.dir, "data", "mail", user, "new")
        out = []
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            with open(os.path.join(folder, name), "rb") as f:
                out.append(f.read())
        return out

    def test_bdat_size_near_2_to_the_64_is_never_kept(self):
        c = self.raw()
        self.assertTrue(c.command("MAIL FROM:<x@example.org>").startswith("250"))
        self.assertTrue(c.command("RCPT TO:<carol>").startswith("250"))
        reset_rss_peak(self.pid)
        before = rss_peak(self.pid)
        # The chunk's size plus what is kept wrapped around 2^64, and every
        # byte after it was kept: 40 MiB here, where the limit is 1 MiB.
        c.send(b"BDAT 18446744073709551615\r\n")
        for _ in range(40):
            c.send(b"y" * MiB)
        time.sleep(0.5)
        self.assertLess(rss_peak(self.pid) - before, 16 * MiB)
        c.close()
        self.assertEqual(self.stored("carol"), [])

    def test_only_crlf_dot_crlf_ends_data(self):
        c = self.raw()
        for line in ("MAIL FROM:<x@example.org>", "RCPT TO:<carol>", "DATA"):
            c.send(line.encode() + b"\r\n")
        self.assertTrue(c.line().startswith("250"))
        self.assertTrue(c.line().startswith("250"))
        self.assertTrue(c.line().startswith("354"))
        # <LF>.<CRLF> and <CRLF>.<LF> are data (RFC 5321 §4.1.1.4; the
        # SMTP-smuggling class): the "second message" after them is part of
        # the first, and nothing ends until <CRLF>.<CRLF>.
        c.send(b"Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<evil@example.org>\r\n.\nRCPT TO:<a>\r\n.\r\n")
        reply = c.line()
        self.assertTrue(reply.startswith("250 2.0.0"), reply)
        self.assertEqual(c.command("NOOP"), "250 2.0.0 OK")
        stored = self.stored("carol")
        self.assertEqual(len(stored), 1)
        self.assertIn(b"MAIL FROM:<evil@example.org>", stored[0])
        self.assertEqual(self.stored("a"), [])

    def test_whole_local_part_before_the_detail(self):
        c = self.raw()
        for rcpt in ("a+b", "a+c"):
            self.assertTrue(c.command("MAIL FROM:<x@example.org>").startswith("250"))
            self.assertTrue(c.command(f"RCPT TO:<{rcpt}>").startswith("250"))
            c.send(b"DATA\r\n")
            self.assertTrue(c.line().startswith("354"))
            c.send(b"Subject: for " + rcpt.encode() + b"\r\n\r\nhi\r\n.\r\n")
            self.assertTrue(c.line().startswith("250 2.0.0"))
        # Mail for a+b is the user a+b's; a+c has no user, so it is a's.
        self.assertEqual(len(self.stored("a+b")), 1)
        self.assertIn(b"Subject: for a+b", self.stored("a+b")[0])
        self.assertEqual(len(self.stored("a")), 1)
        self.assertIn(b"Subject: for a+c", self.stored("a")[0])


if __name__ == "__main__":
    unittest.main()
