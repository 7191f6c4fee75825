/*
 * Training's LSTM layer as native code, forward and backward: the step loops that TensorFlow ran as one small
 * product and a handful of element-wise ops per step, and the products over all steps at once (x·Wx, dx,
 * dWx, dWh). Every product is one AVX2 + FMA kernel of 6 rows × 16 columns over a packed right-hand side;
 * a step is one product, h_{t−1}·Wh (forward) or dz_t·Whᵀ (backward), then the gates in one pass. One thread:
 * each data-parallel training worker runs on its own core.
 *
 * The arithmetic is model.ts's lstmForwardSteps and hand-derived BPTT (the same formulas, float32): tanh is
 * Eigen's rational fit (as kernels/x86/poem-kernels.c's cells), σ(v) = ½ + ½·tanh(½v).
 */
#define NAPI_VERSION 8
#include <immintrin.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TARGET __attribute__((target("avx2,fma")))
#define MR 6     /* rows of a tile (the batch) */
#define NR 16    /* columns of a tile: two vectors */
#define KC 256   /* the depth of a packed block: a block of one panel is 16 KB, in L1 */
#define MC 96    /* rows of A taken through one block of B */

TARGET static inline __m256 tanh8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-7.90531110763549805f)), _mm256_set1_ps(7.90531110763549805f));
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.76076847742355e-16f), _mm256_set1_ps(2.00018790482477e-13f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-8.60467152213735e-11f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(5.12229709037114e-8f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(1.48572235717979e-5f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(6.37261928875436e-4f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(4.89352455891786e-3f));
  __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(1.19825839466702e-6f), _mm256_set1_ps(1.18534705686654e-4f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(2.268434632439e-3f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(4.89352518554385e-3f));
  return _mm256_div_ps(_mm256_mul_ps(x, p), q);
}

TARGET static inline __m256 sigmoid8(__m256 x) {
  const __m256 half = _mm256_set1_ps(0.5f);
  return _mm256_fmadd_ps(half, tanh8(_mm256_mul_ps(half, x)), half);
}

/*
 * B [K, N] (element (k, n) at b[k·kStride + n·nStride]) packed for the tile kernel: blocks of KC rows, in
 * each block the panels of 16 columns one after another, each panel KC × 16 floats, row by row.
 */
static void pack(const float *b, int64_t kStride, int64_t nStride, int K, int N, float *packed) {
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = K - k0 < KC ? K - k0 : KC;
    float *block = packed + (int64_t)k0 * N;
    for (int j = 0; j < N / NR; j++)
      for (int k = 0; k < kc; k++)
        for (int n = 0; n < NR; n++) block[((int64_t)j * kc + k) * NR + n] = b[(int64_t)(k0 + k) * kStride + (int64_t)(j * NR + n) * nStride];
  }
}

/* C[6 × 16] += A[6 × kc] · panel[kc × 16]; A's rows are lda apart, C's ldc */
TARGET static void tile(int kc, const float *a, int64_t lda, const float *panel, float *c, int64_t ldc) {
  __m256 c00 = _mm256_loadu_ps(c), c01 = _mm256_loadu_ps(c + 8);
  __m256 c10 = _mm256_loadu_ps(c + ldc), c11 = _mm256_loadu_ps(c + ldc + 8);
  __m256 c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
  __m256 c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
  __m256 c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
  __m256 c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(panel + k * NR), b1 = _mm256_load_ps(panel + k * NR + 8);
    __m256 v;
    v = _mm256_broadcast_ss(a0 + k), c00 = _mm256_fmadd_ps(v, b0, c00), c01 = _mm256_fmadd_ps(v, b1, c01);
    v = _mm256_broadcast_ss(a1 + k), c10 = _mm256_fmadd_ps(v, b0, c10), c11 = _mm256_fmadd_ps(v, b1, c11);
    v = _mm256_broadcast_ss(a2 + k), c20 = _mm256_fmadd_ps(v, b0, c20), c21 = _mm256_fmadd_ps(v, b1, c21);
    v = _mm256_broadcast_ss(a3 + k), c30 = _mm256_fmadd_ps(v, b0, c30), c31 = _mm256_fmadd_ps(v, b1, c31);
    v = _mm256_broadcast_ss(a4 + k), c40 = _mm256_fmadd_ps(v, b0, c40), c41 = _mm256_fmadd_ps(v, b1, c41);
    v = _mm256_broadcast_ss(a5 + k), c50 = _mm256_fmadd_ps(v, b0, c50), c51 = _mm256_fmadd_ps(v, b1, c51);
  }
  _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01);
  _mm256_storeu_ps(c + ldc, c10), _mm256_storeu_ps(c + ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

/*
 * C[M × N] += A[M × K] · B, B packed by pack(); M a multiple of 6, N of 16; A's and C's rows K and N apart.
 * Rows MC at a time, so that the part of A one block of B meets (MC × KC floats, 96 KB) stays in L2.
 */
static void product(int M, int K, int N, const float *a, const float *packed, float *c) {
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = K - k0 < KC ? K - k0 : KC;
    const float *block = packed + (int64_t)k0 * N;
    for (int i0 = 0; i0 < M; i0 += MC) {
      const int i1 = M - i0 < MC ? M : i0 + MC;
      for (int j = 0; j < N / NR; j++)
        for (int i = i0; i < i1; i += MR) tile(kc, a + (int64_t)i * K + k0, K, block + (int64_t)j * kc * NR, c + (int64_t)i * N + j * NR, N);
    }
  }
}

/* a [rows × cols] matrix copied into `rows` rounded up to a multiple of 6 (the rows past it zero) */
static float *padRows(const float *a, int64_t rows, int cols) {
  const int64_t M = (rows + MR - 1) / MR * MR;
  float *p = malloc(sizeof(float) * M * cols);
  if (!p) return NULL;
  memcpy(p, a, sizeof(float) * rows * cols);
  memset(p + rows * cols, 0, sizeof(float) * (M - rows) * cols);
  return p;
}

/* B [K, N] packed (element (k, n) at b[k·kStride + n·nStride]), in memory aligned for the tile's loads */
static float *packed(const float *b, int64_t kStride, int64_t nStride, int K, int N) {
  float *p = aligned_alloc(64, sizeof(float) * (int64_t)K * N); /* K·N·4 is a multiple of 64: N of 16 */
  if (p) pack(b, kStride, nStride, K, N, p);
  return p;
}

/*
 * Forward over T steps of B sequences: z_t = x_t·Wx + b + h_{t−1}·Wh; i, f, o = σ(z), g = tanh(z);
 * c_t = f·c_{t−1} + i·g; h_t = o·tanh(c_t). Writes the activated gates [T, B, 4H] (i f g o), c, tanh(c) and h
 * [T, B, H]. Returns 0 when out of memory.
 */
TARGET static int forward(int T, int B, int I, int H, const float *x, const float *wx, const float *bias, const float *wh, float *gates,
                          float *cells, float *tanhCells, float *hs) {
  const int H4 = 4 * H, M = (B + MR - 1) / MR * MR;
  const int64_t TB = (int64_t)T * B, MTB = (TB + MR - 1) / MR * MR;
  float *xRows = padRows(x, TB, I), *packedWx = packed(wx, H4, 1, I, H4), *packedWh = packed(wh, H4, 1, H, H4);
  /* z of every step, rows (t, b), and M more: a step's product covers M rows from its first */
  float *z = calloc((size_t)(MTB + M), (size_t)H4 * sizeof(float)), *h = calloc((size_t)M * H, sizeof(float));
  int ok = xRows && packedWx && packedWh && z && h;
  if (ok) {
    for (int64_t r = 0; r < MTB; r++) memcpy(z + r * H4, bias, sizeof(float) * H4);
    product((int)MTB, I, H4, xRows, packedWx, z); /* x·Wx + b for every step at once */
    for (int t = 0; t < T; t++) {
      float *zt = z + (int64_t)t * B * H4; /* (the rows of step t + 1 get h·Wh of the pad rows, which are 0) */
      if (t > 0) product(M, H, H4, h, packedWh, zt);
      for (int b = 0; b < B; b++) {
        const float *zb = zt + (int64_t)b * H4;
        const int64_t row = (int64_t)t * B + b;
        float *gb = gates + row * H4, *cb = cells + row * H, *tb = tanhCells + row * H, *hb = hs + row * H;
        const float *cPrev = t > 0 ? cells + (row - B) * H : NULL;
        for (int j = 0; j < H; j += 8) {
          const __m256 i = sigmoid8(_mm256_loadu_ps(zb + j)), f = sigmoid8(_mm256_loadu_ps(zb + H + j));
          const __m256 g = tanh8(_mm256_loadu_ps(zb + 2 * H + j)), o = sigmoid8(_mm256_loadu_ps(zb + 3 * H + j));
          const __m256 ig = _mm256_mul_ps(i, g);
          const __m256 cell = cPrev ? _mm256_fmadd_ps(f, _mm256_loadu_ps(cPrev + j), ig) : ig;
          const __m256 tc = tanh8(cell), hv = _mm256_mul_ps(o, tc);
          _mm256_storeu_ps(gb + j, i), _mm256_storeu_ps(gb + H + j, f), _mm256_storeu_ps(gb + 2 * H + j, g), _mm256_storeu_ps(gb + 3 * H + j, o);
          _mm256_storeu_ps(cb + j, cell), _mm256_storeu_ps(tb + j, tc), _mm256_storeu_ps(hb + j, hv);
          _mm256_storeu_ps(h + (int64_t)b * H + j, hv);
        }
      }
    }
  }
  free(xRows), free(packedWx), free(packedWh), free(z), free(h);
  return ok;
}

/*
 * Backward from t = T−1 (BPTT): dh = dy_t + dh_next; dc = dh·o·(1 − tanh²c) + dc_next;
 * dz = [dc·g·i(1−i), dc·c_{t−1}·f(1−f), dc·i·(1−g²), dh·tanh(c)·o(1−o)]; dc_next = dc·f; dh_next = dz·Whᵀ.
 * Then over all steps at once: dx = dz·Wxᵀ, dWx = Σ_t x_tᵀ·dz_t, dWh = Σ_t h_{t−1}ᵀ·dz_t (h_{−1} = 0),
 * db = Σ_t dz_t. Returns 0 when out of memory.
 */
TARGET static int backward(int T, int B, int I, int H, const float *dy, const float *x, const float *wx, const float *wh, const float *gates,
                           const float *cells, const float *tanhCells, const float *hs, float *dx, float *dWx, float *dWh, float *db) {
  const int H4 = 4 * H, M = (B + MR - 1) / MR * MR;
  const int64_t TB = (int64_t)T * B, MTB = (TB + MR - 1) / MR * MR;
  const __m256 one = _mm256_set1_ps(1.0f);
  const int D = I > H ? I : H, MD = (D + MR - 1) / MR * MR;
  float *packedWhT = packed(wh, 1, H4, H4, H), *packedWxT = packed(wx, 1, H4, H4, I);
  /* dz of every step, rows (t, b); MTB − TB pad rows and, for the last step's product, M − B more, all 0 */
  float *dz = calloc((size_t)(MTB + M), (size_t)H4 * sizeof(float));
  float *dhNext = calloc((size_t)M * H, sizeof(float)), *dcNext = calloc((size_t)B * H, sizeof(float));
  float *dxRows = calloc((size_t)MTB * I, sizeof(float)), *at = malloc(sizeof(float) * MD * TB), *dW = malloc(sizeof(float) * MD * H4);
  float *packedDz = NULL;
  int ok = packedWhT && packedWxT && dz && dhNext && dcNext && dxRows && at && dW;
  if (!ok) goto done;
  for (int t = T - 1; t >= 0; t--) {
    float *zt = dz + (int64_t)t * B * H4;
    for (int b = 0; b < B; b++) {
      const int64_t row = (int64_t)t * B + b;
      const float *gb = gates + row * H4, *tb = tanhCells + row * H, *dyb = dy + row * H;
      const float *cPrev = t > 0 ? cells + (row - B) * H : NULL;
      float *dhb = dhNext + (int64_t)b * H, *dcb = dcNext + (int64_t)b * H, *zb = zt + (int64_t)b * H4;
      for (int j = 0; j < H; j += 8) {
        const __m256 i = _mm256_loadu_ps(gb + j), f = _mm256_loadu_ps(gb + H + j), g = _mm256_loadu_ps(gb + 2 * H + j), o = _mm256_loadu_ps(gb + 3 * H + j);
        const __m256 tc = _mm256_loadu_ps(tb + j);
        const __m256 dh = _mm256_add_ps(_mm256_loadu_ps(dyb + j), _mm256_loadu_ps(dhb + j));
        const __m256 dc = _mm256_fmadd_ps(_mm256_mul_ps(dh, o), _mm256_fnmadd_ps(tc, tc, one), _mm256_loadu_ps(dcb + j));
        const __m256 cp = cPrev ? _mm256_loadu_ps(cPrev + j) : _mm256_setzero_ps();
        _mm256_storeu_ps(zb + j, _mm256_mul_ps(_mm256_mul_ps(dc, g), _mm256_mul_ps(i, _mm256_sub_ps(one, i))));
        _mm256_storeu_ps(zb + H + j, _mm256_mul_ps(_mm256_mul_ps(dc, cp), _mm256_mul_ps(f, _mm256_sub_ps(one, f))));
        _mm256_storeu_ps(zb + 2 * H + j, _mm256_mul_ps(_mm256_mul_ps(dc, i), _mm256_fnmadd_ps(g, g, one)));
        _mm256_storeu_ps(zb + 3 * H + j, _mm256_mul_ps(_mm256_mul_ps(dh, tc), _mm256_mul_ps(o, _mm256_sub_ps(one, o))));
        _mm256_storeu_ps(dcb + j, _mm256_mul_ps(dc, f));
      }
    }
    if (t > 0) {
      /* the M rows from step t: B of them, then step t + 1's (or the pad rows) — their products land in
         dhNext's rows past B, which are never read */
      memset(dhNext, 0, sizeof(float) * M * H);
      product(M, H4, H, zt, packedWhT, dhNext);
    }
  }
  product((int)MTB, H4, I, dz, packedWxT, dxRows);
  memcpy(dx, dxRows, sizeof(float) * TB * I);
  packedDz = packed(dz, H4, 1, (int)TB, H4);
  if (!(ok = packedDz != NULL)) goto done;
  for (int pass = 0; pass < 2; pass++) { /* dWx, then dWh: [D, T·B]·[T·B, 4H] with one packing of dz */
    const int Dp = pass == 0 ? I : H, MDp = (Dp + MR - 1) / MR * MR;
    memset(at, 0, sizeof(float) * MDp * TB);
    if (pass == 0)
      for (int64_t k = 0; k < TB; k++)
        for (int i = 0; i < I; i++) at[i * TB + k] = x[k * I + i];
    else
      for (int64_t k = B; k < TB; k++) /* column k holds h_{t−1} for the row k of dz: hs's row k − B */
        for (int i = 0; i < H; i++) at[i * TB + k] = hs[(k - B) * H + i];
    memset(dW, 0, sizeof(float) * MDp * H4);
    product(MDp, (int)TB, H4, at, packedDz, dW);
    memcpy(pass == 0 ? dWx : dWh, dW, sizeof(float) * Dp * H4);
  }
  memset(db, 0, sizeof(float) * H4);
  for (int64_t k = 0; k < TB; k++)
    for (int n = 0; n < H4; n += 8) _mm256_storeu_ps(db + n, _mm256_add_ps(_mm256_loadu_ps(db + n), _mm256_loadu_ps(dz + k * H4 + n)));
done:
  free(packedWhT), free(packedWxT), free(dz), free(dhNext), free(dcNext), free(dxRows), free(at), free(dW), free(packedDz);
  return ok;
}

/* the length an array of shape `code` has: x [T·B·I], w [I·4H], b [4H], r [H·4H], g [T·B·4H], h [T·B·H] */
static int64_t lengthOf(char code, int64_t T, int64_t B, int64_t I, int64_t H) {
  switch (code) {
    case 'x': return T * B * I;
    case 'w': return I * 4 * H;
    case 'b': return 4 * H;
    case 'r': return H * 4 * H;
    case 'g': return T * B * 4 * H;
    default: return T * B * H;
  }
}

/*
 * The arguments: T, B, I, H (I and H multiples of 16), then one Float32Array for each letter of `shapes`
 * (lengthOf). Returns 0 (with an error thrown) when they are not that.
 */
static int arguments(napi_env env, napi_callback_info info, const char *usage, const char *shapes, int *dim, float **data) {
  const size_t arrays = strlen(shapes);
  size_t argc = 16;
  napi_value argv[16];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 + arrays) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  for (int k = 0; k < 4; k++)
    if (napi_get_value_int32(env, argv[k], &dim[k]) != napi_ok) {
      napi_throw_type_error(env, NULL, usage);
      return 0;
    }
  if (dim[0] < 1 || dim[1] < 1 || dim[2] < 16 || dim[2] % 16 || dim[3] < 16 || dim[3] % 16) {
    napi_throw_range_error(env, NULL, "lstm: T and B must be ≥ 1, I and H multiples of 16");
    return 0;
  }
  for (size_t k = 0; k < arrays; k++) {
    napi_typedarray_type type;
    size_t length = 0;
    void *p = NULL;
    if (napi_get_typedarray_info(env, argv[4 + k], &type, &length, &p, NULL, NULL) != napi_ok || type != napi_float32_array) {
      napi_throw_type_error(env, NULL, usage);
      return 0;
    }
    if ((int64_t)length != lengthOf(shapes[k], dim[0], dim[1], dim[2], dim[3])) {
      napi_throw_range_error(env, NULL, "lstm: an array's length does not match T, B, I, H");
      return 0;
    }
    data[k] = p;
  }
  return 1;
}

/* lstmForward(T, B, I, H, x [T·B·I], wx [I·4H], b [4H], wh [H·4H], gates [T·B·4H], cells, tanhCells, hs [T·B·H]) */
static napi_value LstmForward(napi_env env, napi_callback_info info) {
  int d[4];
  float *a[8];
  if (!arguments(env, info, "lstmForward(T, B, I, H, x, wx, b, wh, gates, cells, tanhCells, hs): numbers, then Float32Arrays", "xwbrghhh", d, a))
    return NULL;
  if (!forward(d[0], d[1], d[2], d[3], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])) napi_throw_error(env, NULL, "lstmForward: out of memory");
  return NULL;
}

/* lstmBackward(T, B, I, H, dy, x, wx, wh, gates, cells, tanhCells, hs, dx, dWx, dWh, db) */
static napi_value LstmBackward(napi_env env, napi_callback_info info) {
  int d[4];
  float *a[12];
  if (!arguments(env, info, "lstmBackward(T, B, I, H, dy, x, wx, wh, gates, cells, tanhCells, hs, dx, dWx, dWh, db): numbers, then Float32Arrays",
                 "hxwrghhhxwrb", d, a))
    return NULL;
  if (!backward(d[0], d[1], d[2], d[3], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]))
    napi_throw_error(env, NULL, "lstmBackward: out of memory");
  return NULL;
}

/* Adds lstmForward and lstmBackward to the addon's exports where the CPU has AVX2 and FMA. */
void register_lstm_kernels(napi_env env, napi_value exports) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
  napi_value f;
  napi_create_function(env, "lstmForward", NAPI_AUTO_LENGTH, LstmForward, NULL, &f);
  napi_set_named_property(env, exports, "lstmForward", f);
  napi_create_function(env, "lstmBackward", NAPI_AUTO_LENGTH, LstmBackward, NULL, &f);
  napi_set_named_property(env, exports, "lstmBackward", f);
}
