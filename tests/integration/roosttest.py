"""Helpers for over-the-wire tests: a throwaway instance, a daemon started
and stopped by pid, and a line client. Everything listens on loopback and
every wait is bounded."""

import os
import random
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("ROOST_BIN", os.path.join(os.path.dirname(__file__), "../../build-debug/bin"))
# The tests run as whoever runs them, root in CI: roostd refuses root
# unless told ([server] run_as_root).
RUN_AS_ROOT = "[server]\nrun_as_root = true\n" if os.geteuid() == 0 else ""


def ephemeral_ports_start():
    """The first port of the kernel's range for connections' source ports."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_ports_given = set()


def free_port(host="127.0.0.1"):
    """A port free on `host` now, chosen below the kernel's ephemeral range:
    the clients of a test running beside this one take their source ports
    from that range, and one could take a port chosen there before the daemon
    binds it. Never the same port twice in one process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    end = ephemeral_ports_start()
    for _ in range(200):
        port = random.randrange(20000, end) if end > 21000 else 0
        if port in _ports_given:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            port = s.getsockname()[1]
        _ports_given.add(port)
        return port
    raise AssertionError("no free port on " + host)


def run(args, stdin=None, check=True, timeout=60):
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


class Instance:
    """roostctl init in a temporary folder, with its listeners replaced by
    the ones a test asks for."""

    def __init__(self, listeners_text="", extra=""):
        self.tmp = tempfile.TemporaryDirectory(prefix="roost-wire-")
        self.dir = self.tmp.name
        run([os.path.join(BIN, "roostctl"), "init", self.dir, "--port-base", str(free_port())])
        self.conf = os.path.join(self.dir, "roost.conf")
        self.metrics_port = free_port()
        self.write(listeners_text, extra)
        self.daemon = None
        self.log_path = os.path.join(self.dir, "daemon.log")

    def write(self, listeners_text, extra=""):
        self.listeners_text, self.extra = listeners_text, extra
        with open(self.conf, "w") as f:
            f.write(
                "data_dir = data\nrun_dir = run\n" + RUN_AS_ROOT +
                "[tls]\ncertificate = tls/cert.pem\nkey = tls/key.pem\n"
                f"[metrics]\nlisten = 127.0.0.1:{self.metrics_port}\n"
                + extra + "\n" + listeners_text)

    def run_as_nobody(self):
        """Makes roostd give up root for nobody (65534) once started, and
        gives the instance to that user, as an operator would; the key stays
        root's, as roostd reads it before it gives up root."""
        with open(self.conf) as f:
            text = f.read().replace(RUN_AS_ROOT, "[server]\nuser = nobody\n")
        with open(self.conf, "w") as f:
            f.write(text)
        for root, dirs, files in os.walk(self.dir):
            for name in dirs + files:
                if name != "key.pem":
                    os.lchown(os.path.join(root, name), 65534, 65534)
        os.chown(self.dir, 65534, 65534)
        os.chmod(os.path.join(self.dir, "tls"), 0o755)

    def add_user(self, name, password):
        run([os.path.join(BIN, "roostctl"), "--config", self.conf, "user", "add", name, "--password-stdin"],
            stdin=password + "\n")

    def start(self, program="roost-testd"):
        # The metrics port was free when it was chosen; a test running beside
        # this one may have taken it since: choose again (a few times).
        for _ in range(3):
            if self.start_once(program):
                return
            self.log.close()
            self.metrics_port = free_port()
            self.write(self.listeners_text, self.extra)
        raise AssertionError(f"daemon exited {self.daemon.returncode}: {self.read_log()}")

    def start_once(self, program):
        self.log = open(self.log_path, "w")
        self.daemon = subprocess.Popen([os.path.join(BIN, program), "--config", self.conf],
                                       stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                if "listener 'metrics'" in self.read_log() and "Address already in use" in self.read_log():
                    return False
                raise AssertionError(f"daemon exited {self.daemon.returncode}: {self.read_log()}")
            if "event=started" in self.read_log():
                return True
            time.sleep(0.05)
        raise AssertionError("daemon did not start: " + self.read_log())

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def signal(self, sig):
        os.kill(self.daemon.pid, sig)

    def stop(self, timeout=20):
        if self.daemon is None or self.daemon.poll() is not None:
            return self.daemon.returncode if self.daemon else None
        self.signal(signal.SIGTERM)
        try:
            return self.daemon.wait(timeout)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait(5)
            raise AssertionError("daemon ignored SIGTERM")

    def close(self):
        try:
            self.stop()
        finally:
            if getattr(self, "log", None):
                self.log.close()
            self.tmp.cleanup()


PG_BIN = "/usr/lib/postgresql/15/bin"


class Postgres:
    """PostgreSQL 15 from Debian in a temporary folder, on a loopback port,
    run as the unprivileged `postgres` user when the tests run as root (it
    refuses root), stopped by its postmaster's pid. conninfo() names its
    superuser `roost` and the database `postgres`."""

    def __init__(self):
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            raise AssertionError("PostgreSQL 15 is not installed: scripts/install-deps installs it")
        self.tmp = tempfile.TemporaryDirectory(prefix="roost-pg-")
        self.dir = self.tmp.name
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            os.chmod(self.dir, 0o755)
            subprocess.run(["chown", "postgres:postgres", self.dir], check=True)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        run(self.as_user + [os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust", "-U", "roost",
                            "--no-sync", "-E", "UTF8", "--locale", "C"], timeout=120)
        self.start()

    def conninfo(self):
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=roost connect_timeout=5"

    def start(self):
        run(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-w", "-t", "60", "-D", self.data,
                            "-l", os.path.join(self.dir, "log"), "-o",
                            f"-k {self.dir} -h 127.0.0.1 -p {self.port} -c fsync=off -c shared_buffers=16MB",
                            "start"], timeout=90)

    def stop(self):
        pid_file = os.path.join(self.data, "postmaster.pid")
        if not os.path.exists(pid_file):
            return
        with open(pid_file) as f:
            pid = int(f.readline())
        os.kill(pid, signal.SIGINT)  # fast shutdown
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def close(self):
        self.stop()
        self.tmp.cleanup()


class LineClient:
    def __init__(self, host, port, tls=False, timeout=10, sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buffer = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered: %r" % self.buffer)
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def command(self, text):
        self.send(text + "\r\n")
        return self.line()

    def starttls(self):
        reply = self.command("STARTTLS")
        assert reply.startswith("+OK"), reply
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buffer = b""

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class WireTest(unittest.TestCase):
    """Subclasses set LISTENERS/EXTRA and get self.instance started, with a
    user alice / s3cret-pass."""
    EXTRA = ""

    def listeners(self):
        return ""

    def setUp(self):
        # Ports are free when chosen; a test running beside this one may take
        # one before the daemon binds it: choose again (a few times).
        for attempt in range(3):
            self.plain_port = free_port()
            self.starttls_port = free_port()
            self.tls_port = free_port()
            self.instance = Instance(self.listeners(), self.EXTRA)
            self.instance.add_user("alice", "s3cret-pass")
            try:
                self.instance.start()
                break
            except AssertionError as failure:
                self.instance.close()
                if "Address already in use" not in str(failure) or attempt == 2:
                    raise
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.instance.close()

    def connect(self, port, tls=False, host="127.0.0.1"):
        c = LineClient(host, port, tls=tls)
        self.clients.append(c)
        return c
