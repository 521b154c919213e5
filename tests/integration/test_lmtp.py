"""LMTP (RFC 2033) over the wire against roostd: Python's smtplib.LMTP and
raw protocol scripts. Every reply is checked, and every accepted message is
looked for, byte for byte, in the recipient's maildir."""

import glob
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import unittest

from roosttest import Instance, LineClient, free_port


class LmtpTest(unittest.TestCase):
    EXTRA = ("[lmtp]\ndefault_domain = example.org\nmax_message_size = 64K\nmax_errors = 10\n"
             "[mail]\nquota_messages = 4\n")

    def setUp(self):
        self.port = free_port()
        self.instance = Instance(
            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.port}\ntls = starttls\n"
            f"[listener lmtp-unix]\nservice = lmtp\naddress = unix:lmtp.sock\n", self.EXTRA)
        for user in ("alice", "bob@example.org", "carol"):
            self.instance.add_user(user, "pw")
        self.instance.start(program="roostd")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.instance.close()

    def maildir(self, user, folder=""):
        return os.path.join(self.instance.dir, "data", "mail", user, folder)

    def stored(self, user, folder=""):
        out = []
        for path in sorted(glob.glob(os.path.join(self.maildir(user, folder), "new", "*"))):
            with open(path, "rb") as f:
                out.append(f.read())
        return out

    def body_of(self, stored):
        """The message as the client sent it: after the fields Roost added."""
        lines = stored.split(b"\r\n")
        i = 0
        while lines[i].startswith((b"Return-Path:", b"Delivered-To:", b"Received:", b"\t")):
            i += 1
        return b"\r\n".join(lines[i:])

    def raw(self):
        c = LineClient("127.0.0.1", self.port)
        self.clients.append(c)
        self.assertTrue(c.line().startswith("220 "))
        return c

    def lines_until(self, c, last_prefix):
        out = []
        while True:
            line = c.line()
            out.append(line)
            if line.startswith(last_prefix):
                return out

    def test_smtplib_delivers_with_a_reply_per_recipient(self):
        with smtplib.LMTP("127.0.0.1", self.port) as lmtp:
            code, _ = lmtp.ehlo("mx.example.net")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "enhancedstatuscodes", "8bitmime", "size", "chunking", "binarymime",
                        "smtputf8", "dsn", "starttls"):
                self.assertTrue(lmtp.has_extn(ext), ext)
            self.assertEqual(lmtp.esmtp_features["size"], "65536")
            message = b"From: sender@example.net\r\nSubject: hello\r\n\r\nHello there.\r\n"
            # smtplib reads one reply after DATA, so it can only be given
            # one accepted recipient per message (the raw tests do many).
            refused = lmtp.sendmail("sender@example.net", ["alice@example.org", "nosuch@example.org"], message)
            self.assertEqual(refused, {"nosuch@example.org": (550, b"5.1.1 No such user here")})
            self.assertEqual(lmtp.sendmail("sender@example.net", ["BOB@example.org"], message), {})
        for user, rcpt in (("alice", "alice@example.org"), ("bob@example.org", "BOB@example.org")):
            stored = self.stored(user)
            self.assertEqual(len(stored), 1, user)
            self.assertTrue(stored[0].startswith(b"Return-Path: <sender@example.net>\r\nDelivered-To: " +
                                                 rcpt.encode() + b"\r\nReceived: from mx.example.net"))
            self.assertEqual(self.body_of(stored[0]), message)

    def test_unix_socket_and_bare_recipient(self):
        sock_path = os.path.join(self.instance.dir, "run", "lmtp.sock")
        with smtplib.LMTP(sock_path) as lmtp:
            lmtp.ehlo("localhost")
            self.assertEqual(lmtp.sendmail("", ["alice"], b"Subject: x\r\n\r\nbody\r\n"), {})
            self.assertEqual(lmtp.sendmail("", ["carol@example.org"], b"Subject: x\r\n\r\nbody\r\n"), {})
        self.assertEqual(len(self.stored("alice")), 1)
        self.assertEqual(len(self.stored("carol")), 1)
        self.assertIn(b"Return-Path: <>\r\n", self.stored("alice")[0])

    def test_pipelined_transaction_and_dot_stuffing(self):
        c = self.raw()
        # RFC 2920: the whole transaction in one write; replies come in order.
        c.send("LHLO mx\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
               "RCPT TO:<ghost@example.org>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n")
        self.lines_until(c, "250 ")
        self.assertEqual(c.line(), "250 2.1.0 Sender OK")
        self.assertEqual(c.line(), "250 2.1.5 OK")
        self.assertEqual(c.line(), "550 5.1.1 No such user here")
        self.assertEqual(c.line(), "250 2.1.5 OK")
        self.assertTrue(c.line().startswith("354 "))
        # RFC 5321 §4.5.2: a leading dot is doubled on the wire and stored once.
        c.send("Subject: dots\r\n\r\n..leading dot\r\n...two\r\n.\r\n")
        self.assertRegex(c.line(), r"^250 2\.0\.0 <alice@example\.org> delivered")
        self.assertRegex(c.line(), r"^250 2\.0\.0 <carol@example\.org> delivered")
        self.assertEqual(self.body_of(self.stored("alice")[0]), b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n")
        self.assertTrue(c.command("QUIT").startswith("221 2.0.0 "))
        self.assertTrue(c.closed())

    def test_bdat_binarymime_stored_byte_for_byte(self):
        c = self.raw()
        c.command("LHLO mx")
        self.lines_until(c, "250 ")
        self.assertEqual(c.command("MAIL FROM:<a@example.net> BODY=BINARYMIME SIZE=100"), "250 2.1.0 Sender OK")
        self.assertEqual(c.command("RCPT TO:<alice@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+40x"),
                         "250 2.1.5 OK")
        self.assertEqual(c.command("DATA"), "503 5.5.1 BINARYMIME and BDAT transactions take no DATA (RFC 3030)")
        first = b"Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\n\r.\r\n"
        second = b"\xff\xfe rest\r\n"
        c.send(f"BDAT {len(first)}\r\n".encode() + first)
        self.assertEqual(c.line(), f"250 2.0.0 {len(first)} octets received")
        c.send(f"BDAT {len(second)} LAST\r\n".encode() + second)
        self.assertRegex(c.line(), r"^250 2\.0\.0 <alice@example\.org> delivered")
        self.assertEqual(self.body_of(self.stored("alice")[0]), first + second)

    def test_subaddress_goes_to_an_existing_folder(self):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir("alice", ".lists"), sub), exist_ok=True)
        with smtplib.LMTP("127.0.0.1", self.port) as lmtp:
            lmtp.ehlo("mx")
            lmtp.sendmail("a@example.net", ["alice+lists@example.org"], b"Subject: list\r\n\r\nx\r\n")
            lmtp.sendmail("a@example.net", ["alice+nofolder@example.org"], b"Subject: inbox\r\n\r\nx\r\n")
        self.assertEqual(len(self.stored("alice", ".lists")), 1)
        self.assertIn(b"Subject: list", self.stored("alice", ".lists")[0])
        self.assertEqual(len(self.stored("alice")), 1)
        self.assertIn(b"Subject: inbox", self.stored("alice")[0])

    def test_command_errors_have_enhanced_codes(self):
        c = self.raw()
        self.assertEqual(c.command("MAIL FROM:<a@b>"), "503 5.5.1 Say LHLO first")
        self.assertEqual(c.command("HELO mx"), "500 5.5.1 this is LMTP: use LHLO (RFC 2033)")
        c.command("LHLO mx")
        self.lines_until(c, "250 ")
        self.assertEqual(c.command("VRFY alice"),
                         "252 2.5.0 Cannot VRFY user, but will accept the message and attempt delivery")
        self.assertTrue(c.command("HELP").startswith("214 2.0.0 "))
        self.assertEqual(c.command("NOOP"), "250 2.0.0 OK")
        self.assertEqual(c.command("RCPT TO:<alice@example.org>"), "503 5.5.1 MAIL first")
        self.assertEqual(c.command("MAIL FROM:<a@b> SIZE=70000"),
                         "552 5.3.4 Message size exceeds the limit of 65536 bytes")
        self.assertEqual(c.command("MAIL FROM:<a@b> FROB=1"), "555 5.5.4 unknown MAIL parameter FROB")
        self.assertEqual(c.command("MAIL FROM:a@b"), "501 5.1.7 bad sender address syntax")
        self.assertEqual(c.command("MAIL TO:<a@b>"), "501 5.5.4 syntax: MAIL FROM:<address> [parameters]")
        self.assertEqual(c.command("MAIL FROM:<a@b>"), "250 2.1.0 Sender OK")
        self.assertEqual(c.command("MAIL FROM:<a@b>"), "503 5.5.1 Sender already given")
        self.assertEqual(c.command("DATA"), "503 5.5.1 No valid recipients")
        self.assertEqual(c.command("RSET"), "250 2.0.0 OK")
        self.assertTrue(c.command("QUIT").startswith("221 2.0.0 "))

    def test_oversized_message_refused_per_recipient(self):
        c = self.raw()
        c.command("LHLO mx")
        self.lines_until(c, "250 ")
        c.command("MAIL FROM:<a@example.net>")
        c.command("RCPT TO:<alice@example.org>")
        c.command("RCPT TO:<carol@example.org>")
        self.assertTrue(c.command("DATA").startswith("354"))
        c.send("Subject: big\r\n\r\n" + ("x" * 1000 + "\r\n") * 70 + ".\r\n")
        self.assertEqual(c.line(), "552 5.3.4 Message too big")
        self.assertEqual(c.line(), "552 5.3.4 Message too big")
        self.assertEqual(self.stored("alice"), [])
        self.assertEqual(c.command("NOOP"), "250 2.0.0 OK")  # the connection goes on

    def test_over_quota_at_rcpt(self):
        with smtplib.LMTP("127.0.0.1", self.port) as lmtp:
            lmtp.ehlo("mx")
            for i in range(4):
                self.assertEqual(lmtp.sendmail("a@example.net", ["carol"], f"Subject: {i}\r\n\r\nx\r\n".encode()), {})
            code, text = lmtp.docmd("MAIL", "FROM:<a@example.net>")
            self.assertEqual(code, 250)
            code, text = lmtp.docmd("RCPT", "TO:<carol@example.org>")
            self.assertEqual((code, text), (552, b"5.2.2 Mailbox full"))
        self.assertEqual(len(self.stored("carol")), 4)
        # A full mailbox is no storage fault: logged as what it is.
        log = self.instance.read_log()
        self.assertIn("event=mailbox_full", log)
        self.assertNotIn("event=storage_error", log)
        # Each delivery has a Received id of its own, even on one connection.
        ids = [re.search(rb"with LMTP id (\S+)", m).group(1) for m in self.stored("carol")]
        self.assertEqual(len(set(ids)), 4, ids)

    def test_over_quota_can_be_temporary(self):
        self.instance.stop()
        self.instance.write(self.instance.listeners_text, self.EXTRA + "[lmtp]\nquota_full_tempfail = true\n")
        self.instance.start(program="roostd")
        with smtplib.LMTP("127.0.0.1", self.port) as lmtp:
            lmtp.ehlo("mx")
            for i in range(4):
                lmtp.sendmail("a@example.net", ["carol"], f"Subject: {i}\r\n\r\nx\r\n".encode())
            lmtp.docmd("MAIL", "FROM:<a@example.net>")
            # The MTA keeps the message and retries while the user makes room.
            self.assertEqual(lmtp.docmd("RCPT", "TO:<carol@example.org>"), (452, b"4.2.2 Mailbox full, try again later"))

    def test_error_flood_is_cut_off(self):
        c = self.raw()
        for _ in range(10):
            self.assertTrue(c.command("FROB").startswith("500 5.5.1"))
        self.assertEqual(c.line(), "421 4.7.0 Too many errors, closing the connection")
        self.assertTrue(c.closed())

    def test_swaks_speaks_lmtp_to_tcp_and_unix(self):
        swaks = shutil.which("swaks")
        self.assertIsNotNone(swaks, "swaks is installed by scripts/install-deps")
        sock_path = os.path.join(self.instance.dir, "run", "lmtp.sock")
        for target in (["--server", "127.0.0.1", "--port", str(self.port)], ["--socket", sock_path]):
            out = subprocess.run([swaks, "--protocol", "LMTP", *target, "--from", "s@example.net",
                                  "--to", "alice@example.org,carol@example.org", "--header", "Subject: by swaks",
                                  "--timeout", "20"], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            # One reply per recipient after the data (RFC 2033 §4.2).
            self.assertEqual(out.stdout.count("<-  250 2.0.0 <"), 2, out.stdout)
        self.assertEqual(len(self.stored("alice")), 2)
        self.assertEqual(len(self.stored("carol")), 2)

    def test_starttls(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with smtplib.LMTP("127.0.0.1", self.port) as lmtp:
            lmtp.ehlo("mx")
            code, _ = lmtp.starttls(context=context)
            self.assertEqual(code, 220)
            lmtp.ehlo("mx")
            self.assertFalse(lmtp.has_extn("starttls"))
            self.assertEqual(lmtp.sendmail("a@example.net", ["alice"], b"Subject: tls\r\n\r\nx\r\n"), {})
        self.assertEqual(len(self.stored("alice")), 1)


if __name__ == "__main__":
    unittest.main()


class LmtpFailures(unittest.TestCase):
    """Storage failures (armed through roost-testd's test service) and a
    daemon killed mid-batch: 4xx with nothing half-delivered, and every 250
    true."""

    def setUp(self):
        self.port = free_port()
        self.test_port = free_port()
        self.instance = Instance(
            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.port}\n"
            f"[listener test]\nservice = test\naddress = 127.0.0.1:{self.test_port}\n",
            "[lmtp]\ndefault_domain = example.org\n")
        for user in ("alice", "carol"):
            self.instance.add_user(user, "pw")
        self.instance.start()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.instance.close()

    def connect(self, port):
        c = LineClient("127.0.0.1", port)
        self.clients.append(c)
        c.line()
        return c

    def files(self, user):
        root = os.path.join(self.instance.dir, "data", "mail", user)
        out = []
        for sub in ("new", "cur"):
            for path in glob.glob(os.path.join(root, sub, "*")):
                with open(path, "rb") as f:
                    out.append(f.read())
        return out

    def tmp_files(self, user):
        return glob.glob(os.path.join(self.instance.dir, "data", "mail", user, "tmp", "*"))

    def greeted(self):
        c = self.connect(self.port)
        c.command("LHLO mx")
        while not c.line().startswith("250 "):
            pass
        return c

    def transaction(self, c, recipients, body):
        c.send("MAIL FROM:<a@example.net>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in recipients) + "DATA\r\n")
        replies = [c.line() for _ in range(len(recipients) + 2)]
        c.send(body + ".\r\n")
        return replies, [c.line() for _ in recipients]

    def test_full_disk_fails_one_recipient_only(self):
        control = self.connect(self.test_port)
        self.assertEqual(control.command("FAULT write_message ENOSPC 1"), "+OK armed")
        c = self.greeted()
        _, results = self.transaction(c, ["alice", "carol"], "Subject: full\r\n\r\nx\r\n")
        # The recipients are written side by side: whichever met the full
        # disk says 451, the other 250, and only the other has the message.
        failed = [user for user, reply in zip(("alice", "carol"), results) if not reply.startswith("250 ")]
        self.assertEqual(len(failed), 1, results)
        self.assertIn("451 4.3.0 Temporary failure, try again later", results)
        other = "carol" if failed[0] == "alice" else "alice"
        self.assertEqual(self.files(failed[0]), [])
        self.assertEqual(len(self.files(other)), 1)
        self.assertEqual(self.tmp_files(failed[0]), [])

    def three_deliveries_second_with_fault(self, point):
        """alice gets three messages, the failure point armed for the second;
        returns the second's and the third's replies."""
        control = self.connect(self.test_port)
        c = self.greeted()
        self.transaction(c, ["alice"], "Subject: first\r\n\r\nx\r\n")
        self.assertEqual(control.command(f"FAULT {point} EIO 1"), "+OK armed")
        _, second = self.transaction(c, ["alice"], "Subject: second\r\n\r\nx\r\n")
        _, third = self.transaction(c, ["alice"], "Subject: third\r\n\r\nx\r\n")
        return second[0], third[0]

    def test_failed_index_commit_is_4xx_and_leaves_nothing(self):
        second, third = self.three_deliveries_second_with_fault("index_commit")
        self.assertEqual(second, "451 4.3.0 Local error in processing")
        self.assertRegex(third, r"^250 2\.0\.0 <alice> delivered, UID 3$")  # UID 2 is never reused
        self.assertEqual(len(self.files("alice")), 2)
        self.assertEqual(self.tmp_files("alice"), [])

    def test_index_commit_failing_after_the_answer_keeps_the_250(self):
        # The message is durable (file, directory, UID list) before the
        # answer; the index commit that ends after it is redone by the next
        # sync, with the same UID.
        second, third = self.three_deliveries_second_with_fault("index_commit_after_answer")
        self.assertRegex(second, r"^250 2\.0\.0 <alice> delivered, UID 2$")
        self.assertRegex(third, r"^250 2\.0\.0 <alice> delivered, UID 3$")
        self.assertEqual(len(self.files("alice")), 3)
        self.assertEqual(self.tmp_files("alice"), [])

    def test_sigkill_mid_batch_keeps_every_250_exactly_once(self):
        c = self.greeted()
        acknowledged = {"alice": set(), "carol": set()}
        import threading
        killer = threading.Timer(0.4, lambda: self.instance.daemon.kill())
        killer.start()
        n = 0
        try:
            while True:
                n += 1
                _, results = self.transaction(c, ["alice", "carol"],
                                              f"Message-ID: <kill-{n}@example.net>\r\nSubject: {n}\r\n\r\nx\r\n")
                for user, reply in zip(("alice", "carol"), results):
                    if reply.startswith("250 "):
                        acknowledged[user].add(n)
        except (EOFError, ConnectionError, OSError):
            pass
        killer.join()
        self.instance.daemon.wait(10)
        self.assertGreater(n, 3)
        for user, numbers in acknowledged.items():
            seen = {}
            for data in self.files(user):
                for line in data.split(b"\r\n"):
                    if line.startswith(b"Message-ID: <kill-"):
                        k = int(line[len(b"Message-ID: <kill-"):].split(b"@")[0])
                        seen[k] = seen.get(k, 0) + 1
            for k in numbers:
                self.assertEqual(seen.get(k), 1, f"{user}: message {k} answered 250 but found {seen.get(k)} times")
            self.assertTrue(all(count == 1 for count in seen.values()), f"{user}: a message stored twice")
