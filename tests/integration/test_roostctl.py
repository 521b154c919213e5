"""roostctl and roostd as an operator uses them: init, users, who, kick,
--check-config."""

import imaplib
import os
import poplib
import random
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from roosttest import BIN, Instance, WireTest, client_tls_context, ephemeral_ports_start, free_port, run


def roostctl(*args, stdin=None, check=True):
    return run([os.path.join(BIN, "roostctl"), *args], stdin=stdin, check=check)


class Init(unittest.TestCase):
    def test_init_creates_a_complete_instance(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "inst")
            out = roostctl("init", d, "--port-base", "30000").stdout
            for port in ("30143", "30993", "30110", "30995", "30024", "39100"):
                self.assertIn(f"127.0.0.1:{port}", out)
            with open(os.path.join(d, "roost.conf")) as f:
                conf = f.read()
            for line in ("address = 127.0.0.1:30143", "tls = starttls", "address = 127.0.0.1:30993",
                         "tls = implicit", "address = 127.0.0.1:30024", "listen = 127.0.0.1:39100"):
                self.assertIn(line, conf)
            # The certificate is valid now and names localhost.
            cert = os.path.join(d, "tls", "cert.pem")
            run(["openssl", "x509", "-in", cert, "-noout", "-checkend", "86400"])
            text = run(["openssl", "x509", "-in", cert, "-noout", "-text"]).stdout
            self.assertIn("DNS:localhost", text)
            self.assertIn("IP Address:127.0.0.1", text)
            self.assertEqual(os.stat(os.path.join(d, "tls", "key.pem")).st_mode & 0o777, 0o600)
            self.assertTrue(os.path.exists(os.path.join(d, "data", "users", "data.mdb")))
            again = roostctl("init", d, check=False)
            self.assertEqual(again.returncode, 1)
            self.assertIn("already exists", again.stderr)

    def test_usage_errors(self):
        self.assertEqual(roostctl("init", check=False).returncode, 2)
        self.assertEqual(roostctl("frobnicate", check=False).returncode, 2)


def free_port_base():
    """A port base N whose documented ports (N+24, N+110, N+143, N+993, N+995,
    N+9100) are all free on loopback now."""
    for _ in range(50):
        # Every port below the ephemeral range (see roosttest.free_port).
        base = random.randrange(20000, max(20001, ephemeral_ports_start() - 9100))
        try:
            for offset in (24, 110, 143, 993, 995, 9100):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise AssertionError("no free port base")


class InitAndStart(unittest.TestCase):
    """The quick start's path: roostctl init, a user, roostd with the
    generated configuration unchanged; every documented port answers in its
    protocol, metrics count it, who lists it, SIGTERM stops it."""

    def test_init_then_roostd_serves_every_documented_port(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "inst")
            n = free_port_base()
            roostctl("init", d, "--port-base", str(n))
            conf = os.path.join(d, "roost.conf")
            roostctl("--config", conf, "user", "add", "alice", "--password-stdin", stdin="demo-pass\n")
            with open(os.path.join(d, "daemon.log"), "w") as log:
                daemon = subprocess.Popen([os.path.join(BIN, "roostd"), "--config", conf],
                                          stdout=log, stderr=subprocess.STDOUT)
            def log_text():
                with open(os.path.join(d, "daemon.log")) as f:
                    return f.read()
            try:
                deadline = time.monotonic() + 30
                while "event=started" not in log_text():
                    self.assertIsNone(daemon.poll(), log_text())
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.05)
                ctx = client_tls_context()
                with smtplib.LMTP("127.0.0.1", n + 24, timeout=10) as lmtp:
                    lmtp.sendmail("a@example.org", ["alice"], b"Subject: hello\r\n\r\nhi\r\n")
                imap = imaplib.IMAP4("127.0.0.1", n + 143, timeout=10)
                imap.starttls(ssl_context=ctx)
                imap.login("alice", "demo-pass")
                self.assertEqual(imap.select("INBOX")[1], [b"1"])
                imaps = imaplib.IMAP4_SSL("127.0.0.1", n + 993, ssl_context=ctx, timeout=10)
                imaps.login("alice", "demo-pass")
                pop = poplib.POP3("127.0.0.1", n + 110, timeout=10)
                pop.stls(context=ctx)
                pop.user("alice")
                pop.pass_("demo-pass")
                self.assertEqual(pop.stat()[0], 1)
                who = roostctl("--config", conf, "who").stdout
                self.assertIn("\timap\talice\t", who)
                self.assertIn("\tpop3\talice\t", who)
                pop.quit()
                pops = poplib.POP3_SSL("127.0.0.1", n + 995, context=ctx, timeout=10)
                pops.user("alice")
                pops.pass_("demo-pass")
                self.assertEqual(pops.retr(1)[1][-1], b"hi")
                pops.quit()
                imaps.logout()
                imap.logout()
                metrics = urllib.request.urlopen(f"http://127.0.0.1:{n + 9100}/metrics", timeout=10).read().decode()
                for service in ("imap", "pop3", "lmtp"):
                    self.assertIn(f'roost_commands_total{{service="{service}"}}', metrics)
                self.assertRegex(metrics, r"\nroost_folder_scans_total \d+\n")
                self.assertRegex(metrics, r"\nroost_index_commits_total [1-9]\d*\n")
                daemon.send_signal(signal.SIGTERM)
                self.assertEqual(daemon.wait(20), 0)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait(5)


class Users(unittest.TestCase):
    def setUp(self):
        self.instance = Instance()

    def tearDown(self):
        self.instance.close()

    def test_add_list_passwd_del(self):
        conf = self.instance.conf
        roostctl("--config", conf, "user", "add", "Bob", "--password-stdin", stdin="first-pass\n")
        roostctl("--config", conf, "user", "add", "carol@example.org", "--password-stdin", stdin="x\n")
        self.assertEqual(roostctl("--config", conf, "user", "list").stdout.split(), ["bob", "carol@example.org"])
        dup = roostctl("--config", conf, "user", "add", "bob", "--password-stdin", stdin="y\n", check=False)
        self.assertEqual(dup.returncode, 1)
        self.assertIn("already exists", dup.stderr)
        bad = roostctl("--config", conf, "user", "add", "../evil", "--password-stdin", stdin="y\n", check=False)
        self.assertIn("user name", bad.stderr)
        roostctl("--config", conf, "user", "passwd", "bob", "--password-stdin", stdin="second-pass\n")
        missing = roostctl("--config", conf, "user", "passwd", "dave", "--password-stdin", stdin="z\n", check=False)
        self.assertIn("no such user", missing.stderr)
        roostctl("--config", conf, "user", "del", "carol@example.org")
        self.assertEqual(roostctl("--config", conf, "user", "list").stdout.split(), ["bob"])
        with open(os.path.join(self.instance.dir, "data", "users", "data.mdb"), "rb") as f:
            data = f.read()
        self.assertNotIn(b"second-pass", data)
        self.assertNotIn(b"first-pass", data)


class Directory(unittest.TestCase):
    """roostctl directory: shards, where each user lives, placement of new
    users by weight, and route changes that take the generation one higher;
    a node serves only users routed to it ([directory] shard) or to no
    shard, and only while they are active."""

    def setUp(self):
        self.instance = Instance()

    def tearDown(self):
        self.instance.close()

    def ctl(self, *args, stdin=None, check=True):
        return roostctl("--config", self.instance.conf, *args, stdin=stdin, check=check)

    def test_shards_users_and_routes(self):
        # No shards: one machine, users are local.
        self.ctl("user", "add", "alice", "--password-stdin", stdin="alice-pw\n")
        self.assertEqual(self.ctl("directory", "user", "where", "alice").stdout, "local\tactive\tgeneration 1\n")
        self.ctl("directory", "shard", "add", "shard1", "--imap", "127.0.0.1:2143", "--lmtp", "127.0.0.1:2024")
        self.ctl("directory", "shard", "add", "shard2", "--imap", "127.0.0.1:3143", "--weight", "300")
        bad = self.ctl("directory", "shard", "add", "Shard 3", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("shard id", bad.stderr)
        again = self.ctl("directory", "shard", "add", "shard1", check=False)
        self.assertIn("exists", again.stderr)
        self.assertEqual(self.ctl("directory", "shard", "list").stdout.splitlines(), [
            "ID\tSTATE\tWEIGHT\tIMAP\tPOP3\tLMTP",
            "shard1\tup\t100\t127.0.0.1:2143\t-\t127.0.0.1:2024",
            "shard2\tup\t300\t127.0.0.1:3143\t-\t-"])
        # Eight new users: shard2 has three times shard1's weight.
        for i in range(8):
            out = self.ctl("user", "add", f"u{i}", "--password-stdin", stdin="pw\n").stdout
            self.assertRegex(out, rf"^u{i} is on shard shard[12]\n$")
        self.assertEqual(len(self.ctl("directory", "user", "list", "--shard", "shard1").stdout.split()), 2)
        self.assertEqual(len(self.ctl("directory", "user", "list", "--shard", "shard2").stdout.split()), 6)
        self.ctl("user", "add", "bob", "--shard", "shard1", "--password-stdin", stdin="bob-pw\n")
        nowhere = self.ctl("user", "add", "carol", "--shard", "shard9", "--password-stdin", stdin="x\n", check=False)
        self.assertIn("no shard 'shard9'", nowhere.stderr)
        # A shard that is down or draining takes no new users.
        self.ctl("directory", "shard", "down", "shard2")
        self.ctl("directory", "shard", "drain", "shard1")
        full = self.ctl("user", "add", "dave", "--password-stdin", stdin="x\n", check=False)
        self.assertIn("no shard is up", full.stderr)
        self.ctl("directory", "shard", "up", "shard1")
        self.ctl("directory", "shard", "set", "shard2", "--state", "up", "--pop3", "127.0.0.1:3110")
        self.assertIn("shard2\tup\t300\t127.0.0.1:3143\t127.0.0.1:3110\t-",
                      self.ctl("directory", "shard", "list").stdout)
        # Moving bob's route: the generation goes one higher each time.
        self.assertEqual(self.ctl("directory", "user", "where", "BOB").stdout, "shard1\tactive\tgeneration 1\n")
        self.ctl("directory", "user", "set", "bob", "--shard", "shard2", "--state", "moving")
        self.assertEqual(self.ctl("directory", "user", "where", "bob").stdout, "shard2\tmoving\tgeneration 2\n")
        self.ctl("directory", "user", "set", "bob", "--state", "active")
        self.assertEqual(self.ctl("directory", "user", "where", "bob").stdout, "shard2\tactive\tgeneration 3\n")
        # A new password keeps the route; a shard users name cannot go.
        self.ctl("user", "passwd", "bob", "--password-stdin", stdin="new-bob-pw\n")
        self.assertEqual(self.ctl("directory", "user", "where", "bob").stdout, "shard2\tactive\tgeneration 3\n")
        busy = self.ctl("directory", "shard", "remove", "shard2", check=False)
        self.assertIn("still holds", busy.stderr)
        for verb_args in (("directory", "user", "where", "nobody"), ("directory", "shard", "set", "shard9"),
                          ("directory", "user", "set", "bob", "--shard", "shard9"),
                          ("directory", "user", "set", "bob", "--state", "gone")):
            failed = self.ctl(*verb_args, check=False)
            self.assertNotEqual(failed.returncode, 0, verb_args)

        # The daemon authenticates against the same directory, as shard2.
        port = free_port()
        self.instance.write(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{port}\n",
                            "[auth]\nallow_plaintext_loopback = true\n[directory]\nshard = shard2\n")
        self.instance.start(program="roostd")

        def login(user, password):
            c = imaplib.IMAP4("127.0.0.1", port, timeout=10)
            try:
                return c.login(user, password)[0]
            except imaplib.IMAP4.error as e:
                return str(e)

        self.assertEqual(login("bob", "new-bob-pw"), "OK")
        self.assertIn("AUTHENTICATIONFAILED", login("bob", "bob-pw"))
        self.assertEqual(login("alice", "alice-pw"), "OK")  # no shard: local to every node
        on_shard1 = self.ctl("directory", "user", "list", "--shard", "shard1").stdout.split()[0]
        self.assertIn("UNAVAILABLE", login(on_shard1, "pw"))  # its mail is elsewhere
        self.ctl("directory", "user", "set", "bob", "--state", "moving")
        self.assertIn("UNAVAILABLE", login("bob", "new-bob-pw"))
        self.ctl("directory", "user", "set", "bob", "--state", "disabled")
        self.assertIn("AUTHENTICATIONFAILED", login("bob", "new-bob-pw"))  # as if no such user
        self.ctl("directory", "user", "set", "bob", "--state", "active")
        self.assertEqual(login("bob", "new-bob-pw"), "OK")
        self.assertIn("login_refused", self.instance.read_log())

    def test_lmtp_takes_mail_only_for_its_own_users(self):
        self.ctl("directory", "shard", "add", "shard1")
        self.ctl("directory", "shard", "add", "shard2")
        self.ctl("user", "add", "here", "--shard", "shard2", "--password-stdin", stdin="pw\n")
        self.ctl("user", "add", "there", "--shard", "shard1", "--password-stdin", stdin="pw\n")
        port = free_port()
        self.instance.write(f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{port}\n",
                            "[directory]\nshard = shard2\n")
        self.instance.start(program="roostd")
        with smtplib.LMTP("127.0.0.1", port, timeout=20) as lmtp:
            refused = lmtp.sendmail("a@example.org", ["here", "there"], b"Subject: hi\r\n\r\nbody\r\n")
        # RFC 2033: the accepted recipient gets the message, the other a
        # temporary refusal at RCPT, which the MTA retries.
        self.assertEqual(list(refused), ["there"])
        self.assertEqual(refused["there"][0], 451)
        mail = os.path.join(self.instance.dir, "data", "mail")
        self.assertEqual(len(os.listdir(os.path.join(mail, "here", "new"))), 1)
        # An alias delivers to its user, and is no login name.
        self.ctl("directory", "alias", "add", "postmaster", "here")
        self.assertEqual(self.ctl("directory", "alias", "list", "here").stdout, "postmaster\n")
        taken = self.ctl("directory", "alias", "add", "there", "here", check=False)
        self.assertIn("is a user", taken.stderr)
        with smtplib.LMTP("127.0.0.1", port, timeout=20) as lmtp:
            self.assertEqual(lmtp.sendmail("a@example.org", ["postmaster"], b"Subject: to the alias\r\n\r\nx\r\n"),
                             {})
        self.assertEqual(len(os.listdir(os.path.join(mail, "here", "new"))), 2)
        self.assertFalse(os.path.exists(os.path.join(mail, "postmaster")))
        self.ctl("directory", "alias", "del", "postmaster")
        with smtplib.LMTP("127.0.0.1", port, timeout=20) as lmtp:
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                lmtp.sendmail("a@example.org", ["postmaster"], b"Subject: gone\r\n\r\nx\r\n")
        self.assertFalse(os.path.exists(os.path.join(mail, "there", "new")) and
                         os.listdir(os.path.join(mail, "there", "new")))


class Quota(unittest.TestCase):
    """roostctl quota: a user's own limits (those IMAP SETQUOTA sets), which
    the running daemon enforces at the next delivery."""

    def setUp(self):
        self.port = free_port()
        self.instance = Instance(f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.port}\n",
                                 "[mail]\nquota_messages = 50\n")
        self.instance.add_user("bob", "pw")
        self.instance.start(program="roostd")

    def tearDown(self):
        self.instance.close()

    def deliver(self):
        with smtplib.LMTP("127.0.0.1", self.port, timeout=10) as lmtp:
            try:
                lmtp.sendmail("a@example.org", ["bob"], b"Subject: q\r\n\r\nbody\r\n")
                return 250
            except smtplib.SMTPRecipientsRefused as refused:
                return refused.recipients["bob"][0]

    def test_show_set_reset(self):
        conf = self.instance.conf
        shown = roostctl("--config", conf, "quota", "show", "bob").stdout
        self.assertIn("messages: 0 used, limit 50", shown)
        self.assertIn("storage: 0 bytes used, limit none", shown)
        self.assertIn("limits: the configured defaults", shown)
        out = roostctl("--config", conf, "quota", "set", "bob", "--storage", "1K", "--messages", "1").stdout
        self.assertIn("storage: 0 bytes used, limit 1024", out)
        self.assertIn("messages: 0 used, limit 1", out)
        self.assertIn("limits: set for this user", out)
        self.assertEqual(self.deliver(), 250)
        self.assertEqual(self.deliver(), 552)  # RCPT: 552 5.2.2, the new limit already reached
        # A set without limits removes them all, the configured default too.
        self.assertIn("messages: 1 used, limit none", roostctl("--config", conf, "quota", "set", "bob").stdout)
        self.assertEqual(self.deliver(), 250)
        out = roostctl("--config", conf, "quota", "reset", "bob").stdout
        self.assertIn("messages: 2 used, limit 50", out)
        self.assertIn("limits: the configured defaults", out)
        for args, message in ((("show", "nobody"), "no user 'nobody'"),
                              (("set", "bob", "--storage", "lots"), "--storage: expected a size"),
                              (("set", "bob", "--messages", "-1"), "--messages: expected a number"),
                              (("set", "bob", "--files", "3"), "unknown option '--files'"),
                              (("set", "bob", "--messages"), "--messages needs a value"),
                              (("show",), "quota needs show, set or reset")):
            failed = roostctl("--config", conf, "quota", *args, check=False)
            self.assertNotEqual(failed.returncode, 0, args)
            self.assertIn(message, failed.stderr, args)


class CheckConfig(unittest.TestCase):
    def test_good_and_bad_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "roost.conf")
            with open(path, "w") as f:
                f.write("[log]\nlevel = debug\n")
            good = run([os.path.join(BIN, "roostd"), "--config", path, "--check-config"])
            self.assertIn("is valid", good.stdout)
            with open(path, "w") as f:
                f.write("[log]\nlevel = debug\n[limits]\nidle_timout = 5m\n")
            bad = run([os.path.join(BIN, "roostd"), "--config", path, "--check-config"], check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn(f"{path}:4: unknown key 'idle_timout' in [limits]", bad.stderr)

    def test_the_admin_protocol_cannot_be_put_on_a_listener(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "roost.conf")
            with open(path, "w") as f:
                f.write("[listener x]\nservice = admin\naddress = 127.0.0.1:7070\n")
            bad = run([os.path.join(BIN, "roostd"), "--config", path, "--check-config"], check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("service 'admin' is not available in this build", bad.stderr)

    def test_a_service_this_build_lacks_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "roost.conf")
            with open(path, "w") as f:
                f.write("[listener x]\nservice = gopher\naddress = 127.0.0.1:7070\n")
            bad = run([os.path.join(BIN, "roostd"), "--config", path, "--check-config"], check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("service 'gopher' is not available in this build", bad.stderr)


class LiveSessions(WireTest):
    def listeners(self):
        return f"[listener tls]\nservice = test\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"

    def test_who_lists_sessions_and_kick_ends_them(self):
        conf = self.instance.conf
        a = self.connect(self.tls_port, tls=True)
        a.line()
        self.assertEqual(a.command("LOGIN alice s3cret-pass"), "+OK logged in as alice")
        b = self.connect(self.tls_port, tls=True)
        b.line()
        who = roostctl("--config", conf, "who").stdout.splitlines()
        self.assertEqual(who[0].split("\t"), ["ID", "SERVICE", "USER", "REMOTE", "SINCE", "STATE"])
        rows = [line.split("\t") for line in who[1:]]
        self.assertEqual(len(rows), 2)
        alice = [r for r in rows if r[2] == "alice"]
        self.assertEqual(len(alice), 1)
        self.assertEqual(alice[0][1], "test")
        self.assertTrue(alice[0][3].startswith("127.0.0.1:"))
        self.assertEqual(alice[0][5], "authenticated")
        out = roostctl("--config", conf, "kick", "alice").stdout
        self.assertIn("sessions ended: 1", out)
        self.assertEqual(a.line(), "-ERR disconnected by the administrator")
        self.assertTrue(a.closed())
        self.assertEqual(b.command("ECHO still"), "+OK still")

    def test_who_without_a_daemon(self):
        self.instance.stop()
        out = roostctl("--config", self.instance.conf, "who", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("is it running?", out.stderr)


if __name__ == "__main__":
    unittest.main()
