// One POP3 connection's state and the helpers its commands share: sending
// with flow control, storage work on the blocking pool, and the maildrop
// snapshot taken at login.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/core/blocking.hpp"
#include "roost/core/server.hpp"
#include "roost/pop3d/syntax.hpp"
#include "roost/storage/storage.hpp"

namespace roost::pop3 {

// RFC 1939 §3. UPDATE happens inside QUIT; the session ends with it.
enum class State : unsigned { authorization = 1, transaction = 2, done = 4 };

// A message of the maildrop as the session sees it: its number is its
// index + 1 for the whole session (RFC 1939 §5). 24 bytes: a maildrop of
// 100,000 messages is held for the whole session.
struct Message {
  storage::Uid uid = 0;
  std::uint32_t text_at = 0;  // its file name, then any migrated UIDL, in Pop3Session::texts
  std::uint64_t size = 0;     // with CRLF line ends, as RETR sends it
  std::uint16_t file_name_size = 0, uidl_size = 0;
  bool deleted = false;
  bool retrieved = false;
};

struct Pop3Session {
  Session& net;
  storage::Store& store;
  State state = State::authorization;
  std::string user_name;  // from USER, for PASS
  bool lost = false;      // the connection failed or the client stopped reading

  std::unique_ptr<storage::User> mail;
  std::unique_ptr<storage::FolderView> inbox;
  std::optional<storage::MaildropLock> lock;
  std::vector<Message> messages;
  std::string texts;  // the messages' file names and migrated UIDLs, back to back

  // Takes the maildrop's listing as the session's messages.
  void set_messages(std::vector<storage::MaildropEntry> listing);

  Connection& conn() { return *net.connection; }
  const Config& config() const { return *net.config; }

  // Queues bytes; large output is written out as it grows, so the output
  // buffer stays under the configured limit. Sets `lost` on failure.
  asio::awaitable<void> send(std::string_view bytes);

  template <class F>
  asio::awaitable<void> blocking(F& work) {
    co_await on_blocking_pool(net, work);
  }

  // The message numbered `n`, unless it does not exist or is deleted.
  Message* find(std::uint32_t n);
  std::string uidl(const Message& m) const;
  void append_uidl(const Message& m, std::string& out) const;
};

// Appends `n` in decimal (LIST and UIDL write 100,000 numbers at a time).
void append_decimal(std::string& out, std::uint64_t n);

// LIST and UIDL without an argument: "+OK <header>", then "<n> <value>" for
// every message not deleted, then ".", sent in pieces as it grows.
asio::awaitable<void> send_listing(Pop3Session& s, std::string_view header,
                                   const std::function<void(const Message&, std::string&)>& value);

// "-ERR [SYS/TEMP] ..." or "[SYS/PERM]" for a storage error (RFC 3206); the
// detail goes to the log, the client gets the session id to quote.
std::string storage_error(Pop3Session& session, const storage::Error& error);

using Handler = asio::awaitable<void> (*)(Pop3Session&, const Command&);

}  // namespace roost::pop3
