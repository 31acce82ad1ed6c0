// GELU's forward and backward over float32 in explicit vectors of W lanes (GCC vector extensions),
// instantiated once per instruction set in a file built with that set's flags (gelu_avx2.cpp,
// gelu_avx512.cpp; CMakeLists.txt); cpu/elementwise.cpp registers each as an implementation of the
// unary and unaryGrad ops and runs it only where the CPU has the instructions (cpu/features.h).
//
// The math is core/elementwise_math.h's normalCdf (erfc through Numerical Recipes' erfcc fit,
// evaluated at |z| only, so the negative tail keeps its sign and relative accuracy) reshaped for
// throughput: the compiler's loop over the scalar formula ran one long dependency chain per element
// (a division, nine chained FMAs, the exponential's chain). Here the degree-9 polynomial is
// evaluated by Estrin's scheme (four levels instead of nine), and the exponential's argument is at
// most 0, so only its lower end is clamped. Rounding differs from the scalar loop by an ulp or so;
// every lane, the tail's included, computes the same function of its element.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hy::cpu {

// In an anonymous namespace, as gemm_blocked.inc is: each file's copy is built for its own
// instruction set, and the linker can never pick one for a caller built for another.
namespace {

template <int W>
struct GeluVec {
  typedef float V __attribute__((vector_size(W * 4)));
  typedef int32_t I __attribute__((vector_size(W * 4)));
  typedef uint32_t U __attribute__((vector_size(W * 4)));

  static inline V splat(float f) { return V{} + f; }
  static inline V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static inline void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }

  // e^v for v <= ~0: expReduced's Cody-Waite reduction and polynomial (core/elementwise_math.h),
  // zero below -87 as expBounded gives.
  static inline V expNonPositive(V v) {
    const V c = v < -87.0f ? splat(-87.0f) : v;
    const V shifted = c * 1.44269504088896341f + 12582912.0f;  // 1.5 * 2^23 rounds c*log2(e) to n
    const V n = shifted - 12582912.0f;
    V r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    V p = splat(1.9875691500E-4f);
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * (r * r) + r + 1.0f;
    // n sits in shifted's low mantissa bits: (bits + 127) << 23 is 2^n (the 0x4B400000 of the
    // shift's own bits shifts out; unsigned, so the shift is defined).
    const U scale = ((U)shifted + 127u) << 23;
    const V e = p * (V)scale;
    return v < -87.0f ? splat(0.0f) : e;
  }

  // Phi(x); also sets *uuOut to u^2 = x^2 / 2 for the backward's density.
  static inline V normalCdf(V x, V* uuOut) {
    const V z = x * 0.70710678118654752f;
    const I absBits = (I)z & 0x7fffffff;
    const V u = (V)absBits;
    const V t = 1.0f / (u * 0.5f + 1.0f);
    const V t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
    const V c01 = t * 1.00002368f + -1.26551223f;
    const V c23 = t * 0.09678418f + 0.37409196f;
    const V c45 = t * 0.27886807f + -0.18628806f;
    const V c67 = t * 1.48851587f + -1.13520398f;
    const V c89 = t * 0.17087277f + -0.82215223f;
    const V p = (c01 + t2 * c23) + t4 * (c45 + t2 * c67) + t8 * c89;
    const V uu = u * u;
    const V half = 0.5f * t * expNonPositive(p - uu);
    if (uuOut != nullptr) *uuOut = uu;
    return z < 0.0f ? half : 1.0f - half;
  }

  static inline V forward(V x) { return x * normalCdf(x, nullptr); }

  // g * (Phi(x) + x * phi(x)), phi(x) = e^(-x^2 / 2) / sqrt(2 pi) = e^(-u^2) / sqrt(2 pi).
  static inline V backward(V x, V g) {
    V uu;
    const V cdf = normalCdf(x, &uu);
    const V pdf = 0.39894228040143268f * expNonPositive(-uu);
    return g * (cdf + x * pdf);
  }

  // The loops: whole vectors, then the tail through a padded vector, so an element's result does
  // not depend on where it sits.
  static void forwardLoop(const float* x, float* y, size_t n) {
    size_t i = 0;
    for (; i + W <= n; i += W) store(y + i, forward(load(x + i)));
    if (i == n) return;
    float bx[W] = {}, by[W];
    std::memcpy(bx, x + i, (n - i) * 4);
    store(by, forward(load(bx)));
    std::memcpy(y + i, by, (n - i) * 4);
  }

  static void backwardLoop(const float* x, const float* g, float* out, size_t n) {
    size_t i = 0;
    for (; i + W <= n; i += W) store(out + i, backward(load(x + i), load(g + i)));
    if (i == n) return;
    float bx[W] = {}, bg[W] = {}, bo[W];
    std::memcpy(bx, x + i, (n - i) * 4);
    std::memcpy(bg, g + i, (n - i) * 4);
    store(bo, backward(load(bx), load(bg)));
    std::memcpy(out + i, bo, (n - i) * 4);
  }
};

}  // namespace

// The instances (gelu_avx2.cpp, gelu_avx512.cpp): y = gelu(x), out = g * gelu'(x), n floats.
struct GeluKernels {
  const char* name;
  void (*forward)(const float* x, float* y, size_t n);
  void (*backward)(const float* x, const float* g, float* out, size_t n);
};
extern const GeluKernels kGeluAvx2;
extern const GeluKernels kGeluAvx512;

}  // namespace hy::cpu
