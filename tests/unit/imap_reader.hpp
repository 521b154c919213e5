// An independent reader for the IMAP data items ENVELOPE and BODY /
// BODYSTRUCTURE, written from the ABNF of RFC 9051 §9 for tests only: it
// shares no code with the renderer it checks. Each check returns an empty
// string when the text is valid, else what is wrong.
#pragma once

#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace roost::testing_imap {

struct Node {
  enum class Kind { nil, number, string, list } kind = Kind::nil;
  std::string text;
  std::vector<Node> items;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool read(Node& out, std::string& error) {
    if (i_ >= s_.size()) return fail(error, "unexpected end");
    char c = s_[i_];
    if (c == '(') {
      ++i_;
      out.kind = Node::Kind::list;
      if (i_ < s_.size() && s_[i_] == ')') {
        ++i_;
        return true;
      }
      while (true) {
        Node item;
        if (!read(item, error)) return false;
        out.items.push_back(std::move(item));
        if (i_ >= s_.size()) return fail(error, "unterminated list");
        if (s_[i_] == ')') {
          ++i_;
          return true;
        }
        // "1*body" and "1*address" are written without separators.
        if (s_[i_] == '(' && out.items.back().kind == Node::Kind::list) continue;
        if (s_[i_] != ' ') return fail(error, "expected SP or ')' at " + std::to_string(i_));
        ++i_;
      }
    }
    if (c == '"') {
      ++i_;
      out.kind = Node::Kind::string;
      while (i_ < s_.size() && s_[i_] != '"') {
        unsigned char ch = static_cast<unsigned char>(s_[i_]);
        if (ch == '\r' || ch == '\n' || ch == 0) return fail(error, "CR, LF or NUL in quoted");
        if (ch == '\\') {
          ++i_;
          if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\\')) {
            return fail(error, "bad quoted-pair");
          }
        }
        out.text.push_back(s_[i_]);
        ++i_;
      }
      if (i_ >= s_.size()) return fail(error, "unterminated quoted string");
      ++i_;
      return true;
    }
    if (c == '{') {
      std::size_t close = s_.find('}', i_);
      if (close == std::string_view::npos) return fail(error, "bad literal");
      std::size_t n = std::stoul(std::string(s_.substr(i_ + 1, close - i_ - 1)));
      if (s_.substr(close + 1, 2) != "\r\n") return fail(error, "literal without CRLF");
      i_ = close + 3;
      if (i_ + n > s_.size()) return fail(error, "short literal");
      out.kind = Node::Kind::string;
      out.text = std::string(s_.substr(i_, n));
      if (out.text.find('\0') != std::string::npos) return fail(error, "NUL in literal");
      i_ += n;
      return true;
    }
    if (s_.substr(i_, 3) == "NIL") {
      i_ += 3;
      out.kind = Node::Kind::nil;
      return true;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      out.kind = Node::Kind::number;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        out.text.push_back(s_[i_++]);
      }
      return true;
    }
    return fail(error, std::string("unexpected '") + c + "' at " + std::to_string(i_));
  }

  bool at_end() const { return i_ == s_.size(); }

 private:
  static bool fail(std::string& error, std::string what) {
    error = std::move(what);
    return false;
  }
  std::string_view s_;
  std::size_t i_ = 0;
};

inline bool is_nstring(const Node& n) {
  return n.kind == Node::Kind::nil || n.kind == Node::Kind::string;
}

inline std::string check_address_list(const Node& n) {
  if (n.kind == Node::Kind::nil) return "";
  if (n.kind != Node::Kind::list || n.items.empty()) return "address list must be NIL or 1*address";
  for (const auto& a : n.items) {
    if (a.kind != Node::Kind::list || a.items.size() != 4) return "address must have 4 fields";
    for (const auto& f : a.items) {
      if (!is_nstring(f)) return "address field must be nstring";
    }
  }
  return "";
}

inline std::string check_envelope_node(const Node& n) {
  if (n.kind != Node::Kind::list || n.items.size() != 10) return "envelope must have 10 fields";
  for (int i : {0, 1, 8, 9}) {
    if (!is_nstring(n.items[i])) return "date/subject/in-reply-to/message-id must be nstring";
  }
  for (int i = 2; i <= 7; ++i) {
    if (auto e = check_address_list(n.items[i]); !e.empty()) return e;
  }
  return "";
}

inline std::string check_params(const Node& n) {
  if (n.kind == Node::Kind::nil) return "";
  if (n.kind != Node::Kind::list || n.items.empty() || n.items.size() % 2 != 0) {
    return "body-fld-param must be NIL or pairs of strings";
  }
  for (const auto& p : n.items) {
    if (p.kind != Node::Kind::string) return "parameter must be string";
  }
  return "";
}

inline std::string check_dsp(const Node& n) {
  if (n.kind == Node::Kind::nil) return "";
  if (n.kind != Node::Kind::list || n.items.size() != 2 || n.items[0].kind != Node::Kind::string) {
    return "body-fld-dsp must be (string params) or NIL";
  }
  return check_params(n.items[1]);
}

inline std::string check_lang(const Node& n) {
  if (is_nstring(n)) return "";
  if (n.kind != Node::Kind::list || n.items.empty()) return "body-fld-lang";
  for (const auto& l : n.items) {
    if (l.kind != Node::Kind::string) return "body-fld-lang entries must be strings";
  }
  return "";
}

// IMAP4rev2's media-message is MESSAGE/RFC822 or MESSAGE/GLOBAL; IMAP4rev1's
// is MESSAGE/RFC822 only. A media-message part must be a body-type-msg, and
// body-type-basic must not be one (the comments in both grammars).
inline std::string check_body_node(const Node& n, bool ext, bool rev2) {
  if (n.kind != Node::Kind::list || n.items.empty()) return "body must be a list";
  const auto& it = n.items;
  if (it[0].kind == Node::Kind::list) {  // body-type-mpart
    std::size_t i = 0;
    while (i < it.size() && it[i].kind == Node::Kind::list) {
      if (auto e = check_body_node(it[i], ext, rev2); !e.empty()) return e;
      ++i;
    }
    if (i >= it.size() || it[i].kind != Node::Kind::string) return "multipart needs a subtype";
    ++i;
    if (!ext) return i == it.size() ? "" : "BODY must not carry extension data";
    if (it.size() != i + 4) return "BODYSTRUCTURE multipart extension must have 4 fields";
    if (auto e = check_params(it[i]); !e.empty()) return e;
    if (auto e = check_dsp(it[i + 1]); !e.empty()) return e;
    if (auto e = check_lang(it[i + 2]); !e.empty()) return e;
    return is_nstring(it[i + 3]) ? "" : "body-fld-loc";
  }
  if (it.size() < 7) return "body-type-1part needs type, subtype and 5 body fields";
  if (it[0].kind != Node::Kind::string || it[1].kind != Node::Kind::string) {
    return "media type and subtype must be strings";
  }
  if (auto e = check_params(it[2]); !e.empty()) return e;
  if (!is_nstring(it[3]) || !is_nstring(it[4])) return "body-fld-id/desc must be nstring";
  if (it[5].kind != Node::Kind::string) return "body-fld-enc must be string";
  if (it[6].kind != Node::Kind::number) return "body-fld-octets must be number";
  std::string type, subtype;
  for (char c : it[0].text) type += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char c : it[1].text) subtype += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t i = 7;
  if (type == "message" && (subtype == "rfc822" || (rev2 && subtype == "global"))) {
    if (it.size() < 10 || it[7].kind != Node::Kind::list) return "media-message needs envelope, body, lines";
    if (auto e = check_envelope_node(it[7]); !e.empty()) return e;
    if (auto e = check_body_node(it[8], ext, rev2); !e.empty()) return e;
    if (it[9].kind != Node::Kind::number) return "message body-fld-lines must be number";
    i = 10;
  } else if (type == "text") {
    if (it.size() < 8 || it[7].kind != Node::Kind::number) return "text needs body-fld-lines";
    i = 8;
  }
  if (!ext) return i == it.size() ? "" : "BODY must not carry extension data";
  if (it.size() != i + 4) return "BODYSTRUCTURE 1part extension must have 4 fields";
  if (!is_nstring(it[i])) return "body-fld-md5";
  if (auto e = check_dsp(it[i + 1]); !e.empty()) return e;
  if (auto e = check_lang(it[i + 2]); !e.empty()) return e;
  return is_nstring(it[i + 3]) ? "" : "body-fld-loc";
}

inline std::string check_envelope(std::string_view text) {
  Reader r(text);
  Node n;
  std::string error;
  if (!r.read(n, error)) return error;
  if (!r.at_end()) return "trailing bytes";
  return check_envelope_node(n);
}

inline std::string check_body(std::string_view text, bool ext, bool rev2 = true) {
  Reader r(text);
  Node n;
  std::string error;
  if (!r.read(n, error)) return error;
  if (!r.at_end()) return "trailing bytes";
  return check_body_node(n, ext, rev2);
}

}  // namespace roost::testing_imap
