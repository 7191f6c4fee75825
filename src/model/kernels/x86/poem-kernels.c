/*
 * The poem writer's two WebAssembly kernels as native x86-64 code, each with the same arguments (byte
 * offsets into the WebAssembly memory its data lives in, passed as a Uint8Array over it) and the same results
 * bit for bit: the int8 products of int8-matvec.wat (AVX-512 VNNI's vpdpwssd does 32 multiply-adds an
 * instruction, WebAssembly's i32x4.dot_i16x8_s 8; or AVX2) and the LSTM cells of lstm-cell.wat (16 or 8
 * lanes instead of 4). Built at install by scripts/build-native-kernels.mjs; where it is missing or the CPU
 * has neither, the WebAssembly kernels run.
 *
 * Why the products are the same: the WebAssembly kernel sums each product exactly in four int32 lanes (lane l
 * takes the k with k mod 8 in {2l, 2l+1}), per chunk of 2048 k, and adds the lanes in f32 in a fixed order.
 * A wider lane m here takes k mod 32 (AVX-512) or k mod 16 (AVX2) in {2m, 2m+1}, so WebAssembly's lane l is
 * the integer sum of the lanes m with m mod 4 = l (int32 additions wrap alike in both); from there the f32
 * arithmetic is done in the same order (compiled with -ffp-contract=off: no fused multiply-add).
 *
 * Tiles of 4 output columns × 4 inputs: each weight is loaded and widened once for four inputs, each input
 * once for four columns.
 */
#define NAPI_VERSION 8
#include <immintrin.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define CHUNK 2048
/* whether `bytes` bytes at offset `at` lie inside the memory (`size` bytes, a local of the caller) */
#define INSIDE(at, bytes) ((at) >= 0 && (int64_t)(at) + (int64_t)(bytes) <= size)

typedef struct {
  const int8_t *w;        /* N rows of K int8 weights */
  const float *rowScale;  /* N */
  const float *bias;      /* N */
  const int16_t *x;       /* B rows of K int16 inputs */
  const float *xScale;    /* B */
  float *out;             /* B rows of N */
  int K, N;
} Product;

/* out[b][j] from the four WebAssembly lanes' f32 sums, as the WebAssembly kernel stores it */
static inline void store(const Product *p, int j, int b, __m128 lanes) {
  float s[4];
  _mm_storeu_ps(s, lanes);
  float scale = p->xScale[b] * p->rowScale[j];
  p->out[(int64_t)b * p->N + j] = scale * ((s[0] + s[1]) + (s[2] + s[3])) + p->bias[j];
}

/* store() for four inputs b0…b0+3 of column j at once, given their sums ((l0 + l1) + (l2 + l3)) in four
   lanes: the same operations in the same order on each; the scalar store took a fifth of a tile's time at
   K = 512. The tiles of 4 inputs bring their sums from their accumulator registers (store4q, store4h). */
static inline void store4(const Product *p, int j, int b0, __m128 sum) {
  const __m128 scale = _mm_mul_ps(_mm_loadu_ps(p->xScale + b0), _mm_set1_ps(p->rowScale[j]));
  float o[4];
  _mm_storeu_ps(o, _mm_add_ps(_mm_mul_ps(scale, sum), _mm_set1_ps(p->bias[j])));
  for (int b = 0; b < 4; b++) p->out[(int64_t)(b0 + b) * p->N + j] = o[b];
}

/* `statement` for each column c < NC and input b < NB of a tile */
#define EACH_IN_TILE(NC, NB, statement) \
  for (int c = 0; c < NC; c++)       \
    for (int b = 0; b < NB; b++) statement

/* Four accumulators' lanes m ≡ l (mod 4) summed (WebAssembly's lane l): quarter b of the result is a[b]'s
   four sums. Four shuffles and three additions where four separate reductions took twelve extracts and
   additions (at K = 512 they were a fifth of a 4 × 4 tile's instructions). */
__attribute__((target("avx512f"))) static inline __m512i quarterSums(const __m512i a[4]) {
  const __m512i x01 = _mm512_add_epi32(_mm512_shuffle_i32x4(a[0], a[1], 0x44), _mm512_shuffle_i32x4(a[0], a[1], 0xEE));
  const __m512i x23 = _mm512_add_epi32(_mm512_shuffle_i32x4(a[2], a[3], 0x44), _mm512_shuffle_i32x4(a[2], a[3], 0xEE));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(x01, x23, 0x88), _mm512_shuffle_i32x4(x01, x23, 0xDD));
}

/* store4() from one register whose quarter b holds input b0+b's four lanes: their sums in the same
   order, ((l0 + l1) + (l2 + l3)), come to lane 0 of each quarter (f32 addition is commutative, so the mirrored
   lanes hold the same bits and are dropped) */
__attribute__((target("avx512f"))) static inline void store4q(const Product *p, int j, int b0, __m512 q) {
  const __m512 pairs = _mm512_add_ps(q, _mm512_permute_ps(q, 0xB1));          /* l0+l1, l1+l0, l2+l3, l3+l2 */
  const __m512 sums = _mm512_add_ps(pairs, _mm512_permute_ps(pairs, 0x4E));  /* lane 0: (l0+l1) + (l2+l3) */
  store4(p, j, b0, _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), sums)));
}

/* One tile: columns cols[0..NC), inputs b0..b0+NB, every chunk, stored. */
#define TILE_AVX512(NC, NB)                                                                                  \
  __attribute__((target("avx512f,avx512bw,avx512vnni"))) static void tile512_##NC##x##NB(                  \
      const Product *p, const int32_t *cols, int b0) {                                                     \
    const int K = p->K;                                                                                    \
    __m128 s[NC][NB];                                                                                      \
    __m512 s4[NC]; /* with 4 inputs: s[c][0..3] as the four quarters of one register */                   \
    EACH_IN_TILE(NC, NB, s[c][b] = _mm_setzero_ps());                                             \
    for (int c = 0; c < NC; c++) s4[c] = _mm512_setzero_ps();                                              \
    for (int k0 = 0; k0 < K; k0 += CHUNK) {                                                                \
      const int k1 = k0 + CHUNK < K ? k0 + CHUNK : K;                                                      \
      __m512i acc[NC][NB];                                                                                 \
      EACH_IN_TILE(NC, NB, acc[c][b] = _mm512_setzero_si512());                                   \
      int k = k0;                                                                                          \
      for (; k + 32 <= k1; k += 32) {                                                                      \
        __m512i wv[NC];                                                                                    \
        for (int c = 0; c < NC; c++)                                                                       \
          wv[c] = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p->w + (int64_t)cols[c] * K + k))); \
        for (int b = 0; b < NB; b++) {                                                                     \
          __m512i xv = _mm512_loadu_si512((const void *)(p->x + (int64_t)(b0 + b) * K + k));               \
          for (int c = 0; c < NC; c++) acc[c][b] = _mm512_dpwssd_epi32(acc[c][b], wv[c], xv);              \
        }                                                                                                  \
      }                                                                                                    \
      if (k < k1) { /* 16 left (K is a multiple of 16): the low lanes, k mod 32 < 16 */                     \
        __m512i wv[NC];                                                                                    \
        for (int c = 0; c < NC; c++)                                                                       \
          wv[c] = _mm512_zextsi256_si512(                                                                  \
              _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p->w + (int64_t)cols[c] * K + k))));  \
        for (int b = 0; b < NB; b++) {                                                                     \
          __m512i xv = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(p->x + (int64_t)(b0 + b) * K + k))); \
          for (int c = 0; c < NC; c++) acc[c][b] = _mm512_dpwssd_epi32(acc[c][b], wv[c], xv);              \
        }                                                                                                  \
      }                                                                                                    \
      for (int c = 0; c < NC; c++)                                                                         \
        if (NB == 4) /* the four inputs' sums in one register's four quarters (int32 sums in any order: the same) */ \
          s4[c] = _mm512_add_ps(s4[c], _mm512_cvtepi32_ps(quarterSums(acc[c])));                          \
        else                                                                                               \
          for (int b = 0; b < NB; b++) { /* lanes m ≡ l (mod 4) summed: WebAssembly's lane l, exactly */   \
            __m512i a = acc[c][b];                                                                         \
            __m128i l4 = _mm_add_epi32(_mm_add_epi32(_mm512_castsi512_si128(a), _mm512_extracti32x4_epi32(a, 1)), \
                                       _mm_add_epi32(_mm512_extracti32x4_epi32(a, 2), _mm512_extracti32x4_epi32(a, 3))); \
            s[c][b] = _mm_add_ps(s[c][b], _mm_cvtepi32_ps(l4));                                            \
          }                                                                                                \
    }                                                                                                      \
    if (NB == 4)                                                                                           \
      for (int c = 0; c < NC; c++) store4q(p, cols[c], b0, s4[c]);                                         \
    else                                                                                                   \
      EACH_IN_TILE(NC, NB, store(p, cols[c], b0 + b, s[c][b]));                                            \
  }

/* The AVX2 forms of quarterSums() and store4q(): two accumulators' lanes m ≡ l (mod 4) summed, half h of
   the result a[h]'s; and the store of four inputs from two such registers (inputs 0, 1 and 2, 3) */
__attribute__((target("avx2"))) static inline __m256i halfSums(__m256i a0, __m256i a1) {
  return _mm256_add_epi32(_mm256_permute2x128_si256(a0, a1, 0x20), _mm256_permute2x128_si256(a0, a1, 0x31));
}
__attribute__((target("avx2"))) static inline __m256 laneSums(__m256 h) { /* lane 0 of each half: (l0+l1) + (l2+l3) */
  const __m256 pairs = _mm256_add_ps(h, _mm256_permute_ps(h, 0xB1));
  return _mm256_add_ps(pairs, _mm256_permute_ps(pairs, 0x4E));
}
__attribute__((target("avx2"))) static inline void store4h(const Product *p, int j, int b0, __m256 s01, __m256 s23) {
  const __m256 v = _mm256_shuffle_ps(laneSums(s01), laneSums(s23), 0x00); /* halves: b0 b0 b2 b2 | b1 b1 b3 b3 */
  store4(p, j, b0, _mm_blend_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1), 0xA)); /* b0 b1 b2 b3 */
}

/* AVX2 has 16 vector registers: tiles of 2 columns × 4 inputs */
#define TILE_AVX2(NC, NB)                                                                                    \
  __attribute__((target("avx2"))) static void tile256_##NC##x##NB(const Product *p, const int32_t *cols, int b0) { \
    const int K = p->K;                                                                                    \
    __m128 s[NC][NB];                                                                                      \
    __m256 s2[NC][2]; /* with 4 inputs: s[c][0..3] as the halves of two registers */                        \
    EACH_IN_TILE(NC, NB, s[c][b] = _mm_setzero_ps());                                             \
    for (int c = 0; c < NC; c++) s2[c][0] = s2[c][1] = _mm256_setzero_ps();                                \
    for (int k0 = 0; k0 < K; k0 += CHUNK) {                                                                \
      const int k1 = k0 + CHUNK < K ? k0 + CHUNK : K;                                                      \
      __m256i acc[NC][NB];                                                                                 \
      EACH_IN_TILE(NC, NB, acc[c][b] = _mm256_setzero_si256());                                   \
      for (int k = k0; k < k1; k += 16) {                                                                  \
        __m256i wv[NC];                                                                                    \
        for (int c = 0; c < NC; c++)                                                                       \
          wv[c] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p->w + (int64_t)cols[c] * K + k)));  \
        for (int b = 0; b < NB; b++) {                                                                     \
          __m256i xv = _mm256_loadu_si256((const __m256i *)(p->x + (int64_t)(b0 + b) * K + k));            \
          for (int c = 0; c < NC; c++) acc[c][b] = _mm256_add_epi32(acc[c][b], _mm256_madd_epi16(wv[c], xv)); \
        }                                                                                                  \
      }                                                                                                    \
      for (int c = 0; c < NC; c++)                                                                         \
        if (NB == 4) { /* inputs 0, 1 in one register's halves, 2, 3 in another's */                        \
          s2[c][0] = _mm256_add_ps(s2[c][0], _mm256_cvtepi32_ps(halfSums(acc[c][0], acc[c][1])));          \
          s2[c][1] = _mm256_add_ps(s2[c][1], _mm256_cvtepi32_ps(halfSums(acc[c][2], acc[c][3])));          \
        } else                                                                                             \
          for (int b = 0; b < NB; b++) {                                                                   \
            __m256i a = acc[c][b];                                                                         \
            __m128i l4 = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));         \
            s[c][b] = _mm_add_ps(s[c][b], _mm_cvtepi32_ps(l4));                                            \
          }                                                                                                \
    }                                                                                                      \
    if (NB == 4)                                                                                           \
      for (int c = 0; c < NC; c++) store4h(p, cols[c], b0, s2[c][0], s2[c][1]);                           \
    else                                                                                                   \
      EACH_IN_TILE(NC, NB, store(p, cols[c], b0 + b, s[c][b]));                                            \
  }

/* (4 × 4 measured best at K = 512 and 1024 against 3×8, 4×6, 2×8 and 6×4: bench/kernel-ab.ts) */
TILE_AVX512(4, 4)
TILE_AVX512(4, 3)
TILE_AVX512(4, 2)
TILE_AVX512(4, 1)
TILE_AVX512(1, 4)
TILE_AVX512(1, 3)
TILE_AVX512(1, 2)
TILE_AVX512(1, 1)
TILE_AVX2(2, 4)
TILE_AVX2(2, 3)
TILE_AVX2(2, 2)
TILE_AVX2(2, 1)
TILE_AVX2(1, 4)
TILE_AVX2(1, 3)
TILE_AVX2(1, 2)
TILE_AVX2(1, 1)

typedef void (*Tile)(const Product *, const int32_t *, int);
typedef struct {
  const char *name;
  int columns; /* the columns a full tile takes */
  /* by the inputs a tile takes, 1–4: the last inputs of a product (B mod 4) in one tile, not one at a time
     (a poem batch shrinks as its poems end: one tile of 1 input a column pair read the weights once an input) */
  Tile full[5], fewColumns[5];
} Isa;

static const Isa AVX512 = {"avx512-vnni", 4, {0, tile512_4x1, tile512_4x2, tile512_4x3, tile512_4x4}, {0, tile512_1x1, tile512_1x2, tile512_1x3, tile512_1x4}};
static const Isa AVX2 = {"avx2", 2, {0, tile256_2x1, tile256_2x2, tile256_2x3, tile256_2x4}, {0, tile256_1x1, tile256_1x2, tile256_1x3, tile256_1x4}};
static const Isa *isa = 0;

/* every (column, input) is summed alike whatever tile it falls in: the same bits for any B */
static void product(const Product *p, const int32_t *columns, int count, int B) {
  const int C = isa->columns;
  for (int c = 0; c < count;) {
    const int whole = c + C <= count; /* a full set of columns, or the last few one at a time */
    const Tile *tiles = whole ? isa->full : isa->fewColumns;
    /* inputs 4 at a time; 5 left go as 3 + 2: a tile of 1 input has too few sums in flight to hide their latency */
    for (int b = 0, n; b < B; b += n) {
      n = B - b == 5 ? 3 : B - b < 4 ? B - b : 4;
      tiles[n](p, columns + c, b);
    }
    c += whole ? C : 1;
  }
}

/*
 * lstm-cell.wat's cells, the same float32 operations in the same order on each lane (so the same bits):
 * tanh is Eigen's rational fit, clamped; σ(v) = ½ + ½·tanh(½v); c ← f·c + i·g; h ← o·tanh(c). 16 lanes
 * (AVX-512) or 8 (AVX2) instead of WebAssembly's 4; the lanes past H are masked.
 */
#define CELL_FUNCTIONS(TARGET, VEC, SUFFIX, SET, ADD, MUL, DIV, MIN, MAX)                                   \
  __attribute__((target(TARGET))) static inline VEC tanh##SUFFIX(VEC x) {                                  \
    x = MIN(MAX(x, SET(-7.90531110763549805f)), SET(7.90531110763549805f));                                \
    const VEC x2 = MUL(x, x);                                                                              \
    VEC p = ADD(MUL(x2, SET(-2.76076847742355e-16f)), SET(2.00018790482477e-13f));                         \
    p = ADD(MUL(x2, p), SET(-8.60467152213735e-11f));                                                      \
    p = ADD(MUL(x2, p), SET(5.12229709037114e-8f));                                                        \
    p = ADD(MUL(x2, p), SET(1.48572235717979e-5f));                                                        \
    p = ADD(MUL(x2, p), SET(6.37261928875436e-4f));                                                        \
    p = ADD(MUL(x2, p), SET(4.89352455891786e-3f));                                                        \
    VEC q = ADD(MUL(x2, SET(1.19825839466702e-6f)), SET(1.18534705686654e-4f));                            \
    q = ADD(MUL(x2, q), SET(2.268434632439e-3f));                                                          \
    q = ADD(MUL(x2, q), SET(4.89352518554385e-3f));                                                        \
    return DIV(MUL(x, p), q);                                                                              \
  }                                                                                                        \
  __attribute__((target(TARGET))) static inline VEC sigmoid##SUFFIX(VEC x) {                               \
    const VEC half = SET(0.5f);                                                                            \
    return ADD(half, MUL(half, tanh##SUFFIX(MUL(half, x))));                                               \
  }

CELL_FUNCTIONS("avx512f", __m512, 512, _mm512_set1_ps, _mm512_add_ps, _mm512_mul_ps, _mm512_div_ps, _mm512_min_ps, _mm512_max_ps)
CELL_FUNCTIONS("avx2", __m256, 256, _mm256_set1_ps, _mm256_add_ps, _mm256_mul_ps, _mm256_div_ps, _mm256_min_ps, _mm256_max_ps)

/* z: B rows of 4H (gates i f g o), bias: rows of 4H `biasStride` floats apart, c and h: B rows of H */
__attribute__((target("avx512f"))) static void cells512(const float *z, const float *bias, int biasStride, float *c, float *h, int H, int B) {
  for (int b = 0; b < B; b++) {
    const float *zb = z + (int64_t)b * 4 * H, *bb = bias + (int64_t)b * biasStride;
    float *cb = c + (int64_t)b * H, *hb = h + (int64_t)b * H;
    for (int j = 0; j < H; j += 16) {
      const __mmask16 m = H - j >= 16 ? 0xFFFF : (__mmask16)((1u << (H - j)) - 1);
#define GATE(q) _mm512_add_ps(_mm512_maskz_loadu_ps(m, zb + (q) * H + j), _mm512_maskz_loadu_ps(m, bb + (q) * H + j))
      const __m512 i = sigmoid512(GATE(0)), f = sigmoid512(GATE(1)), g = tanh512(GATE(2)), o = sigmoid512(GATE(3));
#undef GATE
      const __m512 cell = _mm512_add_ps(_mm512_mul_ps(f, _mm512_maskz_loadu_ps(m, cb + j)), _mm512_mul_ps(i, g));
      _mm512_mask_storeu_ps(cb + j, m, cell);
      _mm512_mask_storeu_ps(hb + j, m, _mm512_mul_ps(o, tanh512(cell)));
    }
  }
}

__attribute__((target("avx2"))) static void cells256(const float *z, const float *bias, int biasStride, float *c, float *h, int H, int B) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int b = 0; b < B; b++) {
    const float *zb = z + (int64_t)b * 4 * H, *bb = bias + (int64_t)b * biasStride;
    float *cb = c + (int64_t)b * H, *hb = h + (int64_t)b * H;
    for (int j = 0; j < H; j += 8) {
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(H - j), lanes);
#define GATE(q) _mm256_add_ps(_mm256_maskload_ps(zb + (q) * H + j, m), _mm256_maskload_ps(bb + (q) * H + j, m))
      const __m256 i = sigmoid256(GATE(0)), f = sigmoid256(GATE(1)), g = tanh256(GATE(2)), o = sigmoid256(GATE(3));
#undef GATE
      const __m256 cell = _mm256_add_ps(_mm256_mul_ps(f, _mm256_maskload_ps(cb + j, m)), _mm256_mul_ps(i, g));
      _mm256_maskstore_ps(cb + j, m, cell);
      _mm256_maskstore_ps(hb + j, m, _mm256_mul_ps(o, tanh256(cell)));
    }
  }
}

/* matmul(memory: Uint8Array, w, rowScale, bias, x, xScale, out, K, N, B, columns, count): int8-matvec.wat's matmul */
static napi_value Matmul(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 12) {
    napi_throw_type_error(env, NULL, "matmul takes a Uint8Array over the memory and 11 numbers");
    return NULL;
  }
  void *data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "matmul: the first argument must be a Uint8Array over the memory");
    return NULL;
  }
  int32_t a[11];
  for (int i = 0; i < 11; i++)
    if (napi_get_value_int32(env, argv[i + 1], &a[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "matmul: arguments 2-12 must be numbers");
      return NULL;
    }
  const int K = a[6], N = a[7], B = a[8], count = a[10];
  /* every region the product touches must lie inside the memory */
  const int64_t size = (int64_t)length;
  if (K <= 0 || K % 16 || N <= 0 || B < 0 || count < 0 || !INSIDE(a[0], (int64_t)K * N) || !INSIDE(a[1], 4LL * N) ||
      !INSIDE(a[2], 4LL * N) || !INSIDE(a[3], 2LL * K * B) || !INSIDE(a[4], 4LL * B) || !INSIDE(a[5], 4LL * N * B) ||
      !INSIDE(a[9], 4LL * count)) {
    napi_throw_range_error(env, NULL, "matmul: a region lies outside the memory");
    return NULL;
  }
  uint8_t *base = data;
  const int32_t *columns = (const int32_t *)(base + a[9]);
  for (int c = 0; c < count; c++)
    if (columns[c] < 0 || columns[c] >= N) {
      napi_throw_range_error(env, NULL, "matmul: a column is outside 0…N−1");
      return NULL;
    }
  Product p = {(const int8_t *)(base + a[0]), (const float *)(base + a[1]), (const float *)(base + a[2]),
               (const int16_t *)(base + a[3]), (const float *)(base + a[4]), (float *)(base + a[5]), K, N};
  product(&p, columns, count, B);
  return NULL;
}


/* cells(memory: Uint8Array, z, bias, biasStride, c, h, H, B): lstm-cell.wat's cells (offsets and strides in bytes) */
static napi_value Cells(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  void *data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  int32_t a[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 8 ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "cells takes a Uint8Array over the memory and 7 numbers");
    return NULL;
  }
  for (int i = 0; i < 7; i++)
    if (napi_get_value_int32(env, argv[i + 1], &a[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "cells: arguments 2-8 must be numbers");
      return NULL;
    }
  const int H = a[5], B = a[6], stride = a[2];
  const int64_t size = (int64_t)length;
  if (H <= 0 || B < 0 || stride < 0 || stride % 4 || !INSIDE(a[0], 16LL * H * B) || !INSIDE(a[1], 16LL * H + (int64_t)stride * (B > 0 ? B - 1 : 0)) ||
      !INSIDE(a[3], 4LL * H * B) || !INSIDE(a[4], 4LL * H * B) || a[0] % 4 || a[1] % 4 || a[3] % 4 || a[4] % 4) {
    napi_throw_range_error(env, NULL, "cells: a region lies outside the memory");
    return NULL;
  }
  uint8_t *base = data;
  (isa == &AVX512 ? cells512 : cells256)((const float *)(base + a[0]), (const float *)(base + a[1]), stride / 4, (float *)(base + a[3]),
                                          (float *)(base + a[4]), H, B);
  return NULL;
}

/*
 * topK(logits: Float32Array, allowed: Int32Array, banned: Uint8Array | null, except, k, ids: Int32Array,
 * values: Float64Array): the sampler's one pass (sampler.ts), the same comparisons in the same order, so the
 * same ids in the same order: the k largest logits among the allowed ids that are not banned (`except` is
 * never banned), largest first, ties in the order of `allowed`. Returns how many were kept.
 */
static napi_value TopK(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  void *logits = NULL, *allowed = NULL, *banned = NULL, *ids = NULL, *values = NULL;
  size_t nLogits = 0, nAllowed = 0, nBanned = 0, nIds = 0, nValues = 0;
  napi_typedarray_type t0, t1, t2, t5, t6;
  napi_valuetype bannedType;
  int32_t except = -1, k = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7 ||
      napi_get_typedarray_info(env, argv[0], &t0, &nLogits, &logits, NULL, NULL) != napi_ok || t0 != napi_float32_array ||
      napi_get_typedarray_info(env, argv[1], &t1, &nAllowed, &allowed, NULL, NULL) != napi_ok || t1 != napi_int32_array ||
      napi_typeof(env, argv[2], &bannedType) != napi_ok ||
      (bannedType != napi_null && (napi_get_typedarray_info(env, argv[2], &t2, &nBanned, &banned, NULL, NULL) != napi_ok || t2 != napi_uint8_array)) ||
      napi_get_value_int32(env, argv[3], &except) != napi_ok || napi_get_value_int32(env, argv[4], &k) != napi_ok ||
      napi_get_typedarray_info(env, argv[5], &t5, &nIds, &ids, NULL, NULL) != napi_ok || t5 != napi_int32_array ||
      napi_get_typedarray_info(env, argv[6], &t6, &nValues, &values, NULL, NULL) != napi_ok || t6 != napi_float64_array ||
      k < 1 || (size_t)k > nIds || (size_t)k > nValues) {
    napi_throw_type_error(env, NULL, "topK(logits: Float32Array, allowed: Int32Array, banned: Uint8Array | null, except, k, ids: Int32Array(k), values: Float64Array(k))");
    return NULL;
  }
  const float *l = logits;
  const int32_t *a = allowed;
  const uint8_t *ban = banned;
  int32_t *outIds = ids;
  double *outValues = values;
  int count = 0;
  double floor = -INFINITY; /* the k-th best so far, once k are kept */
  for (size_t n = 0; n < nAllowed; n++) {
    const int32_t id = a[n];
    if (id < 0 || (size_t)id >= nLogits || (ban && (size_t)id >= nBanned)) {
      napi_throw_range_error(env, NULL, "topK: an allowed id is outside the logits or the banned list");
      return NULL;
    }
    const double v = l[id];
    if (v <= floor || (ban && ban[id] == 1 && id != except)) continue;
    int j = count < k ? count++ : k - 1;
    while (j > 0 && outValues[j - 1] < v) {
      outValues[j] = outValues[j - 1];
      outIds[j] = outIds[j - 1];
      j--;
    }
    outValues[j] = v;
    outIds[j] = id;
    if (count == k) floor = outValues[k - 1];
  }
  napi_value result;
  napi_create_int32(env, count, &result);
  return result;
}

void register_lstm_kernels(napi_env env, napi_value exports); /* kernels/x86/train-lstm.c: training's LSTM recurrence */
void register_quiet_stderr(napi_env env, napi_value exports); /* runtime/quiet-stderr.c: while TensorFlow loads */

NAPI_MODULE_INIT() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni"))
    isa = &AVX512;
  else if (__builtin_cpu_supports("avx2"))
    isa = &AVX2;
  const char *forced = getenv("TANGSHI_KERNELS_ISA"); /* tests run the AVX2 tiles on an AVX-512 machine */
  if (forced && strcmp(forced, "avx2") == 0 && isa == &AVX512) isa = &AVX2;
  napi_value name, matmul;
  napi_create_string_utf8(env, isa ? isa->name : "", NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, exports, "isa", name);
  if (isa) {
    napi_create_function(env, "matmul", NAPI_AUTO_LENGTH, Matmul, NULL, &matmul);
    napi_set_named_property(env, exports, "matmul", matmul);
    napi_value cells;
    napi_create_function(env, "cells", NAPI_AUTO_LENGTH, Cells, NULL, &cells);
    napi_set_named_property(env, exports, "cells", cells);
    napi_value topK;
    napi_create_function(env, "topK", NAPI_AUTO_LENGTH, TopK, NULL, &topK);
    napi_set_named_property(env, exports, "topK", topK);
  }
  register_lstm_kernels(env, exports);
  register_quiet_stderr(env, exports);
  return exports;
}
