// AVX-512 float-activation matmul of the 32-element family (quant32f_simd.h): 16 f32 lanes, register
// tiles of 4 rows x 4 tokens. A 4-bit block is decoded with two table lookups: its 16 code bytes
// are widened to 16 dwords (vpmovzxbd), and vpermps, which reads only the low 4 bits of each index,
// picks each weight from the block's 16-entry table of d * (q - 8) (Q4_1: d * q + m); the high
// nibbles are the same bytes shifted right by 4. The table is computed once per block as the scalar
// dequantization computes each value, so every weight is exactly its dequantized f32. Q5_0 / Q5_1
// use a 32-entry table over two registers (vpermt2ps reads 5 index bits), the fifth bit set from
// the block's qh as a lane mask; Q8_0 widens, converts and multiplies by d.
// avx512vnni and amx use these kernels (the table layers them over avx512's).
// GCC 12's AVX-512 headers build some results from a self-initialized "undefined" vector and then
// warn about it at every inlined use (GCC bug 105593, fixed in GCC 13): silence only that here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "kernels/quant32f_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx512 {
namespace {

struct Avx512F {
  using F = __m512;
  static constexpr size_t kWidth = 16, kTileRows = 4, kTileTokens = 4;

  static F zero() { return _mm512_setzero_ps(); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduce_add(F v) { return _mm512_reduce_add_ps(v); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

  // d (and m) of n <= 16 consecutive blocks by one gather of each block's first 4 bytes.
  template <DType WT>
  static void load_scales(const uint8_t* first, size_t n, float* d, float* m) {
    constexpr int BS = int(q32f::block_bytes<WT>());
    const __m512i offsets = _mm512_setr_epi32(0, BS, 2 * BS, 3 * BS, 4 * BS, 5 * BS, 6 * BS, 7 * BS, 8 * BS,
                                              9 * BS, 10 * BS, 11 * BS, 12 * BS, 13 * BS, 14 * BS, 15 * BS);
    const __mmask16 valid = n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u);
    const __m512i dm = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, offsets, first, 1);
    _mm512_store_ps(d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm)));
    if constexpr (q32f::has_min<WT>())
      _mm512_store_ps(m, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16))));
  }
  // Lane j = j + first, as f32.
  static F iota(float first) {
    return _mm512_add_ps(_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_ps(first));
  }
  static __m512i codes(const uint8_t* qs) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  }

  template <DType WT>
  struct Block;
};

// Q4_0 / Q4_1: table[q] = d * (q - 8) or d * q + m, read by vpermps with the nibbles as indices.
template <DType WT, class B>
struct Nibbles16 {
  __m512i codes;  // byte i of qs in dword i
  __m512 table;   // [16] weight of each code
  void load(const uint8_t* block, const float* d_ptr, const float* m_ptr) {
    const __m512 d = _mm512_set1_ps(*d_ptr);
    if constexpr (WT == DType::Q4_0) {
      table = _mm512_mul_ps(d, Avx512F::iota(-8.0f));
    } else {
      table = _mm512_add_ps(_mm512_mul_ps(d, Avx512F::iota(0.0f)), _mm512_set1_ps(*m_ptr));
    }
    codes = Avx512F::codes(block + offsetof(B, qs));
  }
  template <size_t K>
  __m512 part() const {
    return _mm512_permutexvar_ps(K == 0 ? codes : _mm512_srli_epi32(codes, 4), table);
  }
};

// Q5_0 / Q5_1: a 32-entry table (lo: q 0..15, hi: q 16..31); bit 4 of each index from qh.
template <DType WT, class B>
struct Nibbles32 {
  __m512i codes;
  __m512 lo, hi;
  uint32_t qh;
  void load(const uint8_t* block, const float* d_ptr, const float* m_ptr) {
    const __m512 d = _mm512_set1_ps(*d_ptr);
    if constexpr (WT == DType::Q5_0) {
      lo = _mm512_mul_ps(d, Avx512F::iota(-16.0f));
      hi = _mm512_mul_ps(d, Avx512F::iota(0.0f));
    } else {
      const __m512 m = _mm512_set1_ps(*m_ptr);
      lo = _mm512_add_ps(_mm512_mul_ps(d, Avx512F::iota(0.0f)), m);
      hi = _mm512_add_ps(_mm512_mul_ps(d, Avx512F::iota(16.0f)), m);
    }
    std::memcpy(&qh, block + offsetof(B, qh), 4);
    codes = Avx512F::codes(block + offsetof(B, qs));
  }
  template <size_t K>
  __m512 part() const {
    // Elements 16 K + l: nibble K of byte l, fifth bit = bit 16 K + l of qh.
    const __m512i nibble =
        K == 0 ? _mm512_and_si512(codes, _mm512_set1_epi32(15)) : _mm512_srli_epi32(codes, 4);
    const __m512i index =
        _mm512_mask_or_epi32(nibble, __mmask16(qh >> (16 * K)), nibble, _mm512_set1_epi32(16));
    return _mm512_permutex2var_ps(lo, index, hi);
  }
};

template <>
struct Avx512F::Block<DType::Q4_0> : Nibbles16<DType::Q4_0, BlockQ4_0> {};
template <>
struct Avx512F::Block<DType::Q4_1> : Nibbles16<DType::Q4_1, BlockQ4_1> {};
template <>
struct Avx512F::Block<DType::Q5_0> : Nibbles32<DType::Q5_0, BlockQ5_0> {};
template <>
struct Avx512F::Block<DType::Q5_1> : Nibbles32<DType::Q5_1, BlockQ5_1> {};
template <>
struct Avx512F::Block<DType::Q8_0> {
  const int8_t* qs;
  __m512 d;
  void load(const uint8_t* block, const float* d_ptr, const float*) {
    d = _mm512_set1_ps(*d_ptr);
    qs = reinterpret_cast<const int8_t*>(block + offsetof(BlockQ8_0, qs));
  }
  template <size_t K>
  __m512 part() const {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * K));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d);
  }
};

}  // namespace

void add_quant32f_kernels(KernelTable& t) {
  q32f::add_kernels<Avx512F>(t);
}

}  // namespace tokenmill::kernels::avx512
