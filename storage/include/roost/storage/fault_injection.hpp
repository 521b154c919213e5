// Failure points for tests: the deliberately failing backend of STYLE.md §5,
// so that error paths (disk full, a failed rename, a lost flush) are
// exercised rather than assumed. Unarmed, a check costs one atomic load.
#pragma once

#include <cstddef>
#include <optional>
#include <system_error>

namespace roost::storage {

enum class FaultPoint {
  write_message,   // writing a new message into tmp/
  rename_message,  // moving it into new/ or cur/
  flush,           // a directory or UID list flush of a group commit
  uidlist_append,  // appending UIDs to dovecot-uidlist
  index_commit,    // the index transaction of a group commit, after the UID list, before the answer
  index_commit_after_answer,  // its commit, once the batch is durable and answered
};
// How many points there are: counted from the last one.
inline constexpr std::size_t kFaultPoints = static_cast<std::size_t>(FaultPoint::index_commit_after_answer) + 1;

// The next `times` checks of `point` fail with `error`.
void inject_fault(FaultPoint point, std::errc error, int times = 1);
void clear_faults();

// Used by storage at each point: the error to fail with, if armed.
std::optional<std::error_code> injected_fault(FaultPoint point);

}  // namespace roost::storage
