// The parsers of what other programs leave in a maildir: file names with
// their flags, dovecot-uidlist, dovecot-keywords, maildirsize, folder
// directory names in modified UTF-7, and index values read back from disk. None may crash, and the round
// trips must hold.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "maildir.hpp"
#include "quota.hpp"
#include "roost/index/folder_index.hpp"
#include "roost/storage/mailbox_name.hpp"
#include "uidlist.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace roost;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // Roost's own names, read back to find leftovers of dead writers.
  if (auto pid = storage::maildir::roost_writer(input, "host"); pid && *pid <= 0) std::abort();
  storage::maildir::FileName name = storage::maildir::parse(input);
  storage::maildir::FileName again = storage::maildir::parse(storage::maildir::with_flags(name));
  if (again.flags != name.flags || again.keywords != name.keywords || again.key != name.key) std::abort();

  storage::uidlist::Contents contents;
  storage::uidlist::parse(input, false, contents);
  if (contents.end > input.size()) std::abort();
  for (const auto& entry : contents.entries) {
    // An identity written as a G field, and a UIDL as a P field, read back as written.
    const std::string guid = storage::uidlist::guid_of(entry);
    if (guid.find(' ') != std::string::npos) std::abort();
    const std::string uidl = storage::uidlist::pop3_uidl_of(entry);
    if (uidl.size() > 70 || uidl.find(' ') != std::string::npos) std::abort();
    const auto again = storage::uidlist::entry_for(entry.uid, entry.key, guid, uidl);
    if (!guid.empty() && guid != entry.key && storage::uidlist::guid_of(again) != guid) std::abort();
    if (storage::uidlist::pop3_uidl_of(again) != uidl) std::abort();
  }

  if (auto utf8 = storage::decode_mutf7(input)) {
    if (storage::encode_mutf7(*utf8) != input) std::abort();
  }
  if (auto canonical = storage::canonical_name(input)) {
    std::string dir = storage::directory_name(*canonical);
    if (!dir.empty()) {
      auto back = storage::name_from_directory(dir);
      if (!back || *back != *canonical) std::abort();
    }
  }
  (void)storage::name_from_directory(input);

  if (storage::maildir::parse_keywords(input).size() > roost::index::kMaxKeywords) std::abort();
  if (auto usage = storage::quota::parse(input); usage && (usage->bytes < 0 || usage->messages < 0)) std::abort();
  if (auto limits = storage::quota::parse_limits(input)) {
    auto again = storage::quota::parse_limits(storage::quota::render_limits(*limits));
    if (!again || again->bytes != limits->bytes || again->messages != limits->messages) std::abort();
  }

  (void)index::decode_record(input);
  index::ThreadKeys keys;
  (void)index::decode_thread_keys(input, keys);
  (void)index::words(input);
  return 0;
}
