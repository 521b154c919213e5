// roostctl init: a complete, runnable instance in one folder.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>

namespace roost::tools {

struct InstancePorts {
  std::uint16_t imap, imaps, pop3, pop3s, lmtp, metrics;
};

InstancePorts ports_for(unsigned base);

// Writes DIR/roost.conf, DIR/data, DIR/run, DIR/tls/{cert,key}.pem (a fresh
// self-signed certificate for localhost, 127.0.0.1 and ::1) and an empty user
// database. `domain` is the local domain ([lmtp] default_domain): mail for
// user@domain goes to user. Refuses to overwrite an existing roost.conf.
std::expected<InstancePorts, std::string> create_instance(const std::filesystem::path& dir,
                                                          unsigned port_base, const std::string& domain);

// A self-signed P-256 certificate valid for ten years.
std::expected<void, std::string> write_self_signed(const std::filesystem::path& cert,
                                                   const std::filesystem::path& key);

}  // namespace roost::tools
