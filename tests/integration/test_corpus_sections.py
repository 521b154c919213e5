"""Every part of every corpus message, fetched over IMAP and compared with an
independent reader, Python's email package: BODY[n], BODY[n.MIME], BINARY[n]
and BINARY.SIZE[n] for each part Python finds, nested multiparts and
message/rfc822 included (RFC 9051 §6.4.5 numbering, RFC 3516 BINARY). The
real-world corpus in ../shared/corpus and mail from corpusgen, both."""

import email
import hashlib
import json
import email._encoded_words
import email.parser
import email.policy
import mailbox
import os
import quopri
import re
import subprocess
import tempfile
import unittest

from roosttest import BIN, Instance, LineClient, free_port

CORPUS = os.path.join(os.path.dirname(__file__), "../../../shared/corpus")
POLICY = email.policy.default


def crlf(data):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def disputed():
    """The corpus's messages whose structure Python and Dovecot read
    differently (MANIFEST.jsonl, dovecot_leaves_agree): malformed mail where
    neither reading is the truth. By the sha256 of their bytes, and by file
    name where every message of the file is disputed."""
    by_sha, by_file = set(), {}
    with open(os.path.join(CORPUS, "MANIFEST.jsonl")) as f:
        for line in f:
            entry = json.loads(line)
            if not entry.get("dovecot_leaves_agree", True):
                by_sha.add(entry["sha256"])
            by_file.setdefault(entry["file"], []).append(entry.get("dovecot_leaves_agree", True))
    return by_sha, {name for name, agree in by_file.items() if not any(agree)}


def corpus_messages():
    """(name, bytes, disputed) of every message in the shared corpus, CRLF
    line ends (a lone CR too, as Roost and Dovecot serve it)."""
    by_sha, by_file = disputed()
    out = []
    for root, _, files in os.walk(CORPUS):
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, CORPUS)
            if name.endswith(".mbox"):
                with open(path, "rb") as f:
                    box = mailbox.mbox(path)
                    for i, message in enumerate(box):
                        raw = message.as_bytes()
                        out.append((f"{rel}#{i}", crlf(raw), hashlib.sha256(raw).hexdigest() in by_sha or rel in by_file))
                    box.close()
            elif name.endswith((".eml", ".txt")):
                with open(path, "rb") as f:
                    raw = f.read()
                out.append((rel, crlf(raw), hashlib.sha256(raw).hexdigest() in by_sha or rel in by_file))
    return sorted(out)


def raw_payload(part):
    """A leaf's body as the bytes it was parsed from (get_payload() would
    decode 8-bit text by its charset; the stored form keeps the bytes as
    surrogates)."""
    payload = part._payload
    if isinstance(payload, list):
        raise ValueError("not a leaf")
    return payload.encode("ascii", "surrogateescape")


def is_container(entity):
    """Whether IMAP numbers parts below this entity: multiparts and the
    messages IMAP reads inside (message/rfc822 and message/global). Python
    also splits message/delivery-status into blocks; IMAP does not."""
    if not isinstance(entity._payload, list):
        return False
    return entity.get_content_maintype() == "multipart" or is_message(entity)


def is_message(entity):
    return entity.get_content_type() in ("message/rfc822", "message/global") and isinstance(entity._payload, list)


def parts_of(message):
    """[(section, entity)] in IMAP's numbering: a multipart's children are
    1, 2, ... below it; a message/rfc822 part's own body is numbered below it
    (its parts, or `.1` for a body that is no multipart); a message that is
    no multipart has one part, 1."""
    out = []

    def children(entity, prefix):
        for i, child in enumerate(entity.get_payload(), 1):
            section = prefix + [i]
            out.append((section, child))
            below(child, section)

    def below(entity, section):
        if is_message(entity):
            nested = entity.get_payload(0)
            if is_container(nested) and not is_message(nested):
                children(nested, section)
            else:
                out.append((section + [1], nested))
                if is_message(nested):
                    below(nested, section + [1])
        elif is_container(entity):
            children(entity, section)

    if is_container(message) and not is_message(message):
        children(message, [])
    else:
        out.append(([1], message))
        below(message, [1])
    return out


def defective(data):
    """Whether Python's reading of the message found it malformed: there the
    two readers may differ on where parts begin and end, and only the
    protocol is checked (every section answered, nothing refused but
    [UNKNOWN-CTE])."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    return any(part.defects for part in message.walk())


def headers_of(block):
    parsed = email.parser.BytesHeaderParser(policy=POLICY).parsebytes(block)
    return [(k.lower(), re.sub(r"\s+", " ", str(v)).strip()) for k, v in parsed._headers]


def binary_of(part):
    """What BINARY[] must be (RFC 3516): the decoded body, by Python's own
    decoders (base64 as get_payload(decode=True) does, quopri for
    quoted-printable); None where the encoding is unknown ([UNKNOWN-CTE]).
    A value with parameters ("quoted-printable;") is read by its token."""
    cte = str(part.get("Content-Transfer-Encoding") or "7bit").split(";")[0].strip().lower()
    raw = raw_payload(part)
    if cte in ("7bit", "8bit", "binary", ""):
        return raw
    if cte == "base64":
        return email._encoded_words.decode_b(b"".join(raw.splitlines()))[0]
    if cte == "quoted-printable":
        # White space at the end of an encoded line is deleted (RFC 2045
        # §6.7 rule 3), which quopri leaves to its caller.
        return quopri.decodestring(re.sub(rb"[ \t]+(?=\r\n|$)", b"", raw))
    return None


class FetchReader:
    """Reads an IMAP session's responses with their literals."""

    def __init__(self, client):
        self.c = client

    def response(self):
        """One response: its text with literals replaced by \\x00N\\x00
        markers, and the literals."""
        text, literals = b"", []
        while True:
            while b"\r\n" not in self.c.buffer:
                chunk = self.c.sock.recv(1 << 20)
                if not chunk:
                    raise EOFError("closed")
                self.c.buffer += chunk
            line, self.c.buffer = self.c.buffer.split(b"\r\n", 1)
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return text + line, literals
            n = int(m.group(1))
            while len(self.c.buffer) < n:
                chunk = self.c.sock.recv(1 << 20)
                if not chunk:
                    raise EOFError("closed")
                self.c.buffer += chunk
            literals.append(self.c.buffer[:n])
            self.c.buffer = self.c.buffer[n:]
            text += line[:m.start()] + b"\x00%d\x00" % (len(literals) - 1)

    def fetch_items(self, text, literals):
        """{item name: bytes, None for NIL, or int} of one FETCH response."""
        items = {}
        pos = text.index(b"FETCH (") + 7
        item = re.compile(rb"((?:BODY|BINARY)(?:\.SIZE)?\[[^\]]*\](?:<\d+>)?|UID) ")
        while pos < len(text) and text[pos:pos + 1] != b")":
            m = item.match(text, pos)
            if not m:
                raise AssertionError("cannot read %r" % text[pos:pos + 80])
            name = m.group(1).decode()
            pos = m.end()
            if text[pos:pos + 1] == b"\x00":
                end = text.index(b"\x00", pos + 1)
                items[name] = literals[int(text[pos + 1:end])]
                pos = end + 1
            elif text[pos:pos + 3] == b"NIL":
                items[name] = None
                pos += 3
            elif text[pos:pos + 1] == b'"':
                end = text.index(b'"', pos + 1)
                items[name] = text[pos + 1:end]
                pos = end + 1
            else:
                m = re.compile(rb"\d+").match(text, pos)
                items[name] = int(m.group(0))
                pos = m.end()
            if text[pos:pos + 1] == b" ":
                pos += 1
        return items


class CorpusSectionsTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.port}\n",
                                 "[auth]\nallow_plaintext_loopback = true\n[imap]\nmax_message_size = 20M\n"
                                 "[limits]\nmax_line_length = 1M\n")
        self.instance.add_user("alice", "secret")
        self.instance.start(program="roostd")

    def tearDown(self):
        self.instance.close()

    def check_messages(self, messages):
        c = LineClient("127.0.0.1", self.port, timeout=120)
        reader = FetchReader(c)
        c.line()
        self.assertTrue(c.command("a LOGIN alice secret").startswith("a OK"))
        # Every message appended (pipelined), then selected.
        for i, (_, data, _) in enumerate(messages):
            # NUL travels only in literal8 (RFC 3516 §4.1).
            marker = b"~{%d+}" if b"\0" in data else b"{%d+}"
            c.send(b"p%d APPEND INBOX " % i + marker % len(data) + b"\r\n" + data + b"\r\n")
        for i in range(len(messages)):
            text, _ = reader.response()
            while not text.startswith(b"p%d " % i):
                text, _ = reader.response()
            self.assertTrue(text.startswith(b"p%d OK" % i), (messages[i][0], text))
        c.send(b"s SELECT INBOX\r\n")
        while not reader.response()[0].startswith(b"s OK"):
            pass
        failures = []
        for uid, (name, data, in_dispute) in enumerate(messages, 1):
            message = email.message_from_bytes(data, policy=POLICY)
            parts = parts_of(message)
            sections = [".".join(map(str, s)) for s, _ in parts]
            wanted = " ".join(f"BODY.PEEK[{s}] BODY.PEEK[{s}.MIME]" for s in sections)
            c.send(f"f{uid} UID FETCH {uid} ({wanted})\r\n".encode())
            for s in sections:
                c.send(f"b{uid}.{s} UID FETCH {uid} (BINARY.PEEK[{s}] BINARY.SIZE[{s}])\r\n".encode())
            fetched, binary = {}, {}
            for tag in [f"f{uid}"] + [f"b{uid}.{s}" for s in sections]:
                while True:
                    text, literals = reader.response()
                    if text.startswith(b"* ") and b" FETCH (" in text:
                        (fetched if tag.startswith("f") else binary.setdefault(tag, {})).update(
                            reader.fetch_items(text, literals))
                    elif text.startswith(tag.encode() + b" "):
                        if not tag.startswith("f"):
                            binary.setdefault(tag, {})["status"] = text[len(tag) + 1:]
                        else:
                            self.assertTrue(text.startswith(tag.encode() + b" OK"), (name, text))
                        break
            if in_dispute or defective(data):
                # Malformed: the readers may cut it differently. Every
                # section is still answered, and BINARY refuses only an
                # unknown encoding.
                self.malformed += 1
                for s in sections:
                    status = binary[f"b{uid}.{s}"]["status"]
                    if not (status.startswith(b"OK") or status.startswith(b"NO [UNKNOWN-CTE]")):
                        failures.append(f"{name} [{s}]: BINARY answered {status!r}")
                continue
            self.compared += 1
            for (section, part), s in zip(parts, sections):
                where = f"{name} [{s}] {part.get_content_type()}"
                body = fetched.get(f"BODY[{s}]")
                mime = fetched.get(f"BODY[{s}.MIME]")
                if body is None or mime is None:
                    failures.append(f"{where}: NIL")
                    continue
                if headers_of(mime) != headers_of(part_header_bytes(part)) or not mime.endswith(b"\r\n\r\n") and mime != b"\r\n":
                    failures.append(f"{where}: MIME header {mime[:200]!r}")
                if part.get_content_type() in ("message/rfc822", "message/global") and isinstance(part.get_payload(), list):
                    nested = part.get_payload(0)
                    served = email.message_from_bytes(body, policy=POLICY)
                    if headers_of(part_header_bytes(served)) != headers_of(part_header_bytes(nested)):
                        failures.append(f"{where}: encapsulated message differs")
                elif isinstance(part._payload, list) and part.get_content_maintype() != "multipart":
                    pass  # message/delivery-status: Python keeps no bytes of it, only its blocks
                elif part.is_multipart():
                    # The multipart's body, read by Python with its own header:
                    # the same children, byte for byte.
                    served = email.message_from_bytes(b"Content-Type: " + part["Content-Type"].encode("utf-8", "surrogateescape")
                                                      + b"\r\n\r\n" + body, policy=POLICY)
                    if not served.is_multipart() or [leaf_bytes(p) for p in served.get_payload()] != [
                            leaf_bytes(p, nul=b"\x80") for p in part.get_payload()]:
                        failures.append(f"{where}: multipart body differs")
                elif body != raw_payload(part).replace(b"\0", b"\x80"):  # no NUL in an ordinary literal
                    failures.append(f"{where}: BODY differs ({len(body)} vs {len(raw_payload(part))} bytes)")
                if isinstance(part._payload, list):
                    continue
                got = binary[f"b{uid}.{s}"]
                expected = binary_of(part)
                if expected is None:
                    if not got["status"].startswith(b"NO [UNKNOWN-CTE]"):
                        failures.append(f"{where}: unknown encoding answered {got['status']!r}")
                    continue
                if not got["status"].startswith(b"OK"):
                    failures.append(f"{where}: BINARY answered {got['status']!r}")
                    continue
                if got.get(f"BINARY[{s}]") != expected:
                    failures.append(f"{where}: BINARY differs ({len(got.get(f'BINARY[{s}]') or b'')} vs {len(expected)} bytes)")
                if got.get(f"BINARY.SIZE[{s}]") != len(expected):
                    failures.append(f"{where}: BINARY.SIZE {got.get(f'BINARY.SIZE[{s}]')} vs {len(expected)}")
        c.close()
        return failures

    def test_shared_corpus(self):
        messages = corpus_messages()
        self.assertGreater(len(messages), 300)
        self.compared = self.malformed = 0
        failures = self.check_messages(messages)
        self.assertEqual(failures, [], "\n".join(failures[:60]))
        # Most of the corpus is read alike by both; the rest is malformed mail.
        self.assertGreater(self.compared, 250)

    def test_generated_corpus(self):
        with tempfile.TemporaryDirectory() as directory:
            run = subprocess.run([os.path.join(BIN, "corpusgen"), "--out", directory, "--seed", "23", "--count", "300",
                                  "--max-attachment", "30000"], capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 0, run.stderr)
            messages = []
            for name in sorted(os.listdir(directory)):
                if name.endswith(".eml"):
                    with open(os.path.join(directory, name), "rb") as f:
                        messages.append((name, f.read(), False))
        self.assertEqual(len(messages), 300)
        self.compared = self.malformed = 0
        failures = self.check_messages(messages)
        self.assertEqual(self.malformed, 0)
        self.assertEqual(failures, [], "\n".join(failures[:60]))


def part_header_bytes(part):
    """A part's header block as Python read it, for comparing field lists."""
    lines = []
    for name, value in part._headers:
        lines.append(name.encode("utf-8", "surrogateescape") + b": " + value.encode("utf-8", "surrogateescape"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def leaf_bytes(part, nul=b"\0"):
    if isinstance(part.get_payload(), list):
        return [leaf_bytes(p, nul) for p in part.get_payload()]
    return (headers_of(part_header_bytes(part)), raw_payload(part).replace(b"\0", nul))


if __name__ == "__main__":
    unittest.main()
