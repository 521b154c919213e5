// Everything the index keeps about a message, computed from its bytes once,
// when it arrives.
#include <algorithm>
#include <unordered_set>

#include "roost/core/ascii.hpp"
#include "roost/index/folder_index.hpp"
#include "roost/mime/imap.hpp"
#include "roost/mime/search_text.hpp"
#include "roost/mime/sort_keys.hpp"

namespace roost::index {

namespace {

// Header blocks up to this size are cached whole, so FETCH of header fields
// (what a webmail list view asks for) reads no file.
constexpr std::size_t kCachedHeaderMax = 16 * 1024;

void add_parts(const mime::Message& message, const mime::Part& part, std::vector<PartInfo>& out) {
  PartInfo info;
  info.header_begin = part.header.begin;
  info.header_end = part.header.end;
  info.header_wire = part.header.wire_size;
  info.body_begin = part.body.begin;
  info.body_end = part.body.end;
  info.body_wire = part.body.wire_size;
  info.encoding = ascii_lowercase(part.encoding);
  if (part.is_multipart()) info.kind |= part_kind::multipart;
  if (part.is_message() && !part.children.empty()) info.kind |= part_kind::message;
  if (part.content_type.is("text")) info.kind |= part_kind::text;
  if (!part.is_multipart()) info.decoded_size = mime::decoded_size(message, part);
  info.children = static_cast<std::uint32_t>(part.children.size());
  out.push_back(std::move(info));
  for (const auto& child : part.children) add_parts(message, child, out);
}

std::string field(const mime::Message& message, std::string_view name) {
  const mime::HeaderField* f = message.header.find(name);
  return f == nullptr ? std::string() : std::string(f->raw_value);
}

// In no particular order (the merge into the full-text index sorts). A hash
// set rather than sorting every occurrence: most words of a text repeat.
std::vector<std::string> distinct_words(std::string_view casemapped) {
  std::vector<std::string_view> all = words(casemapped);
  std::unordered_set<std::string_view> seen;
  seen.reserve(all.size());
  std::vector<std::string> out;
  for (std::string_view word : all)
    if (seen.insert(word).second) out.emplace_back(word);
  return out;
}

}  // namespace

std::uint64_t vsize_of(std::string_view data) { return mime::wire_size(data); }

MessageAnalysis analyze(std::string_view data, std::int64_t internal_date) {
  MessageAnalysis out;
  mime::Message message = mime::parse(data);
  out.vsize = message.wire_size;

  MessageCache& cache = out.cache;
  cache.envelope = mime::envelope(message);
  cache.body = mime::body_structure(message, false, mime::Grammar::imap4rev2);
  cache.body_structure = mime::body_structure(message, true, mime::Grammar::imap4rev2);
  if (mime::renders_differ_by_revision(message)) {
    cache.body_rev1 = mime::body_structure(message, false, mime::Grammar::imap4rev1);
    cache.body_structure_rev1 = mime::body_structure(message, true, mime::Grammar::imap4rev1);
  }
  cache.preview = mime::preview(message);
  const mime::Span& header = message.root.header;
  cache.header_complete = header.size() <= kCachedHeaderMax;
  if (cache.header_complete) cache.header = std::string(data.substr(header.begin, header.size()));
  add_parts(message, message.root, cache.parts);

  mime::SearchText text = mime::search_text(message);
  cache.search_headers = mime::casemap(text.headers);
  out.header_terms = distinct_words(cache.search_headers);
  out.body_terms = distinct_words(mime::casemap(text.body));

  MessageKeys& keys = out.keys;
  auto date = mime::parse_date_time(field(message, "Date"));
  keys.sent_date = date ? date->utc : internal_date;
  keys.sent_day = date ? date->written_day
                       : (internal_date >= 0 ? internal_date / 86400 : -((-internal_date + 86399) / 86400));
  std::string from = field(message, "From"), to = field(message, "To");
  keys.from = mime::casemap(mime::first_mailbox(from));
  keys.to = mime::casemap(mime::first_mailbox(to));
  keys.cc = mime::casemap(mime::first_mailbox(field(message, "Cc")));
  keys.display_from = mime::casemap(mime::first_display(from));
  keys.display_to = mime::casemap(mime::first_display(to));
  mime::BaseSubject subject = mime::base_subject(field(message, "Subject"));
  keys.subject = mime::casemap(subject.text);
  keys.subject_reply = subject.reply_or_forward;
  auto ids = mime::message_ids(field(message, "Message-ID"));
  if (!ids.empty()) keys.message_id = ids.front();
  keys.references = mime::message_ids(field(message, "References"));
  if (keys.references.empty()) {
    auto reply_to = mime::message_ids(field(message, "In-Reply-To"));
    if (!reply_to.empty()) keys.references.push_back(reply_to.front());
  }
  return out;
}

}  // namespace roost::index
