// Scalar math shared by the CPU and CUDA elementwise kernels, so both backends compute the same
// formulas. Inputs and results are float32; float16 storage converts at load and store.
#pragma once
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>

#include "enums.h"
#include "hd.h"

namespace hy {


constexpr float kSqrtHalf = 0.70710678118654752f;       // 1/sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143268f;     // 1/sqrt(2*pi)
constexpr float kSqrt2OverPi = 0.79788456080286536f;    // sqrt(2/pi)
constexpr float kGeluTanhCubic = 0.044715f;

// erf: the device library on the GPU; on the host a rational approximation (max abs error
// 4.3e-7 on [-6, 6]) with no calls and no branches, so the compiler vectorises the CPU loops.
HY_HD float erfApprox(float a) {
#if defined(__CUDA_ARCH__)
  return erff(a);
#else
  const float x = a < -4.f ? -4.f : (a > 4.f ? 4.f : a);  // erf is +-1 in float32 beyond 4
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
#endif
}

// The host exponentials' shared core: for c already clamped to the float range, e^c = p * 2^n with
// a Cody-Waite reduction and polynomial (max relative error 8.3e-8); returns p and sets n. Adding
// 1.5 * 2^23 rounds c * log2(e) to the nearest integer n, which then sits in the low mantissa
// bits: no float-to-int conversion, so every x86 vector width handles it.
inline float expReduced(float c, int32_t& ni) {
  const float kShift = 12582912.0f;
  const float shifted = c * 1.44269504088896341f + kShift;
  const float n = shifted - kShift;
  std::memcpy(&ni, &shifted, 4);
  ni -= 0x4B400000;  // the bits of kShift
  const float r = (c - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  return p * r * r + r + 1.0f;
}

inline float powerOfTwo(int32_t n) {  // 2^n for n in [-126, 127]
  const int32_t bits = (n + 127) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// e^x for the kernels' inner exponentials (GELU, tanh, softmax), whose arguments stay in
// [-87, 88]: on the host the shared core above, branch-free so it vectorises; results below e^-87
// flush to zero, which the callers multiply away.
HY_HD float expBounded(float x) {
#if defined(__CUDA_ARCH__)
  return expf(x);
#else
  const float c = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  int32_t ni;
  const float p = expReduced(c, ni);
  return x < -87.0f ? 0.0f : p * powerOfTwo(ni);
#endif
}

// e^x over the whole float range for the exp op and sigmoid: the device library on the GPU; on the
// host expReduced's reduction and polynomial (relative error 8.3e-8) on x clamped to [-104, 89],
// scaled by 2^n as 2^(n/2) * 2^(n - n/2), two normal powers for every n in [-151, 129]: p * 2^(n/2)
// is exact, so the second product rounds once, to a subnormal below e^-87.3, to +inf above
// e^88.72 and to zero below e^-103.3. No selects, so it vectorises tightly. NaN propagates.
HY_HD float expFull(float x) {
#if defined(__CUDA_ARCH__)
  return expf(x);
#else
  const float c = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  int32_t ni;
  const float p = expReduced(c, ni);
  const int32_t half = ni >> 1;
  return p * powerOfTwo(half) * powerOfTwo(ni - half);
#endif
}

// ln x: the device library on the GPU. On the host, branch-free so the loops vectorise: x = m 2^e
// with m in [sqrt(1/2), sqrt(2)) from the bits (subnormal x scaled by 2^23 first), then Cephes'
// logf polynomial in m - 1 (about one ulp); x < 0 and NaN give NaN, 0 gives -inf, +inf stays.
HY_HD float logFull(float x) {
#if defined(__CUDA_ARCH__)
  return logf(x);
#else
  const bool sub = x < 1.17549435e-38f;
  const float xs = sub ? x * 8388608.0f : x;
  int32_t bits;
  std::memcpy(&bits, &xs, 4);
  int32_t e = ((bits >> 23) & 0xff) - 126 - (sub ? 23 : 0);
  int32_t mbits = (bits & 0x007fffff) | 0x3f000000;  // m in [0.5, 1)
  float m;
  std::memcpy(&m, &mbits, 4);
  const bool low = m < 0.707106781186547524f;
  e -= low ? 1 : 0;
  const float f = (low ? m + m : m) - 1.0f;
  const float z = f * f;
  float y = 7.0376836292e-2f;
  y = y * f + -1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f + -1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f + -1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f + -2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  const float fe = static_cast<float>(e);
  y = y * f * z + fe * -2.12194440e-4f;
  const float r = (f + (y - 0.5f * z)) + fe * 0.693359375f;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return x > 0.0f ? (x == INFINITY ? INFINITY : r) : (x == 0.0f ? -INFINITY : nan);
#endif
}

// tanh: the device library on the GPU. On the host, branch-free so the loops vectorise (the
// library call is scalar, 25x slower): an odd polynomial below |x| = 0.625 (Cephes' tanhf, relative
// error about 1e-7), else 1 - 2 / (e^{2|x|} + 1) with the exponential above, both computed and one
// selected. |x| is capped at 44 (e^88, the exponential's top) in a way that lets NaN through.
HY_HD float tanhApprox(float x) {
#if defined(__CUDA_ARCH__)
  return tanhf(x);
#else
  const float a = x < 0.0f ? -x : x;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z + -5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z + -3.33332819422e-1f;
  const float small = p * z * x + x;
  const float e = expBounded(2.0f * (a > 44.0f ? 44.0f : a));
  const float large = 1.0f - 2.0f / (e + 1.0f);
  const float signedLarge = x < 0.0f ? -large : large;
  return a < 0.625f ? small : signedLarge;
#endif
}

// Phi(x) = erfc(-x / sqrt 2) / 2. Written through erfc, not (1 + erf) / 2: in the negative tail erf
// is -1 + tiny and the sum cancels, so erf's absolute error became Phi's (gelu(-5.6) had the wrong
// sign, and x * Phi was off by 1e-6 further out). On the host, erfc(z) for z >= 0 is
// t * exp(-z^2 - 1.26551223 + t * P(t)) with t = 1 / (1 + z / 2) (the Chebyshev fit of Numerical
// Recipes' erfcc, relative error below 1.2e-7 everywhere): one division, nine FMAs and one
// exponential for every x, with no branch to blend, so it vectorises. Both backends evaluate erfc
// at |z| only and take 1 - erfc(|z|) / 2 for z >= 0, where erfc is small and its error too.
HY_HD float normalCdf(float x) {
  const float z = x * kSqrtHalf;
  const float u = z < 0.0f ? -z : z;
#if defined(__CUDA_ARCH__)
  const float half = 0.5f * erfcf(u);  // erfc of |z| only: small where it is subtracted from 1
#else
  const float t = 1.0f / (1.0f + 0.5f * u);
  float p = 0.17087277f;
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  const float half = 0.5f * t * expBounded(p - u * u);  // erfc(u) / 2
#endif
  return z < 0.0f ? half : 1.0f - half;
}

HY_HD float geluErf(float x) { return x * normalCdf(x); }

// d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
HY_HD float geluErfGrad(float x) {
  const float cdf = normalCdf(x);
  const float pdf = kInvSqrt2Pi * expBounded(-0.5f * x * x);
  return cdf + x * pdf;
}

HY_HD float geluTanh(float x) {
  const float inner = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
  return 0.5f * x * (1.0f + tanhApprox(inner));
}

HY_HD float geluTanhGrad(float x) {
  const float inner = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
  const float t = tanhApprox(inner);
  const float dInner = kSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dInner;
}

HY_HD float applyUnary(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return expFull(x);
    case UnaryOp::Log: return logFull(x);
    case UnaryOp::Erf: return erfApprox(x);
    case UnaryOp::Relu: return x > 0.0f ? x : 0.0f;
    case UnaryOp::Gelu: return geluErf(x);
    case UnaryOp::GeluTanh: return geluTanh(x);
    case UnaryOp::Tanh: return tanhApprox(x);
    case UnaryOp::Sigmoid: return 1.0f / (1.0f + expFull(-x));
    case UnaryOp::Sqrt: return sqrtf(x);
    case UnaryOp::Abs: return fabsf(x);
    case UnaryOp::Rsqrt: return 1.0f / sqrtf(x);
    case UnaryOp::Floor: return floorf(x);
    default: return x;
  }
}

// gradIn = gradOut * f'(x)
HY_HD float applyUnaryGrad(UnaryGradOp op, float x, float g) {
  switch (op) {
    case UnaryGradOp::Relu: return x > 0.0f ? g : 0.0f;
    case UnaryGradOp::Gelu: return g * geluErfGrad(x);
    case UnaryGradOp::GeluTanh: return g * geluTanhGrad(x);
    case UnaryGradOp::Abs: return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);  // sign(x) * g, 0 at 0 as PyTorch
    default: return g;
  }
}

HY_HD float applyScalar(ScalarOp op, float x, float s) {
  switch (op) {
    case ScalarOp::Add: return x + s;
    case ScalarOp::Mul: return x * s;
    case ScalarOp::RSub: return s - x;
    case ScalarOp::RDiv: return s / x;
    case ScalarOp::Pow: return powf(x, s);
    // clamp's bounds: NaN stays NaN (the comparison is false), as in PyTorch
    case ScalarOp::Max: return x < s ? s : x;
    case ScalarOp::Min: return x > s ? s : x;
    default: return x;
  }
}

HY_HD float applyBinary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    default: return a;
  }
}

// Broadcast layout of a binary op: the output shape and each input's element strides (0 along a
// broadcast dimension). Dimensions are collapsed by the caller where possible.
constexpr int kMaxDims = 8;
struct BroadcastLayout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strideA[kMaxDims] = {};
  int64_t strideB[kMaxDims] = {};
};

}  // namespace hy
