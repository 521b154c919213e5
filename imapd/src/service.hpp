// The IMAP service object shared by all of a server's IMAP sessions.
#pragma once

#include <memory>

#include "roost/core/server.hpp"
#include "roost/imapd/requests.hpp"
#include "roost/storage/storage.hpp"

namespace roost::imap {

struct ImapSession;

class ImapService final : public Service {
 public:
  explicit ImapService(Server& server);

  std::string_view name() const override { return "imap"; }
  std::string refusal(Refusal why) const override;
  asio::awaitable<void> serve(Session& session) override;

  storage::Store& store() { return *store_; }

 private:
  asio::awaitable<void> run_command(ImapSession& s, Request& request);
  std::shared_ptr<storage::Store> store_;
};

}  // namespace roost::imap
