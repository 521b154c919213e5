// LIST with LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819), the
// special-use attributes (RFC 6154), CHILDREN (RFC 3348), LSUB, and the
// XLIST that older clients still send.
#include <algorithm>
#include <set>

#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {
namespace {

// A run of wildcards matches what one does: "*" if the run holds a "*",
// else "%". So "*%*%*%..." costs what "*" costs.
std::string collapse_wildcards(std::string_view pattern) {
  std::string out;
  for (char c : pattern) {
    const bool wildcard = c == '*' || c == '%';
    if (wildcard && !out.empty() && (out.back() == '*' || out.back() == '%')) {
      if (c == '*') out.back() = '*';
      continue;
    }
    out += c;
  }
  return out;
}

// RFC 9051 §6.3.9: "*" matches anything, "%" anything but the separator.
// Row by row over the (collapsed) pattern, which prefixes of `name` are
// matched: time in pattern length times name length.
bool matches(std::string_view pattern, std::string_view name) {
  std::vector<char> row(name.size() + 1, 0), next(name.size() + 1, 0);
  row[0] = 1;
  for (char p : pattern) {
    std::fill(next.begin(), next.end(), 0);
    bool active = false;  // a wildcard started at or before i and may reach it
    for (std::size_t i = 0; i <= name.size(); ++i) {
      if (p == '*' || p == '%') {
        active = active || row[i];
        if (active) next[i] = 1;
        if (p == '%' && i < name.size() && name[i] == '/') active = false;
      } else if (row[i] && i < name.size() && name[i] == p) {
        next[i + 1] = 1;
      }
    }
    std::swap(row, next);
  }
  return row[name.size()] != 0;
}

// "inbox", "Inbox/x": INBOX is matched case-insensitively as the first level.
std::string normalize_inbox(std::string pattern) {
  if (pattern.size() >= 5 && (pattern.size() == 5 || pattern[5] == '/') && ascii_iequals(pattern.substr(0, 5), "INBOX"))
    pattern.replace(0, 5, "INBOX");
  return pattern;
}

bool contains(const std::vector<std::string>& options, std::string_view o) {
  return std::find(options.begin(), options.end(), o) != options.end();
}

std::string xlist_attribute(storage::SpecialUse use) {
  switch (use) {
    case storage::SpecialUse::all: return "\\AllMail";
    case storage::SpecialUse::junk: return "\\Spam";
    case storage::SpecialUse::flagged: return "\\Starred";
    default: return std::string(storage::special_use_attribute(use));
  }
}

}  // namespace

asio::awaitable<Reply> list(ImapSession& s, const Request& r) {
  const auto& l = std::get<List>(r.command);
  for (const auto& o : l.selection)
    if (o != "SUBSCRIBED" && o != "REMOTE" && o != "RECURSIVEMATCH" && o != "SPECIAL-USE")
      co_return bad("Unknown LIST selection option " + o);
  if (contains(l.selection, "RECURSIVEMATCH") && !contains(l.selection, "SUBSCRIBED"))
    co_return bad("RECURSIVEMATCH needs another selection option (RFC 5258 §3)");
  for (const auto& o : l.returns)
    if (o != "SUBSCRIBED" && o != "CHILDREN" && o != "SPECIAL-USE" && o != "STATUS" && o != "METADATA")
      co_return bad("Unknown LIST return option " + o);

  const char* verb = l.form == List::Form::lsub ? "LSUB" : l.form == List::Form::xlist ? "XLIST" : "LIST";
  if (l.patterns.size() == 1 && l.patterns[0].empty() && l.form != List::Form::lsub) {
    // The hierarchy separator (RFC 9051 §6.3.9).
    std::string separator = std::string("* ") + verb + " (\\Noselect) \"/\" \"\"\r\n";
    co_await s.send(separator);
    co_return ok(std::string(verb) + " completed");
  }

  std::vector<std::string> patterns;
  for (const auto& p : l.patterns) patterns.push_back(collapse_wildcards(normalize_inbox(l.reference + p)));
  // The folders and which of them the patterns match, on the blocking pool:
  // matching costs what the patterns' lengths make it cost, never on an io
  // thread where it would hold up other sessions.
  storage::Result<std::vector<storage::FolderInfo>> folders;
  std::vector<char> matched;
  std::vector<std::string> stale;  // subscribed names no folder has, matched
  auto work = [&]() {
    folders = s.mail->list();
    if (!folders) return;
    if (l.form == List::Form::lsub || contains(l.selection, "SUBSCRIBED")) {
      auto names = s.mail->stale_subscriptions();
      if (!names) {
        folders = std::unexpected(names.error());
        return;
      }
      for (const auto& name : *names) {
        std::string wire = s.mailbox_to_wire(name);
        if (std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return matches(p, wire); }))
          stale.push_back(name);
      }
    }
    for (const auto& f : *folders) {
      std::string wire = s.mailbox_to_wire(f.name);
      matched.push_back(std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return matches(p, wire); }));
    }
  };
  co_await s.blocking(work);
  if (!folders) co_return storage_error(s, folders.error());

  const bool only_subscribed = l.form == List::Form::lsub || contains(l.selection, "SUBSCRIBED");
  const bool recursive = contains(l.selection, "RECURSIVEMATCH");
  const bool only_special = contains(l.selection, "SPECIAL-USE");
  const bool show_subscribed = only_subscribed || contains(l.returns, "SUBSCRIBED");

  std::string out;
  std::set<std::string> listed;  // names answered, for LSUB's \Noselect parents
  for (std::size_t i = 0; i < folders->size(); ++i) {
    const auto& f = (*folders)[i];
    if (!matched[i]) continue;
    std::string wire = s.mailbox_to_wire(f.name);
    // RFC 5258 §3.5: CHILDINFO says a subscribed descendant exists that this
    // answer does not list (it does not match the pattern); a folder that
    // is not subscribed itself is listed only for such a descendant.
    bool child_unlisted = false;
    if (only_subscribed && recursive) {
      std::string prefix = f.name + "/";
      for (std::size_t j = 0; j < folders->size() && !child_unlisted; ++j)
        child_unlisted = !matched[j] && (*folders)[j].subscribed && (*folders)[j].name.starts_with(prefix);
    }
    const bool only_for_child = only_subscribed && !f.subscribed;
    if (only_for_child && !child_unlisted) continue;
    if (only_special && f.use == storage::SpecialUse::none) continue;
    std::vector<std::string> attributes;
    if (l.form != List::Form::lsub) attributes.push_back(f.has_children ? "\\HasChildren" : "\\HasNoChildren");
    if (l.form == List::Form::xlist) {
      if (f.name == "INBOX") attributes.push_back("\\Inbox");
      else if (f.use != storage::SpecialUse::none) attributes.push_back(xlist_attribute(f.use));
    } else if (f.use != storage::SpecialUse::none && l.form != List::Form::lsub) {
      attributes.push_back(std::string(storage::special_use_attribute(f.use)));
    }
    if (show_subscribed && f.subscribed && l.form == List::Form::list) attributes.push_back("\\Subscribed");
    out += std::string("* ") + verb + " ";
    append_list(out, attributes);
    out += " \"/\" ";
    append_astring(out, wire, s.utf8());
    if (child_unlisted) out += " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
    out += "\r\n";
    listed.insert(f.name);
    if (!l.status.empty() && !only_for_child) {
      // LIST-STATUS (RFC 5819 §2): the folder's STATUS right after its LIST.
      storage::Result<FolderReport> st;
      const std::string& name = f.name;
      auto status_work = [&]() { st = folder_report(s, name, l.status); };
      co_await s.blocking(status_work);
      if (st) out += status_line(s, name, *st, l.status);
    }
    if (!l.metadata.empty() && !only_for_child) {
      // LIST-METADATA (RFC 9590): the folder's entries right after its LIST.
      storage::Result<std::vector<storage::Annotation>> stored;
      const std::string& name = f.name;
      auto metadata_work = [&]() { stored = s.mail->annotations(name); };
      co_await s.blocking(metadata_work);
      std::uint64_t unused = 0;
      if (stored) out += metadata_line(s, wire, *stored, l.metadata, MetadataDepth::zero, std::nullopt, unused);
    }
    if (out.size() > 64 * 1024) {
      co_await s.send(out);
      out.clear();
    }
  }
  // A subscription whose folder is gone: LIST (SUBSCRIBED) says
  // \NonExistent (RFC 5258 §3.4), LSUB \Noselect (RFC 3501 §6.3.9), so a
  // client can see it and unsubscribe.
  if (!only_special) {
    for (const auto& name : stale) {
      out += std::string("* ") + verb + (l.form == List::Form::lsub ? " (\\Noselect)" : " (\\NonExistent \\Subscribed)");
      out += " \"/\" ";
      append_astring(out, s.mailbox_to_wire(name), s.utf8());
      out += "\r\n";
      listed.insert(name);
    }
  }
  // LSUB "%" names the parent of a subscribed "foo/bar" that is itself not
  // subscribed, as \Noselect (RFC 3501 §6.3.9).
  if (l.form == List::Form::lsub) {
    std::set<std::string> parents;
    auto note_parents = [&](const std::string& name) {
      for (std::size_t at = name.find('/'); at != std::string::npos; at = name.find('/', at + 1))
        parents.insert(name.substr(0, at));
    };
    for (const auto& f : *folders)
      if (f.subscribed) note_parents(f.name);
    for (const auto& name : stale) note_parents(name);
    for (const auto& parent : parents) {
      if (listed.contains(parent)) continue;
      std::string wire = s.mailbox_to_wire(parent);
      if (std::none_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return matches(p, wire); }))
        continue;
      out += "* LSUB (\\Noselect) \"/\" ";
      append_astring(out, wire, s.utf8());
      out += "\r\n";
    }
  }
  co_await s.send(out);
  co_return ok(std::string(verb) + " completed");
}

}  // namespace roost::imap::commands
