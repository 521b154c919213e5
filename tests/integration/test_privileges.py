"""Who roostd runs as, and what other local users can see: started as root
it binds, reads its key, then runs as [server] user; it refuses to stay root
unless told; what roostctl and roostd create is 0700 / 0600."""

import imaplib
import os
import stat
import subprocess
import tempfile
import time
import unittest

from roosttest import BIN, RUN_AS_ROOT, Instance, free_port, run


def modes_below(top):
    """(path, mode) of every folder and file below `top`."""
    out = []
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if stat.S_ISSOCK(st.st_mode) or stat.S_ISLNK(st.st_mode):
                continue
            out.append((path, stat.S_IMODE(st.st_mode)))
    return out


class Privileges(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root: CI runs as root")
        self.port = free_port()

    def instance(self, server):
        instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\n",
                            "[auth]\nallow_plaintext_loopback = true\n")
        instance.add_user("alice", "secret")
        with open(instance.conf) as f:
            text = f.read().replace("[server]\nrun_as_root = true\n", server)
        with open(instance.conf, "w") as f:
            f.write(text)
        self.addCleanup(instance.close)
        return instance

    def test_root_without_a_user_is_refused(self):
        instance = self.instance("")
        result = run([os.path.join(BIN, "roostd"), "--config", instance.conf], check=False, timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertIn("refusing to run as root", result.stderr)

    def test_runs_as_the_user_it_is_given(self):
        instance = self.instance(RUN_AS_ROOT)
        instance.run_as_nobody()
        instance.start(program="roostd")
        with open(f"/proc/{instance.daemon.pid}/status") as f:
            ids = {line.split(":")[0]: line.split()[1:] for line in f if line.startswith(("Uid:", "Gid:"))}
        self.assertEqual(ids["Uid"], ["65534"] * 4)
        self.assertEqual(ids["Gid"], ["65534"] * 4)
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        c.login("alice", "secret")
        self.assertEqual(c.append("INBOX", None, None, b"Subject: hi\r\n\r\nhello\r\n")[0], "OK")
        c.logout()
        # What it made is the user's, and no one else's.
        # The disk reserve too: roostd must be able to give it back.
        reserve = os.path.join(instance.dir, "data", "mail", ".roost-reserve")
        self.assertEqual((os.lstat(reserve).st_uid, os.lstat(reserve).st_mode & 0o777), (65534, 0o600))
        mail = os.path.join(instance.dir, "data", "mail", "alice")
        made = modes_below(mail)
        self.assertTrue(made)
        for path, mode in made:
            self.assertEqual(mode & 0o077, 0, f"{path} is {oct(mode)}")
            self.assertEqual(os.lstat(path).st_uid, 65534, path)


class InstanceModes(unittest.TestCase):
    def test_init_makes_nothing_others_can_read(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "inst")
            run([os.path.join(BIN, "roostctl"), "init", d, "--port-base", "30000"])
            run([os.path.join(BIN, "roostctl"), "--config", os.path.join(d, "roost.conf"), "user", "add", "alice",
                 "--password-stdin"], stdin="secret\n")
            for path, mode in modes_below(d):
                if path.endswith("cert.pem"):
                    continue  # the certificate is public: every client is shown it
                self.assertEqual(mode & 0o077, 0, f"{path} is {oct(mode)}")


if __name__ == "__main__":
    unittest.main()
