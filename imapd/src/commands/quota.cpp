// GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208). Every user has one quota
// root holding all of their folders, named "" for its owner. Users listed in
// [mail] quota_admins may also name any user's root as "#user/NAME" (the
// RFC's own example form) to read it and set its limits; for everyone else
// such roots do not exist, so that nobody learns who has an account.
#include "commands.hpp"
#include "roost/core/auth.hpp"
#include "roost/core/log.hpp"
#include "roost/core/credentials.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {
namespace {

constexpr std::string_view kUserRootPrefix = "#user/";

// "* QUOTA <root> (STORAGE used limit MESSAGE used limit)" for the limited
// resources; STORAGE counts units of 1024 octets (RFC 9208 §5.1).
std::string quota_line(const ImapSession& s, std::string_view root, const storage::QuotaUsage& usage) {
  std::string out = "* QUOTA ";
  append_astring(out, root, s.utf8());
  out += " (";
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

bool limited(const storage::QuotaUsage& usage) { return usage.bytes_limit > 0 || usage.messages_limit > 0; }

// The user a quota root names, opened; runs on the blocking pool. The
// session's own user comes back as nullptr with no error.
struct QuotaOwner {
  std::unique_ptr<storage::User> other;  // null: the session's own user
  std::string refusal;                   // set: answer NO with this
};

QuotaOwner find_owner(ImapSession& s, std::string_view root) {
  if (root.empty()) return {};
  if (!root.starts_with(kUserRootPrefix) || !is_quota_admin(s)) return {nullptr, "[NONEXISTENT] No such quota root"};
  auto name = canonical_user_name(root.substr(kUserRootPrefix.size()));
  if (!name) return {nullptr, "[NONEXISTENT] No such quota root"};
  if (*name == s.net.user) return {};
  auto record = s.net.server.auth().credentials().find(*name);
  if (!record) return {nullptr, "[UNAVAILABLE] User database unavailable"};
  if (!*record) return {nullptr, "[NONEXISTENT] No such user"};
  auto user = s.store.open_user(*name);
  if (!user) return {nullptr, "[UNAVAILABLE] Cannot open that user's mail"};
  return {std::move(*user), {}};
}

// SETQUOTA's list as limits, or the reason it cannot be applied.
std::expected<storage::QuotaLimits, std::string> requested_limits(const SetQuota& q) {
  storage::QuotaLimits limits;
  bool storage_seen = false, message_seen = false;
  for (const auto& [resource, limit] : q.limits) {
    // Roost's limits files use 0 for "no limit"; a limit of nothing at
    // all is not something it can keep.
    if (limit == 0) return std::unexpected("[CANNOT] A limit of 0 cannot be set; leave the resource out to remove its limit");
    if (resource == "STORAGE" && !storage_seen) {
      if (limit > UINT64_MAX / 1024) return std::unexpected("[LIMIT] STORAGE limit too large");
      limits.bytes = limit * 1024;
      storage_seen = true;
    } else if (resource == "MESSAGE" && !message_seen) {
      limits.messages = limit;
      message_seen = true;
    } else if (resource == "STORAGE" || resource == "MESSAGE") {
      return std::unexpected("[CANNOT] " + resource + " is given twice");
    } else {
      return std::unexpected("[CANNOT] Resource " + resource + " cannot be limited here (STORAGE and MESSAGE can)");
    }
  }
  return limits;
}

}  // namespace

bool is_quota_admin(const ImapSession& s) {
  const auto& admins = s.config().mail.quota_admins;
  return std::find(admins.begin(), admins.end(), s.net.user) != admins.end();
}

asio::awaitable<Reply> quota(ImapSession& s, const Request& r) {
  if (const auto* root = std::get_if<GetQuotaRoot>(&r.command)) {
    auto name = s.mailbox_from_wire(root->mailbox);
    if (!name) co_return no("[CANNOT] Invalid mailbox name");
    storage::Result<storage::QuotaUsage> usage;
    auto work = [&]() { usage = s.mail->quota(); };
    co_await s.blocking(work);
    if (!usage) co_return storage_error(s, usage.error());
    std::string out = "* QUOTAROOT ";
    append_astring(out, s.mailbox_to_wire(*name), s.utf8());
    if (limited(*usage)) out += " \"\"";
    out += "\r\n";
    if (limited(*usage)) out += quota_line(s, "", *usage);
    co_await s.send(out);
    co_return ok("GETQUOTAROOT completed");
  }

  const auto* set = std::get_if<SetQuota>(&r.command);
  if (set && !is_quota_admin(s)) co_return no("[NOPERM] Only quota administrators may set quota limits");
  std::optional<storage::QuotaLimits> limits;
  if (set) {
    auto requested = requested_limits(*set);
    if (!requested) co_return no(requested.error());
    limits = *requested;
  }
  const std::string root = set ? set->root : std::get<GetQuota>(r.command).root;
  QuotaOwner owner;
  storage::Result<storage::QuotaUsage> usage;
  auto work = [&]() {
    owner = find_owner(s, root);
    if (!owner.refusal.empty()) return;
    storage::User& user = owner.other ? *owner.other : *s.mail;
    usage = limits ? user.set_quota(*limits) : user.quota();
  };
  co_await s.blocking(work);
  if (!owner.refusal.empty()) co_return no(owner.refusal);
  if (!usage) co_return storage_error(s, usage.error());
  if (set) {
    log::info(s.net.log_context(), "quota_set",
              {{"root", root}, {"storage", limits->bytes}, {"messages", limits->messages}});
    const std::string line = limited(*usage) ? quota_line(s, root, *usage) : std::string();
    co_await s.send(line);
    co_return ok(limited(*usage) ? "SETQUOTA completed" : "SETQUOTA completed; no limits remain");
  }
  if (!limited(*usage)) co_return no("[NONEXISTENT] No limits are set for this quota root");
  const std::string line = quota_line(s, root, *usage);
  co_await s.send(line);
  co_return ok("GETQUOTA completed");
}

}  // namespace roost::imap::commands
