// Piece text -> token id, searchable by string_view without allocating.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tokenmill {

struct PieceHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

using VocabIndex = std::unordered_map<std::string, int32_t, PieceHash, std::equal_to<>>;

// Id of `piece`, or -1.
inline int32_t find_piece(const VocabIndex& index, std::string_view piece) {
  const auto it = index.find(piece);
  return it == index.end() ? -1 : it->second;
}

}  // namespace tokenmill
