#include "roost/lmtpd/lmtp_service.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "roost/core/auth.hpp"
#include "roost/core/blocking.hpp"
#include "roost/core/starttls.hpp"
#include "roost/directory/directory.hpp"
#include "roost/lmtpd/syntax.hpp"
#include "roost/storage/mailbox_name.hpp"
#include "roost/storage/store_config.hpp"

namespace roost::lmtp {

namespace {

struct Recipient {
  std::string address;  // as the MTA gave it
  std::string user;     // canonical user name
  std::string folder;   // where it goes
  std::shared_ptr<storage::User> mail;  // opened at RCPT, written after DATA
};

// RFC 2033 §4.2 replies, one per recipient, in RCPT order.
struct Transaction {
  std::optional<Mail> mail;
  std::vector<Recipient> recipients;
  std::string data;
  bool too_big = false;
  bool bdat_started = false;
  void reset() { *this = Transaction{}; }
};

std::string rfc5322_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return buf;
}

// The reply for a storage error; the error itself goes to the log, where an
// operator finds why mail was deferred.
std::string storage_reply(const Session& session, const storage::Error& e, std::string_view during) {
  if (e.kind == storage::ErrorKind::over_quota) {
    // Not a fault of the store: the user's mailbox is full.
    const bool tempfail = session.config->lmtp.quota_full_tempfail;
    log::info(session.log_context(), "mailbox_full", {{"during", during}, {"answer", tempfail ? "452" : "552"}});
    return tempfail ? "452 4.2.2 Mailbox full, try again later" : "552 5.2.2 Mailbox full";
  }
  log::warning(session.log_context(), "storage_error",
               {{"during", during}, {"kind", storage::describe(e.kind)}, {"detail", e.detail}});
  switch (e.kind) {
    case storage::ErrorKind::too_big: return "552 5.3.4 Message too big";
    case storage::ErrorKind::temporary: return "451 4.3.0 Temporary failure, try again later";
    default: return "451 4.3.0 Local error in processing";
  }
}

// The Received field's id: unique to one delivery, across connections and
// restarts (the time in microseconds, this process, a counter), so that a
// message can be followed from the MTA's log to ours.
std::string delivery_id() {
  static std::atomic<std::uint64_t> deliveries{0};
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  char text[64];
  std::snprintf(text, sizeof text, "%llx.%d.%llu", static_cast<unsigned long long>(micros), static_cast<int>(::getpid()),
                static_cast<unsigned long long>(deliveries.fetch_add(1, std::memory_order_relaxed)));
  return text;
}

class LmtpService final : public Service {
 public:
  explicit LmtpService(Server& server) : store_(storage::shared_store(*server.config(), server.metrics())) {}

  std::string_view name() const override { return "lmtp"; }

  std::string refusal(Refusal why) const override {
    switch (why) {
      case Refusal::too_many_connections: return "421 4.3.2 Too many connections\r\n";
      case Refusal::too_many_from_address: return "421 4.7.0 Too many connections from your address\r\n";
      case Refusal::shutting_down: return "421 4.3.2 Server shutting down\r\n";
    }
    return "421 4.3.2 Unavailable\r\n";
  }

  asio::awaitable<void> serve(Session& session) override;

 private:
  asio::awaitable<std::string> add_recipient(Session& session, Transaction& t, const Rcpt& rcpt);
  asio::awaitable<void> deliver(Session& session, Transaction& t, const std::string& client_name);

  std::shared_ptr<storage::Store> store_;
};

asio::awaitable<std::string> LmtpService::add_recipient(Session& session, Transaction& t, const Rcpt& rcpt) {
  const Config& config = *session.config;
  const std::string& address = rcpt.forward_path;
  std::optional<Recipient> found;
  std::string reply;
  std::uint64_t declared_size = t.mail->size.value_or(0);
  const auto* dir = dynamic_cast<const directory::Directory*>(&session.server.auth().credentials());
  auto work = [&]() {
    if (dir == nullptr) {
      reply = "451 4.3.0 User database unavailable";
      return;
    }
    auto match = directory::find_recipient(*dir, address, config.lmtp.default_domain,
                                           config.lmtp.subaddress_separator);
    if (!match) {
      reply = "451 4.3.0 User database unavailable";
      return;
    }
    if (!*match) {
      reply = "550 5.1.1 No such user here";
      return;
    }
    const std::string& name = (*match)->user.credentials.name;
    const std::string& detail = (*match)->detail;
    // The user's mail lives on another shard, or is being moved: the MTA
    // keeps the message and retries (the proxy sends it to the right one).
    if (auto admitted = dir->admits((*match)->user.route); !admitted) {
      log::warning(session.log_context(), "rcpt_refused", {{"recipient", name}, {"detail", admitted.error()}});
      reply = "451 4.3.0 Mailbox not on this server now, try again later";
      return;
    }
    auto user = store_->open_user(name);
    if (!user) {
      reply = storage_reply(session, user.error(), "open_user");
      return;
    }
    // Over quota already (or by the declared SIZE): refuse now (RFC 1870 §6.2).
    if (auto fits = (*user)->check_quota(declared_size, 1); !fits) {
      reply = storage_reply(session, fits.error(), "check_quota");
      return;
    }
    std::string folder = "INBOX";
    // Whether the folder exists, not its counts: reading them would end a
    // commit that waits for more deliveries to it.
    if (!detail.empty() && config.lmtp.subaddress_folders) {
      if (auto existing = (*user)->existing(detail)) folder = *existing;
    }
    found = Recipient{address, name, folder, std::move(*user)};
  };
  co_await on_blocking_pool(session, work);
  if (!found) co_return reply;
  t.recipients.push_back(std::move(*found));
  co_return "250 2.1.5 OK";
}

asio::awaitable<void> LmtpService::deliver(Session& session, Transaction& t, const std::string& client_name) {
  auto& conn = *session.connection;
  const Config& config = *session.config;
  if (t.too_big) {
    for (std::size_t i = 0; i < t.recipients.size(); ++i) conn.send("552 5.3.4 Message too big\r\n");
    co_return;
  }
  std::vector<std::string> replies(t.recipients.size());
  std::string received;
  const std::string id = delivery_id();
  if (config.lmtp.add_received) {
    // RFC 5321 §4.4 trace field; the peer's address, never anything the
    // client could use to forge another hop.
    received = "Received: from " + client_name + " (" + conn.peer().to_string() + ")\r\n\tby " +
               store_->config().host_name + " (Roost) with LMTP id " + id + "\r\n\tfor <" +
               (t.recipients.size() == 1 ? t.recipients[0].address : std::string("multiple recipients")) +
               ">; " + rfc5322_now() + "\r\n";
  }
  auto deliver_one = [&](std::size_t i) {
    const Recipient& r = t.recipients[i];
    std::string added;
    if (config.lmtp.add_return_path) added += "Return-Path: <" + t.mail->reverse_path + ">\r\n";
    if (config.lmtp.add_delivered_to) added += "Delivered-To: " + r.address + "\r\n";
    added += received;
    storage::NewMessage m;
    m.data = added + t.data;
    auto delivered = r.mail->deliver(r.folder, std::move(m));
    if (!delivered && delivered.error().kind == storage::ErrorKind::not_found && r.folder != "INBOX") {
      storage::NewMessage again;  // the detail folder went away meanwhile
      again.data = added + t.data;
      delivered = r.mail->deliver("INBOX", std::move(again));
    }
    replies[i] = delivered ? "250 2.0.0 <" + r.address + "> delivered, UID " + std::to_string(delivered->uids[0])
                           : storage_reply(session, delivered.error(), "deliver");
    log::info(session.log_context(), delivered ? "delivered" : "delivery_failed",
              {{"to", r.user}, {"folder", r.folder}, {"size", t.data.size()}, {"id", id},
               {"error", delivered ? std::string() : delivered.error().detail}});
  };
  // Recipients are independent writes (RFC 2033 §4.2: one reply each), so
  // they go to disk side by side, a few at a time; one recipient's trouble
  // never touches another's copy.
  auto work = [&]() {
    constexpr std::size_t kParallel = 8;
    for (std::size_t first = 0; first < t.recipients.size(); first += kParallel) {
      std::size_t last = std::min(t.recipients.size(), first + kParallel);
      std::vector<std::future<void>> running;
      for (std::size_t i = first + 1; i < last; ++i) {
        try {
          running.push_back(std::async(std::launch::async, deliver_one, i));
        } catch (const std::system_error&) {
          deliver_one(i);
        }
      }
      deliver_one(first);
      for (auto& r : running) r.get();
    }
  };
  co_await on_blocking_pool(session, work);
  for (const auto& reply : replies) {
    conn.send(reply + "\r\n");
    session.server.metrics().add("roost_deliveries_total",
                                 {{"service", "lmtp"}, {"result", reply.starts_with("250") ? "delivered" : "failed"}});
  }
}

asio::awaitable<void> LmtpService::serve(Session& session) {
  auto& conn = *session.connection;
  const Config& config = *session.config;
  const auto& limits = config.limits;
  const std::string host = store_->config().host_name;
  conn.send("220 " + host + " Roost LMTP ready\r\n");
  Transaction t;
  std::string client_name;
  unsigned errors = 0;
  std::string line;
  auto fail = [&](const std::string& reply) {
    conn.send(reply + "\r\n");
    ++errors;
  };
  for (;;) {
    if (errors >= config.lmtp.max_errors) {
      conn.send("421 4.7.0 Too many errors, closing the connection\r\n");
      co_await conn.flush(limits.write_timeout);
      co_return;
    }
    // Pipelining (RFC 2920): answer a batch of commands at once.
    if (conn.buffered_input() == 0 && !co_await conn.flush(limits.write_timeout)) co_return;
    auto status = co_await conn.read_line(line, limits.max_line_length, limits.idle_timeout);
    switch (status) {
      case ReadStatus::ok: break;
      case ReadStatus::too_long: fail("500 5.5.2 Line too long"); continue;
      case ReadStatus::timeout:
        conn.send("421 4.4.2 " + host + " Timeout, closing the connection\r\n");
        co_await conn.flush(limits.write_timeout);
        co_return;
      case ReadStatus::stopped:
        conn.send("421 4.3.2 " + host + " Server shutting down\r\n");
        co_await conn.flush(limits.write_timeout);
        co_return;
      default: co_return;
    }
    auto parsed = parse_command(line);
    if (auto* e = std::get_if<SyntaxError>(&parsed)) {
      fail(e->reply());
      continue;
    }
    Command& command = std::get<Command>(parsed);
    session.server.metrics().add("roost_commands_total", {{"service", "lmtp"}});

    if (auto* lhlo = std::get_if<Lhlo>(&command)) {
      t.reset();
      client_name = lhlo->domain;
      std::string r = "250-" + host + "\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n";
      r += "250-SIZE " + std::to_string(config.lmtp.max_message_size) + "\r\n";
      r += "250-CHUNKING\r\n250-BINARYMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n";
      if (tls_upgrade_offered(session)) r += "250-STARTTLS\r\n";
      r += "250 HELP\r\n";
      conn.send(r);
    } else if (auto* mail = std::get_if<Mail>(&command)) {
      if (client_name.empty()) {
        fail("503 5.5.1 Say LHLO first");
      } else if (t.mail) {
        fail("503 5.5.1 Sender already given");
      } else if (mail->size && *mail->size > config.lmtp.max_message_size) {
        conn.send("552 5.3.4 Message size exceeds the limit of " + std::to_string(config.lmtp.max_message_size) +
                  " bytes\r\n");
      } else {
        t.mail = *mail;
        conn.send("250 2.1.0 Sender OK\r\n");
      }
    } else if (auto* rcpt = std::get_if<Rcpt>(&command)) {
      if (!t.mail) {
        fail("503 5.5.1 MAIL first");
      } else if (t.recipients.size() >= config.lmtp.max_recipients) {
        conn.send("452 4.5.3 Too many recipients\r\n");
      } else {
        conn.send(co_await add_recipient(session, t, *rcpt) + "\r\n");
      }
    } else if (std::get_if<Data>(&command)) {
      if (!t.mail) {
        fail("503 5.5.1 MAIL first");
      } else if (t.recipients.empty()) {
        fail("503 5.5.1 No valid recipients");
      } else if (t.mail->body == Body::binary_mime || t.bdat_started) {
        fail("503 5.5.1 BINARYMIME and BDAT transactions take no DATA (RFC 3030)");
      } else {
        conn.send("354 Start mail input; end with <CRLF>.<CRLF>\r\n");
        if (!co_await conn.flush(limits.write_timeout)) co_return;
        // Lines until a lone "." between CRLFs, with the leading dot of
        // dot-stuffed lines removed (RFC 5321 §4.5.2, §4.1.1.4). Only
        // <CRLF>.<CRLF> ends the data: a "." next to a bare LF is data, so
        // that a message cannot end early here and not at the MTA before
        // (SMTP smuggling). A bare LF ends a line of data like CRLF does.
        bool after_crlf = true;  // the DATA command's line ended with CRLF or LF alike
        for (;;) {
          bool ended_crlf = false;
          auto s = co_await conn.read_line(line, config.lmtp.max_message_size + 2, config.lmtp.data_timeout,
                                           &ended_crlf);
          if (s == ReadStatus::too_long) {
            t.too_big = true;
            continue;
          }
          if (s != ReadStatus::ok) {
            if (s == ReadStatus::timeout) {
              conn.send("421 4.4.2 " + host + " Timeout waiting for data\r\n");
              co_await conn.flush(limits.write_timeout);
            }
            co_return;
          }
          const bool started_after_crlf = std::exchange(after_crlf, ended_crlf);
          if (line == "." && started_after_crlf && ended_crlf) break;
          if (t.too_big) continue;
          std::string_view content = line;
          if (content.starts_with('.') && started_after_crlf) content.remove_prefix(1);
          if (t.data.size() + content.size() + 2 > config.lmtp.max_message_size) {
            t.too_big = true;
            t.data.clear();
            continue;
          }
          t.data.append(content);
          t.data.append("\r\n");
        }
        co_await deliver(session, t, client_name);
        t.reset();
      }
    } else if (auto* bdat = std::get_if<Bdat>(&command)) {
      // The chunk follows the command whatever happens: read it first.
      // Compared without adding: a chunk size near 2^64 must not wrap
      // around. Once too big, the transaction stays too big.
      const std::uint64_t limit = config.lmtp.max_message_size;
      bool keep = t.mail && !t.recipients.empty() && !t.too_big && t.data.size() <= limit &&
                  bdat->size <= limit - t.data.size();
      std::uint64_t left = bdat->size;
      std::string chunk;
      while (left > 0) {
        std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 << 20));
        chunk.clear();
        auto s = co_await conn.read_exact(chunk, piece, config.lmtp.data_timeout);
        if (s != ReadStatus::ok) {
          if (s == ReadStatus::timeout) {
            conn.send("421 4.4.2 " + host + " Timeout waiting for data\r\n");
            co_await conn.flush(limits.write_timeout);
          }
          co_return;
        }
        if (keep) t.data += chunk;
        left -= piece;
      }
      if (!t.mail) {
        fail("503 5.5.1 MAIL first");
      } else if (t.recipients.empty()) {
        fail("503 5.5.1 No valid recipients");
      } else {
        t.bdat_started = true;
        if (!keep) {
          t.too_big = true;
          t.data.clear();
        }
        if (bdat->last) {
          co_await deliver(session, t, client_name);
          t.reset();
        } else {
          conn.send("250 2.0.0 " + std::to_string(bdat->size) + " octets received\r\n");
        }
      }
    } else if (std::get_if<Rset>(&command)) {
      t.reset();
      conn.send("250 2.0.0 OK\r\n");
    } else if (std::get_if<Noop>(&command)) {
      conn.send("250 2.0.0 OK\r\n");
    } else if (std::get_if<Quit>(&command)) {
      conn.send("221 2.0.0 " + host + " Bye\r\n");
      co_await conn.flush(limits.write_timeout);
      co_return;
    } else if (std::get_if<Vrfy>(&command)) {
      conn.send("252 2.5.0 Cannot VRFY user, but will accept the message and attempt delivery\r\n");
    } else if (std::get_if<Help>(&command)) {
      conn.send("214 2.0.0 Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS\r\n");
    } else if (std::get_if<StartTls>(&command)) {
      if (!tls_upgrade_offered(session)) {
        fail("502 5.5.1 STARTTLS not offered here");
        continue;
      }
      conn.send("220 2.0.0 Ready to start TLS\r\n");
      const bool upgraded = co_await upgrade_to_tls(session);
      if (!upgraded) co_return;
      t.reset();
      client_name.clear();  // RFC 3207 §4.2: forget what came before
    }
  }
}

}  // namespace

ServiceFactory service_factory() {
  return {"lmtp", [](Server& server) { return std::make_unique<LmtpService>(server); }};
}

}  // namespace roost::lmtp
