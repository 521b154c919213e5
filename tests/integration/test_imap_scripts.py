"""The IMAP protocol scripts in tests/protocol/imap/ (format: protocol_scripts.py)."""

import unittest

from protocol_scripts import run_all


class ImapScriptTest(unittest.TestCase):
    def test_scripts(self):
        run_all(self, "imap", "imap")


if __name__ == "__main__":
    unittest.main()
