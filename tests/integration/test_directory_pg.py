"""The directory on PostgreSQL 15 (Debian's, started by the test on
loopback): `roostctl directory init` makes the schema, users and shards are
kept there, roostd logs users in against it (LOGIN, PLAIN, SCRAM-SHA-256),
`directory migrate` copies an embedded user database into it, `directory
watch` hears every change at once (NOTIFY from the schema's triggers), and
while the database is away users looked up lately still log in, others get
a temporary error, never a crash, and all work again when it is back."""

import base64
import imaplib
import os
import subprocess
import time
import unittest

from roosttest import BIN, Instance, Postgres, free_port, run
from test_auth import Scram


class DirectoryOnPostgres(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()

    @classmethod
    def tearDownClass(cls):
        cls.pg.close()

    def setUp(self):
        self.port = free_port()
        # An embedded user database first (as every instance starts), with
        # two users on a shard, for `directory migrate`.
        self.instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\n",
                                 "[auth]\nallow_plaintext_loopback = true\n")
        self.addCleanup(self.instance.close)
        self.ctl("directory", "shard", "add", "old1", "--imap", "10.0.0.1:143", "--weight", "50")
        for name in ("mia", "noah"):
            self.ctl("user", "add", name, "--password-stdin", stdin=f"{name}-pw\n")
        self.ctl("directory", "alias", "add", "mia.m", "mia")
        # Then the same instance on PostgreSQL, in a database of its own.
        self.db = f"roost_{self.id().split('.')[-1][:40]}"
        subprocess.run([os.path.join("/usr/lib/postgresql/15/bin", "psql"), "-h", "127.0.0.1", "-p",
                        str(self.pg.port), "-U", "roost", "-d", "postgres", "-qc", f"CREATE DATABASE {self.db}"],
                       check=True, capture_output=True)
        self.conninfo = f"host=127.0.0.1 port={self.pg.port} dbname={self.db} user=roost connect_timeout=3"
        self.instance.write(self.instance.listeners_text,
                            "[auth]\nallow_plaintext_loopback = true\nmechanisms = PLAIN LOGIN SCRAM-SHA-256\n"
                            f"[directory]\nengine = postgresql\nconninfo = {self.conninfo}\n")

    def ctl(self, *args, stdin=None, check=True, timeout=60):
        return run([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, *args], stdin=stdin,
                   check=check, timeout=timeout)

    def login(self, user, password):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=20)
        try:
            return c.login(user, password)[0]
        except imaplib.IMAP4.error as e:
            return str(e)
        finally:
            try:
                c.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def scram_login(self, user, password):
        client = Scram(user, password, "sha256")
        answers = iter([lambda _: client.first(), lambda challenge: client.final(challenge), lambda _: b""])
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=20)
        try:
            return c.authenticate("SCRAM-SHA-256", lambda challenge: next(answers)(challenge))[0]
        finally:
            c.logout()

    def test_users_shards_logins_and_migration(self):
        before = self.ctl("directory", "shard", "list", check=False)
        self.assertNotEqual(before.returncode, 0)  # no schema yet
        self.assertNotIn("connect_timeout", before.stderr)  # the connection string is never shown
        self.ctl("directory", "init")
        self.ctl("directory", "init")  # again: nothing changes
        self.ctl("directory", "shard", "add", "s1", "--imap", "127.0.0.1:2143", "--lmtp", "127.0.0.1:2024")
        self.ctl("directory", "shard", "add", "s2", "--imap", "127.0.0.1:3143", "--weight", "300")
        out = self.ctl("user", "add", "Alice", "--password-stdin", stdin="alice-pw\n").stdout
        self.assertRegex(out, r"^alice is on shard s[12]\n$")
        self.ctl("user", "add", "bob", "--shard", "s1", "--password-stdin", stdin="bob-pw\n")
        dup = self.ctl("user", "add", "ALICE", "--password-stdin", stdin="x\n", check=False)
        self.assertIn("already exists", dup.stderr)
        self.assertEqual(self.ctl("directory", "user", "where", "bob").stdout, "s1\tactive\tgeneration 1\n")
        self.ctl("directory", "user", "set", "bob", "--shard", "s2", "--state", "moving")
        self.assertEqual(self.ctl("directory", "user", "where", "bob").stdout, "s2\tmoving\tgeneration 2\n")
        self.assertEqual(self.ctl("directory", "user", "list", "--shard", "s2").stdout.split().count("bob"), 1)
        busy = self.ctl("directory", "shard", "remove", "s2", check=False)
        self.assertIn("still holds", busy.stderr)
        self.assertEqual(self.ctl("directory", "shard", "list").stdout.splitlines()[1:], [
            "s1\tup\t100\t127.0.0.1:2143\t-\t127.0.0.1:2024", "s2\tup\t300\t127.0.0.1:3143\t-\t-"])

        # The embedded users come over with their shard and credentials.
        migrated = self.ctl("directory", "migrate").stdout
        self.assertEqual(migrated, "1 shards, 2 users copied, 0 already there\n")
        self.assertEqual(self.ctl("directory", "user", "where", "mia").stdout, "old1\tactive\tgeneration 1\n")
        self.assertEqual(self.ctl("directory", "migrate").stdout, "1 shards, 0 users copied, 2 already there\n")
        self.assertEqual(self.ctl("directory", "alias", "list", "mia").stdout, "mia.m\n")
        self.ctl("directory", "alias", "add", "boss", "alice")
        for bad in (("add", "boss", "bob"), ("add", "bob", "alice"), ("add", "x", "nobody"), ("del", "nothing")):
            self.assertNotEqual(self.ctl("directory", "alias", *bad, check=False).returncode, 0, bad)
        self.assertIn("is an alias", self.ctl("user", "add", "boss", "--password-stdin", stdin="x\n",
                                              check=False).stderr)
        self.ctl("directory", "alias", "del", "boss")
        self.assertEqual(self.ctl("user", "list").stdout.split(), ["alice", "bob", "mia", "noah"])

        # This node is s2: the users it serves are routed there.
        for name in ("alice", "mia", "noah"):
            self.ctl("directory", "user", "set", name, "--shard", "s2")
        self.ctl("directory", "user", "set", "bob", "--state", "active")
        self.ctl("directory", "user", "set", "mia", "--shard", "s1")
        self.instance.write(self.instance.listeners_text, self.instance.extra + "shard = s2\n")
        self.instance.start(program="roostd")
        self.assertIn("UNAVAILABLE", self.login("mia", "mia-pw"))  # on s1
        self.ctl("directory", "user", "set", "mia", "--shard", "s2")
        self.assertEqual(self.login("bob", "bob-pw"), "OK")
        self.assertEqual(self.login("alice", "alice-pw"), "OK")
        self.assertEqual(self.login("mia", "mia-pw"), "OK")
        self.assertIn("AUTHENTICATIONFAILED", self.login("alice", "wrong"))
        self.assertIn("AUTHENTICATIONFAILED", self.login("nobody", "x"))
        self.assertEqual(self.scram_login("noah", "noah-pw"), "OK")
        # A new password takes effect at once, on every process.
        self.ctl("user", "passwd", "alice", "--password-stdin", stdin="alice-new\n")
        self.assertEqual(self.login("alice", "alice-new"), "OK")
        self.assertIn("AUTHENTICATIONFAILED", self.login("alice", "alice-pw"))

        self.ctl("user", "add", "zoe", "--shard", "s2", "--password-stdin", stdin="zoe-pw\n")

        # The database goes away: users looked up lately keep logging in
        # (the look-up cache serves them past its TTL), others get a
        # temporary error, and roostd lives on; it comes back: everyone
        # logs in again, without a restart.
        self.pg.stop()
        try:
            self.assertEqual(self.login("alice", "alice-new"), "OK")
            self.assertIn("AUTHENTICATIONFAILED", self.login("alice", "alice-pw"))
            self.assertIn("UNAVAILABLE", self.login("zoe", "zoe-pw"))
            self.assertIsNone(self.instance.daemon.poll())
        finally:
            self.pg.start()
        deadline = time.monotonic() + 20
        while self.login("zoe", "zoe-pw") != "OK" and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.login("zoe", "zoe-pw"), "OK")

        # Started while the database is away: roostd runs, answers logins
        # with a temporary error, and serves them once the database is back.
        self.instance.stop()
        self.pg.stop()
        try:
            self.instance.start(program="roostd")
            self.assertIn("UNAVAILABLE", self.login("zoe", "zoe-pw"))
        finally:
            self.pg.start()
        deadline = time.monotonic() + 20
        while self.login("zoe", "zoe-pw") != "OK" and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.login("zoe", "zoe-pw"), "OK")
        self.assertIn("directory_unreachable", self.instance.read_log())
        self.assertNotIn(self.conninfo, self.instance.read_log())

    def test_watch_hears_every_change_at_once(self):
        self.ctl("directory", "init")
        self.ctl("directory", "shard", "add", "s1")
        self.ctl("user", "add", "carol", "--password-stdin", stdin="carol-pw\n")
        watcher = subprocess.Popen([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, "directory",
                                    "watch", "--count", "3", "--timeout", "30"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(watcher.stderr.close)
        self.addCleanup(watcher.stdout.close)
        self.addCleanup(lambda: watcher.poll() is None and watcher.kill())
        self.assertEqual(watcher.stdout.readline(), "watching\n")
        started = time.monotonic()
        self.ctl("directory", "user", "set", "carol", "--state", "disabled")
        self.assertEqual(watcher.stdout.readline(), "user carol\n")
        heard = time.monotonic() - started
        self.ctl("directory", "shard", "down", "s1")
        self.assertEqual(watcher.stdout.readline(), "shard s1\n")
        self.ctl("user", "passwd", "carol", "--password-stdin", stdin="x\n")
        self.assertEqual(watcher.stdout.readline(), "user carol\n")
        self.assertEqual(watcher.wait(30), 0)
        # Heard within the time roostctl takes to start and write: no polling interval.
        self.assertLess(heard, 5)


if __name__ == "__main__":
    unittest.main()
