// The per-user index: each folder's STATUS counters, so that STATUS and
// LIST-STATUS read one small environment instead of opening every folder's
// (issue 4). It is a cache of the folder indexes, written without flushes
// (MDB_NOSYNC) after each folder commit; an entry is trusted only while its
// HIGHESTMODSEQ equals the one the folder last announced (its change file),
// and is computed again from the folder index otherwise.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "roost/index/folder_index.hpp"

namespace roost::index {

EnvOptions user_env_options();

struct FolderCounters {
  std::uint32_t messages = 0, recent = 0, unseen = 0, deleted = 0;
  std::uint64_t size = 0;
  Uid uidnext = 1;
  std::uint32_t uidvalidity = 0;
  Modseq highest_modseq = 0;
  // The folder's directory times when the counters were taken: a foreign
  // change to new/ or cur/ makes the entry stale.
  std::int64_t new_mtime_ns = 0, cur_mtime_ns = 0;
};

FolderCounters counters_of(const FolderMeta& meta);

std::expected<std::optional<FolderCounters>, LmdbError> find_counters(const Txn& txn, std::string_view folder);
std::expected<void, LmdbError> put_counters(Txn& txn, std::string_view folder, const FolderCounters& counters);
std::expected<void, LmdbError> forget_counters(Txn& txn, std::string_view folder);

}  // namespace roost::index
