"""A maildir Dovecot wrote, taken over by Roost (DESIGN invariants 2 and 7):
Dovecot 2.3 from Debian receives a few thousand messages over LMTP, has
folders, flags, keywords and expunges made through its IMAP, and shows its
POP3 UIDLs; then Roost serves the same maildir and must show the same
UIDVALIDITY, UIDs, flags, keywords and UIDLs, before and after its index is
rebuilt, with MODSEQs above Dovecot's. Then both serve it at once, as during a migration: mail delivered
and flags changed through each, and both show the same UIDs."""

import imaplib
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from roosttest import BIN, Instance, free_port, run

MESSAGES = 2300  # more than four rounds of the full sync's 500


def wait_port(port, log, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    with open(log) as f:
        raise AssertionError(f"dovecot did not listen on {port}: {f.read()[-2000:]}")


class Dovecot:
    """Dovecot with LMTP, IMAP and POP3 on loopback, mail as uid 65534 in
    Maildir++ under `mail`/USER with "/" as separator, as Roost lays it out."""

    def __init__(self, base, mail):
        self.dir = os.path.join(base, "dovecot")
        for d in ("run", "state"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.lmtp, self.imap, self.pop3 = free_port(), free_port(), free_port()
        passwd = os.path.join(self.dir, "passwd")
        with open(passwd, "w") as f:
            f.write("carol:{PLAIN}pw\n")
        os.chmod(passwd, 0o644)
        self.log = os.path.join(self.dir, "dovecot.log")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.log}
protocols = lmtp imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
pop3_uidl_format = %08Xu%08Xv
mail_location = maildir:{mail}/%n
mail_fsync = never
first_valid_uid = 65534
first_valid_gid = 65534
namespace inbox {{
  inbox = yes
  separator = /
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={mail}/%n
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {passwd}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp}
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""")
        self.running = False

    def start(self):
        subprocess.run(["dovecot", "-c", self.conf], check=True)
        self.running = True
        for port in (self.lmtp, self.imap, self.pop3):
            wait_port(port, self.log)

    def stop(self):
        if not self.running:
            return
        with open(os.path.join(self.dir, "run", "master.pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break
        self.running = False


def message(i):
    return (f"From: Sender {i % 17} <s{i % 17}@example.org>\r\nTo: carol@example.org\r\n"
            f"Subject: message {i}\r\nMessage-ID: <m{i}@example.org>\r\n"
            f"Date: Mon, 23 Nov 2026 10:{i % 60:02d}:00 +0000\r\n\r\nbody of message {i}\r\n").encode()


def deliver(port, numbers):
    with smtplib.LMTP("127.0.0.1", port, timeout=60) as lmtp:
        for i in numbers:
            lmtp.sendmail("sender@example.org", ["carol"], message(i))


def state_of(port):
    """What an IMAP client sees: {folder: (UIDVALIDITY, [(UID, sorted flags)])}."""
    c = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    c.login("carol", "pw")
    out = {}
    typ, listed = c.list()
    names = sorted(re.search(rb'"/" (.*)$', line).group(1).decode().strip('"') for line in listed)
    for name in names:
        typ, _ = c.select(f'"{name}"', readonly=True)
        assert typ == "OK", name
        uidvalidity = int(c.untagged_responses["UIDVALIDITY"][0])
        typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
        messages = []
        for item in data:
            if item is None:
                continue
            text = item.decode() if isinstance(item, bytes) else item[0].decode()
            m = re.search(r"UID (\d+)", text)
            flags = re.search(r"FLAGS \(([^)]*)\)", text)
            if m:
                messages.append((int(m.group(1)), tuple(sorted(f for f in flags.group(1).split() if f != "\\Recent"))))
        out[name] = (uidvalidity, sorted(messages))
    c.logout()
    return out


def first_differences(a, b):
    """Where two long lists differ, briefly (unittest's diff of lists of
    thousands takes minutes)."""
    if isinstance(a, dict):
        return "; ".join(f"{k}: {first_differences(a.get(k), b.get(k))}" for k in sorted(set(a) | set(b))
                         if a.get(k) != b.get(k))
    if not isinstance(a, (list, tuple)) or not isinstance(b, (list, tuple)):
        return f"{a!r} vs {b!r}"[:300]
    diffs = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y][:5]
    return f"lengths {len(a)} vs {len(b)}; first differences {diffs}"


def highest_modseq(port, folder="INBOX"):
    c = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    c.login("carol", "pw")
    typ, data = c.status(folder, "(HIGHESTMODSEQ)")
    c.logout()
    return int(re.search(rb"HIGHESTMODSEQ (\d+)", data[0]).group(1))


def uidls_of(port):
    p = poplib.POP3("127.0.0.1", port, timeout=60)
    p.user("carol")
    p.pass_("pw")
    _, lines, _ = p.uidl()
    p.quit()
    return [line.decode() for line in lines]


class DovecotTakeover(unittest.TestCase):
    def setUp(self):
        if shutil.which("dovecot") is None:
            self.fail("dovecot is not installed: scripts/install-deps installs it")
        self.tmp = tempfile.TemporaryDirectory(prefix="roost-dovecot-")
        self.addCleanup(self.tmp.cleanup)
        os.chmod(self.tmp.name, 0o755)
        self.mail = os.path.join(self.tmp.name, "mail")
        os.makedirs(self.mail)
        os.chmod(self.mail, 0o777)
        self.dovecot = Dovecot(self.tmp.name, self.mail)
        self.addCleanup(self.dovecot.stop)

    def roost(self, as_nobody=False):
        self.imap, self.pop3, self.lmtp = free_port(), free_port(), free_port()
        instance = Instance(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.imap}\n"
                            f"[listener pop3]\nservice = pop3\naddress = 127.0.0.1:{self.pop3}\n"
                            f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.lmtp}\n",
                            f"[auth]\nallow_plaintext_loopback = true\n[mail]\nmail_dir = {self.mail}\n")
        instance.add_user("carol", "pw")
        if as_nobody:
            # Dovecot's mail processes run as 65534: so must Roost's, for each
            # to read what the other writes.
            instance.run_as_nobody()
        instance.start(program="roostd")
        self.addCleanup(instance.close)
        return instance

    def test_takeover_keeps_uids_flags_keywords_and_uidls(self):
        self.dovecot.start()
        deliver(self.dovecot.lmtp, range(MESSAGES))
        c = imaplib.IMAP4("127.0.0.1", self.dovecot.imap, timeout=60)
        c.login("carol", "pw")
        for name in ("Work", "Work/Sub", "Archive"):
            self.assertEqual(c.create(name)[0], "OK")
        c.select("INBOX")
        self.assertEqual(c.uid("COPY", "1:300", "Work")[0], "OK")
        self.assertEqual(c.uid("COPY", "250:400", "Archive")[0], "OK")
        c.append("Work/Sub", "(\\Seen $Label1)", None, message(99999))
        c.uid("STORE", "1:1000", "+FLAGS", "(\\Seen)")
        c.uid("STORE", "5:50", "+FLAGS", "(\\Flagged)")
        c.uid("STORE", "10:20", "+FLAGS", "($Label1)")
        c.uid("STORE", "15:30", "+FLAGS", "(Important $Label2)")
        c.uid("STORE", "100:120,2000:2050", "+FLAGS", "(\\Deleted)")
        c.expunge()
        c.select("Work")
        c.uid("STORE", "1:40", "+FLAGS", "(\\Answered Important)")
        c.logout()
        deliver(self.dovecot.lmtp, range(MESSAGES, MESSAGES + 20))  # after the expunges
        seen_by_dovecot = state_of(self.dovecot.imap)
        uidls_by_dovecot = uidls_of(self.dovecot.pop3)
        dovecot_modseq = highest_modseq(self.dovecot.imap)
        self.assertEqual(len(seen_by_dovecot["INBOX"][1]), MESSAGES + 20 - 72)
        self.dovecot.stop()

        instance = self.roost()
        self.same(state_of(self.imap), seen_by_dovecot)
        self.same(uidls_of(self.pop3), uidls_by_dovecot)
        # MODSEQ never goes back for a client that cached Dovecot's: Roost's
        # is above it, so CHANGEDSINCE that value lists every message (their
        # flags are fetched once) instead of none; and the imported messages'
        # MODSEQs ascend in UID order, the order Dovecot stored them in.
        self.assertGreater(highest_modseq(self.imap), dovecot_modseq)
        c = imaplib.IMAP4("127.0.0.1", self.imap, timeout=60)
        c.login("carol", "pw")
        c.select("INBOX", readonly=True)
        typ, data = c.uid("FETCH", "1:*", f"(FLAGS) (CHANGEDSINCE {dovecot_modseq})")
        c.logout()
        modseqs = [tuple(map(int, m)) for m in re.findall(rb"UID (\d+) .*?MODSEQ \((\d+)\)", b" ".join(
            d for d in data if isinstance(d, bytes)))]
        self.assertEqual(len(modseqs), len(seen_by_dovecot["INBOX"][1]))
        by_uid = [m for _, m in sorted(modseqs)]
        self.assertEqual(by_uid, sorted(set(by_uid)))
        # Every index rebuilt from the maildir: the same again.
        for folder in seen_by_dovecot:
            result = run([os.path.join(BIN, "roostctl"), "--config", instance.conf, "index", "rebuild", "carol", folder],
                         check=False)
            self.assertEqual(result.returncode, 0, result.stderr)
        self.same(state_of(self.imap), seen_by_dovecot)
        self.same(uidls_of(self.pop3), uidls_by_dovecot)

    def test_both_serve_one_maildir_at_once(self):
        # Dovecot made the maildir; Roost joins while Dovecot keeps running.
        self.dovecot.start()
        deliver(self.dovecot.lmtp, range(300))
        c = imaplib.IMAP4("127.0.0.1", self.dovecot.imap, timeout=60)
        c.login("carol", "pw")
        self.assertEqual(c.create("Work")[0], "OK")
        c.logout()
        self.roost(as_nobody=True)
        # Mail through both at once, each on its own connection.
        failures = []

        def run(port, numbers):
            try:
                deliver(port, numbers)
            except Exception as e:  # reported below, after both end
                failures.append(repr(e))

        threads = [threading.Thread(target=run, args=(self.dovecot.lmtp, range(1000, 1150))),
                   threading.Thread(target=run, args=(self.lmtp, range(2000, 2150)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(failures, [])
        # Flags and a folder's mail changed through each.
        for port, flags, uids in ((self.dovecot.imap, "(\\Seen $FromDovecot)", "1:100"),
                                  (self.imap, "(\\Flagged FromRoost)", "50:200")):
            c = imaplib.IMAP4("127.0.0.1", port, timeout=60)
            c.login("carol", "pw")
            c.select("INBOX")
            self.assertEqual(c.uid("STORE", uids, "+FLAGS", flags)[0], "OK")
            self.assertEqual(c.uid("COPY", uids, "Work")[0], "OK")
            c.logout()
        dovecot_sees, roost_sees = state_of(self.dovecot.imap), state_of(self.imap)
        self.same(roost_sees, dovecot_sees)
        inbox = [uid for uid, _ in roost_sees["INBOX"][1]]
        self.assertEqual(len(inbox), 600)
        self.assertEqual(len(set(inbox)), 600)  # every message once, one UID each
        self.assertEqual(len(roost_sees["Work"][1]), 251)

    def same(self, roost, dovecot):
        self.assertTrue(roost == dovecot, first_differences(roost, dovecot))


if __name__ == "__main__":
    unittest.main()
