"""roostctl index rebuild and verify, on a maildir another program wrote
(as a Dovecot-served maildir taken over, or mail dropped in by a foreign
delivery agent)."""

import os
import shutil
import unittest

from roosttest import BIN, Instance, run


def roostctl(*args, check=True):
    return run([os.path.join(BIN, "roostctl"), *args], check=check)


MESSAGE = "From: a@example.org\r\nSubject: {n}\r\nMessage-ID: <{n}@example.org>\r\n\r\nbody {n}\r\n"


class IndexCommands(unittest.TestCase):
    def setUp(self):
        self.instance = Instance()
        self.instance.add_user("dora", "pw")
        self.conf = self.instance.conf
        self.maildir = os.path.join(self.instance.dir, "data", "mail", "dora")

    def tearDown(self):
        self.instance.close()

    def drop(self, sub, name, n):
        os.makedirs(os.path.join(self.maildir, sub), exist_ok=True)
        with open(os.path.join(self.maildir, sub, name), "w", newline="") as f:
            f.write(MESSAGE.format(n=n))

    def test_rebuild_keeps_uids_and_verify_reports_differences(self):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir, sub), exist_ok=True)
        with open(os.path.join(self.maildir, "dovecot-uidlist"), "w") as f:
            f.write("3 V1111 N10 G0123456789abcdef0123456789abcdef\n5 :100.M1P1.mx\n9 :101.M1P1.mx\n")
        self.drop("cur", "100.M1P1.mx:2,S", 1)
        self.drop("new", "101.M1P1.mx", 2)
        out = roostctl("--config", self.conf, "index", "rebuild", "dora", "INBOX").stdout
        self.assertIn("INBOX: rebuilt, 2 messages", out)
        self.assertEqual(roostctl("--config", self.conf, "index", "verify", "dora").stdout.splitlines()[0],
                         "INBOX: ok")
        # A message the index has not seen: verify says so and fails.
        self.drop("new", "102.M1P1.mx", 3)
        bad = roostctl("--config", self.conf, "index", "verify", "dora", "INBOX", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("102.M1P1.mx: not in the index", bad.stdout)
        # The index deleted whole: rebuilt with the same UIDs, the new one after them.
        shutil.rmtree(os.path.join(self.maildir, "roost-index"))
        roostctl("--config", self.conf, "index", "rebuild", "dora")
        self.assertIn("INBOX: ok", roostctl("--config", self.conf, "index", "verify", "dora", "INBOX").stdout)
        with open(os.path.join(self.maildir, "dovecot-uidlist")) as f:
            uidlist = f.read()
        self.assertTrue(uidlist.startswith("3 V1111 N10 "))
        self.assertIn("\n10 :102.M1P1.mx\n", uidlist)
        self.assertIn("\n5 :100.M1P1.mx\n", uidlist)

    def test_verify_of_a_user_never_logged_in(self):
        # Neither UID list nor index yet: nothing to disagree, and nothing made.
        ok = roostctl("--config", self.conf, "index", "verify", "dora", check=False)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.maildir, "roost-index")))

    def test_errors(self):
        unknown = roostctl("--config", self.conf, "index", "verify", "nobody", check=False)
        self.assertEqual(unknown.returncode, 1)
        self.assertIn("no user 'nobody'", unknown.stderr)
        missing = roostctl("--config", self.conf, "index", "rebuild", "dora", "Nope", check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("Nope: no such folder", missing.stderr)
        hostile = roostctl("--config", self.conf, "index", "rebuild", "dora", "../../etc", check=False)
        self.assertEqual(hostile.returncode, 1)
        self.assertIn("folder name not allowed", hostile.stderr)
        self.assertEqual(roostctl("--config", self.conf, "index", "frob", "dora", check=False).returncode, 2)


if __name__ == "__main__":
    unittest.main()
