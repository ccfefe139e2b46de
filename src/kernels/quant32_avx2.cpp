// AVX2 kernels of the 32-element-block family: vpmaddubsw + vpmaddwd integer dots over the
// repacked weight panels of quant32_simd.h (16 rows x 2 tokens register tiles: 16 ymm registers).
#include "kernels/quant32_simd.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::avx2 {
namespace {

struct Avx2Q32 {
  using I = __m256i;
  using F = __m256;
  static constexpr size_t kLanes = 8, kRowVecs = 2, kTileTokens = 2;
  static constexpr bool kVnni = false;

  static I zero_i() { return _mm256_setzero_si256(); }
  static I set1_i32(int32_t v) { return _mm256_set1_epi32(v); }
  static I load_i(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }
  static void store_i(void* p, I v) { _mm256_store_si256(static_cast<__m256i*>(p), v); }
  static I load_rows128(const uint8_t* p, size_t step) {
    return _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + step)), 1);
  }
  static I gather_u32(const uint8_t* p, size_t step) {
    const I offsets =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(int32_t(step)));
    return _mm256_i32gather_epi32(reinterpret_cast<const int*>(p), offsets, 1);
  }
  static I unpacklo32(I a, I b) { return _mm256_unpacklo_epi32(a, b); }
  static I unpackhi32(I a, I b) { return _mm256_unpackhi_epi32(a, b); }
  static I unpacklo64(I a, I b) { return _mm256_unpacklo_epi64(a, b); }
  static I unpackhi64(I a, I b) { return _mm256_unpackhi_epi64(a, b); }
  static I nibble_lo(I v) { return _mm256_and_si256(v, _mm256_set1_epi8(15)); }
  static I nibble_hi(I v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(15)); }
  static I flip_sign_bit(I v) { return _mm256_xor_si256(v, _mm256_set1_epi8(char(0x80))); }
  static I add_high_bits(I v, I qh, size_t k) {
    // Byte k / 2 of each lane's qh to all 4 bytes of the lane, then test bit 4 (k % 2) + j.
    const int32_t c = int32_t(k / 2) * 0x01010101;
    const I ctrl =
        _mm256_broadcastsi128_si256(_mm_setr_epi32(c, c + 0x04040404, c + 0x08080808, c + 0x0c0c0c0c));
    const I sel = _mm256_set1_epi32(int32_t(0x08040201u << (4 * (k % 2))));
    const I set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(qh, ctrl), sel), sel);
    return _mm256_or_si256(v, _mm256_and_si256(set, _mm256_set1_epi8(16)));
  }
  static I dot(I acc, I, I) { return acc; }  // no VNNI
  static I maddubs(I w, I x) { return _mm256_maddubs_epi16(w, x); }
  static I add16(I a, I b) { return _mm256_add_epi16(a, b); }
  static I widen_add(I acc, I s16) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
  }
  static I add_i32(I a, I b) { return _mm256_add_epi32(a, b); }
  struct SignedW {
    I abs, w;
  };
  static SignedW prep_signed(I w) { return {_mm256_abs_epi8(w), w}; }
  static I signed_abs(const SignedW& w) { return w.abs; }
  static I apply_sign(I x, const SignedW& w) { return _mm256_sign_epi8(x, w.w); }

  static F load_f16(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // The f16 in the low / high half of each 32-bit lane.
  static F f16_low_to_f(I v) {
    const __m256i lo = _mm256_blend_epi16(v, _mm256_setzero_si256(), 0xaa);
    return _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1)));
  }
  static F f16_high_to_f(I v) { return f16_low_to_f(_mm256_srli_epi32(v, 16)); }
  static F load_f(const float* p) { return _mm256_loadu_ps(p); }
  static F zero_f() { return _mm256_setzero_ps(); }
  static F add_f(F a, F b) { return _mm256_add_ps(a, b); }
  static void store_f(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F set1_f(float v) { return _mm256_set1_ps(v); }
  static F to_f(I v) { return _mm256_cvtepi32_ps(v); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }

  static float reduce_max(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
  }
  static void quantize_block(const float* x, BlockQ8A32* out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    for (size_t i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + 8 * i);
    const __m256 m01 = _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1]));
    const __m256 m23 = _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3]));
    const float amax = reduce_max(_mm256_max_ps(m01, m23));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    // cvtps rounds to nearest even under the default MXCSR, as nearbyint does.
    __m256i q[4];
    for (size_t i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
    // packs work within 128-bit lanes; the dword permute restores element order.
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out->qs),
                        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    const __m256i s8 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    out->d = d;
    out->s = d * float(_mm_cvtsi128_si32(s4));
  }
  static int32_t qs_sum(const int8_t* qs) {
    // Sum of (q + 128) by vpsadbw, then remove the 32 * 128 bias.
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)),
                                       _mm256_set1_epi8(char(0x80)));
    const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return int32_t(_mm_cvtsi128_si64(_mm_add_epi64(h, _mm_unpackhi_epi64(h, h)))) - 32 * 128;
  }
};

}  // namespace

void add_quant32_kernels(KernelTable& t) {
  q32::add_kernels<Avx2Q32>(t);
}

}  // namespace tokenmill::kernels::avx2
