"""UIDs only ever ascend for every observer (RFC 9051 §2.3.1.1: a client that
has seen UID n fetches only above n), while APPEND, MOVE and LMTP write into
one folder at once from many connections: a session is never shown a UID
below one it (or any earlier session) was already shown, and every message
the writers were told about is in the folder at the end (issue 23 item 23)."""

import imaplib
import re
import smtplib
import threading
import time
import unittest

from roosttest import Instance, free_port

WRITERS_EACH = 60
imaplib.Commands.setdefault("MOVE", ("SELECTED",))


class UidOrder(unittest.TestCase):
    def setUp(self):
        self.imap, self.lmtp = free_port(), free_port()
        self.instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.imap}\n"
                                 f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp}\n",
                                 "[auth]\nallow_plaintext_loopback = true\n"
                                 "trusted_networks = 127.0.0.0/8\n")
        self.addCleanup(self.instance.close)
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")
        self.lock = threading.Lock()
        self.told = set()        # UIDs in INBOX that a writer was told (APPENDUID, COPYUID)
        self.highest_shown = 0   # the highest INBOX UID any observer has been shown
        self.errors = []

    def client(self):
        c = imaplib.IMAP4("127.0.0.1", self.imap, timeout=60)
        c.login("alice", "secret")
        return c

    def fail_later(self, text):
        with self.lock:
            self.errors.append(text)

    def appender(self, n):
        c = self.client()
        for i in range(WRITERS_EACH):
            typ, data = c.append("INBOX", None, None, f"Subject: append {n}.{i}\r\n\r\nbody\r\n".encode())
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            if typ != "OK" or not found:
                self.fail_later(f"APPEND {n}.{i}: {typ} {data}")
                continue
            with self.lock:
                self.told.add(int(found.group(1)))
        c.logout()

    def mover(self):
        c = self.client()
        c.select("Stash")
        for _ in range(WRITERS_EACH):
            typ, data = c._simple_command("MOVE", "1", "INBOX")
            copied = [d for d in c.untagged_responses.pop("OK", []) + data if d and b"COPYUID" in d]
            found = re.search(rb"COPYUID \d+ [\d:,]+ (\d+)\]", copied[0]) if copied else None
            if typ != "OK" or not found:
                self.fail_later(f"MOVE: {typ} {data} {copied}")
                continue
            with self.lock:
                self.told.add(int(found.group(1)))
        c.logout()

    def deliverer(self, n):
        with smtplib.LMTP("127.0.0.1", self.lmtp, timeout=60) as lmtp:
            for i in range(WRITERS_EACH):
                lmtp.sendmail("a@example.org", ["alice"], f"Subject: lmtp {n}.{i}\r\n\r\nbody\r\n".encode())

    def uids_of(self, c):
        typ, data = c.fetch("1:*", "(UID)")
        if typ != "OK" or data == [None]:
            return []
        return [int(m) for m in re.findall(rb"UID (\d+)", b" ".join(d for d in data if isinstance(d, bytes)))]

    def watcher(self, stop):
        """A session that stays selected: its sequence of UIDs only grows at
        the end, in ascending order."""
        c = self.client()
        c.select("INBOX")
        shown = []
        while not stop.is_set():
            c.noop()
            now = self.uids_of(c)
            if now[:len(shown)] != shown or now != sorted(set(now)):
                self.fail_later(f"a selected session's UIDs went from {shown[-5:]} to {now[-8:]}")
                break
            shown = now
            self.observe(shown)
        c.logout()

    def snapshotter(self, stop):
        """Fresh sessions: each must show every UID below the highest any
        session had been shown before it started (no expunges happen here)."""
        while not stop.is_set():
            with self.lock:
                floor = self.highest_shown
                told_below = {u for u in self.told if u <= floor}
            c = self.client()
            c.select("INBOX", readonly=True)
            now = self.uids_of(c)
            c.logout()
            missing = told_below - set(now)
            if missing:
                self.fail_later(f"UIDs {sorted(missing)[:5]} at or below {floor} missing from a later session")
                break
            self.observe(now)

    def reporting(self, run):
        def guarded():
            try:
                run()
            except Exception as e:  # a thread's failure is the test's
                self.fail_later(f"{type(e).__name__}: {e}")
        return guarded

    def observe(self, uids):
        if uids:
            with self.lock:
                self.highest_shown = max(self.highest_shown, uids[-1])

    def test_uids_ascend_for_every_observer_under_append_move_and_lmtp(self):
        c = self.client()
        c.create("Stash")
        for i in range(WRITERS_EACH):
            c.append("Stash", None, None, f"Subject: stash {i}\r\n\r\nbody\r\n".encode())
        c.logout()

        stop = threading.Event()
        observers = [threading.Thread(target=self.watcher, args=(stop,)) for _ in range(2)]
        observers.append(threading.Thread(target=self.snapshotter, args=(stop,)))
        writers = [threading.Thread(target=self.appender, args=(n,)) for n in range(2)]
        writers += [threading.Thread(target=self.deliverer, args=(n,)) for n in range(2)]
        writers.append(threading.Thread(target=self.mover))
        for t in observers + writers:
            t.run = self.reporting(t.run)
            t.start()
        deadline = time.monotonic() + 240
        for t in writers:
            t.join(max(1, deadline - time.monotonic()))
        stop.set()
        for t in observers:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in observers + writers), "a client hung")
        self.assertEqual(self.errors, [])

        c = self.client()
        c.select("INBOX", readonly=True)
        final = self.uids_of(c)
        typ, data = c.status("Stash", "(MESSAGES)")
        c.logout()
        self.assertEqual(final, sorted(set(final)))
        self.assertEqual(len(final), 5 * WRITERS_EACH)
        self.assertEqual(self.told - set(final), set())
        self.assertIn(b"MESSAGES 0", data[0])

    def test_uid_fetch_racing_expunges_is_always_ok(self):
        """A UID FETCH names UIDs, not positions: one that races another
        session's expunge answers for the UIDs that still exist and says OK,
        never NO (RFC 9051 §6.4.9, issue 23 item 22)."""
        c = self.client()
        for i in range(40):
            c.append("INBOX", None, None, f"Subject: m{i}\r\n\r\n{'x' * 2000}\r\n".encode())
        c.select("INBOX")
        stop = threading.Event()

        def expunger():
            e = self.client()
            e.select("INBOX")
            while not stop.is_set():
                e.append("INBOX", None, None, b"Subject: again\r\n\r\nbody\r\n")
                e.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)")
                typ, data = e.expunge()
                if typ != "OK":
                    self.fail_later(f"EXPUNGE: {typ} {data}")
            e.logout()

        t = threading.Thread(target=self.reporting(expunger))
        t.start()
        answers = set()
        try:
            for _ in range(150):
                typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[] FLAGS)")
                answers.add(typ)
                if typ != "OK":
                    self.fail_later(f"UID FETCH: {typ} {data}")
                    break
        finally:
            stop.set()
            t.join(60)
        c.logout()
        self.assertEqual(self.errors, [])
        self.assertEqual(answers, {"OK"})


if __name__ == "__main__":
    unittest.main()
