#include "roost/index/user_index.hpp"

#include "codec.hpp"

namespace roost::index {

EnvOptions user_env_options() {
  EnvOptions options;
  options.initial_map_size = std::size_t{16} << 20;
  options.dbs = {{"counters", 0}};
  options.no_sync = true;
  return options;
}

FolderCounters counters_of(const FolderMeta& meta) {
  return {meta.messages, meta.recent,      meta.unseen,         meta.deleted,     meta.size,
          meta.uidnext,  meta.uidvalidity, meta.highest_modseq, meta.new_mtime_ns, meta.cur_mtime_ns};
}

std::expected<std::optional<FolderCounters>, LmdbError> find_counters(const Txn& txn, std::string_view folder) {
  if (folder.empty() || folder.size() > 511) return std::nullopt;
  auto value = txn.get(txn.env().dbi(0), folder);
  if (!value) {
    if (value.error().code == MDB_NOTFOUND) return std::nullopt;
    return std::unexpected(value.error());
  }
  codec::Reader r(*value);
  FolderCounters c;
  c.messages = static_cast<std::uint32_t>(r.u());
  c.recent = static_cast<std::uint32_t>(r.u());
  c.unseen = static_cast<std::uint32_t>(r.u());
  c.deleted = static_cast<std::uint32_t>(r.u());
  c.size = r.u();
  c.uidnext = static_cast<Uid>(r.u());
  c.uidvalidity = static_cast<std::uint32_t>(r.u());
  c.highest_modseq = r.u();
  c.new_mtime_ns = r.s();
  c.cur_mtime_ns = r.s();
  if (!r.ok()) return std::nullopt;  // unreadable: recomputed by the caller
  return c;
}

std::expected<void, LmdbError> put_counters(Txn& txn, std::string_view folder, const FolderCounters& c) {
  if (folder.empty() || folder.size() > 511) return {};
  codec::Writer w;
  w.u(c.messages);
  w.u(c.recent);
  w.u(c.unseen);
  w.u(c.deleted);
  w.u(c.size);
  w.u(c.uidnext);
  w.u(c.uidvalidity);
  w.u(c.highest_modseq);
  w.s(c.new_mtime_ns);
  w.s(c.cur_mtime_ns);
  return txn.put(txn.env().dbi(0), folder, w.take());
}

std::expected<void, LmdbError> forget_counters(Txn& txn, std::string_view folder) {
  if (folder.empty() || folder.size() > 511) return {};
  return txn.del(txn.env().dbi(0), folder);
}

}  // namespace roost::index
