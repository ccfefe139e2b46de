#include "tokenizer/spm.h"

#include <queue>

#include "tokenizer/utf8.h"

namespace tokenmill {
namespace {

// One piece of the text being merged; pieces form a doubly linked list in text order.
struct Symbol {
  int32_t prev = -1;
  int32_t next = -1;
  size_t begin = 0;   // byte offset in text
  size_t length = 0;  // bytes; 0 once merged into its left neighbour
};

struct Bigram {
  int32_t left = 0;
  int32_t right = 0;
  float score = 0;
  size_t length = 0;  // bytes of the merged piece; stale entries no longer match
};

// Highest score first; among equal scores the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

void append_piece_or_bytes(std::string_view piece, const SpmVocabView& vocab,
                           std::vector<int32_t>& out) {
  const int32_t id = find_piece(*vocab.pieces, piece);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  bool all_bytes_known = true;
  for (char c : piece) all_bytes_known = all_bytes_known && vocab.byte_tokens[static_cast<uint8_t>(c)] >= 0;
  if (all_bytes_known) {
    for (char c : piece) out.push_back(vocab.byte_tokens[static_cast<uint8_t>(c)]);
  } else if (vocab.unk_id >= 0) {
    out.push_back(vocab.unk_id);
  }
}

}  // namespace

void spm_encode(std::string_view text, const SpmVocabView& vocab, std::vector<int32_t>& out) {
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    size_t n = utf8::valid_sequence_length(text, pos);
    if (n == 0) n = 1;  // callers pass valid UTF-8; stay safe anyway
    Symbol s;
    s.begin = pos;
    s.length = n;
    s.prev = static_cast<int32_t>(symbols.size()) - 1;
    s.next = pos + n < text.size() ? static_cast<int32_t>(symbols.size()) + 1 : -1;
    symbols.push_back(s);
    pos += n;
  }
  if (symbols.empty()) return;

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const int32_t id = find_piece(*vocab.pieces, text.substr(symbols[left].begin, length));
    if (id < 0 || static_cast<size_t>(id) >= vocab.scores.size()) return;
    queue.push({left, right, vocab.scores[id], length});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    // Skip pairs invalidated by an earlier merge of either side.
    if (left.length == 0 || right.length == 0 || left.length + right.length != top.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    try_add(left.prev, top.left);
    try_add(top.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    append_piece_or_bytes(text.substr(symbols[i].begin, symbols[i].length), vocab, out);
  }
}

}  // namespace tokenmill
