// THREAD (RFC 5256 §3: ORDEREDSUBJECT and REFERENCES; REFS from
// draft-ietf-morg-inthread), rendered as RFC 5256 §4's thread-list.
#include "commands.hpp"

namespace roost::imap::commands {
namespace {

// One thread from `node` on, inside its parentheses: the chain of single
// children as numbers, then each of several children in parentheses of
// its own ("3 6 (4 23)(44 7 96)"); a missing parent has no number.
void render(ImapSession& s, bool uid, const index::ThreadNode& node, std::string& out) {
  bool numbered = false;
  const index::ThreadNode* at = &node;
  for (;;) {
    if (at->uid != 0) {
      std::optional<std::uint32_t> number = uid ? std::optional<std::uint32_t>(at->uid) : s.view->sequence_of(at->uid);
      if (number) {
        if (numbered) out += ' ';
        out += std::to_string(*number);
        numbered = true;
      }
    }
    if (at->children.size() != 1) break;
    at = &at->children.front();
  }
  if (at->children.empty()) return;
  if (numbered) out += ' ';
  for (const auto& child : at->children) {
    out += '(';
    render(s, uid, child, out);
    out += ')';
  }
}

}  // namespace

asio::awaitable<Reply> thread(ImapSession& s, const Request& r) {
  const auto& th = std::get<Thread>(r.command);
  if (auto refused = check_charset(th.charset)) co_return *refused;
  Reply refusal;
  auto key = index_key(s, th.key, refusal);
  if (!key) co_return refusal;
  index::ThreadAlgorithm algorithm = th.algorithm == ThreadAlgorithm::ordered_subject ? index::ThreadAlgorithm::ordered_subject
                                     : th.algorithm == ThreadAlgorithm::references    ? index::ThreadAlgorithm::references
                                                                                      : index::ThreadAlgorithm::refs;
  storage::Result<std::vector<index::ThreadNode>> threads;
  auto work = [&]() { threads = s.view->thread(algorithm, *key); };
  co_await s.blocking(work);
  if (!threads) co_return storage_error(s, threads.error());
  std::string out = "* THREAD ";
  for (const auto& root : *threads) {
    out += '(';
    render(s, r.uid, root, out);
    out += ')';
  }
  out += "\r\n";
  co_await s.send(out);
  co_return ok(r.uid ? "UID THREAD completed" : "THREAD completed");
}

}  // namespace roost::imap::commands
