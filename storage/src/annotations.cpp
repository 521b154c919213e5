#include "annotations.hpp"

#include <algorithm>
#include <charconv>

#include "folder.hpp"
#include "maildir.hpp"

namespace roost::storage::annotation_file {
namespace {

constexpr std::string_view kHeader = "roost-annotations 1\n";

bool same_name(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

bool take_number(std::string_view& text, char end, std::size_t& out) {
  std::size_t stop = text.find(end);
  if (stop == std::string_view::npos || stop == 0) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + stop, out);
  if (ec != std::errc() || ptr != text.data() + stop) return false;
  text.remove_prefix(stop + 1);
  return true;
}

}  // namespace

Result<std::vector<Annotation>> read(const std::filesystem::path& file) {
  auto data = maildir::read_file(file);
  if (!data) {
    if (data.error() == std::errc::no_such_file_or_directory) return std::vector<Annotation>{};
    return std::unexpected(error_from(data.error(), "read " + file.string()));
  }
  std::string_view text = *data;
  auto corrupt = [&] { return std::unexpected(Error{ErrorKind::internal, "corrupt annotations file " + file.string()}); };
  if (!text.starts_with(kHeader)) return corrupt();
  text.remove_prefix(kHeader.size());
  std::vector<Annotation> out;
  while (!text.empty()) {
    std::size_t name_size = 0, value_size = 0;
    if (!take_number(text, ' ', name_size) || !take_number(text, '\n', value_size)) return corrupt();
    if (text.size() < name_size + value_size + 1 || text[name_size + value_size] != '\n') return corrupt();
    out.push_back(Annotation{std::string(text.substr(0, name_size)), std::string(text.substr(name_size, value_size))});
    text.remove_prefix(name_size + value_size + 1);
  }
  return out;
}

Result<void> write(const std::filesystem::path& file, const std::vector<Annotation>& entries) {
  std::string text(kHeader);
  for (const auto& e : entries) {
    text += std::to_string(e.name.size());
    text += ' ';
    text += std::to_string(e.value.size());
    text += '\n';
    text += e.name;
    text += e.value;
    text += '\n';
  }
  if (auto ec = maildir::replace_file(file, text)) return std::unexpected(error_from(ec, "write " + file.string()));
  return {};
}

Result<void> apply(std::vector<Annotation>& entries, const std::vector<AnnotationChange>& changes,
                   std::size_t max_entries) {
  const std::size_t before = entries.size();
  for (const auto& change : changes) {
    auto at = std::find_if(entries.begin(), entries.end(), [&](const Annotation& e) { return same_name(e.name, change.name); });
    if (!change.value) {
      if (at != entries.end()) entries.erase(at);
    } else if (at != entries.end()) {
      at->name = change.name;
      at->value = *change.value;
    } else {
      entries.push_back(Annotation{change.name, *change.value});
    }
  }
  if (entries.size() > max_entries && entries.size() > before)
    return std::unexpected(Error{ErrorKind::limit, "annotations"});
  return {};
}

}  // namespace roost::storage::annotation_file
