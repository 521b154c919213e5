// Structured logging: one line per event,
//   TIME LEVEL service=S session=ID user=U remote=ADDR event=NAME key=value ...
// written to stderr with a single write(2), optionally to syslog too.
//
// Callers pass only facts that are safe to keep: never a password, a SASL
// exchange or message content. Values are quoted when they contain spaces,
// quotes or '=', and control bytes are escaped, so a hostile client cannot
// forge a log line. Thread-safe.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "roost/core/config.hpp"

namespace roost::log {

struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <class N>
    requires std::is_arithmetic_v<N>
  Field(std::string_view k, N n) : key(k), value(std::to_string(n)) {}
};

// Who an event is about; empty members are left out of the line.
struct Context {
  std::string_view service;
  std::string_view session;
  std::string_view user;
  std::string_view remote;
};

void set_level(LogLevel level);
LogLevel level();
void set_syslog(bool enabled);
bool enabled(LogLevel level);

// Replaces the output (stderr) for tests; nullptr restores it.
void set_sink(std::function<void(std::string_view line)> sink);

void write(LogLevel level, const Context& context, std::string_view event,
           std::initializer_list<Field> fields = {});

// Formats a line as write() would, without the time stamp.
std::string format(LogLevel level, const Context& context, std::string_view event,
                   std::initializer_list<Field> fields);

inline void debug(const Context& c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (enabled(LogLevel::debug)) write(LogLevel::debug, c, e, f);
}
inline void info(const Context& c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (enabled(LogLevel::info)) write(LogLevel::info, c, e, f);
}
inline void warning(const Context& c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (enabled(LogLevel::warning)) write(LogLevel::warning, c, e, f);
}
inline void error(const Context& c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (enabled(LogLevel::error)) write(LogLevel::error, c, e, f);
}

}  // namespace roost::log
