"""The network runtime over the wire: listeners, TLS, STARTTLS, limits,
deadlines, graceful shutdown and reload, through roost-testd."""

import base64
import os
import signal
import socket
import ssl
import subprocess
import time
import unittest

from roosttest import BIN, Instance, WireTest, LineClient, free_port, run, client_tls_context


class RuntimeTest(WireTest):
    """Three listeners of the test service: plain, STARTTLS and implicit TLS."""

    def listeners(self):
        return standard_listeners(self)


def standard_listeners(t, extra_listener=""):
    return (f"[listener plain]\nservice = test\naddress = 127.0.0.1:{t.plain_port}\n"
            f"[listener starttls]\nservice = test\naddress = 127.0.0.1:{t.starttls_port}\ntls = starttls\n"
            f"[listener tls]\nservice = test\naddress = 127.0.0.1:{t.tls_port}\ntls = implicit\n"
            + extra_listener)


class Basics(RuntimeTest):
    EXTRA = "[limits]\nmax_line_length = 1K\nlogin_timeout = 2s\n"

    def test_greeting_echo_and_quit(self):
        c = self.connect(self.plain_port)
        self.assertEqual(c.line(), "+OK roost-test ready")
        self.assertEqual(c.command("ECHO hello world"), "+OK hello world")
        self.assertEqual(c.command("QUIT"), "+OK bye")
        self.assertTrue(c.closed())

    def test_pipelined_commands_answered_in_order(self):
        c = self.connect(self.plain_port)
        c.line()
        c.send("".join(f"ECHO {i}\r\n" for i in range(200)))
        for i in range(200):
            self.assertEqual(c.line(), f"+OK {i}")

    def test_overlong_line_is_refused_and_the_session_goes_on(self):
        c = self.connect(self.plain_port)
        c.line()
        self.assertEqual(c.command("ECHO " + "x" * 5000), "-ERR line too long")
        self.assertEqual(c.command("ECHO still here"), "+OK still here")

    def test_silent_client_is_dropped_at_the_deadline(self):
        c = self.connect(self.plain_port)
        c.line()
        started = time.monotonic()
        self.assertEqual(c.line(), "-ERR idle timeout")
        self.assertTrue(c.closed())
        self.assertLess(time.monotonic() - started, 8)

    def test_implicit_tls_with_python_ssl(self):
        c = self.connect(self.tls_port, tls=True)
        self.assertEqual(c.line(), "+OK roost-test ready")
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(c.command("ECHO secure"), "+OK secure")

    def test_implicit_tls_with_openssl_s_client(self):
        out = run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.tls_port}", "-quiet",
                   "-verify_quiet"], stdin="ECHO via s_client\r\nQUIT\r\n", check=False, timeout=30)
        self.assertIn("+OK roost-test ready", out.stdout)
        self.assertIn("+OK via s_client", out.stdout)

    def test_starttls_with_openssl_s_client(self):
        out = run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.starttls_port}",
                   "-starttls", "pop3", "-quiet", "-verify_quiet"],
                  stdin="ECHO upgraded\r\nQUIT\r\n", check=False, timeout=30)
        self.assertIn("+OK upgraded", out.stdout)

    def test_old_tls_versions_are_refused(self):
        ctx = client_tls_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=10) as s:
            with self.assertRaises((ssl.SSLError, ConnectionResetError)):
                ctx.wrap_socket(s, server_hostname="localhost").recv(10)

    def test_starttls_discards_pipelined_plaintext(self):
        # CVE-2011-0411: bytes after STARTTLS in the same packet must not run
        # as if they had arrived over TLS.
        c = self.connect(self.starttls_port)
        c.line()
        c.send("STARTTLS\r\nECHO injected\r\n")
        self.assertEqual(c.line(), "+OK begin TLS")
        c.sock = client_tls_context().wrap_socket(c.sock, server_hostname="localhost")
        c.buffer = b""
        self.assertEqual(c.command("ECHO after"), "+OK after")
        self.assertIn("event=starttls_injection", self.instance.read_log())

    def test_starttls_only_where_configured_and_only_once(self):
        c = self.connect(self.plain_port)
        c.line()
        self.assertEqual(c.command("STARTTLS"), "-ERR STARTTLS not available")
        s = self.connect(self.starttls_port)
        s.line()
        self.assertIn("STARTTLS", self.capa(s))
        s.starttls()
        self.assertNotIn("STARTTLS", self.capa(s))
        self.assertEqual(s.command("STARTTLS"), "-ERR STARTTLS not available")

    def capa(self, c):
        self.assertEqual(c.command("CAPA"), "+OK")
        lines = []
        while True:
            line = c.line()
            if line == ".":
                return lines
            lines.append(line)

    def test_metrics_endpoint(self):
        c = self.connect(self.plain_port)
        c.line()
        c.command("ECHO x")
        with socket.create_connection(("127.0.0.1", self.instance.metrics_port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        text = data.decode()
        self.assertTrue(text.startswith("HTTP/1.1 200 OK"), text[:100])
        self.assertIn('roost_connections_total{service="test"}', text)
        self.assertIn('roost_connections{service="test"} 1', text)
        self.assertIn('roost_commands_total{service="test"}', text)


class Limits(RuntimeTest):
    EXTRA = "[limits]\nmax_connections_per_ip = 3\n"

    def test_connections_per_address(self):
        held = [self.connect(self.plain_port) for _ in range(3)]
        for c in held:
            self.assertEqual(c.line(), "+OK roost-test ready")
        extra = self.connect(self.plain_port)
        self.assertEqual(extra.line(), "-ERR [SYS/TEMP] too many connections from your address")
        self.assertTrue(extra.closed())
        held[0].command("QUIT")
        held[0].closed()
        time.sleep(0.2)
        again = self.connect(self.plain_port)
        self.assertEqual(again.line(), "+OK roost-test ready")


class TotalLimit(RuntimeTest):
    EXTRA = "[limits]\nmax_connections = 2\n"

    def test_connections_in_total(self):
        a = self.connect(self.plain_port)
        b = self.connect(self.tls_port, tls=True)
        a.line()
        b.line()
        c = self.connect(self.plain_port)
        self.assertEqual(c.line(), "-ERR [SYS/TEMP] too many connections")


class Shutdown(RuntimeTest):
    EXTRA = "[runtime]\nshutdown_timeout = 5s\n"

    def test_sigterm_lets_commands_finish_and_says_goodbye(self):
        idle = self.connect(self.plain_port)
        busy = self.connect(self.tls_port, tls=True)
        idle.line()
        busy.line()
        busy.send("SLEEP 1500\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        self.instance.signal(signal.SIGTERM)
        self.assertEqual(idle.line(), "-ERR server shutting down")
        self.assertEqual(busy.line(), "+OK slept")
        self.assertEqual(busy.line(), "-ERR server shutting down")
        self.assertEqual(self.instance.daemon.wait(10), 0)
        self.assertLess(time.monotonic() - started, 5)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.plain_port), timeout=2)


class ForcedShutdown(RuntimeTest):
    EXTRA = "[runtime]\nshutdown_timeout = 1s\n"

    def test_a_command_that_does_not_finish_is_cut_off_at_the_bound(self):
        busy = self.connect(self.plain_port)
        busy.line()
        busy.send("SLEEP 60000\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        self.instance.signal(signal.SIGTERM)
        self.assertEqual(self.instance.daemon.wait(15), 0)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn("event=shutdown_forced", self.instance.read_log())


class Reload(RuntimeTest):
    def test_sighup_reloads_the_certificate(self):
        def fingerprint():
            with socket.create_connection(("127.0.0.1", self.tls_port), timeout=10) as s:
                with client_tls_context().wrap_socket(s, server_hostname="localhost") as t:
                    return t.getpeercert(binary_form=True)

        before = fingerprint()
        tls_dir = os.path.join(self.instance.dir, "tls")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=reloaded", "-keyout", os.path.join(tls_dir, "new-key.pem"),
             "-out", os.path.join(tls_dir, "new-cert.pem")])
        os.replace(os.path.join(tls_dir, "new-key.pem"), os.path.join(tls_dir, "key.pem"))
        os.replace(os.path.join(tls_dir, "new-cert.pem"), os.path.join(tls_dir, "cert.pem"))
        self.instance.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "event=reloaded" not in self.instance.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("event=reloaded", self.instance.read_log())
        self.assertNotEqual(fingerprint(), before)

    def test_a_broken_file_is_refused_and_the_old_one_stays(self):
        with open(self.instance.conf, "a") as f:
            f.write("\n[limits]\nmax_connections = lots\n")
        self.instance.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "event=reload_failed" not in self.instance.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = self.instance.read_log()
        self.assertIn("event=reload_failed", log)
        self.assertIn("max_connections", log)
        c = self.connect(self.plain_port)
        self.assertEqual(c.line(), "+OK roost-test ready")


class ProxyProtocol(WireTest):
    def listeners(self):
        self.proxied_port = free_port()
        self.proxied_tls_port = free_port()
        self.untrusted_port = free_port("::1")
        return standard_listeners(self,
                         f"[listener proxied]\nservice = test\naddress = 127.0.0.1:{self.proxied_port}\nproxy_protocol = true\n"
                         f"[listener proxied-tls]\nservice = test\naddress = 127.0.0.1:{self.proxied_tls_port}\n"
                         "proxy_protocol = true\ntls = implicit\n"
                         f"[listener untrusted]\nservice = test\naddress = [::1]:{self.untrusted_port}\nproxy_protocol = true\n")

    EXTRA = "[proxy_protocol]\ntrusted_networks = 127.0.0.0/8\n[limits]\nmax_connections_per_ip = 2\n"

    def test_v1_from_a_trusted_address(self):
        s = socket.create_connection(("127.0.0.1", self.proxied_port), timeout=10)
        c = LineClient(None, None, sock=s)
        self.clients.append(c)
        c.send("PROXY TCP4 192.0.2.10 127.0.0.1 40000 143\r\n")
        self.assertEqual(c.line(), "+OK roost-test ready")
        self.assertEqual(c.command("PEER"), "+OK 192.0.2.10:40000")

    def test_v2_before_a_tls_handshake(self):
        header = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x21, 0, 36]) +
                  socket.inet_pton(socket.AF_INET6, "2001:db8::7") +
                  socket.inet_pton(socket.AF_INET6, "::1") + (5000).to_bytes(2, "big") + (993).to_bytes(2, "big"))
        s = socket.create_connection(("127.0.0.1", self.proxied_tls_port), timeout=10)
        s.sendall(header)
        c = LineClient(None, None, sock=client_tls_context().wrap_socket(s, server_hostname="localhost"))
        self.clients.append(c)
        self.assertEqual(c.line(), "+OK roost-test ready")
        self.assertEqual(c.command("PEER"), "+OK [2001:db8::7]:5000")

    def test_limits_apply_to_the_real_client_address(self):
        def proxied(src):
            s = socket.create_connection(("127.0.0.1", self.proxied_port), timeout=10)
            c = LineClient(None, None, sock=s)
            self.clients.append(c)
            c.send(f"PROXY TCP4 {src} 127.0.0.1 40000 143\r\n")
            return c.line()
        self.assertEqual(proxied("192.0.2.20"), "+OK roost-test ready")
        self.assertEqual(proxied("192.0.2.20"), "+OK roost-test ready")
        self.assertEqual(proxied("192.0.2.20"), "-ERR [SYS/TEMP] too many connections from your address")
        self.assertEqual(proxied("192.0.2.21"), "+OK roost-test ready")

    def test_garbage_instead_of_a_header_is_dropped(self):
        c = self.connect(self.proxied_port)
        c.send("ECHO hi\r\n")
        with self.assertRaises(EOFError):
            c.line()
        self.assertIn("event=proxy_header_invalid", self.instance.read_log())

    def test_untrusted_sender_is_refused(self):
        s = socket.create_connection(("::1", self.untrusted_port), timeout=10)
        c = LineClient(None, None, sock=s)
        self.clients.append(c)
        c.send("PROXY TCP4 192.0.2.10 127.0.0.1 40000 143\r\n")
        with self.assertRaises((EOFError, ConnectionResetError)):
            c.line()
        self.assertIn("warning service=test remote=[::1]:", self.instance.read_log())
        self.assertIn("event=refused reason=proxy_untrusted", self.instance.read_log())


class PortInUse(unittest.TestCase):
    def test_a_port_in_use_ends_the_start_with_its_name(self):
        # The first listener is bound when the second fails: the daemon says
        # which one and exits, and closes what it had opened on the way
        # (destroying an open acceptor after its event loop was a
        # use-after-free that the sanitizer build reported).
        port = free_port()
        instance = Instance(f"[listener first]\nservice = test\naddress = 127.0.0.1:{port}\n"
                            f"[listener second]\nservice = test\naddress = 127.0.0.1:{port}\n")
        try:
            result = run([os.path.join(BIN, "roost-testd"), "--config", instance.conf], check=False, timeout=30)
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertIn(f"listener 'second' on 127.0.0.1:{port}: Address already in use", result.stderr)
            self.assertNotIn("Sanitizer", result.stderr)
        finally:
            instance.close()


if __name__ == "__main__":
    unittest.main()
