#include "roost/mime/address.hpp"

#include <cstring>

#include "text.hpp"

namespace roost::mime {
namespace {

struct Token {
  enum class Kind { word, quoted, literal, special } kind;
  std::string text;  // word/literal as written; quoted: content unescaped
  char special = 0;
  bool space_before = false;  // white space or a comment came before it
  std::string comment_after;  // the text of a comment right after it, unescaped
};

// A comment's text without its parentheses, quoted pairs undone, trimmed.
std::string comment_text(std::string_view comment) {
  if (comment.starts_with('(')) comment.remove_prefix(1);
  if (comment.ends_with(')')) comment.remove_suffix(1);
  std::string out;
  for (std::size_t k = 0; k < comment.size(); ++k) {
    if (comment[k] == '\\' && k + 1 < comment.size()) ++k;
    if (comment[k] == '\r' || comment[k] == '\n') continue;
    out.push_back(comment[k] == '\t' ? ' ' : comment[k]);
  }
  const std::size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

bool is_special(char c) { return c != '\0' && std::strchr("<>@,;:.", c) != nullptr; }

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  bool space = false;
  auto push = [&](Token t) {
    t.space_before = space;
    space = false;
    out.push_back(std::move(t));
  };
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      ++i;
    } else if (c == '(') {
      space = true;
      const std::size_t end = skip_comment(s, i);
      if (!out.empty() && out.back().comment_after.empty())
        out.back().comment_after = comment_text(s.substr(i, end - i));
      i = end;
    } else if (c == '"') {
      std::string text;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] != '\r' && s[i] != '\n') text.push_back(s[i]);
        ++i;
      }
      if (i < s.size()) ++i;
      push(Token{Token::Kind::quoted, std::move(text)});
    } else if (c == '[') {
      std::size_t start = i;
      while (i < s.size() && s[i] != ']') ++i;
      if (i < s.size()) ++i;
      push(Token{Token::Kind::literal, std::string(s.substr(start, i - start))});
    } else if (is_special(c)) {
      push(Token{Token::Kind::special, std::string(1, c), c});
      ++i;
    } else {
      // A word runs to white space, a special, or the start of a comment,
      // quoted string or literal; a stray ')' or ']' is a word of its own.
      std::size_t start = i++;
      while (i < s.size() && !is_special(s[i]) && s[i] != '\0' &&
             std::strchr(" \t\r\n()\"[", s[i]) == nullptr) {
        ++i;
      }
      push(Token{Token::Kind::word, std::string(s.substr(start, i - start))});
    }
  }
  return out;
}

bool is(const Token& t, char c) { return t.kind == Token::Kind::special && t.special == c; }

// Renders a quoted local part the way it is written on the wire.
std::string quote_local(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

struct Reader {
  const std::vector<Token>& t;
  std::size_t i = 0;
  std::vector<Address> out;
  bool in_group = false;

  bool at_end() const { return i >= t.size(); }

  // phrase = 1*word (with obs-phrase dots); returns the words joined by one
  // space and whether a quoted string was among them.
  std::vector<const Token*> phrase() {
    std::vector<const Token*> words;
    while (!at_end() && (t[i].kind == Token::Kind::word || t[i].kind == Token::Kind::quoted ||
                         is(t[i], '.'))) {
      words.push_back(&t[i]);
      ++i;
    }
    return words;
  }

  // A phrase keeps one space wherever the original had white space.
  static std::string display(const std::vector<const Token*>& words) {
    std::string out;
    for (const Token* w : words) {
      if (!out.empty() && w->space_before) out += ' ';
      out += w->text;
    }
    return out;
  }

  // A local part: dot-separated words; words separated by white space
  // (obsolete and invalid, but sent) are kept as one quoted string.
  static std::string local(const std::vector<const Token*>& words) {
    bool spaced = false;
    for (std::size_t k = 1; k < words.size(); ++k) {
      if (words[k]->space_before && !is(*words[k], '.') && !is(*words[k - 1], '.')) spaced = true;
    }
    if (spaced) return quote_local(display(words));
    std::string out;
    for (const Token* w : words) {
      out += w->kind == Token::Kind::quoted ? quote_local(w->text) : w->text;
    }
    return out;
  }

  // dot-atom or literal; a word after white space that no dot joins starts
  // something else.
  std::string domain() {
    std::string out;
    bool after_dot = true;
    while (!at_end() && (t[i].kind != Token::Kind::special || is(t[i], '.'))) {
      if (!out.empty() && !after_dot && !is(t[i], '.') && t[i].space_before) break;
      after_dot = is(t[i], '.');
      out += t[i].text;
      ++i;
    }
    return out;
  }

  // Inside <...>: [obs-route ":"] local "@" domain, up to '>'.
  void angle(Address& a) {
    ++i;  // '<'
    if (!at_end() && is(t[i], '@')) {
      std::string route;
      while (!at_end() && (is(t[i], '@') || is(t[i], ','))) {
        if (is(t[i], ',')) {
          route += ',';
          ++i;
          continue;
        }
        ++i;
        route += "@" + domain();
      }
      if (!at_end() && is(t[i], ':')) ++i;
      a.route = route;
    }
    auto words = phrase();
    a.mailbox = local(words);
    if (!at_end() && is(t[i], '@')) {
      ++i;
      a.host = domain();
    }
    while (!at_end() && !is(t[i], '>')) ++i;
    if (!at_end()) ++i;
  }

  void read() {
    while (!at_end()) {
      auto words = phrase();
      if (at_end()) {
        if (!words.empty()) out.push_back(Address{.mailbox = local(words)});
        break;
      }
      const Token& next = t[i];
      if (is(next, ':') && !words.empty() && !in_group) {
        ++i;
        out.push_back(Address{.kind = Address::Kind::group_start, .name = display(words)});
        in_group = true;
      } else if (is(next, '<')) {
        Address a;
        a.name = display(words);
        angle(a);
        out.push_back(std::move(a));
      } else if (is(next, '@')) {
        std::size_t start = i - words.size();
        ++i;
        Address a;
        a.mailbox = local(words);
        a.host = domain();
        while (!at_end() && is(t[i], '@') && !t[i].space_before) {
          // "a@b@c": the last '@' separates the domain (old source routing).
          ++i;
          a.mailbox += "@" + a.host;
          a.host = domain();
        }
        // "user@host (Real Name)", the old style: the comment names the
        // person (RFC 822 §6.1's example; ENVELOPE's display name).
        if (a.name.empty() && i > 0) a.name = t[i - 1].comment_after;
        if (!at_end() && is(t[i], '<')) {
          // "user@host <real@address>": what looked like an address is the
          // display name, as a person reads it.
          Address named;
          for (std::size_t k = start; k < i; ++k) {
            if (k > start && t[k].space_before) named.name += ' ';
            named.name += t[k].text;
          }
          angle(named);
          out.push_back(std::move(named));
          continue;
        }
        out.push_back(std::move(a));
      } else if (is(next, ',')) {
        ++i;
        if (!words.empty()) out.push_back(Address{.mailbox = local(words)});
      } else if (is(next, ';')) {
        ++i;
        if (!words.empty()) out.push_back(Address{.mailbox = local(words)});
        if (in_group) {
          out.push_back(Address{.kind = Address::Kind::group_end});
          in_group = false;
        }
      } else {
        ++i;  // a stray '>', ':' or literal: skip it
      }
    }
    if (in_group) out.push_back(Address{.kind = Address::Kind::group_end});
  }
};

}  // namespace

std::vector<Address> parse_address_list(std::string_view raw_value) {
  auto tokens = tokenize(raw_value);
  Reader r{tokens};
  r.read();
  return std::move(r.out);
}

}  // namespace roost::mime
