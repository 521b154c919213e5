#include "roost/core/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace roost::log {
namespace {

std::atomic<LogLevel> current_level{LogLevel::info};
std::atomic<bool> use_syslog{false};
std::mutex sink_mutex;
std::function<void(std::string_view)> custom_sink;

void append_value(std::string& out, std::string_view value) {
  bool needs_quotes = value.empty();
  for (unsigned char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c < 0x20 || c == 0x7f || c == '\\') {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (unsigned char c : value) {
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static constexpr char hex[] = "0123456789abcdef";
          out.append("\\x");
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out.push_back(' ');
  out.append(key);
  out.push_back('=');
  append_value(out, value);
}

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return LOG_DEBUG;
    case LogLevel::info: return LOG_INFO;
    case LogLevel::warning: return LOG_WARNING;
    case LogLevel::error: return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void set_level(LogLevel l) { current_level.store(l, std::memory_order_relaxed); }
LogLevel level() { return current_level.load(std::memory_order_relaxed); }
void set_syslog(bool on) {
  if (on && !use_syslog.load()) openlog("roostd", LOG_PID | LOG_NDELAY, LOG_MAIL);
  use_syslog.store(on);
}
bool enabled(LogLevel l) { return l >= current_level.load(std::memory_order_relaxed); }

void set_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(sink_mutex);
  custom_sink = std::move(sink);
}

std::string format(LogLevel level, const Context& context, std::string_view event,
                   std::initializer_list<Field> fields) {
  std::string out(to_string(level));
  if (!context.service.empty()) append_field(out, "service", context.service);
  if (!context.session.empty()) append_field(out, "session", context.session);
  if (!context.user.empty()) append_field(out, "user", context.user);
  if (!context.remote.empty()) append_field(out, "remote", context.remote);
  append_field(out, "event", event);
  for (const auto& f : fields) append_field(out, f.key, f.value);
  return out;
}

void write(LogLevel level, const Context& context, std::string_view event,
           std::initializer_list<Field> fields) {
  auto body = format(level, context, event, fields);

  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ ", static_cast<int>(millis.count()));

  std::string line = stamp + body + "\n";
  {
    std::lock_guard lock(sink_mutex);
    if (custom_sink) {
      custom_sink(std::string_view(line).substr(0, line.size() - 1));
    } else {
      const char* p = line.data();
      std::size_t left = line.size();
      while (left > 0) {
        ssize_t w = ::write(STDERR_FILENO, p, left);
        if (w <= 0) break;
        p += w;
        left -= static_cast<std::size_t>(w);
      }
    }
  }
  if (use_syslog.load(std::memory_order_relaxed)) {
    ::syslog(syslog_priority(level), "%s", body.c_str());
  }
}

}  // namespace roost::log
