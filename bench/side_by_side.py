#!/usr/bin/env python3
"""Roost and Dovecot side by side on the same machine, the same generated
mail and the same durability (every message fsynced), in one run; prints
messages per second and the ratio. Starts both servers itself, each with a
generated configuration on loopback ports, and stops them by their pids.

    scripts/build && sudo bench/side_by_side.py [--messages 400] [--connections 1,4,16] [--rounds 5]

This machine's speed drifts by tens of percent within minutes, so each row
is measured in rounds, Roost and Dovecot back to back (which goes first
alternating), every row in every round, and the medians are reported with
the range of the rounds' ratios.

Needs Debian's dovecot-lmtpd (installed if missing) and root (Dovecot's
master runs as root; mail is written as nobody)."""

import argparse
import contextlib
import ctypes
import glob
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, log, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on {port}; see {log}")


def yescrypt(password):
    """A yescrypt hash with libxcrypt's default cost, as roostctl makes."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt.restype = ctypes.c_char_p
    return lib.crypt(password.encode(), lib.crypt_gensalt(b"$y$", 0, None, 0)).decode()


def install_dovecot(*packages):
    """Debian's Dovecot packages, installed if missing."""
    missing = [p for p in packages
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def load(port, connections, each, users="user"):
    out = subprocess.run([os.path.join(BIN, "lmtp_load"), "127.0.0.1", str(port), str(connections), str(each), users],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        sys.exit(f"lmtp_load failed: {out.stdout}{out.stderr}")
    # "C connections, N messages, T s, R messages/s, F failed"
    return float(out.stdout.split(", ")[3].split()[0])


def fill(base, roost, dovecot, messages, connections, user="user1"):
    """The same mail in `user`'s INBOX on both servers: delivered to Roost
    over LMTP, then a copy of Roost's maildir imported into Dovecot with
    `doveadm import` (in UID order, so sequence numbers agree), which
    updates Dovecot's index as a delivery does. Dovecot's own LMTP is not
    used for a big fill: it rescans the maildir at every delivery and slows
    to a few messages a second past 80,000."""
    start = time.monotonic()
    load(roost.port, connections, messages // connections, "=" + user)
    print(f"Roost: {messages} messages delivered over LMTP at {messages / (time.monotonic() - start):.0f}/s",
          flush=True)
    maildir = [d for d in glob.glob(os.path.join(roost.dir, "data", "**", user), recursive=True)
               if os.path.isdir(os.path.join(d, "new"))]
    if len(maildir) != 1:
        sys.exit(f"cannot find Roost's maildir of {user}: {maildir}")
    source = os.path.join(base, "import-source")
    shutil.copytree(maildir[0], source, ignore=shutil.ignore_patterns("roost-*"))
    subprocess.run(["chmod", "-R", "a+rwX", source], check=True)
    start = time.monotonic()
    subprocess.run(["doveadm", "-c", dovecot.conf, "import", "-u", user, f"maildir:{source}", "", "all"],
                   check=True, timeout=7200)
    print(f"Dovecot: {messages} messages imported at {messages / (time.monotonic() - start):.0f}/s", flush=True)
    shutil.rmtree(source)


class Roost:
    """roostd with an LMTP listener and, with pop3=True or imap=True, plain
    POP3 or IMAP ones."""

    def __init__(self, base, users, pop3=False, imap=False):
        self.dir = os.path.join(base, "roost")
        self.port = free_port()
        self.pop3_port = free_port() if pop3 else None
        self.imap_port = free_port() if imap else None
        subprocess.run([os.path.join(BIN, "roostctl"), "init", self.dir], check=True, capture_output=True)
        self.conf = os.path.join(self.dir, "roost.conf")
        with open(self.conf, "w") as f:
            f.write("data_dir = data\nrun_dir = run\n" + ("[server]\nrun_as_root = true\n" if os.geteuid() == 0 else "") +
                    "[log]\nlevel = warning\n"
                    "[lmtp]\ndefault_domain = example.org\nadd_received = true\n"
                    f"[listener lmtp]\nservice = lmtp\naddress = 127.0.0.1:{self.port}\n")
            if pop3 or imap:
                f.write("[auth]\nallow_plaintext_loopback = true\n")
            if pop3:
                f.write(f"[listener pop3]\nservice = pop3\naddress = 127.0.0.1:{self.pop3_port}\n")
            if imap:
                f.write(f"[listener imap]\nservice = imap\naddress = 127.0.0.1:{self.imap_port}\n")
        for u in users:
            subprocess.run([os.path.join(BIN, "roostctl"), "--config", self.conf, "user", "add", u,
                            "--password-stdin"], input="pw\n", text=True, check=True, capture_output=True)
        self.log = open(os.path.join(self.dir, "roostd.log"), "w")
        roostd = os.path.join(os.environ.get("ROOSTD_BIN", BIN), "roostd")
        self.process = subprocess.Popen([roostd, "--config", self.conf],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, "roostd", self.log.name)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


class Dovecot:
    """Dovecot with an LMTP listener and, with pop3=True or imap=True, plain
    POP3 (Dovecot's default UIDL format) or IMAP ones; user1's password is
    "pw", checked against a yescrypt hash."""

    def __init__(self, base, pop3=False, imap=False):
        self.dir = os.path.join(base, "dovecot")
        self.port = free_port()
        self.pop3_port = free_port() if pop3 else None
        self.imap_port = free_port() if imap else None
        mail = os.path.join(self.dir, "mail")
        for d in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(mail, 0o777)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        # POP3 logins check a yescrypt hash, the same work Roost's user
        # database does, so that login times compare; LMTP needs no password.
        passdb = "  driver = static\n  args = nopassword=y"
        if pop3 or imap:
            passwd = os.path.join(self.dir, "passwd")
            with open(passwd, "w") as f:
                f.write(f"user1:{{CRYPT}}{yescrypt('pw')}\n")
            os.chmod(passwd, 0o644)
            passdb = f"  driver = passwd-file\n  args = scheme=CRYPT username_format=%n {passwd}"
        self.log = os.path.join(self.dir, "dovecot.log")
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.log}
protocols = lmtp{" pop3" if pop3 else ""}{" imap" if imap else ""}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
pop3_uidl_format = %08Xu%08Xv
mail_location = maildir:{mail}/%n
# Every saved message fsynced (file and directory), as Roost does.
mail_fsync = optimized
first_valid_uid = 65534
first_valid_gid = 65534
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={mail}/%n
}}
passdb {{
{passdb}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.port}
  }}
}}
""")
            if pop3:
                f.write(f"service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n"
                        f"    port = {self.pop3_port}\n  }}\n}}\n")
            if imap:
                f.write(f"service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n"
                        f"    port = {self.imap_port}\n  }}\n}}\n")
        subprocess.run(["dovecot", "-c", self.conf], check=True)
        wait_port(self.port, "dovecot", self.log)

    def stop(self):
        with open(os.path.join(self.dir, "run", "master.pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                return


def spread_subdirectories(directory):
    """Asks ext4 to place each subdirectory of `directory` in a block group
    of its own, as it does for top-level directories (the T attribute).
    Without a journal, ext4 passes over every inode freed in the last minutes
    when it allocates one in the same group (`recently_deleted()`): a file
    created where many were just deleted (a previous benchmark's directory,
    Dovecot's lock file per delivery) costs up to 0.7 ms instead of 20 us,
    which would bill one server for the other's deletions. Elsewhere a no-op."""
    subprocess.run(["chattr", "+T", directory], capture_output=True)


@contextlib.contextmanager
def servers(prefix, users, **services):
    """Roost and Dovecot side by side under one temporary directory,
    both stopped and the directory removed however the body ends."""
    base = tempfile.mkdtemp(prefix=prefix)
    os.chmod(base, 0o755)
    spread_subdirectories(base)
    roost = dovecot = None
    try:
        roost = Roost(base, users, **services)
        dovecot = Dovecot(base, **services)
        yield base, roost, dovecot
    finally:
        if roost:
            roost.stop()
        if dovecot:
            dovecot.stop()
        shutil.rmtree(base, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=400, help="messages per measurement, all connections together")
    parser.add_argument("--connections", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per row, Roost and Dovecot alternating")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("side_by_side needs root (Dovecot's master runs as root)")
    install_dovecot("dovecot-lmtpd")
    levels = [int(c) for c in args.connections.split(",")]
    users = [f"user{i}" for i in range(1, max(levels) + 1)]
    with servers("roost-side-by-side-", users) as (_, roost, dovecot):
        print("LMTP delivery, messages/s (every message fsynced), "
              f"{args.messages} messages per round, one user per connection, "
              f"medians of {args.rounds} rounds")
        print("| connections | Roost | Dovecot | Roost / Dovecot | rounds' ratios |")
        print("|---|---|---|---|---|")
        # Each round measures every row, so that a slow minute of the machine
        # touches all rows alike rather than one row's every round.
        rates = {c: {"roost": [], "dovecot": []} for c in levels}
        for n in range(args.rounds):
            for c in levels:
                order = [("roost", roost), ("dovecot", dovecot)]
                for name, server in order if n % 2 == 0 else reversed(order):
                    rates[c][name].append(load(server.port, c, max(1, args.messages // c)))
        for c in levels:
            r, d = statistics.median(rates[c]["roost"]), statistics.median(rates[c]["dovecot"])
            ratios = [a / b for a, b in zip(rates[c]["roost"], rates[c]["dovecot"])]
            print(f"| {c} | {r:.0f} | {d:.0f} | {r / d:.2f}x | {min(ratios):.2f}x-{max(ratios):.2f}x |", flush=True)


if __name__ == "__main__":
    main()
