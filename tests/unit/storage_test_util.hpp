// A scratch directory per test and a Store over it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "roost/storage/storage.hpp"

namespace roost::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "roost-storage-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline StoreConfig test_config(const std::filesystem::path& root) {
  StoreConfig config;
  config.mail_root = root;
  config.host_name = "test.example";
  return config;
}

inline std::string message(const std::string& subject, const std::string& body = "Hello.\r\n") {
  return "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject +
         "\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <" + subject + "@example.org>\r\n\r\n" + body;
}

inline NewMessage new_message(const std::string& subject, std::uint32_t flags = 0,
                              std::vector<std::string> keywords = {}) {
  NewMessage m;
  m.data = message(subject);
  m.internal_date = 1772445600;
  m.flags.system = flags;
  m.flags.keywords = std::move(keywords);
  return m;
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace roost::storage::testing
