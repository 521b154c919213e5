// GETQUOTA, GETQUOTAROOT (RFC 9208) over the user's one quota root "",
// which holds every folder. SETQUOTA is refused: limits come from the
// configuration, which administrators change.
#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {
namespace {

// "* QUOTA "" (STORAGE used limit MESSAGE used limit)" for the limited
// resources; STORAGE counts units of 1024 octets (RFC 9208 §5.1).
std::string quota_line(const storage::QuotaUsage& usage) {
  std::string out = "* QUOTA \"\" (";
  bool first = true;
  if (usage.bytes_limit > 0) {
    out += "STORAGE " + std::to_string((usage.bytes + 1023) / 1024) + " " + std::to_string(usage.bytes_limit / 1024);
    first = false;
  }
  if (usage.messages_limit > 0) {
    if (!first) out += ' ';
    out += "MESSAGE " + std::to_string(usage.messages) + " " + std::to_string(usage.messages_limit);
  }
  out += ")\r\n";
  return out;
}

}  // namespace

asio::awaitable<Reply> quota(ImapSession& s, const Request& r) {
  if (std::holds_alternative<SetQuota>(r.command)) co_return no("[NOPERM] Quota limits are set by the administrator");
  storage::Result<storage::QuotaUsage> usage;
  auto work = [&]() { usage = s.mail->quota(); };
  co_await s.blocking(work);
  if (!usage) co_return storage_error(s, usage.error());
  const bool limited = usage->bytes_limit > 0 || usage->messages_limit > 0;
  if (const auto* root = std::get_if<GetQuotaRoot>(&r.command)) {
    auto name = s.mailbox_from_wire(root->mailbox);
    if (!name) co_return no("[CANNOT] Invalid mailbox name");
    std::string out = "* QUOTAROOT ";
    append_astring(out, s.mailbox_to_wire(*name), s.utf8());
    if (limited) out += " \"\"";
    out += "\r\n";
    if (limited) out += quota_line(*usage);
    co_await s.send(out);
    co_return ok("GETQUOTAROOT completed");
  }
  if (!std::get<GetQuota>(r.command).root.empty() || !limited) co_return no("[NONEXISTENT] No such quota root");
  co_await s.send(quota_line(*usage));
  co_return ok("GETQUOTA completed");
}

}  // namespace roost::imap::commands
