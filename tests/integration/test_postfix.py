"""Postfix from Debian hands mail to Roost over LMTP, as it does in
production: a private Postfix instance (its own configuration, queue and
data directories under the test's temporary directory, SMTP on a loopback
port) delivers through lmtp:unix: and through lmtp:inet:; swaks sends the
mail into Postfix. Needs root, as Postfix's master does: without it the
whole file exits 77, which ctest reports as skipped, never as passed."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from roosttest import BIN, Instance, free_port, run


def free_port_base():
    """A port base N for roostctl init whose ports (N+24, N+110, N+143,
    N+993, N+995, N+9100) are all free now."""
    for _ in range(50):
        base = free_port() - 143
        if base < 1024 or base + 9100 > 65535:
            continue
        ports = [base + offset for offset in (24, 110, 143, 993, 995, 9100)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free port base")

POSTFIX = shutil.which("postfix")
SWAKS = shutil.which("swaks")
if not (POSTFIX and SWAKS and os.geteuid() == 0):
    print("test_postfix: needs root and Debian's postfix and swaks (scripts/install-deps)", file=sys.stderr)
    sys.exit(77)


class PostfixHandsOff(unittest.TestCase):
    def setUp(self):
        # Postfix's daemons run as the postfix user: everything they touch
        # lives in a directory they may enter.
        self.base = tempfile.mkdtemp(prefix="roost-postfix-")
        os.chmod(self.base, 0o755)
        self.lmtp_port = free_port()
        self.smtp_port = free_port()
        self.socket = os.path.join(self.base, "lmtp.sock")
        self.instance = Instance(
            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp_port}\n"
            f"[listener lmtp-unix]\nservice = lmtp\naddress = unix:{self.socket}\nsocket_mode = 0666\n",
            "[lmtp]\ndefault_domain = example.org\n")
        for user in ("alice", "bob"):
            self.instance.add_user(user, "pw")
        self.instance.start(program="roostd")
        self.config_dir = None

    def tearDown(self):
        if self.config_dir:
            subprocess.run([POSTFIX, "-c", self.config_dir, "stop"], capture_output=True, timeout=30)
        self.instance.close()
        shutil.rmtree(self.base, ignore_errors=True)

    def start_postfix(self, transport):
        etc = os.path.join(self.base, "etc")
        for d in ("etc", "queue", "data"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        shutil.chown(os.path.join(self.base, "data"), "postfix")
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {self.base}/queue
data_directory = {self.base}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test
mydestination = example.org
local_recipient_maps =
local_transport = {transport}
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
maillog_file_prefixes = {self.base}
maillog_file = {self.base}/maillog
biff = no
lmtp_connect_timeout = 5s
""")
        with open("/etc/postfix/master.cf") as src, open(os.path.join(etc, "master.cf"), "w") as dst:
            for line in src:
                if line.startswith("smtp      inet"):
                    line = f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd\n"
                fields = line.split()
                if line[:1].strip() and not line.startswith("#") and len(fields) >= 8:
                    # No chroot: the LMTP client must see Roost's socket.
                    fields[4] = "n"
                    line = " ".join(fields) + "\n"
                dst.write(line)
        self.config_dir = etc
        started = subprocess.run([POSTFIX, "-c", etc, "start"], capture_output=True, text=True, timeout=60)
        self.assertEqual(started.returncode, 0, started.stdout + started.stderr + self.maillog())

    def maillog(self):
        try:
            with open(os.path.join(self.base, "maillog")) as f:
                return f.read()
        except OSError:
            return ""

    def swaks(self, to, subject):
        run([SWAKS, "--server", "127.0.0.1", "--port", str(self.smtp_port), "--from", "sender@example.net",
             "--to", to, "--header", f"Subject: {subject}", "--body", f"Body of {subject}", "--timeout", "20"])

    def wait_for(self, user, folder, subject, timeout=30):
        root = os.path.join(self.instance.dir, "data", "mail", user, folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in glob.glob(os.path.join(root, "new", "*")) + glob.glob(os.path.join(root, "cur", "*")):
                with open(path, "rb") as f:
                    if f"Subject: {subject}".encode() in f.read():
                        return path
            time.sleep(0.1)
        self.fail(f"{subject} never reached {user}/{folder}; maillog:\n{self.maillog()}")

    def check_delivery(self, transport):
        self.start_postfix(transport)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.instance.dir, "data", "mail", "bob", ".Lists", sub), exist_ok=True)
        self.swaks("alice@example.org", "via-postfix-1")
        self.swaks("bob+Lists@example.org", "via-postfix-2")
        path = self.wait_for("alice", "", "via-postfix-1")
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"Return-Path: <sender@example.net>\r\nDelivered-To: alice@example.org\r\n"))
        self.assertIn(b"Body of via-postfix-1", data)
        self.wait_for("bob", ".Lists", "via-postfix-2")
        # An unknown user is refused at RCPT by Roost: Postfix bounces it
        # (status=bounced with Roost's 5.1.1), and nothing is delivered.
        self.swaks("nobody@example.org", "via-postfix-3")
        deadline = time.monotonic() + 30
        while "5.1.1" not in self.maillog() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn("status=bounced", self.maillog())
        self.assertIn("5.1.1", self.maillog())

    def test_fresh_instance_takes_user_at_domain_without_edits(self):
        # roostctl init --domain sets the local domain: Postfix's
        # alice@example.org reaches alice with roost.conf as init wrote it.
        fresh = os.path.join(self.base, "fresh")
        base = free_port_base()
        run([os.path.join(BIN, "roostctl"), "init", fresh, "--port-base", str(base), "--domain", "example.org"])
        conf = os.path.join(fresh, "roost.conf")
        run([os.path.join(BIN, "roostctl"), "--config", conf, "user", "add", "alice", "--password-stdin"], stdin="pw\n")
        with open(os.path.join(self.base, "fresh.log"), "w") as log:
            daemon = subprocess.Popen([os.path.join(BIN, "roostd"), "--config", conf], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "event=started" not in open(os.path.join(self.base, "fresh.log")).read():
                self.assertIsNone(daemon.poll())
                time.sleep(0.05)
            self.start_postfix(f"lmtp:inet:127.0.0.1:{base + 24}")
            self.swaks("alice@example.org", "to-a-fresh-instance")
            root = os.path.join(fresh, "data", "mail", "alice")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not glob.glob(os.path.join(root, "new", "*")):
                time.sleep(0.1)
            self.assertTrue(glob.glob(os.path.join(root, "new", "*")), self.maillog())
        finally:
            daemon.terminate()
            daemon.wait(30)

    def test_lmtp_unix(self):
        self.check_delivery(f"lmtp:unix:{self.socket}")

    def test_lmtp_inet(self):
        self.check_delivery(f"lmtp:inet:127.0.0.1:{self.lmtp_port}")


if __name__ == "__main__":
    unittest.main()
