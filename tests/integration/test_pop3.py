"""POP3 over the wire with Python's poplib (every command) and raw lines:
STLS and implicit TLS, AUTH, the UPDATE state against a concurrent IMAP
session, UIDL stability across restarts, index rebuilds and a maildir taken
over from Dovecot, pipelining and bounds."""

import imaplib
import os
import poplib
import shutil
import smtplib
import socket
import time
import unittest

from roosttest import BIN, Instance, LineClient, client_tls_context, free_port, run


def message(i, extra=b""):
    return (b"From: Sender %d <s%d@example.org>\r\nTo: alice@example.org\r\nSubject: message %d\r\n"
            b"Message-ID: <m%d@example.org>\r\n\r\nBody of message %d.\r\n.starts with a dot\r\n%s" % (i, i, i, i, i, extra))


class Pop3Base(unittest.TestCase):
    EXTRA = "[auth]\nallow_plaintext_loopback = true\n"

    def setUp(self):
        self.port = free_port()
        self.tls_port = free_port()
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self.instance = Instance(
            f"[listener pop3]\nservice = pop3\naddress = 127.0.0.1:{self.port}\ntls = starttls\n"
            f"[listener pop3s]\nservice = pop3\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"
            f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.imap_port}\n"
            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp_port}\n",
            self.EXTRA)
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")
        self.maildir = os.path.join(self.instance.dir, "data", "mail", "alice")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass
        self.instance.close()

    def deliver(self, *messages):
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            for m in messages:
                lmtp.sendmail("sender@example.org", ["alice"], m)

    def pop(self, tls=False):
        if tls:
            c = poplib.POP3_SSL("127.0.0.1", self.tls_port, context=client_tls_context(), timeout=10)
        else:
            c = poplib.POP3("127.0.0.1", self.port, timeout=10)
        self.clients.append(c)
        c.user("alice")
        c.pass_("secret")
        return c

    def imap(self):
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        c.login("alice", "secret")
        self.clients.append(c.sock)
        return c

    def uidls(self):
        c = self.pop()
        listing = c.uidl()[1]
        c.quit()
        return [line.split()[1] for line in listing]


class Pop3Test(Pop3Base):
    def test_every_command_with_poplib(self):
        self.deliver(message(1), message(2, b"line\r\n" * 50), message(3))
        c = poplib.POP3("127.0.0.1", self.port, timeout=10)
        self.clients.append(c)
        self.assertEqual(c.getwelcome(), b"+OK Roost POP3 ready")
        caps = c.capa()
        for cap in ("TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "SASL", "STLS",
                    "EXPIRE", "LOGIN-DELAY", "UTF8", "IMPLEMENTATION"):
            self.assertIn(cap, caps)
        self.assertEqual(caps["EXPIRE"], ["NEVER"])
        c.stls(context=client_tls_context())
        caps = c.capa()
        self.assertNotIn("STLS", caps)  # RFC 2595 §4: not offered again
        self.assertIn("USER", caps)
        with self.assertRaises(poplib.error_proto):
            c.apop("alice", "secret")
        c.user("alice")
        self.assertTrue(c.pass_("secret").startswith(b"+OK Logged in; 3 messages"))
        count, octets = c.stat()
        self.assertEqual(count, 3)
        sizes = [int(line.split()[1]) for line in c.list()[1]]
        self.assertEqual(sum(sizes), octets)
        self.assertEqual(c.list(2), b"+OK 2 %d" % sizes[1])
        for n in (1, 2, 3):
            resp, lines, wire = c.retr(n)
            self.assertEqual(resp, b"+OK %d octets" % sizes[n - 1])
            # LIST sizes are what RETR sends: the lines with CRLF (poplib counts
            # a stuffed dot and the CRLFs into `wire`).
            self.assertEqual(sum(len(line) + 2 for line in lines), sizes[n - 1])
            self.assertIn(b".starts with a dot", lines)
            self.assertIn(b"Subject: message %d" % n, lines)
        resp, lines, _ = c.top(2, 3)
        self.assertEqual(lines[lines.index(b"") + 1:], [b"Body of message 2.", b".starts with a dot", b"line"])
        uidl = c.uidl()[1]
        self.assertEqual(len(uidl), 3)
        self.assertEqual(c.uidl(3), b"+OK " + uidl[2])
        self.assertEqual(c.dele(1), b"+OK Message 1 deleted")
        with self.assertRaises(poplib.error_proto):
            c.retr(1)
        self.assertEqual(c.stat(), (2, octets - sizes[0]))
        c.rset()
        self.assertEqual(c.stat(), (3, octets))
        c.dele(3)
        self.assertEqual(c.noop(), b"+OK")
        self.assertEqual(c.quit(), b"+OK Bye; 1 messages removed")
        # The next session sees what UPDATE left, with the same UIDLs.
        self.assertEqual(self.uidls(), [uidl[0].split()[1], uidl[1].split()[1]])

    def test_implicit_tls_and_auth_plain(self):
        self.deliver(message(1))
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=10)
        c = LineClient(None, None, sock=client_tls_context().wrap_socket(raw, server_hostname="localhost"))
        self.clients.append(c)
        self.assertEqual(c.line(), "+OK Roost POP3 ready")
        self.assertTrue(c.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==").startswith("+OK Logged in; 1 messages"))
        self.assertEqual(c.command("STAT").split()[:2], ["+OK", "1"])
        self.assertEqual(c.command("QUIT"), "+OK Bye; 0 messages removed")

    def test_update_is_an_expunge_imap_sessions_see(self):
        self.deliver(message(1), message(2), message(3))
        imap = self.imap()
        typ, data = imap.select("INBOX")
        self.assertEqual(data, [b"3"])
        p = self.pop()
        p.retr(2)
        p.dele(1)
        # Nothing changes before QUIT (RFC 1939 §6).
        imap.noop()
        self.assertEqual(imap.untagged_responses.get("EXPUNGE"), None)
        self.assertEqual(p.quit(), b"+OK Bye; 1 messages removed")
        typ, data = imap.noop()
        self.assertEqual(imap.untagged_responses.get("EXPUNGE"), [b"1"])
        # The retrieved message got \Seen ([pop3] mark_seen), the one only listed did not.
        self.assertEqual(imap.uid("SEARCH", "SEEN")[1], [b"2"])
        self.assertEqual(imap.uid("SEARCH", "UNSEEN")[1], [b"3"])
        imap.logout()

    def test_new_mail_waits_for_the_next_session(self):
        self.deliver(message(1))
        p = self.pop()
        self.deliver(message(2))
        self.assertEqual(p.stat()[0], 1)
        self.assertEqual(len(p.uidl()[1]), 1)
        p.quit()
        self.assertEqual(len(self.uidls()), 2)

    def test_uidl_stable_across_restart_and_index_rebuild(self):
        self.deliver(message(1), message(2), message(3))
        before = self.uidls()
        self.assertEqual(len(set(before)), 3)
        self.instance.stop()
        self.instance.start(program="roostd")
        self.assertEqual(self.uidls(), before)
        self.instance.stop()
        shutil.rmtree(os.path.join(self.maildir, "roost-index"))
        run([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, "index", "rebuild", "alice"])
        self.instance.start(program="roostd")
        self.assertEqual(self.uidls(), before)
        self.instance.stop()
        # Index deleted and not rebuilt: the first login rebuilds it, same UIDLs.
        shutil.rmtree(os.path.join(self.maildir, "roost-index"))
        self.instance.start(program="roostd")
        self.assertEqual(self.uidls(), before)

    def dovecot_layout(self, uidlist, names, lf_only):
        """With roostd stopped, writes a maildrop as Dovecot leaves it: the UID
        list and message n in cur/ under names[n], then starts roostd again."""
        self.instance.stop()
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir, sub), exist_ok=True)
        with open(os.path.join(self.maildir, "dovecot-uidlist"), "w") as f:
            f.write(uidlist)
        for n, name in enumerate(names):
            with open(os.path.join(self.maildir, "cur", name), "wb") as f:
                f.write(message(n).replace(b"\r\n", b"\n") if lf_only else message(n))
        self.instance.start(program="roostd")

    def test_maildrop_taken_over_from_dovecot_keeps_its_uidls(self):
        # Dovecot's UID map: UIDVALIDITY 0x5f5e0ff2, UIDs 5, 9 and 17.
        self.dovecot_layout("3 V1600000498 N18 G0123456789abcdef0123456789abcdef\n"
                            "5 :1600000001.M1P1.mx\n9 :1600000002.M2P1.mx\n17 :1600000003.M3P1.mx\n",
                            ["1600000001.M1P1.mx:2,S", "1600000002.M2P1.mx:2,", "1600000003.M3P1.mx:2,RS"],
                            lf_only=True)
        # What Dovecot's default pop3_uidl_format (%08Xu%08Xv) gave these messages: hexadecimal in
        # lower case, as Debian's Dovecot 2.3 writes it (test_dovecot_takeover checks the real one).
        self.assertEqual(self.uidls(), [b"%08x%08x" % (uid, 1600000498) for uid in (5, 9, 17)])
        self.assertEqual(self.uidls()[0], b"000000055f5e11f2")
        # LF files: LIST counts CRLF, as RETR sends.
        c = self.pop()
        sizes = [int(line.split()[1]) for line in c.list()[1]]
        resp, lines, _ = c.retr(1)
        self.assertEqual(sum(len(line) + 2 for line in lines), sizes[0])
        self.assertEqual(resp, b"+OK %d octets" % sizes[0])
        c.quit()

    def test_uidls_recorded_by_a_migration_are_kept(self):
        # Dovecot's migration tools record each message's old UIDL in the
        # UID list's `P` field; the other fields (W, S) are Dovecot's sizes.
        self.dovecot_layout("3 V1600000498 N12 G0123456789abcdef0123456789abcdef\n"
                            "3 W300 POldServer-0001 :1600000001.M1P1.mx\n"
                            "7 S280 :1600000002.M2P1.mx\n"
                            "9 Pnot\x01valid :1600000003.M3P1.mx\n"
                            "11 P" + "x" * 71 + " :1600000004.M4P1.mx\n"
                            "12 G1600000001.M1P1.mx P<4af2@old.example> :1600000005.M5P1.mx\n",
                            ["1600000001.M1P1.mx:2,S", "1600000002.M2P1.mx:2,", "1600000003.M3P1.mx:2,",
                             "1600000004.M4P1.mx:2,", "1600000005.M5P1.mx:2,"],
                            lf_only=False)
        # Recorded UIDLs win; a missing one, or one RFC 1939 §7 forbids (a
        # control character, more than 70 characters), gets the configured format.
        expected = [b"OldServer-0001", b"%08x%08x" % (7, 1600000498), b"%08x%08x" % (9, 1600000498),
                    b"%08x%08x" % (11, 1600000498), b"<4af2@old.example>"]
        self.assertEqual(self.uidls(), expected)
        # UIDL n answers the same; an expunge keeps the others' UIDLs.
        c = self.pop()
        self.assertEqual(c.uidl(5), b"+OK 5 <4af2@old.example>")
        c.dele(2)
        c.quit()
        del expected[1]
        self.assertEqual(self.uidls(), expected)
        # Across a restart with the index deleted, and a rebuild.
        self.instance.stop()
        shutil.rmtree(os.path.join(self.maildir, "roost-index"))
        self.instance.start(program="roostd")
        self.assertEqual(self.uidls(), expected)
        run([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, "index", "rebuild", "alice"])
        self.assertEqual(self.uidls(), expected)

    def test_pipelined_commands_answered_in_order(self):
        self.deliver(message(1), message(2))
        c = LineClient("127.0.0.1", self.port)
        self.clients.append(c)
        c.line()
        c.send("USER alice\r\nPASS secret\r\nSTAT\r\nLIST 2\r\nUIDL 1\r\nDELE 2\r\nSTAT\r\nNOOP\r\nQUIT\r\n")
        replies = [c.line() for _ in range(9)]
        self.assertEqual(replies[0], "+OK Send PASS")
        self.assertTrue(replies[1].startswith("+OK Logged in; 2 messages"))
        self.assertTrue(replies[2].startswith("+OK 2 "))
        self.assertTrue(replies[3].startswith("+OK 2 "))
        self.assertTrue(replies[4].startswith("+OK 1 00000001"))
        self.assertEqual(replies[5], "+OK Message 2 deleted")
        self.assertTrue(replies[6].startswith("+OK 1 "))
        self.assertEqual(replies[7:], ["+OK", "+OK Bye; 1 messages removed"])
        self.assertTrue(c.closed())

    def test_line_too_long(self):
        c = LineClient("127.0.0.1", self.port)
        self.clients.append(c)
        c.line()
        c.send("NOOP " + "x" * 70000 + "\r\n")
        self.assertEqual(c.line(), "-ERR Line too long")
        self.assertTrue(c.closed())


class Pop3AbuseTest(Pop3Base):
    EXTRA = "[auth]\nallow_plaintext_loopback = true\n[limits]\nmax_output_buffer = 64K\nwrite_timeout = 2s\n"

    def test_client_that_never_reads_is_disconnected(self):
        self.deliver(message(1, (b"y" * 998 + b"\r\n") * 600))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.port))
        s.sendall(b"USER alice\r\nPASS secret\r\n" + b"RETR 1\r\n" * 200)
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
        except ConnectionResetError:
            pass
        # 200 x 600 KB were asked for: what arrived is what the socket
        # buffers and the 64 KiB output limit held when the server gave up.
        self.assertLess(received, 16 * 1024 * 1024)
        s.close()


class Pop3CleartextTest(Pop3Base):
    """Without allow_plaintext_loopback: USER/PASS only after STLS."""
    EXTRA = ""

    def test_user_pass_need_tls(self):
        c = LineClient("127.0.0.1", self.port)
        self.clients.append(c)
        c.line()
        self.assertEqual(c.command("USER alice"), "-ERR Plaintext authentication needs TLS; use STLS or port 995")
        c.send("CAPA\r\n")
        caps = []
        while True:
            line = c.line()
            if line == ".":
                break
            caps.append(line)
        self.assertNotIn("USER", caps)
        self.assertIn("STLS", caps)
        self.assertEqual(c.command("STLS"), "+OK Begin TLS negotiation now")
        c.sock = client_tls_context().wrap_socket(c.sock, server_hostname="localhost")
        self.assertEqual(c.command("USER alice"), "+OK Send PASS")
        self.assertTrue(c.command("PASS secret").startswith("+OK Logged in"))

    def test_pop3s_uidl_listing(self):
        self.deliver(message(1), message(2))
        c = self.pop(tls=True)
        self.assertEqual(len(c.uidl()[1]), 2)
        c.quit()

class Pop3FileNameUidlTest(Pop3Base):
    EXTRA = Pop3Base.EXTRA + "[pop3]\nuidl_format = %f-%u\n"

    def test_uidl_from_file_names(self):
        # A %f template (as Courier's or older Dovecot setups used): the
        # listing carries each file's base name, stable across renames.
        self.deliver(message(1), message(2))
        # The UID of each base name, from the UID list (version 3: "UID [fields] :NAME").
        with open(os.path.join(self.maildir, "dovecot-uidlist"), "rb") as f:
            entries = [line.split() for line in f.read().splitlines()[1:]]
        expected = [b"%s-%s" % (fields[-1][1:], fields[0]) for fields in entries]
        self.assertEqual(len(expected), 2)
        self.assertEqual(self.uidls(), expected)
        c = self.pop()
        c.retr(1)
        c.quit()  # marks \Seen: the file moves to cur/ and gains ":2,S"
        self.assertEqual(self.uidls(), expected)


if __name__ == "__main__":
    unittest.main()
