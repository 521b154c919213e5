// THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES as the RFC spells
// them out step by step, and REFS (draft-ietf-morg-inthread): REFERENCES
// without merging by subject, threads ordered by their newest message.
#include <algorithm>
#include <unordered_map>

#include "roost/index/search.hpp"

namespace roost::index {

namespace {

// How deep a thread may nest (later levels are flat), and how far up a
// parent chain the loop check looks.
constexpr std::size_t kMaxDepth = 1000;
constexpr std::size_t kMaxWalk = 4 * kMaxDepth;

struct Container {
  Uid uid = 0;  // 0: dummy
  std::uint32_t seq = 0;
  std::int64_t date = 0;
  std::string_view subject;
  bool reply = false;
  int parent = -1;
  std::vector<int> children;
};

class Threader {
 public:
  explicit Threader(std::vector<Container> messages) : nodes_(std::move(messages)) {}

  int add_dummy() {
    nodes_.push_back(Container{});
    return static_cast<int>(nodes_.size() - 1);
  }

  // Would making `parent` the parent of `child` close a loop? A parent
  // chain longer than kMaxWalk counts as one too: the check then costs a
  // bounded time per link however long a chain of replies hostile mail
  // builds.
  bool loops(int parent, int child) const {
    std::size_t steps = 0;
    for (int at = parent; at != -1; at = nodes_[at].parent)
      if (at == child || ++steps > kMaxWalk) return true;
    return false;
  }

  // Below kMaxDepth a thread is made flat: every later step, the IMAP
  // rendering and the result's destruction recurse along the tree, and a
  // chain of 100,000 replies must not exhaust a stack. Iterative.
  void flatten(const std::vector<int>& roots) {
    std::vector<std::pair<int, std::size_t>> stack;
    for (int r : roots) stack.emplace_back(r, 0);
    while (!stack.empty()) {
      const auto [n, depth] = stack.back();
      stack.pop_back();
      if (depth < kMaxDepth) {
        for (int c : nodes_[n].children) stack.emplace_back(c, depth + 1);
        continue;
      }
      // At the bound: every descendant becomes a child of `n`.
      std::vector<int> below = std::move(nodes_[n].children), all;
      nodes_[n].children.clear();
      while (!below.empty()) {
        const int c = below.back();
        below.pop_back();
        all.push_back(c);
        below.insert(below.end(), nodes_[c].children.begin(), nodes_[c].children.end());
        nodes_[c].children.clear();
        nodes_[c].parent = n;
      }
      nodes_[n].children = std::move(all);
    }
  }

  void link(int parent, int child) {
    nodes_[child].parent = parent;
    nodes_[parent].children.push_back(child);
  }

  void unlink(int child) {
    int parent = nodes_[child].parent;
    if (parent == -1) return;
    auto& siblings = nodes_[parent].children;
    siblings.erase(std::find(siblings.begin(), siblings.end(), child));
    nodes_[child].parent = -1;
  }

  // The node a sort uses for a dummy: its first child (children are sorted first).
  const Container& representative(int n) const {
    const Container* c = &nodes_[n];
    while (c->uid == 0 && !c->children.empty()) c = &nodes_[c->children.front()];
    return *c;
  }

  bool earlier(int a, int b) const {
    const Container &x = representative(a), &y = representative(b);
    if (x.date != y.date) return x.date < y.date;
    return x.seq < y.seq;
  }

  void sort_children(int n) {
    for (int c : nodes_[n].children) sort_children(c);
    auto& children = nodes_[n].children;
    std::stable_sort(children.begin(), children.end(), [&](int a, int b) { return earlier(a, b); });
  }

  // Step 3: dummies go; their children move up, except that a dummy with
  // several children stays at the top level.
  std::vector<int> prune(const std::vector<int>& siblings, bool top) {
    std::vector<int> out;
    for (int n : siblings) {
      std::vector<int> kept = prune(nodes_[n].children, false);
      nodes_[n].children = kept;
      for (int c : kept) nodes_[c].parent = n;
      if (nodes_[n].uid != 0) {
        out.push_back(n);
      } else if (kept.empty()) {
        continue;
      } else if (!top || kept.size() == 1) {
        for (int c : kept) {
          nodes_[c].parent = -1;
          out.push_back(c);
        }
      } else {
        out.push_back(n);
      }
    }
    return out;
  }

  ThreadNode build(int n) const {
    ThreadNode node;
    node.uid = nodes_[n].uid;
    for (int c : nodes_[n].children) node.children.push_back(build(c));
    return node;
  }

  std::vector<Container>& nodes() { return nodes_; }

 private:
  std::vector<Container> nodes_;
};

std::vector<ThreadNode> references(std::vector<Container> messages, const std::vector<ThreadKeys>& keys,
                                   bool merge_subjects) {
  Threader t(std::move(messages));
  std::size_t count = keys.size();
  std::unordered_map<std::string_view, int> by_id;
  by_id.reserve(count * 2);
  // Step 1.
  for (std::size_t i = 0; i < count; ++i) {
    int self = static_cast<int>(i);
    std::string_view id = keys[i].message_id;
    if (!id.empty()) {
      auto [entry, fresh] = by_id.try_emplace(id, self);
      if (!fresh && t.nodes()[entry->second].uid == 0) {
        // A dummy made for a reference earlier: this message takes its place.
        int dummy = entry->second;
        for (int c : std::vector<int>(t.nodes()[dummy].children)) {
          t.unlink(c);
          if (!t.loops(self, c)) t.link(self, c);
        }
        if (t.nodes()[dummy].parent != -1) {
          int parent = t.nodes()[dummy].parent;
          t.unlink(dummy);
          if (t.nodes()[self].parent == -1 && !t.loops(parent, self)) t.link(parent, self);
        }
        entry->second = self;
      }
      // A duplicate Message-ID: this message keeps a unique one of its own.
    }
    auto container_of = [&](std::string_view ref) {
      auto [entry, fresh] = by_id.try_emplace(ref, 0);
      if (fresh) entry->second = t.add_dummy();
      return entry->second;
    };
    const auto& refs = keys[i].references;
    for (std::size_t r = 0; r + 1 < refs.size(); ++r) {
      int parent = container_of(refs[r]), child = container_of(refs[r + 1]);
      if (parent == child || t.nodes()[child].parent != -1 || t.loops(parent, child)) continue;
      t.link(parent, child);
    }
    if (!refs.empty()) {
      int parent = container_of(refs.back());
      if (t.nodes()[self].parent != -1) t.unlink(self);
      if (parent != self && !t.loops(parent, self)) t.link(parent, self);
    } else if (t.nodes()[self].parent != -1) {
      t.unlink(self);
    }
  }
  // Step 2.
  std::vector<int> roots;
  for (std::size_t n = 0; n < t.nodes().size(); ++n)
    if (t.nodes()[n].parent == -1) roots.push_back(static_cast<int>(n));
  t.flatten(roots);
  // Step 3.
  roots = t.prune(roots, true);
  // Step 4.
  for (int r : roots) t.sort_children(r);
  std::stable_sort(roots.begin(), roots.end(), [&](int a, int b) { return t.earlier(a, b); });
  // Step 5.
  if (merge_subjects) {
    std::unordered_map<std::string_view, int> table;
    auto thread_subject = [&](int n) -> const Container& { return t.representative(n); };
    for (int r : roots) {
      const Container& s = thread_subject(r);
      if (s.subject.empty()) continue;
      auto [it, inserted] = table.emplace(s.subject, r);
      if (inserted) continue;
      const Container& held = t.nodes()[it->second];
      bool current_dummy = t.nodes()[r].uid == 0;
      if (held.uid != 0 && (current_dummy || (held.reply && !thread_subject(r).reply))) it->second = r;
    }
    std::vector<int> merged;
    for (int r : roots) {
      const Container& s = thread_subject(r);
      auto it = s.subject.empty() ? table.end() : table.find(s.subject);
      if (it == table.end() || it->second == r) {
        merged.push_back(r);
        continue;
      }
      int held = it->second;
      bool held_dummy = t.nodes()[held].uid == 0, current_dummy = t.nodes()[r].uid == 0;
      if (held_dummy && current_dummy) {
        for (int c : std::vector<int>(t.nodes()[r].children)) {
          t.unlink(c);
          t.link(held, c);
        }
      } else if (held_dummy || (t.nodes()[r].reply && !t.nodes()[held].reply)) {
        t.link(held, r);
      } else {
        int dummy = t.add_dummy();
        auto pos = std::find(merged.begin(), merged.end(), held);
        if (pos != merged.end()) *pos = dummy;
        t.link(dummy, held);
        t.link(dummy, r);
        it->second = dummy;
      }
    }
    roots = merged;
  }
  // Step 6.
  for (int r : roots) t.sort_children(r);
  std::stable_sort(roots.begin(), roots.end(), [&](int a, int b) { return t.earlier(a, b); });
  if (!merge_subjects) {
    // REFS: threads in the order of their newest message.
    std::unordered_map<int, std::pair<std::int64_t, std::uint32_t>> newest;
    std::function<void(int, std::pair<std::int64_t, std::uint32_t>&)> walk = [&](int n, auto& best) {
      if (t.nodes()[n].uid != 0) best = std::max(best, std::pair{t.nodes()[n].date, t.nodes()[n].seq});
      for (int c : t.nodes()[n].children) walk(c, best);
    };
    for (int r : roots) {
      std::pair<std::int64_t, std::uint32_t> best{INT64_MIN, 0};
      walk(r, best);
      newest[r] = best;
    }
    std::stable_sort(roots.begin(), roots.end(), [&](int a, int b) { return newest[a] < newest[b]; });
  }
  std::vector<ThreadNode> out;
  for (int r : roots) out.push_back(t.build(r));
  return out;
}

std::vector<ThreadNode> ordered_subject(const std::vector<Container>& messages) {
  std::vector<std::size_t> order(messages.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const Container &x = messages[a], &y = messages[b];
    if (x.subject != y.subject) return x.subject < y.subject;
    if (x.date != y.date) return x.date < y.date;
    return x.seq < y.seq;
  });
  std::vector<ThreadNode> threads;
  std::vector<std::pair<std::int64_t, std::uint32_t>> first;
  for (std::size_t i = 0; i < order.size();) {
    const Container& head = messages[order[i]];
    ThreadNode root{head.uid, {}};
    std::size_t j = i + 1;
    for (; j < order.size() && messages[order[j]].subject == head.subject; ++j)
      root.children.push_back(ThreadNode{messages[order[j]].uid, {}});
    threads.push_back(std::move(root));
    first.emplace_back(head.date, head.seq);
    i = j;
  }
  std::vector<std::size_t> by_date(threads.size());
  for (std::size_t i = 0; i < by_date.size(); ++i) by_date[i] = i;
  std::stable_sort(by_date.begin(), by_date.end(), [&](std::size_t a, std::size_t b) { return first[a] < first[b]; });
  std::vector<ThreadNode> out;
  for (auto i : by_date) out.push_back(std::move(threads[i]));
  return out;
}

}  // namespace

std::expected<std::vector<ThreadNode>, LmdbError> thread_messages(const Txn& txn, ThreadAlgorithm algorithm,
                                                         const std::vector<Uid>& uids) {
  std::vector<Container> messages;
  std::vector<ThreadKeys> keys;
  messages.reserve(uids.size());
  keys.reserve(uids.size());
  // One pass over the keys in UID order, merged with the (ascending) UIDs:
  // far cheaper than a lookup per message.
  Cursor cursor(txn, txn.env().dbi(Db::keys));
  std::string_view key, value;
  std::string first;
  append_be32(first, uids.empty() ? 0 : uids.front());
  bool more = !uids.empty() && cursor.get(MDB_SET_RANGE, &key, &value, first);
  std::size_t i = 0;
  while (more && i < uids.size()) {
    Uid uid = read_be32(key);
    while (i < uids.size() && uids[i] < uid) ++i;
    if (i == uids.size()) break;
    if (uids[i] == uid) {
      ThreadKeys k;
      if (!decode_thread_keys(value, k)) return std::unexpected(LmdbError{MDB_CORRUPTED, "message keys unreadable"});
      Container c;
      c.uid = uid;
      c.seq = static_cast<std::uint32_t>(i + 1);
      c.date = k.sent_date;
      c.subject = k.subject;
      c.reply = k.subject_reply;
      messages.push_back(std::move(c));
      keys.push_back(std::move(k));
      ++i;
    }
    more = cursor.get(MDB_NEXT, &key, &value);
  }
  switch (algorithm) {
    case ThreadAlgorithm::ordered_subject: return ordered_subject(messages);
    case ThreadAlgorithm::references: return references(std::move(messages), keys, true);
    case ThreadAlgorithm::refs: return references(std::move(messages), keys, false);
  }
  return std::vector<ThreadNode>{};
}

}  // namespace roost::index
