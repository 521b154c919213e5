"""Authentication over the wire through roost-testd: SASL PLAIN and
SCRAM-SHA-256/SHA-1 (the client side written here from RFC 5802), cleartext
policy, identical failures and throttling."""

import base64
import hashlib
import hmac
import os
import re
import socket
import ssl
import time
import unittest

import urllib.request

from roosttest import BIN, LineClient, WireTest, client_tls_context, run


def b64(data):
    return base64.b64encode(data).decode()


class Scram:
    """RFC 5802 §3 client, without channel binding (gs2 header "n,,")."""

    def __init__(self, user, password, hash_name):
        self.user, self.password, self.hash = user, password.encode(), hash_name
        self.nonce = b64(os.urandom(18))
        self.bare = f"n={user},r={self.nonce}"

    def first(self):
        return ("n,," + self.bare).encode()

    def final(self, server_first):
        fields = dict(part.split("=", 1) for part in server_first.decode().split(","))
        assert fields["r"].startswith(self.nonce)
        salt = base64.b64decode(fields["s"])
        salted = hashlib.pbkdf2_hmac(self.hash, self.password, salt, int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = f"c={b64(b'n,,')},r={fields['r']}"
        auth_message = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.expected_server_signature = hmac.new(server_key, auth_message, self.hash).digest()
        return f"{without_proof},p={b64(proof)}".encode()


class Auth(WireTest):
    EXTRA = ("[auth]\nfailure_delay = 300ms\nfailure_delay_max = 2s\nchannel_binding = true\n"
             "mechanisms = PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-1\n")

    def listeners(self):
        return (f"[listener plain]\nservice = test\naddress = 127.0.0.1:{self.plain_port}\n"
                f"[listener starttls]\nservice = test\naddress = 127.0.0.1:{self.starttls_port}\ntls = starttls\n"
                f"[listener tls]\nservice = test\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n")

    def mechanisms(self, c):
        c.command("CAPA")
        mechs = []
        while True:
            line = c.line()
            if line == ".":
                return mechs
            if line.startswith("AUTH"):
                mechs = line.split()[1:]

    def scram(self, c, mech, user, password):
        client = Scram(user, password, "sha256" if mech == "SCRAM-SHA-256" else "sha1")
        reply = c.command(f"AUTH {mech} {b64(client.first())}")
        if not reply.startswith("+ "):
            return reply
        reply = c.command(b64(client.final(base64.b64decode(reply[2:]))))
        if not reply.startswith("+ "):
            return reply
        server_final = base64.b64decode(reply[2:]).decode()
        self.assertEqual(server_final, "v=" + b64(client.expected_server_signature))
        return c.command("")

    def test_cleartext_is_refused_without_tls(self):
        c = self.connect(self.plain_port)
        c.line()
        self.assertEqual(self.mechanisms(c), ["SCRAM-SHA-256", "SCRAM-SHA-1"])
        plain = b64(b"\0alice\0s3cret-pass")
        self.assertEqual(c.command(f"AUTH PLAIN {plain}"), "-ERR mechanism not available")
        self.assertEqual(c.command("LOGIN alice s3cret-pass"),
                         "-ERR [PRIVACYREQUIRED] cleartext login needs TLS")
        self.assertEqual(c.command("WHOAMI"), "+OK -")

    def test_plain_over_tls_with_initial_response(self):
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertIn("PLAIN", self.mechanisms(c))
        self.assertIn("SCRAM-SHA-256-PLUS", self.mechanisms(c))
        self.assertEqual(c.command("AUTH PLAIN " + b64(b"\0Alice\0s3cret-pass")), "+OK logged in as alice")
        self.assertEqual(c.command("WHOAMI"), "+OK alice")

    def test_plain_after_starttls_with_a_continuation(self):
        c = self.connect(self.starttls_port)
        c.line()
        c.starttls()
        self.assertEqual(c.command("AUTH PLAIN"), "+ ")
        self.assertEqual(c.command(b64(b"\0alice\0s3cret-pass")), "+OK logged in as alice")

    def test_login_mechanism_and_login_command(self):
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertEqual(base64.b64decode(c.command("AUTH LOGIN")[2:]), b"Username:")
        self.assertEqual(base64.b64decode(c.command(b64(b"alice"))[2:]), b"Password:")
        self.assertEqual(c.command(b64(b"s3cret-pass")), "+OK logged in as alice")
        d = self.connect(self.tls_port, tls=True)
        d.line()
        self.assertEqual(d.command("LOGIN alice s3cret-pass"), "+OK logged in as alice")

    def test_scram_without_tls(self):
        for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
            c = self.connect(self.plain_port)
            c.line()
            self.assertEqual(self.scram(c, mech, "alice", "s3cret-pass"), "+OK logged in as alice")

    def test_wrong_password_and_unknown_user_look_the_same(self):
        answers = []
        for user, password in (("alice", "wrong"), ("nobody", "wrong")):
            c = self.connect(self.plain_port)
            c.line()
            client = Scram(user, password, "sha256")
            first = c.command(f"AUTH SCRAM-SHA-256 {b64(client.first())}")
            self.assertTrue(first.startswith("+ "), first)  # both get a salt and a nonce
            answers.append(c.command(b64(client.final(base64.b64decode(first[2:])))))
            t = self.connect(self.tls_port, tls=True)
            t.line()
            answers.append(t.command(f"LOGIN {user} {password}"))
            answers.append(t.command("AUTH PLAIN " + b64(f"\0{user}\0{password}".encode())))
        self.assertEqual(set(answers), {"-ERR [AUTH] authentication failed"})
        # The operator's log says which it was, in the same words whatever
        # the mechanism (Cyrus PLAIN's own says "user not found" for both).
        failed = [line for line in self.instance.read_log().splitlines() if "event=login_failed" in line]
        self.assertEqual(len(failed), 6)
        for line in failed:
            expected = 'detail="wrong password"' if "attempted_user=alice" in line else 'detail="no such user"'
            self.assertIn(expected, line)

    def test_salt_for_an_unknown_user_is_stable(self):
        salts = []
        for _ in range(2):
            c = self.connect(self.plain_port)
            c.line()
            first = c.command(f"AUTH SCRAM-SHA-256 {b64(Scram('ghost', 'x', 'sha256').first())}")
            fields = dict(p.split("=", 1) for p in base64.b64decode(first[2:]).decode().split(","))
            salts.append(fields["s"])
            c.command("*")
        self.assertEqual(salts[0], salts[1])

    def test_failures_are_slowed_down(self):
        c = self.connect(self.tls_port, tls=True)
        c.line()
        times = []
        for _ in range(3):
            started = time.monotonic()
            self.assertEqual(c.command("LOGIN alice wrong"), "-ERR [AUTH] authentication failed")
            times.append(time.monotonic() - started)
        self.assertGreaterEqual(times[0], 0.3)
        self.assertGreaterEqual(times[2], 1.2)  # 300ms doubled twice
        self.assertIn("event=login_failed", self.instance.read_log())

    def test_cancel_and_bad_base64(self):
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertEqual(c.command("AUTH PLAIN"), "+ ")
        self.assertEqual(c.command("*"), "-ERR authentication cancelled")
        self.assertEqual(c.command("AUTH PLAIN ***"), "-ERR invalid base64")
        self.assertEqual(c.command("AUTH PLAIN"), "+ ")
        self.assertEqual(c.command("not base64!"), "-ERR [AUTH] authentication failed")
        self.assertEqual(c.command("AUTH CRAM-MD5"), "-ERR mechanism not available")

    def test_no_secret_reaches_the_log(self):
        c = self.connect(self.tls_port, tls=True)
        c.line()
        c.command("LOGIN alice s3cret-pass")
        c.command("LOGIN alice other-secret-attempt")
        log = self.instance.read_log()
        self.assertIn("event=login", log)
        self.assertNotIn("s3cret-pass", log)
        self.assertNotIn("other-secret-attempt", log)
        self.assertNotIn(b64(b"\0alice\0s3cret-pass"), log)

    def test_login_mechanism_never_takes_the_password_for_the_user(self):
        # With an initial response, LOGIN's first message is the user name and
        # the next one the password: the log and the throttle see the user.
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertEqual(base64.b64decode(c.command("AUTH LOGIN " + b64(b"alice"))[2:]), b"Password:")
        self.assertEqual(c.command(b64(b"Wr0ng-Secret-9")), "-ERR [AUTH] authentication failed")
        d = self.connect(self.tls_port, tls=True)
        d.line()
        self.assertEqual(base64.b64decode(d.command("AUTH LOGIN")[2:]), b"Username:")
        self.assertEqual(base64.b64decode(d.command(b64(b"ALICE"))[2:]), b"Password:")
        self.assertEqual(d.command(b64(b"An0ther-Wrong-1")), "-ERR [AUTH] authentication failed")
        log = self.instance.read_log()
        self.assertNotIn("Wr0ng-Secret-9", log)
        self.assertNotIn("An0ther-Wrong-1", log)
        self.assertEqual(log.count("attempted_user=alice"), 1, log)
        self.assertEqual(log.count("attempted_user=ALICE"), 1, log)
        # Both failures count for alice, whatever the case typed: the third
        # attempt waits 300 ms doubled twice.
        e = self.connect(self.tls_port, tls=True)
        e.line()
        started = time.monotonic()
        self.assertEqual(e.command("LOGIN aLiCe wrong"), "-ERR [AUTH] authentication failed")
        self.assertGreaterEqual(time.monotonic() - started, 1.2)

    def test_no_plus_over_tls_1_2(self):
        # TLS 1.2 clients bind with tls-unique, which is not offered: no -PLUS.
        context = client_tls_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        c = LineClient("127.0.0.1", self.tls_port, sock=context.wrap_socket(
            socket.create_connection(("127.0.0.1", self.tls_port), timeout=10), server_hostname="localhost"))
        self.clients.append(c)
        c.line()
        mechanisms = self.mechanisms(c)
        self.assertIn("SCRAM-SHA-256", mechanisms)
        self.assertFalse([m for m in mechanisms if m.endswith("-PLUS")], mechanisms)


class ConcurrentLogins(WireTest):
    EXTRA = "[auth]\nmax_concurrent_per_ip = 1\n"

    def listeners(self):
        return f"[listener tls]\nservice = test\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"

    def test_refusals_are_logged(self):
        # One exchange waiting for its continuation holds the address's slot.
        first = self.connect(self.tls_port, tls=True)
        first.line()
        self.assertEqual(first.command("AUTH PLAIN"), "+ ")
        second = self.connect(self.tls_port, tls=True)
        second.line()
        self.assertTrue(second.command("LOGIN alice s3cret-pass").startswith("-ERR [SYS/TEMP]"))
        self.assertIn("event=login_refused", self.instance.read_log())
        self.assertIn("max_concurrent_per_ip", self.instance.read_log())


class TrustedNetworkLogins(WireTest):
    EXTRA = "[auth]\nmax_concurrent_per_ip = 1\ntrusted_networks = 127.0.0.0/8\n"

    def listeners(self):
        return f"[listener tls]\nservice = test\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"

    def test_a_trusted_host_is_not_limited(self):
        # A webmail host on a trusted network logs many users in at once.
        first = self.connect(self.tls_port, tls=True)
        first.line()
        self.assertEqual(first.command("AUTH PLAIN"), "+ ")
        second = self.connect(self.tls_port, tls=True)
        second.line()
        self.assertEqual(second.command("LOGIN alice s3cret-pass"), "+OK logged in as alice")
        self.assertNotIn("event=login_refused", self.instance.read_log())


class DefaultMechanisms(WireTest):
    def listeners(self):
        return f"[listener tls]\nservice = test\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"

    def test_what_common_clients_handle(self):
        # No SCRAM-SHA-1 (its verifier is the cheapest to attack) and no
        # -PLUS (mutt picks it and fails) unless the operator asks.
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertEqual(Auth.mechanisms(self, c), ["PLAIN", "LOGIN", "SCRAM-SHA-256"])


class ScramIterations(WireTest):
    """[auth] scram_iterations sets the PBKDF2 count of the verifiers stored
    from then on (RFC 5802 §5.1 'i='); the default is 10,000 (RFC 7677)."""
    EXTRA = "[auth]\nscram_iterations = 12345\n"

    def listeners(self):
        return f"[listener tls]\nservice = test\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"

    def server_first(self, c, user):
        reply = c.command("AUTH SCRAM-SHA-256 " + b64(Scram(user, "x", "sha256").first()))
        self.assertTrue(reply.startswith("+ "), reply)
        return dict(part.split("=", 1) for part in base64.b64decode(reply[2:]).decode().split(","))

    def test_the_configured_count_is_stored_and_used(self):
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertEqual(self.server_first(c, "alice")["i"], "12345")
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertEqual(Auth.scram(self, c, "SCRAM-SHA-256", "alice", "s3cret-pass"), "+OK logged in as alice")
        # An unknown user's made-up salt comes with the same count.
        c = self.connect(self.tls_port, tls=True)
        c.line()
        self.assertEqual(self.server_first(c, "ghost")["i"], "12345")

    def test_a_verifier_keeps_the_count_it_was_made_with(self):
        self.instance.write(self.instance.listeners_text, "[auth]\nscram_iterations = 20000\n")
        self.instance.add_user("bob", "another-pass")
        self.instance.stop()
        self.instance.start()
        for user, count in (("alice", "12345"), ("bob", "20000")):
            c = self.connect(self.tls_port, tls=True)
            c.line()
            self.assertEqual(self.server_first(c, user)["i"], count)


class AuthCache(WireTest):
    """[auth] cache_ttl: a repeated password login is answered without the
    yescrypt hash (counted in roost_auth_cache_hits_total); a wrong password
    is never taken for the cached one, and a changed password misses at
    once, even one changed by another process (roostctl)."""
    EXTRA = "[auth]\nfailure_delay = 10ms\nfailure_delay_max = 20ms\n"

    def listeners(self):
        return f"[listener tls]\nservice = test\naddress = 127.0.0.1:{self.tls_port}\ntls = implicit\n"

    def hits(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.instance.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        return int(re.search(r"^roost_auth_cache_hits_total (\d+)$", text, re.M).group(1))

    def login(self, password):
        c = self.connect(self.tls_port, tls=True)
        c.line()
        return c.command(f"LOGIN alice {password}")

    def test_repeated_logins_hit_and_changes_miss(self):
        self.assertEqual(self.login("s3cret-pass"), "+OK logged in as alice")
        self.assertEqual(self.hits(), 0)
        self.assertEqual(self.login("s3cret-pass"), "+OK logged in as alice")
        self.assertEqual(self.hits(), 1)
        self.assertEqual(self.login("wrong"), "-ERR [AUTH] authentication failed")
        self.assertEqual(self.login("s3cret-pass"), "+OK logged in as alice")
        self.assertEqual(self.hits(), 2)
        run([os.path.join(BIN, "roostctl"), "--config", self.instance.conf, "user", "passwd", "alice",
             "--password-stdin"], stdin="changed-pass\n")
        self.assertEqual(self.login("s3cret-pass"), "-ERR [AUTH] authentication failed")
        self.assertEqual(self.login("changed-pass"), "+OK logged in as alice")
        self.assertEqual(self.hits(), 2)
        self.assertEqual(self.login("changed-pass"), "+OK logged in as alice")
        self.assertEqual(self.hits(), 3)


class LoopbackCleartext(WireTest):
    EXTRA = "[auth]\nallow_plaintext_loopback = true\n"

    def listeners(self):
        return f"[listener plain]\nservice = test\naddress = 127.0.0.1:{self.plain_port}\n"

    def test_cleartext_allowed_on_loopback_when_configured(self):
        c = self.connect(self.plain_port)
        c.line()
        self.assertEqual(c.command("LOGIN alice s3cret-pass"), "+OK logged in as alice")


if __name__ == "__main__":
    unittest.main()
