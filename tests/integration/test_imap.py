"""IMAP over the wire with Python's imaplib, a real client: login, folders,
APPEND, SELECT, FETCH, STORE, SEARCH, COPY/MOVE, EXPUNGE, IDLE woken by an
LMTP delivery, and the errors a client meets on the way."""

import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time
import unittest
import zlib

from roosttest import BIN, RUN_AS_ROOT, Instance, LineClient, client_tls_context, free_port, run

MESSAGE = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Hello there\r\n"
           b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst part, planted zebra.\r\n"
           b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"AAECAwQ=\r\n--b--\r\n")


class DeflateClient:
    """Speaks through RFC 4978 compression on a LineClient's socket: a raw
    deflate stream each way, the client's flushed after every command."""

    def __init__(self, client):
        self.client = client
        self.out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflater = zlib.decompressobj(-15)
        self.buffer = b""
        self.wire_in = 0

    def send(self, data):
        self.client.send(self.out.compress(data) + self.out.flush(zlib.Z_SYNC_FLUSH))

    def _more(self):
        chunk = self.client.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.wire_in += len(chunk)
        self.buffer += self.inflater.decompress(chunk)

    def line(self):
        while b"\r\n" not in self.buffer:
            self._more()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()

    def read_exact(self, n):
        while len(self.buffer) < n:
            self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


class ImapTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.tls_port = free_port()
        self.lmtp_port = free_port()
        self.instance = Instance(
            f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\ntls = starttls\n"
            f"[listener imaps]\nservice = imap\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"
            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp_port}\n",
            "[auth]\nallow_plaintext_loopback = true\n[imap]\nmax_message_size = 64K\nidle_keepalive = 1s\n")
        self.instance.add_user("alice", "secret")
        self.instance.add_user("bob", "hunter2")
        self.instance.start(program="roostd")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.logout()
            except Exception:
                pass
        self.instance.close()

    def login(self, user="alice", password="secret"):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        self.clients.append(c)
        c.login(user, password)
        return c

    def raw(self):
        c = LineClient("127.0.0.1", self.port)
        greeting = c.line()
        self.assertTrue(greeting.startswith("* OK [CAPABILITY IMAP4rev1 "), greeting)
        return c

    def exchange(self, c, tag, command):
        """Sends a command; returns (untagged lines, tagged line)."""
        c.send((tag + " " + command + "\r\n").encode())
        untagged = []
        while True:
            line = c.line()
            if line.startswith(tag + " "):
                return untagged, line
            untagged.append(line)

    def test_capability_before_and_after_login(self):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        self.clients.append(c)
        before = c.capabilities
        self.assertIn("STARTTLS", before)
        self.assertIn("AUTH=PLAIN", before)
        self.assertNotIn("LOGINDISABLED", before)  # loopback may log in in clear here
        self.assertNotIn("UIDPLUS", before)
        c.login("alice", "secret")
        typ, data = c.capability()
        after = data[0].decode().split()
        for cap in ("IMAP4rev1", "UIDPLUS", "MOVE", "IDLE", "NAMESPACE", "LIST-EXTENDED", "SPECIAL-USE",
                    "ESEARCH", "APPENDLIMIT=65536"):
            self.assertIn(cap, after)
        self.assertNotIn("STARTTLS", after)

    def test_login_failures_and_states(self):
        c = self.raw()
        _, tagged = self.exchange(c, "a1", "LOGIN alice wrong")
        self.assertEqual(tagged, "a1 NO [AUTHENTICATIONFAILED] Authentication failed")
        _, tagged = self.exchange(c, "a2", "SELECT INBOX")
        self.assertEqual(tagged, "a2 NO [CLIENTBUG] Log in first")
        _, tagged = self.exchange(c, "a3", "FROB")
        self.assertEqual(tagged, "a3 BAD Unknown command FROB")
        _, tagged = self.exchange(c, "a4", "LOGIN alice secret")
        self.assertTrue(tagged.startswith("a4 OK [CAPABILITY IMAP4rev1 "), tagged)
        _, tagged = self.exchange(c, "a5", "FETCH 1 FLAGS")
        self.assertEqual(tagged, "a5 BAD [CLIENTBUG] No mailbox selected")
        untagged, tagged = self.exchange(c, "a6", "LOGOUT")
        self.assertEqual(untagged, ["* BYE Logging out"])
        self.assertEqual(tagged, "a6 OK LOGOUT completed")
        self.assertTrue(c.closed())

    def test_authenticate_plain_with_initial_response(self):
        c = self.raw()
        import base64
        ir = base64.b64encode(b"\0alice\0secret").decode()
        _, tagged = self.exchange(c, "a1", "AUTHENTICATE PLAIN " + ir)
        self.assertTrue(tagged.startswith("a1 OK "), tagged)
        # Without an initial response: an empty continuation first.
        c2 = self.raw()
        c2.send(b"b1 AUTHENTICATE PLAIN\r\n")
        self.assertEqual(c2.line(), "+ ")
        c2.send(base64.b64encode(b"\0bob\0hunter2") + b"\r\n")
        self.assertTrue(c2.line().startswith("b1 OK "))
        c3 = self.raw()
        c3.send(b"c1 AUTHENTICATE PLAIN\r\n")
        self.assertEqual(c3.line(), "+ ")
        c3.send(b"*\r\n")
        self.assertEqual(c3.line(), "c1 BAD Authentication cancelled")

    def test_starttls_then_login_and_implicit_tls(self):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        self.clients.append(c)
        c.starttls(ssl_context=client_tls_context())
        self.assertNotIn("STARTTLS", c.capabilities)
        c.login("alice", "secret")
        s = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=client_tls_context(), timeout=10)
        self.clients.append(s)
        s.login("bob", "hunter2")
        self.assertEqual(s.select("INBOX")[0], "OK")

    def test_folders_list_status_and_special_use(self):
        c = self.login()
        self.assertEqual(c.create("Projects/2026")[0], "OK")
        self.assertEqual(c.create("Caf\u00e9".encode("ascii", "ignore").decode() + "s")[0], "OK")
        typ, data = c.create("Projects")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[ALREADYEXISTS]", data[0])
        typ, data = c.list()
        names = [line.decode() for line in data]
        self.assertTrue(any(n.endswith('"/" Projects/2026') for n in names), names)
        self.assertTrue(any('\\HasChildren' in n and n.endswith('"/" Projects') for n in names), names)
        self.assertTrue(any('\\Sent' in n for n in names), names)  # a default folder
        typ, data = c.list('""', "%")
        self.assertFalse(any(b"Projects/2026" in line for line in data))
        typ, data = c._simple_command("LIST", '""', '""')
        self.assertEqual(typ, "OK")
        self.assertEqual(c.untagged_responses.pop("LIST"), [b'(\\Noselect) "/" ""'])
        # RFC 5258/5819: selection, return options and STATUS in one LIST.
        typ, data = c._simple_command("LIST", "(SPECIAL-USE)", '""', "*", "RETURN", "(STATUS (MESSAGES UIDNEXT))")
        self.assertEqual(typ, "OK")
        listed = c.untagged_responses.pop("LIST")
        self.assertTrue(all(re.search(rb"\\(Sent|Drafts|Trash|Junk|Archive)", x) for x in listed), listed)
        self.assertEqual(len(c.untagged_responses.pop("STATUS")), len(listed))
        self.assertEqual(c.rename("Projects", "Work")[0], "OK")
        typ, data = c.status("Work/2026", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE)")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r'^"?Work/2026"? \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0 DELETED 0 SIZE 0\)$')
        self.assertEqual(c.subscribe("Work")[0], "OK")
        typ, data = c.lsub('""', "*")
        self.assertTrue(any(line.endswith(b"Work") for line in data), data)
        self.assertEqual(c.delete("Work/2026")[0], "OK")
        typ, data = c.delete("INBOX")
        self.assertEqual(typ, "NO")
        typ, data = c.status("Nope", "(MESSAGES)")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[NONEXISTENT]", data[0])
        with self.assertRaisesRegex(imaplib.IMAP4.error, "Unexpected characters"):
            c.create("bad\x01name")  # a control character cannot be in an atom
        for hostile in ("&Jjo", "&AGE-", "../x", "a/../../b", "a.b"):
            typ, data = c.create(hostile)
            self.assertEqual(typ, "NO", hostile)
            self.assertIn(b"[CANNOT]", data[0])

    def test_a_folder_made_again_at_once_has_a_new_uidvalidity(self):
        # RFC 9051 §2.3.1.1: a mailbox deleted and created again under the
        # same name must not reuse the old UIDVALIDITY, however soon.
        c = self.login()
        seen = []
        for _ in range(3):
            self.assertEqual(c.create("Again")[0], "OK")
            typ, data = c.status("Again", "(UIDVALIDITY)")
            self.assertEqual(typ, "OK")
            seen.append(int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)))
            self.assertEqual(c.delete("Again")[0], "OK")
        self.assertEqual(seen, sorted(set(seen)), seen)

    def test_append_select_fetch_store_search(self):
        c = self.login()
        typ, data = c.append("INBOX", r"(\Flagged $Important)", imaplib.Time2Internaldate(1700000000), MESSAGE)
        self.assertEqual(typ, "OK")
        m = re.search(rb"\[APPENDUID (\d+) 1\]", data[0])
        self.assertIsNotNone(m, data)
        c.append("INBOX", None, None, b"Subject: second\r\n\r\nplain body\r\n")
        typ, data = c.select("INBOX")
        self.assertEqual(data, [b"2"])
        self.assertIn(b"$Important", c.untagged_responses["FLAGS"][0])
        typ, data = c.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)")
        text = data[0][0].decode() if isinstance(data[0], tuple) else data[0].decode()
        self.assertIn("UID 1", text)
        self.assertIn("\\Flagged", text)
        self.assertIn('INTERNALDATE "14-Nov-2023 22:13:20 +0000"', text)
        self.assertIn("RFC822.SIZE %d" % len(MESSAGE), text)
        self.assertIn('"Hello there"', text)
        typ, data = c.fetch("1", "(BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)] BINARY.PEEK[2] BINARY.SIZE[2])")
        self.assertEqual(data[0][1], b"First part, planted zebra.")
        self.assertEqual(data[1][1], b"Subject: Hello there\r\n\r\n")
        self.assertEqual(data[2][1], b"\x00\x01\x02\x03\x04")
        self.assertIn(b"BINARY.SIZE[2] 5", data[3])
        typ, data = c.fetch("1", "(BODY[]<0.10>)")
        self.assertEqual(data[0][1], MESSAGE[:10])
        self.assertIn(b"\\Seen", data[0][0] + data[1])  # the implicit \Seen is reported
        typ, data = c.fetch("1:2", "(FLAGS)")
        self.assertIn(b"\\Seen", data[0])
        typ, data = c.fetch("1", "BODYSTRUCTURE")
        self.assertIn(b'("text" "plain" ("charset" "utf-8")', data[0])
        typ, data = c.store("2", "+FLAGS", r"(\Deleted)")
        self.assertIn(b"\\Deleted", data[0])
        typ, data = c.search(None, "DELETED")
        self.assertEqual(data, [b"2"])
        typ, data = c.search(None, "BODY", "zebra")
        self.assertEqual(data, [b"1"])
        typ, data = c.uid("SEARCH", "SUBJECT", "second")
        self.assertEqual(data, [b"2"])
        typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
        esearch = c.untagged_responses.pop("ESEARCH")
        self.assertRegex(esearch[0].decode(), r'^\(TAG "\w+"\) MIN 1 MAX 2 COUNT 2$')
        typ, data = c.search("UTF-8", "SUBJECT", "Hello")
        self.assertEqual(data, [b"1"])
        typ, data = c.search("KOI8-R", "ALL")
        self.assertEqual(typ, "NO")
        typ, data = c.expunge()
        self.assertEqual(data, [b"2"])
        with self.assertRaisesRegex(imaplib.IMAP4.error, "Invalid message sequence number"):
            c.fetch("5", "FLAGS")

    def test_fetch_answer_larger_than_one_render_round(self):
        # FETCH renders up to 1 MiB of responses per trip to the blocking
        # pool: an answer of several MiB must arrive whole, in order, with
        # the implicit \Seen of each message (RFC 9051 §6.4.5) reported once.
        c = self.login()
        bodies = []
        for n in range(40):  # 60 KB each, under this instance's 64K limit
            line = b"message %d " % n + b"x" * 70 + b"\r\n"
            body = b"Subject: big %d\r\n\r\n" % n + line * (60_000 // len(line))
            bodies.append(body)
            self.assertEqual(c.append("INBOX", None, None, body)[0], "OK")
        c.select("INBOX")
        typ, data = c.fetch("1:40", "(UID BODY[])")
        self.assertEqual(typ, "OK")
        literals = [d for d in data if isinstance(d, tuple)]
        self.assertEqual([d[1] for d in literals], bodies)
        for n, d in enumerate(literals):
            # imaplib splits the rest of each response (after the literal) off.
            rest = d[0] + data[data.index(d) + 1]
            self.assertTrue(d[0].startswith(b"%d (UID %d " % (n + 1, n + 1)), d[0])
            self.assertEqual(rest.count(b"\\Seen"), 1, rest)
        typ, data = c.fetch("1:40", "(FLAGS)")
        self.assertEqual(len(data), 40)
        self.assertTrue(all(b"\\Seen" in d for d in data), data)

    def test_imaplib_walks_its_commands(self):
        """Every imaplib method for a command this server has, in the way
        imaplib sends it."""
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        self.clients.append(c)
        typ, _ = c.authenticate("PLAIN", lambda challenge: b"\0alice\0secret")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.enable("IMAP4rev2")[0], "OK")
        self.assertEqual(c.untagged_responses.pop("ENABLED"), [b"IMAP4rev2"])
        self.assertEqual(c.namespace(), ("OK", [b'(("" "/")) NIL NIL']))
        self.assertEqual(c.create("Walk")[0], "OK")
        self.assertEqual(c.subscribe("Walk")[0], "OK")
        self.assertEqual(c.unsubscribe("Walk")[0], "OK")
        self.assertEqual(c.lsub('""', "Walk"), ("OK", [None]))
        c.append("Walk", r"(\Deleted)", None, b"Subject: w\r\n\r\nw\r\n")
        self.assertEqual(c.select("Walk"), ("OK", [b"1"]))
        self.assertEqual(c.check()[0], "OK")
        self.assertEqual(c.unselect()[0], "OK")
        self.assertEqual(c.select("Walk")[0], "OK")
        self.assertEqual(c.close()[0], "OK")  # expunges the \Deleted message
        self.assertEqual(c.status("Walk", "(MESSAGES)"), ("OK", [b"Walk (MESSAGES 0)"]))
        typ, data = c.setquota('""', "(STORAGE 100)")
        self.assertEqual(typ, "NO")
        self.assertEqual(c.xatom("NOOP")[0], "OK")
        self.assertEqual(c.noop()[0], "OK")

    def test_copy_move_and_uidplus(self):
        c = self.login()
        for i in range(3):
            c.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody\r\n" % i)
        c.create("Archive2")
        c.select("INBOX")
        typ, data = c.copy("1:2", "Archive2")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[COPYUID \d+ 1:2 1:2\] COPY completed$")
        typ, data = c.copy("1", "Nowhere")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])
        typ, data = c._simple_command("UID", "MOVE", "3", "Archive2")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.untagged_responses.pop("EXPUNGE"), [b"3"])
        self.assertEqual(c.status("Archive2", "(MESSAGES)")[1], [b'Archive2 (MESSAGES 3)'])
        typ, data = c.select("INBOX", readonly=True)
        self.assertEqual(data, [b"2"])
        typ, data = c.store("1", "+FLAGS", r"(\Seen)")
        self.assertEqual(typ, "NO")

    def test_second_session_sees_changes(self):
        a = self.login()
        b = self.login()
        a.append("INBOX", None, None, b"Subject: one\r\n\r\nx\r\n")
        a.select("INBOX")
        b.select("INBOX")
        b.untagged_responses.clear()
        a.store("1", "+FLAGS", r"(\Answered)")
        a.append("INBOX", None, None, b"Subject: two\r\n\r\ny\r\n")
        typ, data = b.noop()
        self.assertEqual(b.untagged_responses.get("EXISTS"), [b"2"])
        fetches = b.untagged_responses.get("FETCH", [])
        self.assertTrue(any(b"\\Answered" in f for f in fetches), fetches)
        a.store("1", "+FLAGS", r"(\Deleted)")
        a.expunge()
        b.untagged_responses.clear()
        typ, data = b.noop()
        self.assertEqual(b.untagged_responses.get("EXPUNGE"), [b"1"])

    def test_condstore_conflict_between_sessions(self):
        # RFC 7162 §3.1.3: a conditional STORE fails for a message another
        # session changed after the client learnt its MODSEQ; CHANGEDSINCE,
        # SEARCH MODSEQ and STATUS HIGHESTMODSEQ all see exactly that change.
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            for n in range(3):
                lmtp.sendmail("x@example.org", ["alice"], b"Subject: m%d\r\n\r\nbody\r\n" % n)
        a, b = self.raw(), self.raw()
        for c in (a, b):
            self.exchange(c, "l", "LOGIN alice secret")
            self.exchange(c, "s", "SELECT INBOX (CONDSTORE)")

        def modseqs(c, tag):
            untagged, tagged = self.exchange(c, tag, "UID FETCH 1:* (MODSEQ)")
            self.assertTrue(tagged.startswith(tag + " OK"), tagged)
            found = {}
            for line in untagged:
                m = re.match(r"\* \d+ FETCH \(UID (\d+) MODSEQ \((\d+)\)\)$", line)
                if m:
                    found[int(m.group(1))] = int(m.group(2))
            return found

        known = modseqs(a, "a1")
        self.assertEqual(sorted(known), [1, 2, 3])
        highest = max(known.values())
        # B flags message 2 behind A's back.
        _, tagged = self.exchange(b, "b1", "UID STORE 2 +FLAGS.SILENT (\\Flagged)")
        self.assertTrue(tagged.startswith("b1 OK"), tagged)
        # A's conditional store on 1:3 succeeds for 1 and 3 only.
        untagged, tagged = self.exchange(
            a, "a2", "UID STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Seen)" % highest)
        self.assertEqual(tagged, "a2 OK [MODIFIED 2] Conditional STORE failed for some messages")
        replies = {int(re.search(r"UID (\d+)", line).group(1)): line for line in untagged if "FETCH" in line}
        self.assertIn("FLAGS (\\Flagged \\Recent)", replies[2])  # its current flags, unchanged
        self.assertNotIn("\\Seen", replies[2])
        after = modseqs(a, "a3")
        for uid in (1, 2, 3):
            self.assertGreater(after[uid], highest, uid)
        self.assertEqual(len(set(after.values())), 2)  # B's store, then A's: two mod-sequences
        # Retried with the MODSEQ it has now, the store goes through.
        _, tagged = self.exchange(a, "a4", "UID STORE 2 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Seen)" % after[2])
        self.assertEqual(tagged, "a4 OK UID STORE completed")
        # Only message 2 changed since A's last look at 1 and 3.
        final = modseqs(a, "a5")
        untagged, _ = self.exchange(a, "a6", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % after[3])
        self.assertEqual([re.search(r"UID (\d+)", line).group(1) for line in untagged], ["2"])
        untagged, _ = self.exchange(a, "a7", "UID SEARCH MODSEQ %d" % final[2])
        self.assertEqual(untagged, ["* SEARCH 2 (MODSEQ %d)" % final[2]])
        heard, _ = self.exchange(b, "b2", "STATUS INBOX (HIGHESTMODSEQ)")
        self.assertIn("* STATUS INBOX (HIGHESTMODSEQ %d)" % max(final.values()), heard)
        # B hears A's changes with their mod-sequences (here at STATUS or NOOP).
        untagged, _ = self.exchange(b, "b3", "NOOP")
        untagged += heard
        self.assertIn("* 2 FETCH (UID 2 FLAGS (\\Flagged \\Seen) MODSEQ (%d))" % final[2], untagged)

    def test_qresync_after_expunges_in_another_session(self):
        # RFC 7162 §3.2.5: a client comes back with its UIDVALIDITY, MODSEQ
        # and known UIDs and learns exactly what vanished and what changed.
        def deliver(n):
            with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
                lmtp.sendmail("x@example.org", ["alice"], b"Subject: m%d\r\n\r\nbody\r\n" % n)

        for n in range(5):
            deliver(n)

        def session():
            c = self.raw()
            self.exchange(c, "l", "LOGIN alice secret")
            untagged, _ = self.exchange(c, "e", "ENABLE QRESYNC")
            self.assertEqual(untagged, ["* ENABLED QRESYNC"])
            return c

        def select(c, tag, args=""):
            untagged, tagged = self.exchange(c, tag, "SELECT INBOX" + args)
            self.assertTrue(tagged.startswith(tag + " OK"), tagged)
            return untagged

        a = session()
        opened = select(a, "a1")
        uidvalidity = int(next(re.search(r"UIDVALIDITY (\d+)", l).group(1) for l in opened if "UIDVALIDITY" in l))
        modseq = int(next(re.search(r"HIGHESTMODSEQ (\d+)", l).group(1) for l in opened if "HIGHESTMODSEQ" in l))
        self.exchange(a, "a2", "LOGOUT")

        # Meanwhile: 2 flagged, 3 and 5 expunged (seen as VANISHED by a
        # QRESYNC session, §3.2.7), and 6 arrives.
        b = session()
        select(b, "b1")
        self.exchange(b, "b2", "UID STORE 2 +FLAGS.SILENT (\\Flagged)")
        self.exchange(b, "b3", "UID STORE 3,5 +FLAGS.SILENT (\\Deleted)")
        untagged, tagged = self.exchange(b, "b4", "EXPUNGE")
        self.assertEqual(tagged, "b4 OK EXPUNGE completed")
        self.assertEqual(untagged, ["* VANISHED 3,5"])
        deliver(5)

        a = session()
        back = select(a, "a3", " (QRESYNC (%d %d 1:5))" % (uidvalidity, modseq))
        self.assertIn("* VANISHED (EARLIER) 3,5", back)
        changed = [l for l in back if " FETCH " in l]
        self.assertEqual(len(changed), 1, back)
        self.assertRegex(changed[0], r"^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$")
        self.assertIn("* 4 EXISTS", back)
        # Reselecting closes the old mailbox first (§3.2.11). Sequence match
        # data 1:3 -> 1,2,4 proves the client knew every expunge up to UID 4.
        back = select(a, "a4", " (QRESYNC (%d %d 1:5 (1:3 1,2,4)))" % (uidvalidity, modseq))
        self.assertEqual(back[0], "* OK [CLOSED] Previous mailbox closed")
        self.assertIn("* VANISHED (EARLIER) 5", back)
        # Another UIDVALIDITY: nothing to resynchronize.
        back = select(a, "a5", " (QRESYNC (%d %d 1:5))" % (uidvalidity + 1, modseq))
        self.assertFalse([l for l in back if "VANISHED" in l or " FETCH " in l], back)
        # The same through UID FETCH: 2 changed and 6 is new.
        untagged, _ = self.exchange(a, "a6", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
        self.assertEqual(untagged[0], "* VANISHED (EARLIER) 3,5")
        self.assertEqual([re.search(r"UID (\d+)", l).group(1) for l in untagged[1:]], ["2", "6"])
        _, tagged = self.exchange(a, "a7", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
        self.assertEqual(tagged, "a7 BAD [CLIENTBUG] VANISHED is for UID FETCH")
        plain = self.raw()
        self.exchange(plain, "p1", "LOGIN alice secret")
        _, tagged = self.exchange(plain, "p2", "SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, modseq))
        self.assertEqual(tagged, "p2 BAD [CLIENTBUG] QRESYNC needs ENABLE QRESYNC first")
        # With QRESYNC, a STORE by sequence number answers with UIDs (§3.2.4).
        untagged, _ = self.exchange(b, "b5", "STORE 1 +FLAGS (\\Answered)")
        fetched = [line for line in untagged if " FETCH " in line]
        self.assertEqual(len(fetched), 1, untagged)
        self.assertRegex(fetched[0], r"^\* 1 FETCH \(UID 1 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)$")
        self.exchange(a, "a8", "LOGOUT")
        self.exchange(b, "b6", "LOGOUT")

        # After an index rebuild the record of expunges starts again: what
        # vanished is then told by comparing UIDs (§5.1), with the same answer.
        self.instance.stop()
        run([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, "index", "rebuild", "alice", "INBOX"])
        self.instance.start(program="roostd")
        a = session()
        back = select(a, "a9", " (QRESYNC (%d %d 1:5))" % (uidvalidity, modseq))
        self.assertIn("* VANISHED (EARLIER) 3,5", back)

    def test_object_ids_follow_messages_and_folders(self):
        """OBJECTID (RFC 8474): MAILBOXID kept by RENAME and new after DELETE
        and CREATE (§4); EMAILID kept by COPY and MOVE (§5.1); THREADID shared
        by a reply, in any folder (§5.2); SEARCH by either (§6); all of them
        the same after the index is rebuilt from the maildir."""
        c = self.raw()
        self.exchange(c, "a1", "LOGIN alice secret")
        root = b"Subject: Plans\r\nMessage-ID: <root@example.org>\r\n\r\nLet us plan.\r\n"
        reply = (b"Subject: Re: Plans\r\nMessage-ID: <reply@example.org>\r\n"
                 b"In-Reply-To: <root@example.org>\r\nReferences: <root@example.org>\r\n\r\nYes.\r\n")
        other = b"Subject: Lunch\r\n\r\nNo Message-ID here.\r\n"
        for i, m in enumerate((root, reply, other)):
            c.send(b"a2%d APPEND INBOX {%d+}\r\n" % (i, len(m)) + m + b"\r\n")
            self.assertIn(" OK [APPENDUID ", c.line())
        objectid = r"[A-Za-z][A-Za-z0-9_-]{0,254}"
        _, tagged = self.exchange(c, "a3", "CREATE Projects")
        created = re.fullmatch(r"a3 OK \[MAILBOXID \((%s)\)\] .*" % objectid, tagged)
        self.assertTrue(created, tagged)
        projects_id = created.group(1)

        untagged, _ = self.exchange(c, "a4", "SELECT INBOX")
        inbox_id = [re.fullmatch(r"\* OK \[MAILBOXID \((%s)\)\] .*" % objectid, u) for u in untagged]
        inbox_id = [m.group(1) for m in inbox_id if m]
        self.assertEqual(len(inbox_id), 1, untagged)
        self.assertNotEqual(inbox_id[0], projects_id)

        def ids():
            untagged, tagged = self.exchange(c, "f", "FETCH 1:* (EMAILID THREADID)")
            self.assertEqual(tagged, "f OK FETCH completed")
            out = []
            for u in untagged:
                m = re.fullmatch(r"\* \d+ FETCH \(EMAILID \((%s)\) THREADID \((%s)\)\)" % (objectid, objectid), u)
                self.assertTrue(m, u)
                out.append((m.group(1), m.group(2)))
            return out

        before = ids()
        self.assertEqual(len(before), 3)
        (root_email, root_thread), (reply_email, reply_thread), (other_email, other_thread) = before
        self.assertEqual(root_thread, reply_thread)
        self.assertNotEqual(root_thread, other_thread)
        self.assertEqual(len({root_email, reply_email, other_email, root_thread, other_thread}), 5)
        self.assertEqual(self.exchange(c, "s1", "SEARCH EMAILID " + reply_email)[0], ["* SEARCH 2"])
        self.assertEqual(self.exchange(c, "s2", "SEARCH THREADID " + root_thread)[0], ["* SEARCH 1 2"])
        self.assertEqual(self.exchange(c, "s3", "SEARCH OR EMAILID %s THREADID %s" % (other_email, root_thread))[0],
                         ["* SEARCH 1 2 3"])
        self.assertEqual(self.exchange(c, "s4", "SEARCH EMAILID Mnothing")[0], ["* SEARCH"])
        self.assertEqual(self.exchange(c, "s5", "SEARCH EMAILID M.1")[1], "s5 BAD Invalid object identifier")

        # COPY and MOVE keep EMAILID and THREADID (§5.1); the copy in INBOX too.
        self.exchange(c, "c1", "COPY 2 Projects")
        self.exchange(c, "c2", "MOVE 3 Projects")
        self.exchange(c, "c3", "COPY 1 INBOX")
        self.assertEqual(ids(), [before[0], before[1], before[0]])
        _, tagged = self.exchange(c, "r1", "RENAME Projects Work")
        self.assertEqual(tagged, "r1 OK RENAME completed")
        untagged, _ = self.exchange(c, "r2", "STATUS Work (MESSAGES MAILBOXID)")
        self.assertEqual(untagged, ["* STATUS Work (MESSAGES 2 MAILBOXID (%s))" % projects_id])
        self.exchange(c, "r3", "SELECT Work")
        self.assertEqual(ids(), [before[1], before[2]])
        self.assertEqual(self.exchange(c, "r4", "SEARCH THREADID " + root_thread)[0], ["* SEARCH 1"])

        # Rebuilt from the maildir and the UID list: nothing changes.
        run([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, "index", "rebuild", "alice"])
        self.exchange(c, "r5", "SELECT Work")
        self.assertEqual(ids(), [before[1], before[2]])
        untagged, _ = self.exchange(c, "r6", 'LIST "" "*" RETURN (STATUS (MAILBOXID))')
        self.assertIn("* STATUS Work (MAILBOXID (%s))" % projects_id, untagged)
        self.assertIn("* STATUS INBOX (MAILBOXID (%s))" % inbox_id[0], untagged)

        # A folder deleted and created again is another mailbox (§4).
        self.exchange(c, "d1", "UNSELECT")
        self.assertEqual(self.exchange(c, "d2", "DELETE Work")[1], "d2 OK DELETE completed")
        _, tagged = self.exchange(c, "d3", "CREATE Work")
        self.assertNotIn(projects_id, tagged)
        self.assertIn("[MAILBOXID (F", tagged)
        untagged, _ = self.exchange(c, "d4", "CAPABILITY")
        self.assertIn(" OBJECTID", untagged[0])
        c.close()

    def test_compress_deflate_both_ways_plain_and_tls(self):
        """COMPRESS=DEFLATE (RFC 4978): the OK goes out plain, then both
        directions are one raw deflate stream each, beneath TLS when it is on
        (§3). The client's compressor keeps its history across commands, so
        every command after the first refers back into what the server had to
        keep (or restore) while the session waited."""
        for tls in (False, True):
            with self.subTest(tls=tls):
                c = LineClient("127.0.0.1", self.tls_port if tls else self.port, tls=tls)
                c.line()
                _, tagged = self.exchange(c, "a1", "LOGIN alice secret")
                self.assertTrue(tagged.startswith("a1 OK"), tagged)
                untagged, _ = self.exchange(c, "a2", "CAPABILITY")
                self.assertIn(" COMPRESS=DEFLATE", untagged[0])
                _, tagged = self.exchange(c, "a3", "COMPRESS FROB")
                self.assertEqual(tagged, "a3 BAD Unknown compression mechanism FROB")
                _, tagged = self.exchange(c, "a4", "COMPRESS DEFLATE")
                self.assertEqual(tagged, "a4 OK DEFLATE active")
                z = DeflateClient(c)
                untagged, tagged = self.exchange(z, "b1", "CAPABILITY")
                self.assertEqual(tagged, "b1 OK CAPABILITY completed")
                self.assertNotIn("COMPRESS=DEFLATE", untagged[0])
                body = b"".join(b"Line %d of a long and repetitive message body.\r\n" % i for i in range(1000))
                message = b"Subject: big\r\n\r\n" + body
                _, tagged = self.exchange(z, "b2", "APPEND INBOX {%d+}\r\n%s" % (len(message), message.decode()))
                self.assertIn("b2 OK [APPENDUID", tagged)
                for i in range(3):
                    untagged, tagged = self.exchange(z, "c%d" % i, "SELECT INBOX")
                    self.assertEqual(tagged, "c%d OK [READ-WRITE] SELECT completed" % i)
                    time.sleep(0.2)
                z.send(b"d1 UID FETCH * (BODY.PEEK[TEXT])\r\n")
                header = z.line()
                self.assertRegex(header, r"^\* \d+ FETCH \(UID \d+ BODY\[TEXT\] \{%d\}$" % len(body))
                self.assertEqual(z.read_exact(len(body)), body)
                self.assertEqual(z.line(), ")")
                self.assertEqual(z.line(), "d1 OK UID FETCH completed")
                # The big answer went over the wire compressed.
                self.assertLess(z.wire_in, len(body) // 4)
                _, tagged = self.exchange(z, "e1", "COMPRESS DEFLATE")
                self.assertEqual(tagged, "e1 BAD [CLIENTBUG] DEFLATE is already active")
                _, tagged = self.exchange(z, "e2", "LOGOUT")
                self.assertEqual(tagged, "e2 OK LOGOUT completed")
                c.close()

    def test_idle_woken_by_lmtp_delivery(self):
        c = self.login()
        c.select("INBOX")
        raw = self.raw()
        self.exchange(raw, "a1", "LOGIN alice secret")
        self.exchange(raw, "a2", "SELECT INBOX")
        raw.send(b"a3 IDLE\r\n")
        self.assertEqual(raw.line(), "+ idling")
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail("x@example.org", ["alice"], b"Subject: ping\r\n\r\nwake up\r\n")
        self.assertEqual(raw.line(), "* 1 EXISTS")
        self.assertEqual(raw.line(), "* 1 RECENT")
        self.assertEqual(raw.line(), "* OK Still here")  # idle_keepalive = 1s
        raw.send(b"DONE\r\n")
        self.assertEqual(raw.line(), "a3 OK IDLE terminated")

    def test_limits_and_literals(self):
        c = self.raw()
        self.exchange(c, "a1", "LOGIN alice secret")
        # APPENDLIMIT: refused before a byte of the literal is sent (RFC 7889).
        c.send(b"a2 APPEND INBOX {70000}\r\n")
        self.assertEqual(c.line(), "a2 NO [TOOBIG] Message too large")
        # A synchronizing literal gets its continuation, then the command runs.
        c.send(b"a3 APPEND INBOX {20}\r\n")
        self.assertEqual(c.line(), "+ Ready for literal data")
        c.send(b"Subject: lit\r\n\r\nabcd\r\n")
        self.assertRegex(c.line(), r"^a3 OK \[APPENDUID \d+ 1\] APPEND completed$")
        # LITERAL+: no continuation.
        c.send(b"a4 APPEND INBOX {20+}\r\nSubject: lit\r\n\r\nabcd\r\n")
        self.assertRegex(c.line(), r"^a4 OK \[APPENDUID \d+ 2\]")
        # Refused by its name before its arguments are parsed: no mailbox is selected.
        _, tagged = self.exchange(c, "a5", "SEARCH " + "(" * 40 + "ALL" + ")" * 40)
        self.assertEqual(tagged, "a5 BAD [CLIENTBUG] No mailbox selected")
        self.exchange(c, "s", "SELECT INBOX")
        _, tagged = self.exchange(c, "a5", "SEARCH " + "(" * 40 + "ALL" + ")" * 40)
        self.assertEqual(tagged, "a5 BAD Too deeply nested")
        # Pipelined commands are answered in order.
        c.send(b"p1 NOOP\r\np2 NOOP\r\np3 NOOP\r\n")
        self.assertEqual([c.line() for _ in range(3)], ["p1 OK NOOP completed", "p2 OK NOOP completed", "p3 OK NOOP completed"])
        c.send(b"x" * 70000 + b"\r\n")
        self.assertEqual(c.line(), "* BYE [TOOBIG] Line too long")

    def test_esearch_min_max_modseq_is_that_of_the_returned_messages(self):
        c = self.raw()
        self.exchange(c, "a1", "LOGIN alice secret")
        for i in range(3):
            self.exchange(c, f"p{i}", "APPEND INBOX {%d+}\r\n%s" % (len(MESSAGE), MESSAGE.decode()))
        self.exchange(c, "s", "SELECT INBOX")
        self.exchange(c, "t", "STORE 3 +FLAGS (\\Flagged)")  # message 3 gets the highest MODSEQ
        modseqs = {}
        untagged, _ = self.exchange(c, "f", "FETCH 1:3 (MODSEQ)")
        for line in untagged:
            m = re.match(r"\* (\d+) FETCH \(MODSEQ \((\d+)\)\)", line)
            if m:
                modseqs[int(m.group(1))] = int(m.group(2))
        # RFC 7162 §3.1.10: MIN alone reports message 1's MODSEQ, not the highest match's.
        untagged, _ = self.exchange(c, "e1", "SEARCH RETURN (MIN) MODSEQ 1")
        self.assertIn(f"MIN 1 MODSEQ {modseqs[1]}", untagged[0])
        untagged, _ = self.exchange(c, "e2", "SEARCH RETURN (MIN MAX) MODSEQ 1")
        self.assertIn(f"MODSEQ {modseqs[3]}", untagged[0])
        untagged, _ = self.exchange(c, "e3", "SEARCH RETURN (MIN COUNT) MODSEQ 1")
        self.assertIn(f"MODSEQ {max(modseqs.values())}", untagged[0])

    def test_binary_part_comes_back_as_appended(self):
        # Content-Transfer-Encoding: binary: the bytes are the content, a bare
        # LF and a NUL included (RFC 3516 §4.2); BINARY.SIZE agrees.
        body = b"ab\ncd\x00e"
        message = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                   b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                   + body + b"\r\n--b--\r\n")
        c = self.raw()
        self.exchange(c, "a1", "LOGIN alice secret")
        c.send(b"a2 APPEND INBOX ~{%d+}\r\n" % len(message) + message + b"\r\n")
        self.assertTrue(c.line().startswith("a2 OK"))
        self.exchange(c, "s", "SELECT INBOX")
        c.send(b"f FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n")
        self.assertEqual(c.line(), "* 1 FETCH (BINARY.SIZE[1] %d BINARY[1] ~{%d}" % (len(body), len(body)))
        while len(c.buffer) < len(body) + 3:
            c.buffer += c.sock.recv(65536)
        self.assertEqual(c.buffer[:len(body)], body)

    def test_unauthenticate_and_quota(self):
        c = self.raw()
        self.exchange(c, "a1", "LOGIN alice secret")
        untagged, tagged = self.exchange(c, "a2", "GETQUOTAROOT INBOX")
        self.assertEqual(untagged, ["* QUOTAROOT INBOX"])
        _, tagged = self.exchange(c, "a3", "SETQUOTA \"\" (STORAGE 10)")
        self.assertEqual(tagged, "a3 NO [NOPERM] Only quota administrators may set quota limits")
        _, tagged = self.exchange(c, "a4", "UNAUTHENTICATE")
        self.assertEqual(tagged, "a4 OK Not authenticated any more")
        _, tagged = self.exchange(c, "a5", "SELECT INBOX")
        self.assertEqual(tagged, "a5 NO [CLIENTBUG] Log in first")
        untagged, tagged = self.exchange(c, "a6", 'ID ("name" "test")')
        self.assertEqual(untagged, ['* ID ("name" "Roost" "vendor" "Roost")'])


class OneListenerTest(unittest.TestCase):
    """roostd with one plain IMAP listener, user alice, and EXTRA settings."""
    EXTRA = ""

    def setUp(self):
        self.port = free_port()
        self.instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\n",
                                 "[auth]\nallow_plaintext_loopback = true\n" + self.EXTRA)
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")

    def tearDown(self):
        self.instance.close()


class ImapParkedSessionTest(OneListenerTest):
    """Sessions waiting between commands and in IDLE hold no coroutine (they
    are parked); their deadlines, keep-alives and wake-ups work as before."""
    EXTRA = "[limits]\nidle_timeout = 3s\n[imap]\nidle_keepalive = 1s\n"

    def logged_in(self):
        c = LineClient("127.0.0.1", self.port)
        self.assertTrue(c.line().startswith("* OK"))
        c.send(b"a LOGIN alice secret\r\n")
        self.assertTrue(c.line().startswith("a OK"))
        return c

    def test_idle_keepalive_then_autologout(self):
        c = LineClient("127.0.0.1", self.port)
        self.assertTrue(c.line().startswith("* OK"))
        c.send(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n")
        self.assertTrue(c.line().startswith("a OK"))
        while not c.line().startswith("b OK"):
            pass
        started = time.monotonic()
        c.send(b"c IDLE\r\n")
        self.assertEqual(c.line(), "+ idling")
        # RFC 2177 §3: the server may log out an idling client after its
        # inactivity timeout; keep-alives come every second before that.
        self.assertEqual(c.line(), "* OK Still here")
        self.assertEqual(c.line(), "* OK Still here")
        self.assertEqual(c.line(), "* BYE Autologout; idle for too long")
        self.assertTrue(c.closed())
        self.assertGreaterEqual(time.monotonic() - started, 2.5)

    def test_waiting_session_is_logged_out_and_answers_until_then(self):
        c = self.logged_in()
        # Woken from parking for each command, and parked again after it.
        for i in range(3):
            time.sleep(1)
            c.send(b"n%d NOOP\r\n" % i)
            self.assertEqual(c.line(), "n%d OK NOOP completed" % i)
        started = time.monotonic()
        self.assertEqual(c.line(), "* BYE Autologout; idle for too long")
        self.assertTrue(c.closed())
        self.assertGreaterEqual(time.monotonic() - started, 2.5)

    def test_idle_done_in_pieces(self):
        c = self.logged_in()
        c.send(b"b IDLE\r\n")
        self.assertEqual(c.line(), "+ idling")
        c.send(b"DO")  # a wake with half a line: the rest follows
        time.sleep(0.3)
        c.send(b"NE\r\nc NOOP\r\n")
        self.assertEqual(c.line(), "b OK IDLE terminated")
        self.assertEqual(c.line(), "c OK NOOP completed")


class ImapAbuseTest(OneListenerTest):
    """Clients that never read, never finish, or flood: each is cut off or
    answered, and what the server buffers for one stays within its limit."""
    EXTRA = "[limits]\nmax_output_buffer = 64K\nwrite_timeout = 2s\nlogin_timeout = 2s\n"

    def test_client_that_never_reads_is_disconnected(self):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        c.login("alice", "secret")
        big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 60
        for _ in range(20):
            c.append("INBOX", None, None, big)
        c.logout()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.port))
        s.sendall(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n" + b"c FETCH 1:* BODY.PEEK[]\r\n" * 200)
        time.sleep(5)  # write_timeout is 2 s
        s.settimeout(5)
        received = 0
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                received += len(chunk)
        except socket.timeout:
            self.fail("the server kept a client that does not read")
        # 200 x 1.2 MB of responses were asked for: what arrived is what the
        # kernel's socket buffers and the 64 KiB output limit held when the
        # server gave up on the client.
        self.assertLess(received, 16 * 1024 * 1024)
        s.close()

    def test_slow_client_is_logged_out(self):
        c = LineClient("127.0.0.1", self.port)
        self.assertTrue(c.line().startswith("* OK"))
        c.send(b"a LOGIN alice")  # and never the end of the line
        self.assertEqual(c.line(), "* BYE Autologout; idle for too long")
        self.assertTrue(c.closed())

    def test_thousands_of_pipelined_commands(self):
        c = LineClient("127.0.0.1", self.port)
        c.line()
        c.send(b"a LOGIN alice secret\r\n" + b"".join(b"n%d NOOP\r\n" % i for i in range(5000)))
        self.assertTrue(c.line().startswith("a OK"))
        for i in range(5000):
            self.assertEqual(c.line(), "n%d OK NOOP completed" % i)


class ImapTwoProcessesTest(unittest.TestCase):
    """IMAP in one roostd, LMTP in another on the same mail: an IDLE session
    hears of a delivery the other process made. Cleartext logins are not
    allowed here (the default), so LOGIN waits for STARTTLS."""

    def setUp(self):
        self.port = free_port()
        self.lmtp_port = free_port()
        self.instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\ntls = starttls\n")
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")
        # The second process: same data, its own run folder and metrics port.
        conf = os.path.join(self.instance.dir, "lmtp.conf")
        with open(conf, "w") as f:
            f.write("data_dir = data\nrun_dir = run-lmtp\n" + RUN_AS_ROOT + "[tls]\ncertificate = tls/cert.pem\nkey = tls/key.pem\n"
                    f"[metrics]\nlisten = 127.0.0.1:{free_port()}\n"
                    f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp_port}\n")
        self.lmtp_log = open(os.path.join(self.instance.dir, "lmtp.log"), "w")
        self.lmtpd = subprocess.Popen([os.path.join(BIN, "roostd"), "--config", conf],
                                      stdout=self.lmtp_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.lmtp_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def tearDown(self):
        self.lmtpd.terminate()
        self.lmtpd.wait(20)
        self.lmtp_log.close()
        self.instance.close()

    def selected_over_tls(self):
        c = LineClient("127.0.0.1", self.port)
        greeting = c.line()
        self.assertIn("LOGINDISABLED", greeting)
        self.assertIn("STARTTLS", greeting)
        c.send(b"a0 LOGIN alice secret\r\n")
        self.assertEqual(c.line(), "a0 NO [PRIVACYREQUIRED] LOGIN needs TLS; use STARTTLS or port 993")
        c.send(b"a1 STARTTLS\r\n")
        self.assertEqual(c.line(), "a1 OK Begin TLS negotiation now")
        c.sock = client_tls_context().wrap_socket(c.sock, server_hostname="localhost")
        c.send(b"a2 CAPABILITY\r\n")
        caps = c.line()
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertNotIn("STARTTLS", caps)
        self.assertEqual(c.line(), "a2 OK CAPABILITY completed")
        c.send(b"a3 LOGIN alice secret\r\n")
        self.assertTrue(c.line().startswith("a3 OK "))
        c.send(b"a4 SELECT INBOX\r\n")
        while not c.line().startswith("a4 OK"):
            pass
        return c

    def test_idle_hears_a_delivery_from_another_process(self):
        c = self.selected_over_tls()
        c.send(b"a5 IDLE\r\n")
        self.assertEqual(c.line(), "+ idling")
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail("x@example.org", ["alice"], b"Subject: from afar\r\n\r\nhello\r\n")
        self.assertEqual(c.line(), "* 1 EXISTS")
        self.assertEqual(c.line(), "* 1 RECENT")
        c.send(b"DONE\r\n")
        self.assertEqual(c.line(), "a5 OK IDLE terminated")
        c.send(b"a6 FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]\r\n")
        self.assertEqual(c.line(), "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {22}")
        self.assertEqual(c.line(), "Subject: from afar")
        c.close()

    def test_a_stream_of_deliveries_from_another_process(self):
        # Deliveries that follow each other closely share one index commit
        # in the LMTP process ([mail] commit_delay), whose transaction stays
        # open for the next: this process's refreshes and STORE wait for it,
        # and every message is seen, in order, with its UID.
        c = self.selected_over_tls()
        c.send(b"a5 IDLE\r\n")
        self.assertEqual(c.line(), "+ idling")
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            for i in range(1, 31):
                lmtp.sendmail("x@example.org", ["alice"], b"Subject: stream %d\r\n\r\nhello\r\n" % i)
        exists = 0
        while exists < 30:
            line = c.line()
            if line.endswith(" EXISTS"):
                exists = int(line.split()[1])
        c.send(b"DONE\r\n")
        while not c.line().startswith("a5 OK"):
            pass
        c.send(b"a6 STORE 1:* +FLAGS.SILENT (\\Seen)\r\n")
        self.assertEqual(c.line(), "a6 OK STORE completed")
        c.send(b"a7 UID SEARCH SEEN\r\n")
        self.assertEqual(c.line(), "* SEARCH " + " ".join(str(uid) for uid in range(1, 31)))
        self.assertEqual(c.line(), "a7 OK UID SEARCH completed")
        c.send(b"a8 FETCH 30 BODY.PEEK[HEADER.FIELDS (Subject)]\r\n")
        self.assertEqual(c.line(), "* 30 FETCH (BODY[HEADER.FIELDS (Subject)] {22}")
        self.assertEqual(c.line(), "Subject: stream 30")
        c.close()


class ImapLimitsTest(OneListenerTest):
    """A configuration with quota limits and LITERAL- (RFC 7888 §5)."""
    EXTRA = "[imap]\nliteral_minus = true\n[mail]\nquota_storage = 10K\nquota_messages = 2\n"

    def test_quota_and_literal_minus(self):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        self.assertIn("LITERAL-", c.capabilities)
        self.assertNotIn("LITERAL+", c.capabilities)
        c.login("alice", "secret")
        c.append("INBOX", None, None, b"Subject: a\r\n\r\n" + b"x" * 3000 + b"\r\n")
        typ, data = c.getquotaroot("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [[b'INBOX ""'], [b'"" (STORAGE 3 10 MESSAGE 1 2)']])
        typ, data = c.getquota('""')
        self.assertEqual(data, [b'"" (STORAGE 3 10 MESSAGE 1 2)'])
        typ, data = c.append("INBOX", None, None, b"Subject: b\r\n\r\n" + b"y" * 9000 + b"\r\n")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[OVERQUOTA]", data[0])
        c.logout()
        raw = LineClient("127.0.0.1", self.port)
        raw.line()
        raw.send(b"a1 LOGIN alice secret\r\n")
        self.assertTrue(raw.line().startswith("a1 OK"))
        # A non-synchronizing literal over 4096 bytes: BAD [TOOBIG], its bytes dropped.
        raw.send(b"a2 APPEND INBOX {5000+}\r\n" + b"z" * 5000 + b"\r\n")
        self.assertEqual(raw.line(), "a2 BAD [TOOBIG] Literal too large")
        raw.send(b"a3 NOOP\r\n")
        self.assertEqual(raw.line(), "a3 OK NOOP completed")
        raw.close()


if __name__ == "__main__":
    unittest.main()
