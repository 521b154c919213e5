"""A full disk (a small tmpfs as the mail folder): no signal ends roostd
(LMDB's lock file, mapped and written through the map, was a SIGBUS on the
first open of an index), every command is answered, deliveries and APPENDs
get temporary errors, and everything works again once there is room. Needs root to mount the tmpfs,
as CI has."""

import imaplib
import os
import smtplib
import subprocess
import unittest

from roosttest import Instance, free_port


class DiskFull(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs: CI runs as root")
        self.imap, self.lmtp = free_port(), free_port()
        self.instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.imap}\n"
                                 f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp}\n")
        self.addCleanup(self.instance.close)
        self.mail = os.path.join(self.instance.dir, "mailfs")
        os.makedirs(self.mail)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", self.mail],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + mounted.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.mail])
        self.instance.write(self.instance.listeners_text,
                            f"[auth]\nallow_plaintext_loopback = true\n[mail]\nmail_dir = {self.mail}\n")
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")

    def deliver(self, subject):
        with smtplib.LMTP("127.0.0.1", self.lmtp, timeout=30) as lmtp:
            try:
                lmtp.sendmail("a@example.org", ["alice"], f"Subject: {subject}\r\n\r\nbody\r\n".encode())
                return 250
            except smtplib.SMTPDataError as e:
                return e.smtp_code
            except smtplib.SMTPRecipientsRefused as e:
                return list(e.recipients.values())[0][0]

    def imap_client(self):
        c = imaplib.IMAP4("127.0.0.1", self.imap, timeout=30)
        c.login("alice", "secret")
        return c

    def test_a_full_disk_is_survived(self):
        for i in range(3):
            self.assertEqual(self.deliver(f"before {i}"), 250)
        # Their index commit (which may end after the answer) is done: an
        # EXAMINE below needs no index write.
        c = self.imap_client()
        c.select("INBOX", readonly=True)
        c.logout()
        # A folder of another program's making, whose index Roost has never
        # opened: its first open comes when the disk is full.
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.mail, "alice", ".Later", sub))
        filler = os.path.join(self.mail, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        c = self.imap_client()
        for command in (lambda: c.select("Later"), lambda: c.status("Later", "(MESSAGES)"),
                        lambda: c.create("BrandNew")):
            typ, data = command()
            self.assertIn(typ, ("OK", "NO"), data)
        self.assertIsNone(self.instance.daemon.poll(), "roostd died: " + self.instance.read_log()[-2000:])
        # Reading works: the index is current, so EXAMINE writes nothing.
        # (A folder whose index must first take in mail that arrived before
        # the disk filled cannot be opened until there is room: see the
        # issue's notes.)
        typ, _ = c.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK")
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(typ, "OK")
        self.assertEqual(len([d for d in data if isinstance(d, tuple)]), 3)
        # SELECT, which writes the index (\Recent, MODSEQs), is a temporary
        # error for now, never a dropped connection (see the notes).
        typ, data = c.select("INBOX")
        self.assertIn(typ, ("OK", "NO"), data)
        # Deliveries and APPENDs: temporary errors, nothing half-written.
        self.assertEqual(self.deliver("while full") // 100, 4)
        typ, _ = c.append("INBOX", None, None, b"Subject: appended while full\r\n\r\n" + b"x" * 300000)
        self.assertEqual(typ, "NO")
        self.assertIsNone(self.instance.daemon.poll(), "roostd died: " + self.instance.read_log()[-2000:])
        c.logout()
        # Room again: everything works.
        os.unlink(filler)
        self.assertEqual(self.deliver("after"), 250)
        c = self.imap_client()
        typ, _ = c.select("Later")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.create("AfterRoom")[0], "OK")
        self.assertEqual(c.select("AfterRoom")[0], "OK")
        c.select("INBOX")
        typ, data = c.search(None, "ALL")
        self.assertEqual(data[0].split(), [b"1", b"2", b"3", b"4"])
        c.logout()


if __name__ == "__main__":
    unittest.main()
