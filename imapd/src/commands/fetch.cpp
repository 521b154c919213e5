// FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5) with BINARY (RFC 3516), PREVIEW
// (RFC 8970), SAVEDATE (RFC 8514) and EMAILID/THREADID (RFC 8474). ENVELOPE, BODY, BODYSTRUCTURE and
// PREVIEW come from the cache written at delivery; BODY[section] reads the
// exact byte range the cache's part table names, never re-parsing the file.
#include <algorithm>

#include "../sections.hpp"
#include "../vanished.hpp"
#include "commands.hpp"
#include "roost/imapd/writer.hpp"
#include "roost/mime/decode.hpp"

namespace roost::imap::commands {
namespace {

using FK = FetchItem::Kind;
using index::PartInfo;
namespace part_kind = index::part_kind;

// A Content-Transfer-Encoding BINARY can undo (none given is 7bit).
bool known_encoding(std::string_view encoding) {
  return encoding.empty() || encoding == "7bit" || encoding == "8bit" || encoding == "binary" || encoding == "base64" ||
         encoding == "quoted-printable";
}

std::string section_label(const FetchItem& item) {
  std::string out = item.kind == FK::binary ? "BINARY[" : item.kind == FK::binary_size ? "BINARY.SIZE[" : "BODY[";
  for (std::size_t i = 0; i < item.section.part.size(); ++i) {
    if (i > 0) out += '.';
    out += std::to_string(item.section.part[i]);
  }
  const bool dot = !item.section.part.empty();
  switch (item.section.text) {
    case Section::Text::none: break;
    case Section::Text::header: out += dot ? ".HEADER" : "HEADER"; break;
    case Section::Text::text: out += dot ? ".TEXT" : "TEXT"; break;
    case Section::Text::mime: out += ".MIME"; break;
    case Section::Text::header_fields:
    case Section::Text::header_fields_not: {
      out += dot ? "." : "";
      out += item.section.text == Section::Text::header_fields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (";
      for (std::size_t i = 0; i < item.section.fields.size(); ++i) {
        if (i > 0) out += ' ';
        append_astring(out, item.section.fields[i]);
      }
      out += ')';
      break;
    }
  }
  out += ']';
  return out;
}

// What one message's response needs, gathered on the blocking pool.
struct Gathered {
  storage::MessageInfo info;
  std::string email_id, thread_id;  // when asked for (RFC 8474)
  std::optional<index::MessageCache> cache;
  std::string message;  // the stored bytes, when a section needs them
};

// What of the cache an item needs (index::cache_field bits).
unsigned cache_fields(const FetchItem& item) {
  namespace cf = index::cache_field;
  switch (item.kind) {
    case FK::envelope: return cf::envelope;
    case FK::body: return cf::body;
    case FK::bodystructure: return cf::body_structure;
    case FK::preview: return cf::preview;
    case FK::body_section: case FK::binary: case FK::binary_size: case FK::rfc822_header: case FK::rfc822_text:
      return cf::parts;
    default:
      return 0;
  }
}

bool needs_message(const FetchItem& item) {
  switch (item.kind) {
    case FK::rfc822: case FK::rfc822_header: case FK::rfc822_text: case FK::body_section: case FK::binary:
      return true;
    default:
      return false;
  }
}

bool sets_seen(const FetchItem& item) {
  return !item.peek && (item.kind == FK::body_section || item.kind == FK::binary || item.kind == FK::rfc822 ||
                        item.kind == FK::rfc822_text);
}

void append_partial(std::string& out, std::string_view data, const std::optional<Partial>& partial, bool binary) {
  if (partial) {
    std::uint64_t offset = std::min<std::uint64_t>(partial->offset, data.size());
    data = data.substr(offset, partial->length);
  }
  append_literal(out, data, binary);
}

// The text of a NO when an item of this message cannot be rendered: BINARY
// and BINARY.SIZE of a part in an encoding BINARY cannot undo (RFC 3516
// §4.3). Asked before anything of the message is rendered, as its response
// may go out in several pieces.
std::optional<std::string> refusal(const std::vector<FetchItem>& items, const Gathered& g) {
  if (!g.cache) return std::nullopt;  // no item here needs the part table
  for (const auto& item : items) {
    if ((item.kind != FK::binary && item.kind != FK::binary_size) || item.section.part.empty()) continue;
    if (auto found = find_part(g.cache->parts, item.section.part)) {
      const std::string& encoding = g.cache->parts[*found].encoding;
      if (!known_encoding(encoding)) return "[UNKNOWN-CTE] Cannot decode Content-Transfer-Encoding " + encoding;
    }
  }
  return std::nullopt;
}

// Appends message `seq`'s FETCH response to `out`, from item `next_item`
// on, until `out` holds `budget` bytes; then `next_item` is where to go on
// (items.size() when the response is complete). One response is thus sent
// in pieces, however many large items it asks for (each piece at most one
// item over the budget). `seen_now`: this FETCH set its \Seen.
void render(const ImapSession& s, const std::vector<FetchItem>& items, const Gathered& g, std::uint32_t seq,
            bool seen_now, std::string& out, std::size_t& next_item, std::size_t budget) {
  auto asked = [&](FK kind) {
    return std::any_of(items.begin(), items.end(), [kind](const FetchItem& i) { return i.kind == kind; });
  };
  const std::size_t start = next_item;
  if (start == 0) {
    out += "* ";
    out += std::to_string(seq);
    out += " FETCH (";
  }
  bool first = start == 0;
  auto item_name = [&](std::string_view name) {
    if (!first) out += ' ';
    first = false;
    out += name;
    out += ' ';
  };
  bool flags_sent = std::any_of(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(start),
                                [](const FetchItem& i) { return i.kind == FK::flags; });
  for (std::size_t index = start; index < items.size(); ++index) {
    if (index > start && out.size() >= budget) {
      next_item = index;
      return;
    }
    const FetchItem& item = items[index];
    switch (item.kind) {
      case FK::flags:
        if (flags_sent) break;
        item_name("FLAGS");
        out += ImapSession::flag_list(g.info.system_flags, g.info.keywords, g.info.recent && !s.rev2);
        flags_sent = true;
        break;
      case FK::uid: item_name("UID"); out += std::to_string(g.info.uid); break;
      case FK::modseq: item_name("MODSEQ"); out += '(' + std::to_string(g.info.modseq) + ')'; break;
      case FK::emailid: item_name("EMAILID"); out += '(' + g.email_id + ')'; break;
      case FK::threadid: item_name("THREADID"); out += '(' + g.thread_id + ')'; break;
      case FK::internaldate: item_name("INTERNALDATE"); out += date_time(g.info.internal_date); break;
      case FK::savedate:
        item_name("SAVEDATE");
        out += g.info.save_date > 0 ? date_time(g.info.save_date) : std::string("NIL");
        break;
      case FK::rfc822_size: item_name("RFC822.SIZE"); out += std::to_string(g.info.size); break;
      case FK::envelope: item_name("ENVELOPE"); out += g.cache->envelope; break;
      // IMAP4rev1 has its own form where a message/global part is
      // involved (docs/imap-renderings.md).
      case FK::body:
        item_name("BODY");
        out += !s.rev2 && !g.cache->body_rev1.empty() ? g.cache->body_rev1 : g.cache->body;
        break;
      case FK::bodystructure:
        item_name("BODYSTRUCTURE");
        out += !s.rev2 && !g.cache->body_structure_rev1.empty() ? g.cache->body_structure_rev1
                                                                : g.cache->body_structure;
        break;
      case FK::preview:
        item_name("PREVIEW");
        append_string(out, g.cache->preview, true);
        break;
      case FK::rfc822:
        item_name("RFC822");
        append_literal(out, to_crlf(g.message));
        break;
      case FK::rfc822_header: {
        item_name("RFC822.HEADER");
        const auto& p = g.cache->parts.front();
        append_literal(out, to_crlf(std::string_view(g.message).substr(p.header_begin, p.header_end - p.header_begin)));
        break;
      }
      case FK::rfc822_text: {
        item_name("RFC822.TEXT");
        const auto& p = g.cache->parts.front();
        append_literal(out, to_crlf(std::string_view(g.message).substr(p.body_begin, p.body_end - p.body_begin)));
        break;
      }
      case FK::body_section: {
        std::string label = section_label(item);
        if (item.partial) label += '<' + std::to_string(item.partial->offset) + '>';
        item_name(label);
        auto data = section_data(g.cache->parts, item.section, g.message);
        if (!data) out += "NIL";
        else append_partial(out, *data, item.partial, false);
        break;
      }
      case FK::binary_size: {
        item_name(section_label(item));
        if (item.section.part.empty()) {
          out += std::to_string(g.info.size);
        } else if (auto found = find_part(g.cache->parts, item.section.part)) {
          const PartInfo& p = g.cache->parts[*found];
          bool encoded = p.encoding == "base64" || p.encoding == "quoted-printable";
          // A binary part's content is its bytes as stored (see BINARY[]).
          out += std::to_string(encoded               ? p.decoded_size
                                : p.encoding == "binary" ? p.body_end - p.body_begin
                                                         : p.body_wire);
        } else {
          out += "0";
        }
        break;
      }
      case FK::binary: {
        // RFC 3516: the part's content decoded from its transfer encoding.
        std::optional<std::string> raw;
        std::string encoding;
        if (item.section.part.empty()) {
          raw = to_crlf(g.message);
        } else if (auto found = find_part(g.cache->parts, item.section.part)) {
          const PartInfo& p = g.cache->parts[*found];
          encoding = p.encoding;
          const std::string_view body = std::string_view(g.message).substr(p.body_begin, p.body_end - p.body_begin);
          // Content-Transfer-Encoding: binary means the bytes are the content:
          // a bare LF in them is data, given back as appended (RFC 3516 §4.2).
          raw = encoding == "binary" ? std::string(body) : to_crlf(body);
        }
        std::string label = section_label(item);
        if (item.partial) label += '<' + std::to_string(item.partial->offset) + '>';
        item_name(label);
        if (!raw) {
          out += "NIL";
          break;
        }
        std::string decoded = encoding == "base64"             ? mime::decode_base64_lenient(*raw)
                              : encoding == "quoted-printable" ? mime::decode_quoted_printable(*raw)
                                                               : std::move(*raw);
        append_partial(out, decoded, item.partial, true);
        break;
      }
    }
  }
  if (!flags_sent && seen_now) {
    item_name("FLAGS");
    out += ImapSession::flag_list(g.info.system_flags, g.info.keywords, g.info.recent && !s.rev2);
    // The implicit \Seen gave the message a new MODSEQ (RFC 7162 §3.1),
    // and with QRESYNC such a response names its UID (§3.2.4).
    if (s.condstore && !asked(FK::modseq)) out += s.modseq_item(g.info);
    if (s.qresync && !asked(FK::uid)) out += " UID " + std::to_string(g.info.uid);
  }
  out += ")\r\n";
  next_item = items.size();
}

}  // namespace

asio::awaitable<Reply> fetch(ImapSession& s, const Request& r) {
  const auto& f = std::get<Fetch>(r.command);
  // RFC 7162 §3.2.6: VANISHED is for UID FETCH after ENABLE QRESYNC.
  if (f.vanished && (!r.uid || !s.qresync))
    co_return bad(r.uid ? "[CLIENTBUG] VANISHED needs ENABLE QRESYNC first" : "[CLIENTBUG] VANISHED is for UID FETCH");
  auto uids = s.resolve(f.set, r.uid);
  if (!uids) co_return bad("[CLIENTBUG] Invalid message sequence number");
  if (f.partial) {
    // RFC 9394 §3.3: only these positions among the messages the set names
    // (before CHANGEDSINCE narrows them, §3.4).
    const auto [begin, end] = partial_slice(*f.partial, uids->size());
    *uids = std::vector<storage::Uid>(uids->begin() + static_cast<std::ptrdiff_t>(begin),
                                      uids->begin() + static_cast<std::ptrdiff_t>(end));
  }
  std::vector<FetchItem> items = f.items;
  auto has = [&](FK kind) {
    return std::any_of(items.begin(), items.end(), [kind](const FetchItem& i) { return i.kind == kind; });
  };
  // UID FETCH always returns UID (RFC 9051 §6.4.9).
  if (r.uid && !has(FK::uid)) items.insert(items.begin(), FetchItem{.kind = FK::uid});
  // CHANGEDSINCE implies MODSEQ (RFC 7162 §3.1.4.1); both enable CONDSTORE.
  if (f.changed_since && !has(FK::modseq)) items.push_back(FetchItem{.kind = FK::modseq});
  if (has(FK::modseq)) co_await s.enable_condstore();
  if (f.vanished) {
    // Expunges after CHANGEDSINCE among the UIDs named, before the FETCH
    // responses (RFC 7162 §3.2.6).
    storage::Result<storage::FolderView::ChangesSince> changes;
    auto work = [&]() { changes = s.view->changes_since(*f.changed_since); };
    co_await s.blocking(work);
    if (!changes) co_return storage_error(s, changes.error());
    const auto& present = s.view->uids();
    const UidRanges named = uid_ranges(f.set, present.empty() ? 0 : present.back());
    const std::string gone = vanished_since(*changes, named, 0, s.view->uidnext(), present);
    if (!gone.empty()) {
      const std::string line = "* VANISHED (EARLIER) " + gone + "\r\n";
      co_await s.send(line);
    }
  }
  unsigned cache_needed = 0;
  for (const auto& item : items) cache_needed |= cache_fields(item);
  const bool message_needed = std::any_of(items.begin(), items.end(), needs_message);
  const bool seen_needed = !s.view->read_only() && std::any_of(items.begin(), items.end(), sets_seen);
  const bool ids_needed = has(FK::emailid) || has(FK::threadid);
  // Index-only items are read in bigger chunks. Responses are rendered on
  // the blocking pool, up to kHopBytes per trip there and back: a trip
  // costs two thread wake-ups, more than rendering a thousand lines.
  const std::size_t chunk_messages = message_needed ? 256 : 1024;
  constexpr std::size_t kHopBytes = 1u << 20;

  bool missing = false;
  std::size_t next = 0;
  // Sequence numbers by walking the view's UIDs forward, as ours ascend:
  // in a dense range the next message is the next entry.
  const auto held = s.view->uid_list();
  const std::vector<storage::Uid>& present = *held;
  std::size_t at = 0;
  auto sequence_of = [&](storage::Uid uid) -> std::optional<std::uint32_t> {
    if (at >= present.size() || present[at] != uid) {
      if (at + 1 < present.size() && present[at + 1] == uid) ++at;
      else at = static_cast<std::size_t>(std::lower_bound(present.begin(), present.end(), uid) - present.begin());
    }
    if (at >= present.size() || present[at] != uid) return std::nullopt;
    return static_cast<std::uint32_t>(at + 1);
  };
  // \Seen newly set by this FETCH, ascending: a chunk is stored at once but
  // may be rendered over several trips.
  std::vector<storage::Uid> seen_set;
  // A message whose response did not fit in one trip, and where it stopped.
  struct Unfinished {
    Gathered g;
    std::uint32_t seq = 0;
    bool seen = false;
    std::size_t next_item = 0;
  };
  std::optional<Unfinished> unfinished;
  while ((next < uids->size() || unfinished) && !s.lost) {
    std::string out;
    const std::size_t seen_before = seen_set.size();
    storage::Error failure;
    bool failed = false;
    std::optional<std::string> refused;  // a NO for an item that cannot be rendered
    auto work = [&]() {
      out.reserve(kHopBytes + kHopBytes / 4);
      if (unfinished) {
        render(s, items, unfinished->g, unfinished->seq, unfinished->seen, out, unfinished->next_item, kHopBytes);
        if (unfinished->next_item < items.size()) return;
        unfinished.reset();
      }
      while (next < uids->size() && out.size() < kHopBytes) {
        std::size_t end = std::min(uids->size(), next + chunk_messages);
        std::vector<storage::Uid> chunk(uids->begin() + static_cast<std::ptrdiff_t>(next),
                                        uids->begin() + static_cast<std::ptrdiff_t>(end));
        std::vector<storage::Uid> unchanged;  // left out by CHANGEDSINCE: not missing
        if (f.changed_since) {
          auto before = s.view->messages(chunk);
          if (!before) {
            failure = before.error();
            failed = true;
            return;
          }
          chunk.clear();
          for (const auto& info : *before)
            (info.modseq > *f.changed_since ? chunk : unchanged).push_back(info.uid);
        }
        if (seen_needed) {
          storage::Flags seen;
          seen.system = index::flag::seen;
          auto stored = s.view->store(chunk, storage::StoreMode::add, seen);
          if (!stored) {
            failure = stored.error();
            failed = true;
            return;
          }
          std::sort(stored->changed.begin(), stored->changed.end());
          seen_set.insert(seen_set.end(), stored->changed.begin(), stored->changed.end());
        }
        auto infos = s.view->messages(chunk);
        if (!infos) {
          failure = infos.error();
          failed = true;
          return;
        }
        std::vector<storage::FolderView::ObjectIds> ids;
        if (ids_needed) {
          auto found = s.view->object_ids(chunk);
          if (!found) {
            failure = found.error();
            failed = true;
            return;
          }
          ids = std::move(*found);
        }
        std::vector<std::pair<storage::Uid, index::MessageCache>> caches;
        if (cache_needed != 0) {
          auto found = s.view->caches(chunk, cache_needed);
          if (!found) {
            failure = found.error();
            failed = true;
            return;
          }
          caches = std::move(*found);
        }
        std::size_t rendered = 0;
        storage::Uid last_rendered = 0;
        auto id = ids.begin();
        auto cache = caches.begin();
        for (auto& info : *infos) {
          Gathered g;
          g.info = std::move(info);
          if (ids_needed) {
            while (id != ids.end() && id->uid < g.info.uid) ++id;
            if (id == ids.end() || id->uid != g.info.uid) continue;  // expunged meanwhile
            g.email_id = std::move(id->email_id);
            g.thread_id = std::move(id->thread_id);
          }
          if (cache_needed != 0) {
            while (cache != caches.end() && cache->first < g.info.uid) ++cache;
            if (cache == caches.end() || cache->first != g.info.uid) continue;  // expunged meanwhile
            g.cache = std::move(cache->second);
          }
          if (message_needed) {
            auto data = s.view->read(g.info.uid);
            if (!data) {
              if (data.error().kind == storage::ErrorKind::expunged) continue;
              failure = data.error();
              failed = true;
              return;
            }
            g.message = std::move(*data);
          }
          auto seq = sequence_of(g.info.uid);
          if (!seq) continue;
          const bool seen = std::binary_search(seen_set.begin(), seen_set.end(), g.info.uid);
          if (auto no_text = refusal(items, g)) {
            refused = std::move(no_text);
            return;
          }
          std::size_t next_item = 0;
          render(s, items, g, *seq, seen, out, next_item, kHopBytes);
          ++rendered;
          last_rendered = g.info.uid;
          if (next_item < items.size()) unfinished = Unfinished{std::move(g), *seq, seen, next_item};
          if (out.size() >= kHopBytes) break;
        }
        // The rest of the chunk waits for the next trip when this one is
        // full; what is neither rendered nor waiting was expunged meanwhile.
        std::size_t consumed = end;
        if (out.size() >= kHopBytes && rendered > 0) {
          auto last = std::lower_bound(uids->begin(), uids->end(), last_rendered);
          consumed = static_cast<std::size_t>(last - uids->begin()) + 1;
        }
        const auto unchanged_consumed =
            std::upper_bound(unchanged.begin(), unchanged.end(), (*uids)[consumed - 1]) - unchanged.begin();
        if (consumed - next != rendered + static_cast<std::size_t>(unchanged_consumed)) missing = true;
        next = consumed;
      }
    };
    co_await s.blocking(work);
    if (failed) co_return storage_error(s, failure);
    // The implicit \Seen is reported in these responses (RFC 9051 §6.4.5).
    s.flags_reported.insert(s.flags_reported.end(), seen_set.begin() + static_cast<std::ptrdiff_t>(seen_before),
                            seen_set.end());
    if (!out.empty()) co_await s.send(out);
    if (s.lost) co_return Reply{.sent = true};
    if (refused) co_return no(*refused);
  }
  // A UID FETCH names UIDs, not positions: those expunged meanwhile are
  // simply not there, and the command succeeds for the rest (RFC 9051
  // §6.4.9). By sequence number, a message gone under the client's feet is
  // worth telling.
  if (missing && !r.uid) co_return no("[EXPUNGEISSUED] Some of the requested messages no longer exist");
  co_return ok(r.uid ? "UID FETCH completed" : "FETCH completed");
}

}  // namespace roost::imap::commands
