"""The POP3 protocol scripts in tests/protocol/pop3/ (format: protocol_scripts.py)."""

import unittest

from protocol_scripts import run_all


class Pop3ScriptTest(unittest.TestCase):
    def test_scripts(self):
        run_all(self, "pop3", "pop3")


if __name__ == "__main__":
    unittest.main()
