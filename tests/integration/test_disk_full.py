"""A full disk (a small tmpfs as the mail folder, filled to the last byte by
another program): no signal ends roostd (LMDB's lock file, mapped and written
through the map, was a SIGBUS on the first open of an index); the disk
reserve lets users open folders, read, flag and expunge to make room;
deliveries and APPENDs get temporary errors; and everything works again once
there is room. Needs root to mount the tmpfs, as CI has."""

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
                            f"[auth]\nallow_plaintext_loopback = true\n[mail]\nmail_dir = {self.mail}\n"
                            "disk_reserve = 1M\n")
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
        with open(filler, "wb", buffering=0) as f:
            for chunk in (65536, 4096, 1):
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError:
                    pass
        self.assertEqual(os.statvfs(self.mail).f_bavail, 0)
        c = self.imap_client()
        # The first open of an index on a full disk takes from the reserve.
        self.assertEqual(c.select("Later")[0], "OK")
        self.assertEqual(c.status("Later", "(MESSAGES)"), ("OK", [b"Later (MESSAGES 0)"]))
        typ, data = c.create("BrandNew")
        self.assertIn(typ, ("OK", "NO"), data)
        self.assertIsNone(self.instance.daemon.poll(), "roostd died: " + self.instance.read_log()[-2000:])
        typ, _ = c.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK")
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(typ, "OK")
        self.assertEqual(len([d for d in data if isinstance(d, tuple)]), 3)
        # SELECT read-write, and making room: flag and expunge a message.
        typ, data = c.select("INBOX")
        self.assertEqual(typ, "OK", data)
        typ, data = c.store("1", "+FLAGS", "(\\Deleted)")
        self.assertEqual(typ, "OK", self.instance.read_log()[-1500:])
        typ, data = c.expunge()
        self.assertEqual((typ, data), ("OK", [b"1"]))
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(len([d for d in data if isinstance(d, tuple)]), 2)
        self.assertLess(os.path.getsize(os.path.join(self.mail, ".roost-reserve")), 1 << 20)
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
        self.assertEqual(data[0].split(), [b"1", b"2", b"3"])
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = [d[1].strip() for d in data if isinstance(d, tuple)]
        self.assertEqual(subjects, [b"Subject: before 1", b"Subject: before 2", b"Subject: after"])
        c.logout()


if __name__ == "__main__":
    unittest.main()
