// LANG (RFC 6856 §3). Roost's responses exist in English only: LANG lists
// that one language and accepts any range that leads to it by RFC 4647 §3.4
// lookup ("*", "en", "en-GB" and so on); any other range fails and the
// language stays as it was.
#include "commands.hpp"
#include "roost/core/ascii.hpp"

namespace roost::pop3::commands {
namespace {

constexpr std::string_view kLanguage = "en";

// RFC 4647 §3.4: drop subtags from the end (and a single-character subtag
// left before the one dropped) until the range names a supported tag.
bool leads_to_supported(std::string_view range) {
  if (range == "*") return true;
  for (;;) {
    if (ascii_iequals(range, kLanguage)) return true;
    std::size_t dash = range.rfind('-');
    if (dash == std::string_view::npos) return false;
    range = range.substr(0, dash);
    if (std::size_t before = range.rfind('-'); before != std::string_view::npos && range.size() - before == 2)
      range = range.substr(0, before);
  }
}

}  // namespace

asio::awaitable<void> lang(Pop3Session& s, const Command& c) {
  const auto& l = std::get<Lang>(c);
  std::string response;
  if (!l.range) {
    response = "+OK Language listing follows\r\n" + std::string(kLanguage) + " English\r\n.\r\n";
  } else if (leads_to_supported(*l.range)) {
    response = "+OK " + std::string(kLanguage) + " Responses are in English\r\n";
  } else {
    response = "-ERR Unsupported language " + *l.range + "; responses stay in English\r\n";
  }
  co_await s.send(response);
}

}  // namespace roost::pop3::commands
