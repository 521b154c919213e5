// One handler per POP3 command, each in its own file; the service's table
// says in which states each may run.
#pragma once

#include "../session.hpp"
#include "roost/core/session_auth.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> capa(Pop3Session& s, const Command& c);
asio::awaitable<void> user(Pop3Session& s, const Command& c);
asio::awaitable<void> pass(Pop3Session& s, const Command& c);
asio::awaitable<void> apop(Pop3Session& s, const Command& c);
asio::awaitable<void> auth(Pop3Session& s, const Command& c);
asio::awaitable<void> stls(Pop3Session& s, const Command& c);
asio::awaitable<void> utf8(Pop3Session& s, const Command& c);
asio::awaitable<void> lang(Pop3Session& s, const Command& c);
asio::awaitable<void> stat(Pop3Session& s, const Command& c);
asio::awaitable<void> list(Pop3Session& s, const Command& c);
asio::awaitable<void> uidl(Pop3Session& s, const Command& c);
asio::awaitable<void> retr(Pop3Session& s, const Command& c);
asio::awaitable<void> top(Pop3Session& s, const Command& c);
asio::awaitable<void> dele(Pop3Session& s, const Command& c);
asio::awaitable<void> noop(Pop3Session& s, const Command& c);
asio::awaitable<void> rset(Pop3Session& s, const Command& c);
asio::awaitable<void> quit(Pop3Session& s, const Command& c);

// After USER/PASS or AUTH: opens and locks the maildrop and takes its
// snapshot, or says why not.
asio::awaitable<void> finish_login(Pop3Session& s, const AuthOutcome& outcome);

// RETR and TOP: the message as a multi-line response (all of it, or TOP's
// header and `body_lines`).
asio::awaitable<void> send_message(Pop3Session& s, const Message& m, std::optional<std::uint64_t> body_lines);

// The CAPA lines for the session's state and connection, without the
// framing; also what roostctl and tests compare against.
asio::awaitable<std::string> capabilities(Pop3Session& s);

}  // namespace roost::pop3::commands
