"""Real IMAP clients from Debian against roostd: mbsync (isync) syncing a
1,000-message account both ways, offlineimap3 and mbsync pushing old mail
with raw 8-bit header fields, and fetchmail fetching over IMAP. Both
talk TLS to the instance's self-signed certificate."""

import glob
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from roosttest import Instance, client_tls_context, free_port

COUNT = 1000


def message(i):
    return (b"From: Sender %d <s%d@example.org>\r\nTo: alice@example.org\r\nSubject: message %d\r\n"
            b"Message-ID: <m%d@example.org>\r\n\r\nBody of message %d.\r\n" % (i, i, i, i, i))


# Old mail from broken mailers: raw 8-bit header fields (Latin-1, GB2312).
RAW_8BIT = [b"From: J\xfcrgen M\xfcller <jm@example.de>\r\nSubject: Gr\xfc\xdfe aus M\xfcnchen\r\n\r\nHallo\r\n",
            b"From: spam@example.com\r\nSubject: \xb9\xe3\xb8\xe6 \xc3\xa2\r\n\r\nbody\r\n"]


def has_subject(path, i):
    """mbsync stores messages with LF line ends."""
    with open(path, "rb") as f:
        return re.search(rb"^Subject: message %d\r?$" % i, f.read(), re.M) is not None


class ImapClientsTest(unittest.TestCase):
    def setUp(self):
        for tool in ("mbsync", "fetchmail"):
            if shutil.which(tool) is None:
                self.skipTest(tool + " is not installed (scripts/install-deps installs it)")
        self.port = free_port()
        self.tls_port = free_port()
        self.instance = Instance(
            f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\ntls = starttls\n"
            f"[listener imaps]\nservice = imap\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n")
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")
        self.cert = os.path.join(self.instance.dir, "tls", "cert.pem")
        self.work = tempfile.TemporaryDirectory(prefix="roost-clients-")

    def tearDown(self):
        self.work.cleanup()
        self.instance.close()

    def imap(self):
        c = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=client_tls_context(), timeout=30)
        c.login("alice", "secret")
        return c

    def fill(self, count):
        c = self.imap()
        for i in range(1, count + 1):
            typ, _ = c.append("INBOX", None, None, message(i))
            self.assertEqual(typ, "OK")
        c.logout()

    # mbsync --------------------------------------------------------------

    def mbsync(self):
        local = os.path.join(self.work.name, "local")
        os.makedirs(local, exist_ok=True)
        config = os.path.join(self.work.name, "mbsyncrc")
        with open(config, "w") as f:
            f.write(f"""IMAPAccount roost
Host 127.0.0.1
Port {self.tls_port}
User alice
Pass secret
SSLType IMAPS
CertificateFile {self.cert}

IMAPStore far
Account roost

MaildirStore near
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :far:
Near :near:
Patterns *
Create Both
Remove Both
Expunge Both
SyncState *
""")
        # -Dn shows the IMAP commands it sends (">>> tag COMMAND").
        run = subprocess.run(["mbsync", "-c", config, "-Dn", "-a"], capture_output=True, text=True, timeout=600)
        self.assertEqual(run.returncode, 0, run.stdout[-3000:] + run.stderr[-3000:])
        return local, run.stdout + run.stderr

    def assert_nothing_transferred(self, output, local, before):
        """No message or flag went either way: no APPEND, STORE, EXPUNGE or
        body fetch was sent, and the local maildir is as it was."""
        sent = re.findall(r"^>>> \d+ (.*)$", output, re.M)
        self.assertTrue(sent, output[-2000:])
        for command in sent:
            self.assertNotRegex(command, r"^(APPEND|UID STORE|UID EXPUNGE|EXPUNGE|UID MOVE)|BODY\.PEEK\[\]")
        self.assertEqual(self.all_local_files(local), before)

    def all_local_files(self, local):
        return sorted(os.path.relpath(p, local) for p in glob.glob(os.path.join(local, "**", "*"), recursive=True))

    def local_files(self, local, folder="INBOX"):
        return sorted(glob.glob(os.path.join(local, folder, "cur", "*")) +
                      glob.glob(os.path.join(local, folder, "new", "*")))

    def test_mbsync_copies_mail_with_raw_8bit_header_fields(self):
        # Old mail from broken mailers has raw 8-bit header fields; mbsync
        # appends it as it is, without ENABLE UTF8=ACCEPT. Refused, it would
        # stay on the client forever (RFC 6855 §4 strictness is a setting).
        local = os.path.join(self.work.name, "local")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(local, "Old2002", sub))
        raw = RAW_8BIT
        for i, data in enumerate(raw):
            with open(os.path.join(local, "Old2002", "cur", "170000000%d.old.host:2,S" % i), "wb") as f:
                f.write(data.replace(b"\r\n", b"\n"))  # a maildir's line ends, as mbsync keeps them
        local, out = self.mbsync()
        c = self.imap()
        c.select("Old2002", readonly=True)
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        c.logout()
        subjects = sorted(d[1].strip() for d in data if isinstance(d, tuple))
        self.assertEqual(subjects, sorted(m.split(b"\r\n")[1] for m in raw), out[-2000:])

    def test_offlineimap_copies_mail_with_raw_8bit_header_fields(self):
        # offlineimap aborted the whole folder on every run when one message
        # was refused: every message must arrive, 8-bit headers as they are.
        if shutil.which("offlineimap") is None:
            self.skipTest("offlineimap3 is not installed (scripts/install-deps installs it)")
        local = os.path.join(self.work.name, "offline")
        for folder in ("INBOX", "Old2002"):
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(local, folder, sub))
        raw = RAW_8BIT + [b"From: ok@example.org\r\nSubject: plain\r\nMessage-ID: <o3@example.org>\r\n\r\nbody\r\n"]
        for i, data in enumerate(raw):
            with open(os.path.join(local, "Old2002", "cur", "170000000%d_%d.old.host,U=%d:2,S" % (i, i, i + 1)),
                      "wb") as f:
                f.write(data.replace(b"\r\n", b"\n"))
        config = os.path.join(self.work.name, "offlineimaprc")
        with open(config, "w") as f:
            f.write(f"""[general]
accounts = roost
metadata = {self.work.name}/offlineimap-state

[Account roost]
localrepository = near
remoterepository = far

[Repository near]
type = Maildir
localfolders = {local}

[Repository far]
type = IMAP
remotehost = localhost
remoteport = {self.tls_port}
remoteuser = alice
remotepass = secret
ssl = yes
sslcacertfile = {self.cert}
""")
        run = subprocess.run(["offlineimap", "-c", config, "-o", "-u", "basic"], capture_output=True, text=True,
                             timeout=300)
        output = run.stdout + run.stderr
        self.assertEqual(run.returncode, 0, output[-3000:])
        self.assertNotRegex(output, r"(?i)error|abort", output[-3000:])
        c = self.imap()
        c.select("Old2002", readonly=True)
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        c.logout()
        subjects = sorted(d[1].strip() for d in data if isinstance(d, tuple))
        self.assertEqual(subjects, sorted(m.split(b"\r\n")[1] for m in raw), output[-2000:])

    def test_mbsync_both_ways(self):
        self.fill(COUNT)
        local, out = self.mbsync()
        self.assertEqual(len(self.local_files(local)), COUNT, out[-2000:])
        self.assertIn("BODY.PEEK[]", out)  # the helper's check can see transfers
        # A second sync transfers nothing.
        before = self.all_local_files(local)
        local, out = self.mbsync()
        self.assert_nothing_transferred(out, local, before)

        # Changes on the server: a flag, a deletion, a new message, a new folder.
        c = self.imap()
        c.select("INBOX")
        c.store("1", "+FLAGS", r"(\Flagged)")
        c.store("2", "+FLAGS", r"(\Deleted)")
        c.expunge()
        c.append("INBOX", None, None, message(COUNT + 1))
        c.create("ServerSide")
        c.append("ServerSide", None, None, message(COUNT + 2))
        c.logout()
        # Changes here: a folder with a message, a message read, one deleted.
        os.makedirs(os.path.join(local, "LocalSide", "cur"))
        os.makedirs(os.path.join(local, "LocalSide", "new"))
        os.makedirs(os.path.join(local, "LocalSide", "tmp"))
        with open(os.path.join(local, "LocalSide", "new", "1700000000.local.host"), "wb") as f:
            f.write(message(COUNT + 3))
        files = self.local_files(local)
        seen = next(p for p in files if has_subject(p, 10))
        deleted = next(p for p in files if has_subject(p, 20))
        base = os.path.basename(seen)
        target = os.path.join(local, "INBOX", "cur", (base.split(":2,")[0] + ":2," +
                              "".join(sorted(set(base.split(":2,")[1] if ":2," in base else "") | {"S"}))))
        os.rename(seen, target)
        os.remove(deleted)

        local, out = self.mbsync()
        inbox = self.local_files(local)
        self.assertEqual(len(inbox), COUNT - 1)  # -1 expunged there, +1 new there, -1 deleted here
        self.assertTrue(any(has_subject(p, COUNT + 1) for p in inbox))
        flagged = next(p for p in inbox if has_subject(p, 1))
        self.assertIn("F", flagged.split(":2,")[1])
        self.assertEqual(len(self.local_files(local, "ServerSide")), 1)

        c = self.imap()
        typ, data = c.status("INBOX", "(MESSAGES)")
        self.assertEqual(data, [b"INBOX (MESSAGES %d)" % (COUNT - 1)])
        typ, data = c.status("LocalSide", "(MESSAGES)")
        self.assertEqual(data, [b"LocalSide (MESSAGES 1)"])
        c.select("INBOX", readonly=True)
        typ, data = c.search(None, "HEADER", "Message-ID", "<m10@example.org>")
        self.assertEqual(len(data[0].split()), 1)
        typ, flags = c.fetch(data[0].split()[0], "FLAGS")
        self.assertIn(b"\\Seen", flags[0])
        typ, data = c.search(None, "HEADER", "Message-ID", "<m20@example.org>")
        self.assertEqual(data, [b""])
        c.logout()
        before = self.all_local_files(local)
        local, out = self.mbsync()
        self.assert_nothing_transferred(out, local, before)

    # fetchmail -----------------------------------------------------------

    def fetchmail(self, keep):
        rc = os.path.join(self.work.name, "fetchmailrc")
        out = os.path.join(self.work.name, "fetched.bsmtp")
        with open(rc, "w") as f:
            f.write(f"poll 127.0.0.1 with proto IMAP port {self.tls_port}\n"
                    f"  user alice there with password secret is alice here\n"
                    f"  options {'keep' if keep else 'nokeep'} ssl sslcertck sslcertfile {self.cert} sslcommonname localhost\n")
        os.chmod(rc, 0o600)
        if os.path.exists(out):
            os.remove(out)
        env = dict(os.environ, HOME=self.work.name)
        run = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "--nosyslog", "--bsmtp", out,
                              "--pidfile", os.path.join(self.work.name, "fetchmail.pid")],
                             capture_output=True, text=True, timeout=600, env=env)
        # fetchmail exits 1 when there was no mail.
        self.assertIn(run.returncode, (0, 1), run.stdout[-2000:] + run.stderr[-2000:])
        if not os.path.exists(out):
            return 0
        with open(out, "rb") as f:
            return len(re.findall(rb"^DATA\r?$", f.read(), re.M))

    def test_fetchmail_keep_then_delete(self):
        self.fill(100)
        self.assertEqual(self.fetchmail(keep=True), 100)
        self.assertEqual(self.fetchmail(keep=True), 0)  # all \Seen now: nothing new
        c = self.imap()
        c.append("INBOX", None, None, message(101))
        c.logout()
        self.assertEqual(self.fetchmail(keep=False), 1)
        c = self.imap()
        typ, data = c.status("INBOX", "(MESSAGES UNSEEN)")
        self.assertEqual(data, [b"INBOX (MESSAGES 100 UNSEEN 0)"])
        c.logout()


if __name__ == "__main__":
    unittest.main()
