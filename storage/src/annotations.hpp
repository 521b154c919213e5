// The file that keeps a folder's METADATA annotations (RFC 5464), or the
// user's server-wide ones: "roost-annotations" in the folder's directory,
// so that RENAME carries them along and DELETE takes them away.
//
// Format (binary-safe, values may hold any octet): a first line
// "roost-annotations 1", then per entry "<name length> <value length>\n",
// the name, the value and "\n".
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "roost/storage/storage.hpp"

namespace roost::storage::annotation_file {

inline constexpr std::string_view kFile = "roost-annotations";
inline constexpr std::string_view kServerFile = "roost-server-annotations";

// Absent file: no annotations.
Result<std::vector<Annotation>> read(const std::filesystem::path& file);
Result<void> write(const std::filesystem::path& file, const std::vector<Annotation>& entries);

// Applies changes in order (a value sets, nullopt removes; names compare
// without regard to ASCII case). ErrorKind::limit when more than
// `max_entries` would remain and more than there were before.
Result<void> apply(std::vector<Annotation>& entries, const std::vector<AnnotationChange>& changes,
                   std::size_t max_entries);

}  // namespace roost::storage::annotation_file
