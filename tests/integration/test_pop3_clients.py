"""fetchmail from Debian retrieving 1,000 messages over POP3 (TLS): once
keeping them (a second run fetches nothing new, by UIDL) and once deleting
them (the maildrop is empty afterwards)."""

import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import unittest

from roosttest import Instance, free_port

COUNT = 1000


def message(i):
    return (b"From: Sender %d <s%d@example.org>\r\nTo: alice@example.org\r\nSubject: message %d\r\n"
            b"Message-ID: <m%d@example.org>\r\n\r\nBody of message %d.\r\n" % (i, i, i, i, i))


class FetchmailTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("fetchmail") is None:
            self.skipTest("fetchmail is not installed (scripts/install-deps installs it)")
        self.port = free_port()
        self.lmtp_port = free_port()
        self.instance = Instance(
            f"[listener pop3s]\nservice = pop3\naddress = 127.0.0.1:{self.port}\ntls = implicit\n"
            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp_port}\n")
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")
        self.cert = os.path.join(self.instance.dir, "tls", "cert.pem")
        self.work = tempfile.TemporaryDirectory(prefix="roost-fetchmail-")

    def tearDown(self):
        self.work.cleanup()
        self.instance.close()

    def deliver(self, first, last):
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=60) as lmtp:
            for i in range(first, last + 1):
                lmtp.sendmail("sender@example.org", ["alice"], message(i))

    def fetchmail(self, keep):
        """Runs fetchmail once; returns the Subject numbers it delivered."""
        rc = os.path.join(self.work.name, "fetchmailrc")
        out = os.path.join(self.work.name, "fetched.bsmtp")
        with open(rc, "w") as f:
            f.write(f"poll 127.0.0.1 with proto POP3 port {self.port} uidl\n"
                    f"  user alice there with password secret is alice here\n"
                    f"  options {'keep' if keep else 'nokeep'} ssl sslcertck sslcertfile {self.cert} sslcommonname localhost\n")
        os.chmod(rc, 0o600)
        if os.path.exists(out):
            os.remove(out)
        env = dict(os.environ, HOME=self.work.name)
        run = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "--nosyslog", "--bsmtp", out,
                              "--idfile", os.path.join(self.work.name, "fetchids"),
                              "--pidfile", os.path.join(self.work.name, "fetchmail.pid")],
                             capture_output=True, text=True, timeout=600, env=env)
        # fetchmail exits 1 when there was no mail.
        self.assertIn(run.returncode, (0, 1), run.stdout[-2000:] + run.stderr[-2000:])
        if not os.path.exists(out):
            return []
        with open(out, "rb") as f:
            return [int(n) for n in re.findall(rb"^Subject: message (\d+)\r?$", f.read(), re.M)]

    def maildrop_size(self):
        import poplib
        from roosttest import client_tls_context
        c = poplib.POP3_SSL("127.0.0.1", self.port, context=client_tls_context(), timeout=30)
        c.user("alice")
        c.pass_("secret")
        count = c.stat()[0]
        c.quit()
        return count

    def test_keep_by_uidl_then_delete(self):
        self.deliver(1, COUNT)
        self.assertEqual(sorted(self.fetchmail(keep=True)), list(range(1, COUNT + 1)))
        # Everything is known by UIDL now: nothing is fetched again.
        self.assertEqual(self.fetchmail(keep=True), [])
        self.assertEqual(self.maildrop_size(), COUNT)
        self.deliver(COUNT + 1, COUNT + 5)
        self.assertEqual(sorted(self.fetchmail(keep=True)), list(range(COUNT + 1, COUNT + 6)))
        # Fetching and deleting: nothing stays behind. (fetchall: the kept
        # ones are old by UIDL and would be skipped otherwise.)
        fetched = self.fetchmail_all_and_delete()
        self.assertEqual(sorted(fetched), list(range(1, COUNT + 6)))
        self.assertEqual(self.maildrop_size(), 0)

    def fetchmail_all_and_delete(self):
        os.remove(os.path.join(self.work.name, "fetchids"))
        return self.fetchmail(keep=False)


if __name__ == "__main__":
    unittest.main()
