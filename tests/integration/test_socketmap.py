"""The socketmap service answers Postfix's own socketmap client (postmap -q,
as smtpd and the queue manager ask it: socketmap_table(5)) from the
directory: a recipient's shard as its LMTP next hop, a temporary error
while the user is being moved or the shard is down, nothing for unknown or
local users, the way LMTP finds users (default domain, +detail)."""

import os
import socket
import subprocess
import tempfile
import time
import unittest

from roosttest import BIN, Instance, free_port, run


class Socketmap(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.instance = Instance(f"[listener socketmap]\nservice = socketmap\naddress = 127.0.0.1:{self.port}\n",
                                 "[lmtp]\ndefault_domain = example.org\n")
        self.addCleanup(self.instance.close)
        self.postfix = tempfile.TemporaryDirectory(prefix="roost-postmap-")
        self.addCleanup(self.postfix.cleanup)
        open(os.path.join(self.postfix.name, "main.cf"), "w").close()
        for args in (("directory", "shard", "add", "s1", "--lmtp", "127.0.0.1:2024"),
                     ("directory", "shard", "add", "s2", "--lmtp", "[::1]:3024")):
            self.ctl(*args)
        for name, shard in (("alice", "s1"), ("bob@example.org", "s1"), ("carol", "s2")):
            self.ctl("user", "add", name, "--shard", shard, "--password-stdin", stdin="pw\n")
        self.ctl("directory", "shard", "remove", "s2", check=False)  # still holds carol: refused
        self.ctl("directory", "alias", "add", "boss", "carol")
        self.instance.start(program="roostd")

    def ctl(self, *args, stdin=None, check=True):
        return run([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, *args], stdin=stdin, check=check)

    def postmap(self, key):
        return subprocess.run(["postmap", "-c", self.postfix.name, "-q", key,
                               f"socketmap:inet:127.0.0.1:{self.port}:transport"],
                              capture_output=True, text=True, timeout=30)

    def test_transport_answers(self):
        for key, hop in (("alice@example.org", "lmtp:inet:[127.0.0.1]:2024"),
                         ("ALICE+lists@example.org", "lmtp:inet:[127.0.0.1]:2024"),
                         ("bob@example.org", "lmtp:inet:[127.0.0.1]:2024"),
                         ("carol@example.org", "lmtp:inet:[::1]:3024"),
                         ("boss@example.org", "lmtp:inet:[::1]:3024")):
            answer = self.postmap(key)
            self.assertEqual((answer.returncode, answer.stdout), (0, hop + "\n"), key + ": " + answer.stderr)
        for key in ("nobody@example.org", "alice@elsewhere.test"):
            answer = self.postmap(key)
            self.assertEqual((answer.returncode, answer.stdout, answer.stderr), (1, "", ""), key)
        # Being moved, or on a shard that is down: Postfix defers the mail.
        self.ctl("directory", "user", "set", "alice", "--state", "moving")
        self.ctl("directory", "shard", "down", "s2")
        for key, reason in (("alice@example.org", "being moved"), ("carol@example.org", "is down")):
            answer = self.postmap(key)
            self.assertNotEqual(answer.returncode, 0)
            self.assertIn("temporary error", answer.stderr)
            self.assertIn(reason, answer.stderr)

    def test_other_maps_and_garbage(self):
        answer = subprocess.run(["postmap", "-c", self.postfix.name, "-q", "x",
                                 f"socketmap:inet:127.0.0.1:{self.port}:virtual"], capture_output=True, text=True,
                                timeout=30)
        self.assertNotEqual(answer.returncode, 0)
        self.assertIn("unknown map virtual", answer.stderr)
        # Not a netstring: the connection ends, roostd lives on.
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            self.assertEqual(s.recv(100), b"")
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"9999999999:transport x,")
            self.assertEqual(s.recv(100), b"")
        self.assertEqual(self.postmap("alice@example.org").returncode, 0)

    def test_a_request_has_one_deadline(self):
        # A byte now and then does not keep a begun request open: all of it
        # must come within 10 seconds (issue 23 item 8's class of bug).
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as s:
            started = time.monotonic()
            for piece in (b"2", b"7", b":", b"t", b"r", b"a"):
                s.sendall(piece)
                time.sleep(1.5)
            s.settimeout(10)
            self.assertEqual(s.recv(100), b"")
            self.assertLess(time.monotonic() - started, 15)


if __name__ == "__main__":
    unittest.main()
