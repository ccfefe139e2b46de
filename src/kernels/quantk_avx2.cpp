// K-quant kernels for AVX2 (see quantk_simd.h): a chunk is 32 consecutive elements of a
// super-block (8 per block), maddubs + madd per chunk.
#include "kernels/quantk_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx2 {
namespace {

struct Avx2Traits {
  using I = __m256i;
  using F = __m256;
  struct Mins {  // 16 f32, one per 16-element group
    __m256 lo, hi;
  };
  static constexpr size_t kChunkBytes = 32;
  static constexpr size_t kChunks = kQKK / kChunkBytes;
  static constexpr size_t kTileRows = 2;
  static constexpr size_t kTileTokens = 4;

  struct Prep {
    __m256i scales_lo, scales_hi;  // int16 group scales 0..7 / 8..15 in both 128-bit lanes
    Mins mins;                     // mw[g]
    __m256 d;                      // d in every lane
  };
  struct XPrep {
    Mins bsums;  // dx * bsums[g]
    __m256 d;    // dx in every lane
  };

  static __m256 to_f32(__m128i bytes8) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8)); }

  static Prep prepare(const quantk::BlockParams& p) {
    const __m256i s = _mm256_cvtepi8_epi16(p.sc16);
    const __m256 m = _mm256_broadcastss_ps(_mm_movehdup_ps(p.factors));
    return {_mm256_permute4x64_epi64(s, 0x44),
            _mm256_permute4x64_epi64(s, 0xEE),
            {_mm256_mul_ps(to_f32(p.m16), m), _mm256_mul_ps(to_f32(_mm_srli_si128(p.m16, 8)), m)},
            _mm256_broadcastss_ps(p.factors)};
  }
  // Chunk K covers groups 2 K (low 128-bit lane) and 2 K + 1 (high lane).
  template <size_t K>
  static I chunk_scales(const Prep& p) {
    constexpr int a = (2 * K) % 8, b = (2 * K + 1) % 8;
    const __m256i pick = _mm256_set_m128i(_mm_set1_epi16(int16_t((2 * b + 1) << 8 | 2 * b)),
                                          _mm_set1_epi16(int16_t((2 * a + 1) << 8 | 2 * a)));
    return _mm256_shuffle_epi8(K < 4 ? p.scales_lo : p.scales_hi, pick);
  }

  static I load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static I low_bits(I v, int mask) { return _mm256_and_si256(v, _mm256_set1_epi8(char(mask))); }
  // Bit `from` of every byte moved to bit `to` (other bits of the byte are garbage).
  template <int from, int to>
  static I move_bit(I v) {
    if constexpr (from < to)
      return _mm256_slli_epi16(v, to - from);
    else if constexpr (from > to)
      return _mm256_srli_epi16(v, from - to);
    else
      return v;
  }

  // Chunk K = 2 c + h: nibble h of qs[32 c + l].
  template <size_t K>
  static I unpack4(const uint8_t* qs) {
    const I q = load(qs + 32 * (K / 2));
    return low_bits(K % 2 == 0 ? q : _mm256_srli_epi16(q, 4), 15);
  }
  template <size_t K>
  static I unpack(const BlockQ4_K& b) {
    return unpack4<K>(b.qs);
  }
  template <size_t K>
  static I unpack(const BlockQ5_K& b) {
    const I high = low_bits(move_bit<int(K), 4>(load(b.qh)), 0x10);
    return _mm256_or_si256(unpack4<K>(b.qs), high);
  }
  // Chunk K = 4 n + j: nibble j / 2 of ql[64 n + 32 (j % 2) + l], bits 2 j of qh[32 n + l].
  template <size_t K>
  static I unpack(const BlockQ6_K& b) {
    constexpr size_t n = K / 4, j = K % 4;
    const I ql = load(b.ql + 64 * n + 32 * (j % 2));
    const I low = low_bits(j < 2 ? ql : _mm256_srli_epi16(ql, 4), 15);
    const I high = low_bits(move_bit<int(2 * j), 4>(load(b.qh + 32 * n)), 0x30);
    return _mm256_or_si256(low, high);
  }
  // Chunk K = 4 n + j: bits 2 j of qs[32 n + l].
  template <size_t K>
  static I unpack2(const uint8_t* qs) {
    return low_bits(_mm256_srli_epi16(load(qs + 32 * (K / 4)), int(2 * (K % 4))), 3);
  }
  template <size_t K>
  static I unpack(const BlockQ2_K& b) {
    return unpack2<K>(b.qs);
  }
  template <size_t K>
  static I unpack(const BlockQ3_K& b) {
    const I high = low_bits(move_bit<int(K), 2>(load(b.hmask)), 0x04);  // hmask bit 4 n + j = K
    return _mm256_or_si256(unpack2<K>(b.qs), high);
  }

  static I dot(I w, I x, I s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), s); }
  static I dot_acc(I acc, I w, I x, I s) { return _mm256_add_epi32(acc, dot(w, x, s)); }

  static F fzero() { return _mm256_setzero_ps(); }
  static XPrep x_prepare(const BlockQ8K& a) {
    const __m256i bsums = load(a.bsums);
    const __m256 d = _mm256_set1_ps(a.d);
    return {{_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(bsums))), d),
             _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(bsums, 1))), d)},
            d};
  }
  // acc + d * dx * isum + mw . (dx * bsums)
  static F finish(F acc, I isum, const Prep& w, const XPrep& x) {
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(w.d, x.d), acc);
    acc = _mm256_fmadd_ps(w.mins.lo, x.bsums.lo, acc);
    return _mm256_fmadd_ps(w.mins.hi, x.bsums.hi, acc);
  }
  static float reduce_add(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // ref::quantize_q8k with the same f32 operations (see the AVX-512 traits).
  static void quantize_block(const float* x, BlockQ8K& out) {
    __m256 v[32];
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 amax = _mm256_setzero_ps();
    for (size_t i = 0; i < 32; ++i) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float max_abs = _mm_cvtss_f32(m);
    out.d = max_abs / 127.0f;
    const __m256 id = _mm256_set1_ps(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
    for (size_t g = 0; g < 16; ++g) {
      const __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(v[2 * g], id));
      const __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(v[2 * g + 1], id));
      // packs interleaves 128-bit lanes: [q0 0..3, q1 0..3, q0 4..7, q1 4..7] -> reorder.
      const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
      const __m128i bytes =
          _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out.qs + 16 * g), bytes);
      __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(q0), _mm256_castsi256_si128(q1));
      sum =
          _mm_add_epi32(sum, _mm_add_epi32(_mm256_extracti128_si256(q0, 1), _mm256_extracti128_si256(q1, 1)));
      sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4E));
      sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xB1));
      out.bsums[g] = int16_t(_mm_cvtsi128_si32(sum));
    }
  }
};

}  // namespace

void add_quantk_kernels(KernelTable& t) {
  quantk::add_kernels<Avx2Traits>(t);
}

}  // namespace tokenmill::kernels::avx2
