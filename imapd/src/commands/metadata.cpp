// GETMETADATA and SETMETADATA (RFC 5464): annotations on folders and, with
// mailbox "", on the account (server entries). Mailboxes are never shared
// between users here, so /private and /shared folder entries both belong to
// the folder's owner. Server entries: /private ones per user; /shared ones
// only /shared/admin, from [imap] metadata_admin, read-only.
#include <algorithm>

#include "commands.hpp"
#include "roost/core/ascii.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {
namespace {

// The folder a METADATA mailbox argument names: "" for the server entries.
std::expected<std::string, Reply> metadata_folder(ImapSession& s, const std::string& wire) {
  if (wire.empty()) return std::string();
  auto name = s.mailbox_from_wire(wire);
  if (!name) return std::unexpected(no("[CANNOT] Invalid mailbox name"));
  return *name;
}

Reply annotation_error(ImapSession& s, const storage::Error& error) {
  if (error.kind == storage::ErrorKind::not_found) return no("[NONEXISTENT] No such mailbox");
  if (error.kind == storage::ErrorKind::limit) return no("[METADATA TOOMANY] Too many annotations");
  return storage_error(s, error);
}

// Whether `name` is `spec` or below it as deep as `depth` allows (§4.2.2);
// both in lower case.
bool selected_by(std::string_view name, std::string_view spec, MetadataDepth depth) {
  if (name == spec) return true;
  if (depth == MetadataDepth::zero || !name.starts_with(spec) || name.size() <= spec.size() + 1 ||
      name[spec.size()] != '/')
    return false;
  return depth == MetadataDepth::infinity || name.find('/', spec.size() + 1) == std::string_view::npos;
}

}  // namespace

std::string metadata_line(ImapSession& s, std::string_view wire_mailbox, const std::vector<storage::Annotation>& entries,
                          const std::vector<std::string>& wanted, MetadataDepth depth,
                          std::optional<std::uint64_t> max_size, std::uint64_t& longest_left_out) {
  std::string out = "* METADATA ";
  append_astring(out, wire_mailbox, s.utf8());
  out += " (";
  bool first = true;
  std::vector<bool> reported(entries.size(), false);
  auto add = [&](std::string_view name, const std::string* value) {
    if (!first) out += ' ';
    first = false;
    append_astring(out, name);
    out += ' ';
    if (value == nullptr) out += "NIL";
    else if (value->find('\0') != std::string::npos) append_literal(out, *value, true);
    else append_string(out, *value, s.utf8());
  };
  for (const auto& spec : wanted) {
    const std::string lower_spec = ascii_lowercase(spec);
    bool exact = false;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const std::string name = ascii_lowercase(entries[i].name);
      if (!selected_by(name, lower_spec, depth)) continue;
      exact = exact || name == lower_spec;
      if (reported[i]) continue;
      reported[i] = true;
      if (max_size && entries[i].value.size() > *max_size) {
        longest_left_out = std::max<std::uint64_t>(longest_left_out, entries[i].value.size());
        continue;
      }
      add(entries[i].name, &entries[i].value);
    }
    // An entry asked for by name that does not exist: NIL, as value = nstring allows.
    if (!exact) add(spec, nullptr);
  }
  out += ")\r\n";
  return out;
}

asio::awaitable<Reply> getmetadata(ImapSession& s, const Request& r) {
  const auto& g = std::get<GetMetadata>(r.command);
  auto folder = metadata_folder(s, g.mailbox);
  if (!folder) co_return folder.error();
  storage::Result<std::vector<storage::Annotation>> stored;
  auto work = [&]() { stored = s.mail->annotations(*folder); };
  co_await s.blocking(work);
  if (!stored) co_return annotation_error(s, stored.error());
  std::vector<storage::Annotation> entries = std::move(*stored);
  if (folder->empty() && !s.config().imap.metadata_admin.empty())
    entries.push_back(storage::Annotation{"/shared/admin", s.config().imap.metadata_admin});

  std::uint64_t longest_left_out = 0;
  const std::string out = metadata_line(s, g.mailbox, entries, g.entries, g.depth, g.max_size, longest_left_out);
  co_await s.send(out);
  if (longest_left_out > 0)
    co_return ok("[METADATA LONGENTRIES " + std::to_string(longest_left_out) + "] GETMETADATA completed");
  co_return ok("GETMETADATA completed");
}

asio::awaitable<Reply> setmetadata(ImapSession& s, const Request& r) {
  const auto& set = std::get<SetMetadata>(r.command);
  auto folder = metadata_folder(s, set.mailbox);
  if (!folder) co_return folder.error();
  const auto& config = s.config().imap;
  std::vector<storage::AnnotationChange> changes;
  for (const auto& [name, value] : set.entries) {
    if (value && value->size() > config.metadata_max_size)
      co_return no("[METADATA MAXSIZE " + std::to_string(config.metadata_max_size) + "] Annotation value too large");
    // §3.3: a server may keep server annotations from being set, with NO.
    if (folder->empty() && ascii_lowercase(name).starts_with("/shared/"))
      co_return no("[NOPERM] Shared server annotations are set by the administrator");
    changes.push_back(storage::AnnotationChange{name, value});
  }
  storage::Result<void> done;
  auto work = [&]() { done = s.mail->annotate(*folder, changes, config.metadata_max_entries); };
  co_await s.blocking(work);
  if (!done) co_return annotation_error(s, done.error());
  co_return ok("SETMETADATA completed");
}

}  // namespace roost::imap::commands
