"""corpusgen's files and manifest, read back by Python's email package: an
independent reader confirms every fact the manifest states (subject, sender,
Message-ID, date, body charset and phrase, planted words and their hits)."""
import email
import email.header
import email.policy
import email.utils
import json
import os
import subprocess
import tempfile
import unittest

from roosttest import BIN

# Python's codec names for the labels the generator writes; gb2312 mail is
# read as GBK, as Roost reads it (LIBRARY-FACTS §4).
CODECS = {"gb2312": "gbk", "iso-8859-1": "cp1252"}


def decoded_header(message, name):
    return str(email.header.make_header(email.header.decode_header(message[name])))


def text_of(message):
    """The decoded text of every text/* part, in order."""
    texts = []
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        charset = part.get_content_charset() or "us-ascii"
        payload = part.get_payload(decode=True)
        texts.append(payload.decode(CODECS.get(charset, charset)))
    return "\n".join(texts)


class CorpusgenTest(unittest.TestCase):
    def generate(self, directory, *extra):
        return subprocess.run([os.path.join(BIN, "corpusgen"), "--out", directory, *extra],
                              capture_output=True, text=True, timeout=120)

    def test_manifest_states_what_the_messages_hold(self):
        with tempfile.TemporaryDirectory() as directory:
            run = self.generate(directory, "--seed", "5", "--count", "250", "--max-attachment", "20000")
            self.assertEqual(run.returncode, 0, run.stderr)
            with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            self.assertEqual(manifest["count"], 250)
            self.assertEqual(len(manifest["messages"]), 250)
            found_hits = {k: [] for k in manifest["hits"]}
            charsets = set()
            for facts in manifest["messages"]:
                with open(os.path.join(directory, facts["file"]), "rb") as f:
                    raw = f.read()
                self.assertNotIn(b"\n", raw.replace(b"\r\n", b""), facts["file"])  # CRLF only
                message = email.message_from_bytes(raw, policy=email.policy.compat32)
                with self.subTest(file=facts["file"]):
                    self.assertEqual(decoded_header(message, "Subject"), facts["subject"])
                    name, address = email.utils.parseaddr(decoded_header(message, "From"))
                    self.assertEqual(address, facts["from_address"])
                    self.assertEqual(name, facts["from_name"])
                    self.assertEqual(message["Message-ID"], "<%s>" % facts["message_id"])
                    self.assertEqual(email.utils.parsedate_to_datetime(message["Date"]).timestamp(),
                                     facts["date"])
                    leaves = [p for p in message.walk() if not p.is_multipart()]
                    nested = sum(1 for p in message.walk() if p.get_content_type() == "message/rfc822")
                    # IMAP numbers a message/rfc822 part and its body (RFC 9051 §6.4.5).
                    self.assertEqual(len(leaves) + nested, facts["leaf_count"])
                    first_text = next(p for p in message.walk() if p.get_content_maintype() == "text")
                    self.assertEqual(first_text.get_content_charset(), facts["body_charset"])
                    self.assertEqual(first_text["Content-Transfer-Encoding"], facts["body_encoding"])
                    text = text_of(message)
                    self.assertIn(facts["planted_word"], text)
                    self.assertIn(facts["body_phrase"], text)
                    for keyword in found_hits:
                        if keyword in text:
                            found_hits[keyword].append(facts["file"])
                    charsets.add(facts["body_charset"])
            self.assertEqual(found_hits, manifest["hits"])
            self.assertTrue(all(manifest["hits"].values()), "every keyword planted at least once")
            self.assertGreaterEqual(len(charsets), 10)

    def test_same_seed_same_files(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            for d in (a, b):
                self.assertEqual(self.generate(d, "--seed", "9", "--count", "20").returncode, 0)
            for name in sorted(os.listdir(a)):
                with open(os.path.join(a, name), "rb") as x, open(os.path.join(b, name), "rb") as y:
                    self.assertEqual(x.read(), y.read(), name)

    def test_bad_arguments_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            for args in (["--count", "ten"], ["--bogus", "1"], ["--seed"]):
                run = self.generate(d, *args)
                self.assertEqual(run.returncode, 2, args)
                self.assertIn("corpusgen:", run.stderr)
            run = subprocess.run([os.path.join(BIN, "corpusgen")], capture_output=True, text=True, timeout=30)
            self.assertEqual(run.returncode, 2)
            self.assertIn("--out is required", run.stderr)


if __name__ == "__main__":
    unittest.main()
