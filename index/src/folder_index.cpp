#include "roost/index/folder_index.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "codec.hpp"

namespace roost::index {

namespace {

constexpr std::string_view kStateKey = "state";
// A different format reads as corrupt and is rebuilt. 3: BODYSTRUCTURE
// parameters with RFC 2231 continuations joined. 4: IMAP4rev1 BODY and
// BODYSTRUCTURE kept where they differ.
constexpr std::uint32_t kFormat = 6;
// Longest word kept whole in the full-text index; longer words are stored as
// overlapping chunks so that any piece of up to kTermStep bytes lies inside one.
constexpr std::size_t kTermMax = 200;
constexpr std::size_t kTermStep = 100;
// Sort keys longer than this are cut: messages equal in their first
// kSortKeyMax bytes sort by UID among themselves.
constexpr std::size_t kSortKeyMax = 400;

std::string uid_key(Uid uid) {
  std::string key;
  append_be32(key, uid);
  return key;
}

std::string modseq_key(Modseq modseq) {
  std::string key;
  append_be64(key, modseq);
  return key;
}

std::uint64_t biased(std::int64_t value) {
  return static_cast<std::uint64_t>(value) ^ (std::uint64_t{1} << 63);
}

std::string encode_meta(const FolderMeta& m) {
  codec::Writer w;
  w.u(kFormat);
  w.u(m.uidvalidity);
  w.u(m.uidnext);
  w.u(m.highest_modseq);
  w.u(m.messages);
  w.u(m.unseen);
  w.u(m.deleted);
  w.u(m.size);
  w.u(m.first_recent);
  w.u(m.keywords.size());
  for (const auto& k : m.keywords) w.str(k);
  w.u(m.uidlist_inode);
  w.u(m.uidlist_offset);
  w.s(m.new_mtime_ns);
  w.s(m.cur_mtime_ns);
  w.u(m.modseq_reserved);
  w.u(m.recent);
  w.u(m.expunges_since);
  return w.take();
}

std::optional<FolderMeta> decode_meta(std::string_view bytes) {
  codec::Reader r(bytes);
  FolderMeta m;
  if (r.u() != kFormat) return std::nullopt;
  m.uidvalidity = static_cast<std::uint32_t>(r.u());
  m.uidnext = static_cast<Uid>(r.u());
  m.highest_modseq = r.u();
  m.messages = static_cast<std::uint32_t>(r.u());
  m.unseen = static_cast<std::uint32_t>(r.u());
  m.deleted = static_cast<std::uint32_t>(r.u());
  m.size = r.u();
  m.first_recent = static_cast<Uid>(r.u());
  std::uint64_t count = r.u();
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) m.keywords.emplace_back(r.str());
  m.uidlist_inode = r.u();
  m.uidlist_offset = r.u();
  m.new_mtime_ns = r.s();
  m.cur_mtime_ns = r.s();
  m.modseq_reserved = r.u();
  m.recent = static_cast<std::uint32_t>(r.u());
  m.expunges_since = r.u();
  if (!r.ok()) return std::nullopt;
  return m;
}

std::string encode_cache(const MessageCache& c) {
  codec::Writer w;
  w.str(c.envelope);
  w.str(c.body);
  w.str(c.body_structure);
  w.str(c.body_rev1);
  w.str(c.body_structure_rev1);
  w.str(c.preview);
  w.str(c.header);
  w.u(c.header_complete ? 1 : 0);
  w.str(c.search_headers);
  w.u(c.parts.size());
  for (const auto& p : c.parts) {
    w.u(p.header_begin);
    w.u(p.header_end - p.header_begin);
    w.u(p.header_wire);
    w.u(p.body_begin - p.header_end);
    w.u(p.body_end - p.body_begin);
    w.u(p.body_wire);
    w.u(p.decoded_size);
    w.u(p.children);
    w.u(p.kind);
    w.str(p.encoding);
  }
  return w.take();
}

std::optional<MessageCache> decode_cache(std::string_view bytes, unsigned fields) {
  codec::Reader r(bytes);
  MessageCache c;
  auto take = [&](std::string& out, unsigned field) {
    auto value = r.str();
    if (fields & field) out = value;
  };
  // The fields are stored in the order of their bits: reading stops after
  // the last one asked for, so FETCH ENVELOPE touches only the value's start.
  auto done = [&](unsigned field) { return (fields & ~(field * 2 - 1)) == 0; };
  auto result = [&]() -> std::optional<MessageCache> {
    if (!r.ok()) return std::nullopt;
    return std::move(c);
  };
  take(c.envelope, cache_field::envelope);
  if (done(cache_field::envelope)) return result();
  take(c.body, cache_field::body);
  take(c.body_structure, cache_field::body_structure);
  take(c.body_rev1, cache_field::body);
  take(c.body_structure_rev1, cache_field::body_structure);
  if (done(cache_field::body_structure)) return result();
  take(c.preview, cache_field::preview);
  if (done(cache_field::preview)) return result();
  take(c.header, cache_field::header);
  c.header_complete = r.u() != 0 && (fields & cache_field::header) != 0;
  if (done(cache_field::header)) return result();
  take(c.search_headers, cache_field::search_headers);
  if (done(cache_field::search_headers)) return result();
  std::uint64_t count = r.u();
  if (!r.ok() || count > bytes.size()) return std::nullopt;
  c.parts.reserve(count);
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    PartInfo p;
    p.header_begin = r.u();
    p.header_end = p.header_begin + r.u();
    p.header_wire = r.u();
    p.body_begin = p.header_end + r.u();
    p.body_end = p.body_begin + r.u();
    p.body_wire = r.u();
    p.decoded_size = r.u();
    p.children = static_cast<std::uint32_t>(r.u());
    p.kind = static_cast<std::uint8_t>(r.u());
    p.encoding = r.str();
    c.parts.push_back(std::move(p));
  }
  if (!r.ok()) return std::nullopt;
  return c;
}

std::string encode_keys(const MessageKeys& k) {
  codec::Writer w;
  w.s(k.sent_date);
  w.str(k.from);
  w.str(k.to);
  w.str(k.cc);
  w.str(k.display_from);
  w.str(k.display_to);
  w.str(k.subject);
  w.u(k.subject_reply ? 1 : 0);
  w.str(k.message_id);
  w.u(k.references.size());
  for (const auto& r : k.references) w.str(r);
  w.s(k.sent_day);
  return w.take();
}

std::optional<MessageKeys> decode_keys(std::string_view bytes) {
  codec::Reader r(bytes);
  MessageKeys k;
  k.sent_date = r.s();
  k.from = r.str();
  k.to = r.str();
  k.cc = r.str();
  k.display_from = r.str();
  k.display_to = r.str();
  k.subject = r.str();
  k.subject_reply = r.u() != 0;
  k.message_id = r.str();
  std::uint64_t count = r.u();
  if (!r.ok() || count > bytes.size()) return std::nullopt;
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) k.references.emplace_back(r.str());
  k.sent_day = r.s();
  if (!r.ok()) return std::nullopt;
  return k;
}

constexpr SortKind kSortKinds[] = {SortKind::arrival, SortKind::date,    SortKind::from,
                                   SortKind::to,      SortKind::cc,      SortKind::subject,
                                   SortKind::size,    SortKind::display_from, SortKind::display_to,
                                   SortKind::sent_day};

std::string sort_entry(SortKind kind, const MessageRecord& record, const MessageKeys& keys) {
  std::string entry(1, static_cast<char>(kind));
  entry += sort_key(kind, record, keys);
  append_be32(entry, record.uid);
  return entry;
}

// The index keys of a word: itself, or overlapping chunks of a long one.
template <class F>
void term_keys(char field, std::string_view word, F&& emit) {
  std::string key(1, field);
  if (word.size() <= kTermMax) {
    key += word;
    emit(key);
    return;
  }
  for (std::size_t at = 0; at < word.size(); at += kTermStep) {
    key.resize(1);
    key += word.substr(at, kTermMax);
    emit(key);
    if (at + kTermMax >= word.size()) break;
  }
}

void count_in(FolderMeta& meta, const MessageRecord& r, int sign) {
  auto add = [sign](auto& counter, std::uint64_t amount) {
    counter = static_cast<std::remove_reference_t<decltype(counter)>>(sign > 0 ? counter + amount : counter - amount);
  };
  add(meta.messages, 1);
  add(meta.size, r.vsize);
  if ((r.flags & flag::seen) == 0) add(meta.unseen, 1);
  if ((r.flags & flag::deleted) != 0) add(meta.deleted, 1);
}

std::vector<unsigned> flag_ids(const MessageRecord& r) {
  std::vector<unsigned> ids;
  for (unsigned i = 0; i < flag::system_count; ++i)
    if ((r.flags & (1u << i)) != 0) ids.push_back(i);
  for (unsigned i = 0; i < 64; ++i)
    if ((r.keywords & (std::uint64_t{1} << i)) != 0) ids.push_back(32 + i);
  return ids;
}

template <class T>
std::expected<T, LmdbError> fail(const LmdbError& e) {
  return std::unexpected(e);
}

// Decodes into `m`, reusing its strings' storage (a scan of 100,000 records
// then allocates nothing per record).
bool decode_record_into(std::string_view bytes, MessageRecord& m) {
  codec::Reader r(bytes);
  m.flags = static_cast<std::uint32_t>(r.u());
  m.keywords = r.u();
  m.internal_date = r.s();
  m.save_date = r.s();
  m.size = r.u();
  m.vsize = r.u();
  m.modseq = r.u();
  m.in_new = r.u() != 0;
  m.file_name.assign(r.str());
  std::uint64_t key_size = r.u();
  if (key_size > 0 && key_size <= m.file_name.size()) {
    m.file_key.assign(m.file_name, 0, key_size);
  } else {
    m.file_key.assign(r.str());
  }
  // Optional trailing fields: older records, and most records, end early.
  if (r.at_end()) m.guid.clear();
  else m.guid.assign(r.str());
  if (r.at_end()) m.pop3_uidl.clear();
  else m.pop3_uidl.assign(r.str());
  return r.ok();
}

}  // namespace

EnvOptions folder_env_options() {
  EnvOptions options;
  options.dbs = {
      {"meta", 0},
      {"msgs", 0},
      {"names", 0},
      {"cache", 0},
      {"keys", 0},
      {"sort", 0},
      {"terms", MDB_DUPSORT | MDB_DUPFIXED},
      {"flags", MDB_DUPSORT | MDB_DUPFIXED},
      {"modseq", MDB_DUPSORT | MDB_DUPFIXED},
      {"expunged", MDB_DUPSORT | MDB_DUPFIXED},
      {"pending", 0},
  };
  return options;
}

std::string flag_key(unsigned flag_id) { return uid_key(flag_id); }

std::string sort_key(SortKind kind, const MessageRecord& record, const MessageKeys& keys) {
  std::string key;
  auto text = [&key](const std::string& value) { key = value.substr(0, kSortKeyMax); };
  switch (kind) {
    case SortKind::arrival: append_be64(key, biased(record.internal_date)); break;
    case SortKind::date: append_be64(key, biased(keys.sent_date)); break;
    case SortKind::size: append_be64(key, record.vsize); break;
    case SortKind::from: text(keys.from); break;
    case SortKind::to: text(keys.to); break;
    case SortKind::cc: text(keys.cc); break;
    case SortKind::subject: text(keys.subject); break;
    case SortKind::display_from: text(keys.display_from); break;
    case SortKind::display_to: text(keys.display_to); break;
    case SortKind::sent_day: append_be64(key, biased(keys.sent_day)); break;
  }
  return key;
}

std::vector<std::string_view> words(std::string_view text) {
  // Letters, digits and every byte of a multi-byte character.
  static constexpr auto kWordByte = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 256; ++c)
      table[c] = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return table;
  }();
  auto in_word = [&](std::size_t i) { return kWordByte[static_cast<unsigned char>(text[i])]; };
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !in_word(i)) ++i;
    std::size_t start = i;
    while (i < text.size() && in_word(i)) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::string encode(const MessageRecord& r) {
  codec::Writer w;
  w.u(r.flags);
  w.u(r.keywords);
  w.s(r.internal_date);
  w.s(r.save_date);
  w.u(r.size);
  w.u(r.vsize);
  w.u(r.modseq);
  w.u(r.in_new ? 1 : 0);
  w.str(r.file_name);
  // The key is usually the name's prefix; store only what differs.
  if (r.file_name.starts_with(r.file_key)) {
    w.u(r.file_key.size());
  } else {
    w.u(0);
    w.str(r.file_key);
  }
  if (!r.guid.empty() || !r.pop3_uidl.empty()) w.str(r.guid);
  if (!r.pop3_uidl.empty()) w.str(r.pop3_uidl);
  return w.take();
}

std::optional<MessageRecord> decode_record(std::string_view bytes) {
  MessageRecord m;
  if (!decode_record_into(bytes, m)) return std::nullopt;
  return m;
}

std::expected<FolderMeta, LmdbError> read_meta(const Txn& txn) {
  auto value = txn.get(txn.env().dbi(Db::meta), kStateKey);
  if (!value) {
    if (value.error().code == MDB_NOTFOUND) return FolderMeta{};
    return fail<FolderMeta>(value.error());
  }
  auto meta = decode_meta(*value);
  if (!meta) return std::unexpected(LmdbError{MDB_CORRUPTED, "folder state unreadable in " + txn.env().dir().string()});
  return *meta;
}

std::expected<void, LmdbError> write_meta(Txn& txn, const FolderMeta& meta) {
  return txn.put(txn.env().dbi(Db::meta), kStateKey, encode_meta(meta));
}

namespace {

// A value looked up and decoded: absent is not an error, garbled is.
template <class T, class Decode>
std::expected<std::optional<T>, LmdbError> find_decoded(const Txn& txn, Db db, std::string_view key, Decode decode,
                                                        const char* what) {
  auto value = txn.get(txn.env().dbi(db), key);
  if (!value) {
    if (value.error().code == MDB_NOTFOUND) return std::nullopt;
    return std::unexpected(value.error());
  }
  std::optional<T> decoded = decode(*value);
  if (!decoded) return std::unexpected(LmdbError{MDB_CORRUPTED, std::string(what) + " unreadable"});
  return decoded;
}

}  // namespace

std::expected<std::optional<MessageRecord>, LmdbError> find_record(const Txn& txn, Uid uid) {
  auto record = find_decoded<MessageRecord>(txn, Db::msgs, uid_key(uid), decode_record, "message record");
  if (record && *record) (*record)->uid = uid;
  return record;
}

std::expected<std::optional<Uid>, LmdbError> find_uid(const Txn& txn, std::string_view file_key) {
  if (file_key.empty() || file_key.size() > 511) return std::nullopt;
  return find_decoded<Uid>(
      txn, Db::names, file_key, [](std::string_view v) { return std::optional<Uid>(read_be32(v)); }, "name");
}

std::expected<std::optional<MessageCache>, LmdbError> find_cache(const Txn& txn, Uid uid, unsigned fields) {
  return find_decoded<MessageCache>(
      txn, Db::cache, uid_key(uid), [fields](std::string_view bytes) { return decode_cache(bytes, fields); },
      "message cache");
}

std::expected<std::optional<MessageKeys>, LmdbError> find_keys(const Txn& txn, Uid uid) {
  return find_decoded<MessageKeys>(txn, Db::keys, uid_key(uid), decode_keys, "message keys");
}

bool decode_thread_keys(std::string_view value, ThreadKeys& out) {
  codec::Reader r(value);
  out.sent_date = r.s();
  for (int skip = 0; skip < 5; ++skip) r.str();  // from, to, cc, display_from, display_to
  out.subject = r.str();
  out.subject_reply = r.u() != 0;
  out.message_id = r.str();
  std::uint64_t count = r.u();
  out.references.clear();
  if (!r.ok() || count > value.size()) return false;
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) out.references.push_back(r.str());
  return r.ok();
}

std::expected<void, LmdbError> for_each_record(const Txn& txn, Uid from,
                                               const std::function<bool(const MessageRecord&)>& visit) {
  Cursor cursor(txn, txn.env().dbi(Db::msgs));
  std::string_view key, value;
  bool more = cursor.get(MDB_SET_RANGE, &key, &value, uid_key(from));
  MessageRecord record;
  while (more) {
    if (!decode_record_into(value, record))
      return std::unexpected(LmdbError{MDB_CORRUPTED, "message record unreadable"});
    record.uid = read_be32(key);
    if (!visit(record)) break;
    more = cursor.get(MDB_NEXT, &key, &value);
  }
  return {};
}

std::expected<void, LmdbError> insert(Txn& txn, FolderMeta& meta, const MessageRecord& record,
                                      const MessageAnalysis& analysis) {
  const Env& env = txn.env();
  const std::string uid = uid_key(record.uid);
  auto check = [](std::expected<void, LmdbError> r) { return r; };
  if (auto r = check(txn.put(env.dbi(Db::msgs), uid, encode(record))); !r) return r;
  if (!record.file_key.empty() && record.file_key.size() <= 511)
    if (auto r = txn.put(env.dbi(Db::names), record.file_key, uid); !r) return r;
  if (auto r = txn.put(env.dbi(Db::cache), uid, encode_cache(analysis.cache)); !r) return r;
  if (auto r = txn.put(env.dbi(Db::keys), uid, encode_keys(analysis.keys)); !r) return r;
  // The words wait in one value, and the sort entries in the keys just
  // written, until a merge moves many messages' at once: a page per word
  // and per sort order on every delivery would dominate the commit.
  codec::Writer words_value;
  words_value.u(analysis.body_terms.size() + analysis.header_terms.size());
  for (const auto& word : analysis.body_terms) words_value.str(std::string(1, term_field::body) + word);
  for (const auto& word : analysis.header_terms) words_value.str(std::string(1, term_field::header) + word);
  if (auto r = txn.put(env.dbi(Db::pending), uid, words_value.take()); !r) return r;
  for (unsigned id : flag_ids(record))
    if (auto r = txn.put(env.dbi(Db::flags), flag_key(id), uid, MDB_NODUPDATA); !r) return r;
  if (auto r = txn.put(env.dbi(Db::modseq), modseq_key(record.modseq), uid, MDB_NODUPDATA); !r) return r;
  count_in(meta, record, +1);
  if (record.uid >= meta.first_recent) ++meta.recent;
  meta.highest_modseq = std::max(meta.highest_modseq, record.modseq);
  meta.uidnext = std::max(meta.uidnext, record.uid + 1);
  return {};
}

std::expected<void, LmdbError> update(Txn& txn, FolderMeta& meta, const MessageRecord& before,
                                      const MessageRecord& after) {
  const Env& env = txn.env();
  const std::string uid = uid_key(after.uid);
  if (auto r = txn.put(env.dbi(Db::msgs), uid, encode(after)); !r) return r;
  std::vector<unsigned> old_ids = flag_ids(before), new_ids = flag_ids(after);
  for (unsigned id : old_ids)
    if (std::find(new_ids.begin(), new_ids.end(), id) == new_ids.end())
      if (auto r = txn.del(env.dbi(Db::flags), flag_key(id), uid); !r) return r;
  for (unsigned id : new_ids)
    if (std::find(old_ids.begin(), old_ids.end(), id) == old_ids.end())
      if (auto r = txn.put(env.dbi(Db::flags), flag_key(id), uid, MDB_NODUPDATA); !r) return r;
  if (before.modseq != after.modseq) {
    if (auto r = txn.del(env.dbi(Db::modseq), modseq_key(before.modseq), uid); !r) return r;
    if (auto r = txn.put(env.dbi(Db::modseq), modseq_key(after.modseq), uid, MDB_NODUPDATA); !r) return r;
  }
  count_in(meta, before, -1);
  count_in(meta, after, +1);
  meta.highest_modseq = std::max(meta.highest_modseq, after.modseq);
  return {};
}

std::expected<void, LmdbError> remove(Txn& txn, FolderMeta& meta, const MessageRecord& record,
                                      Modseq modseq) {
  const Env& env = txn.env();
  const std::string uid = uid_key(record.uid);
  auto keys = find_keys(txn, record.uid);
  if (!keys) return std::unexpected(keys.error());
  if (*keys) {
    for (SortKind kind : kSortKinds)
      if (auto r = txn.del(env.dbi(Db::sort), sort_entry(kind, record, **keys)); !r) return r;
  }
  // Full-text postings of expunged UIDs stay until the next rebuild: UIDs are
  // never reused, and every candidate is checked against msgs.
  for (auto db : {Db::msgs, Db::cache, Db::keys, Db::pending})
    if (auto r = txn.del(env.dbi(db), uid); !r) return r;
  if (auto existing = find_uid(txn, record.file_key); existing && *existing && **existing == record.uid)
    if (auto r = txn.del(env.dbi(Db::names), record.file_key); !r) return r;
  for (unsigned id : flag_ids(record))
    if (auto r = txn.del(env.dbi(Db::flags), flag_key(id), uid); !r) return r;
  if (auto r = txn.del(env.dbi(Db::modseq), modseq_key(record.modseq), uid); !r) return r;
  if (auto r = txn.put(env.dbi(Db::expunged), modseq_key(modseq), uid, MDB_NODUPDATA); !r) return r;
  count_in(meta, record, -1);
  if (record.uid >= meta.first_recent && meta.recent > 0) --meta.recent;
  meta.highest_modseq = std::max(meta.highest_modseq, modseq);
  return {};
}

namespace {

bool decode_words(std::string_view value, std::vector<std::string_view>& out) {
  codec::Reader r(value);
  std::uint64_t count = r.u();
  if (!r.ok() || count > value.size()) return false;
  out.clear();
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) out.push_back(r.str());
  return r.ok();
}

}  // namespace

std::size_t pending_count(const Txn& txn) {
  MDB_stat stat{};
  if (mdb_stat(txn.get(), txn.env().dbi(Db::pending), &stat) != 0) return 0;
  return stat.ms_entries;
}

std::expected<void, LmdbError> for_each_pending(
    const Txn& txn, const std::function<void(Uid, const std::vector<std::string_view>&)>& visit) {
  Cursor cursor(txn, txn.env().dbi(Db::pending));
  std::string_view key, value;
  std::vector<std::string_view> words_of;
  for (bool more = cursor.get(MDB_FIRST, &key, &value); more; more = cursor.get(MDB_NEXT, &key, &value)) {
    if (!decode_words(value, words_of)) return std::unexpected(LmdbError{MDB_CORRUPTED, "pending words unreadable"});
    visit(read_be32(key), words_of);
  }
  return {};
}

namespace {

// Calls visit(entry, uid) for every sort entry a pending message will have
// once merged (a message without a record or keys has none).
template <class Visit>
std::expected<void, LmdbError> pending_entries(const Txn& txn, const std::vector<Uid>& uids,
                                               std::span<const SortKind> kinds, Visit&& visit) {
  for (Uid uid : uids) {
    auto record = find_record(txn, uid);
    if (!record) return std::unexpected(record.error());
    auto keys = find_keys(txn, uid);
    if (!keys) return std::unexpected(keys.error());
    if (!*record || !*keys) continue;
    for (SortKind kind : kinds) visit(sort_entry(kind, **record, **keys), uid);
  }
  return {};
}

std::vector<Uid> pending_uids(const Txn& txn, std::size_t limit) {
  std::vector<Uid> out;
  Cursor cursor(txn, txn.env().dbi(Db::pending));
  std::string_view key;
  for (bool more = cursor.get(MDB_FIRST, &key); more && out.size() < limit; more = cursor.get(MDB_NEXT, &key))
    out.push_back(read_be32(key));
  return out;
}

}  // namespace

std::expected<std::vector<std::pair<std::string, Uid>>, LmdbError> pending_sort_entries(const Txn& txn,
                                                                                       SortKind kind) {
  std::vector<std::pair<std::string, Uid>> out;
  const SortKind kinds[] = {kind};
  auto listed = pending_entries(txn, pending_uids(txn, SIZE_MAX), kinds,
                                [&](std::string entry, Uid uid) { out.emplace_back(std::move(entry), uid); });
  if (!listed) return std::unexpected(listed.error());
  std::sort(out.begin(), out.end());
  return out;
}

std::expected<std::size_t, LmdbError> merge_pending(Txn& txn, std::size_t limit) {
  const Env& env = txn.env();
  // The postings' keys go back to back into one buffer and are sorted by a
  // small record each, the first eight bytes compared as a number; then one
  // cursor writes them in key order, so that most land on the page of the
  // one before.
  struct Posting {
    std::uint64_t head;  // the key's first eight bytes, big-endian, zero-padded
    std::size_t at;
    std::uint32_t size;
    Uid uid;
  };
  std::string keys;
  std::vector<Posting> postings;
  std::vector<Uid> merged;
  auto collected = for_each_pending(txn, [&](Uid uid, const std::vector<std::string_view>& words_of) {
    if (merged.size() >= limit) return;
    merged.push_back(uid);
    for (auto word : words_of) {
      if (word.empty()) continue;
      term_keys(word[0], word.substr(1), [&](const std::string& key) {
        std::uint64_t head = 0;
        for (std::size_t i = 0; i < 8; ++i)
          head = (head << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0u);
        postings.push_back({head, keys.size(), static_cast<std::uint32_t>(key.size()), uid});
        keys += key;
      });
    }
  });
  if (!collected) return std::unexpected(collected.error());
  auto key_of = [&keys](const Posting& p) { return std::string_view(keys).substr(p.at, p.size); };
  std::sort(postings.begin(), postings.end(), [&](const Posting& a, const Posting& b) {
    if (a.head != b.head) return a.head < b.head;
    if (int order = key_of(a).compare(key_of(b)); order != 0) return order < 0;
    return a.uid < b.uid;
  });
  // UIDs ascend, so a word's new UIDs mostly follow all it has: appended
  // without a search among them; one that does not (indexed late) is put
  // in its place.
  Cursor terms(txn, env.dbi(Db::terms));
  for (const Posting& p : postings) {
    auto appended = terms.append_dup(key_of(p), uid_key(p.uid));
    if (!appended) return std::unexpected(appended.error());
    if (!*appended)
      if (auto r = terms.put(key_of(p), uid_key(p.uid), MDB_NODUPDATA); !r) return std::unexpected(r.error());
  }
  std::vector<std::string> entries;
  auto listed = pending_entries(txn, merged, kSortKinds, [&](std::string entry, Uid) { entries.push_back(std::move(entry)); });
  if (!listed) return std::unexpected(listed.error());
  std::sort(entries.begin(), entries.end());
  Cursor sort(txn, env.dbi(Db::sort));
  for (const auto& entry : entries)
    if (auto r = sort.put(entry, {}); !r) return std::unexpected(r.error());
  Cursor pending(txn, env.dbi(Db::pending));
  for (Uid uid : merged) {
    if (!pending.get(MDB_SET, nullptr, nullptr, uid_key(uid))) continue;
    if (auto r = pending.del(); !r) return std::unexpected(r.error());
  }
  return merged.size();
}

std::expected<void, LmdbError> clear(Txn& txn) {
  for (unsigned db = 0; db < Db::db_count; ++db) {
    int rc = mdb_drop(txn.get(), txn.env().dbi(db), 0);
    if (rc != 0) return std::unexpected(LmdbError{rc, std::string("mdb_drop: ") + mdb_strerror(rc)});
  }
  return {};
}

namespace {

void collect_since(const Txn& txn, MDB_dbi dbi, Modseq since, std::vector<Uid>& out) {
  Cursor cursor(txn, dbi);
  std::string_view key, value;
  bool more = cursor.get(MDB_SET_RANGE, &key, &value, modseq_key(since + 1));
  while (more) {
    out.push_back(read_be32(value));
    more = cursor.get(MDB_NEXT, &key, &value);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace

std::expected<Changes, LmdbError> changes_since(const Txn& txn, Modseq since) {
  Changes changes;
  collect_since(txn, txn.env().dbi(Db::modseq), since, changes.changed);
  collect_since(txn, txn.env().dbi(Db::expunged), since, changes.expunged);
  return changes;
}

std::expected<std::vector<Uid>, LmdbError> uids_with_flag(const Txn& txn, unsigned flag_id) {
  std::vector<Uid> out;
  Cursor cursor(txn, txn.env().dbi(Db::flags));
  std::string_view key, value;
  if (!cursor.get(MDB_SET_KEY, &key, &value, flag_key(flag_id))) return out;
  // A single value has no duplicate page to read in bulk (MDB_GET_MULTIPLE
  // then succeeds without returning data).
  std::size_t count = 0;
  if (mdb_cursor_count(cursor.raw(), &count) != 0 || count == 1) {
    out.push_back(read_be32(value));
    return out;
  }
  // Whole pages of fixed-size duplicates at a time.
  if (!cursor.get(MDB_GET_MULTIPLE, &key, &value)) return out;
  do {
    for (std::size_t i = 0; i + 4 <= value.size(); i += 4) out.push_back(read_be32(value.substr(i, 4)));
  } while (cursor.get(MDB_NEXT_MULTIPLE, &key, &value));
  return out;
}

}  // namespace roost::index
