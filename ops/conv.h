// Op declarations: 2-D convolution (cross-correlation, as PyTorch's conv2d), NCHW, float32 or
// float16 storage with float32 accumulation, in three directions:
//   conv2d                y[n, k, p, q]  = bias[k] + sum over c, r, s of x[n, c, ih, iw] * w[k, c, r, s]
//   conv2dBackwardData   dx[n, c, h, w] = sum of dy[n, k, p, q] * w[k, c, r, s] over the (k, p, q, r, s) that read it
//   conv2dBackwardFilter dw[k, c, r, s] = sum over n, p, q of dy[n, k, p, q] * x[n, c, ih, iw]  (and db[k] = sum dy)
// with ih = p * strideH - padH + r * dilationH, iw = q * strideW - padW + s * dilationW, and c
// ranging over the C / groups channels of k's group. Every direction overwrites its output.
// Implementations (several per backend, for the autotuner): cpu/conv.cpp and cuda/conv.cu.
#pragma once
#include <string>

#include "../core/op_registry.h"

namespace hy::ops {

// The geometry every direction shares, with the output size derived by check().
struct ConvShape {
  uint64_t N = 0, C = 0, H = 0, W = 0, K = 0, R = 1, S = 1;
  uint64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
  int64_t P = 0, Q = 0;  // derived: output height and width

  void fields(Fields& f) {
    f.size("N", N);
    f.size("C", C);
    f.size("H", H);
    f.size("W", W);
    f.size("K", K);
    f.size("R", R);
    f.size("S", S);
    f.size("strideH", strideH);
    f.size("strideW", strideW);
    f.size("padH", padH);
    f.size("padW", padW);
    f.size("dilationH", dilationH);
    f.size("dilationW", dilationW);
    f.size("groups", groups);
  }

  // Kernels count in int (every size below 2^31) and the index products below stay in int64.
  void check(const Check& ck) {
    const char* names[] = {"N", "C", "H", "W", "K", "R", "S", "strideH", "strideW", "padH", "padW", "dilationH",
                           "dilationW", "groups"};
    const uint64_t values[] = {N, C, H, W, K, R, S, strideH, strideW, padH, padW, dilationH, dilationW, groups};
    for (int i = 0; i < 14; ++i) ck.fitsInt(names[i], values[i]);
    for (int i : {5, 6, 7, 8, 11, 12, 13}) {  // R, S, the strides, the dilations, groups
      if (values[i] == 0) ck.fail(names[i], "at least 1", "0");
    }
    if (C % groups != 0) ck.fail("C", "divisible by groups = " + std::to_string(groups), std::to_string(C));
    if (K % groups != 0) ck.fail("K", "divisible by groups = " + std::to_string(groups), std::to_string(K));
    const uint64_t spanH = dilationH * (R - 1) + 1, spanW = dilationW * (S - 1) + 1;  // < 2^62
    if (spanH > H + 2 * padH) {
      ck.fail("R", "a kernel no taller than the padded input (" + std::to_string(H + 2 * padH) + ")",
              std::to_string(R) + " spanning " + std::to_string(spanH));
    }
    if (spanW > W + 2 * padW) {
      ck.fail("S", "a kernel no wider than the padded input (" + std::to_string(W + 2 * padW) + ")",
              std::to_string(S) + " spanning " + std::to_string(spanW));
    }
    P = static_cast<int64_t>((H + 2 * padH - spanH) / strideH + 1);
    Q = static_cast<int64_t>((W + 2 * padW - spanW) / strideW + 1);
    // Products used as element counts and GEMM sizes, bounded once here.
    ck.product({N, C, H, W}, "N * C * H * W");
    ck.product({N, K, static_cast<uint64_t>(P), static_cast<uint64_t>(Q)}, "N * K * P * Q");
    ck.product({N, C / groups, R, S, static_cast<uint64_t>(P), static_cast<uint64_t>(Q)}, "N * (C / groups) * R * S * P * Q");
  }

  uint64_t xElements() const { return N * C * H * W; }
  uint64_t wElements() const { return K * (C / groups) * R * S; }
  uint64_t yElements() const { return N * K * static_cast<uint64_t>(P * Q); }
  // The GEMM view of one group: M = K / groups rows, an inner dimension of (C / groups) * R * S.
  int64_t kPerGroup() const { return static_cast<int64_t>(K / groups); }
  int64_t cPerGroup() const { return static_cast<int64_t>(C / groups); }
  int64_t crs() const { return cPerGroup() * static_cast<int64_t>(R * S); }
  int64_t pq() const { return P * Q; }
  bool isPointwise() const { return R == 1 && S == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0; }
};

inline void distinct(const Check& ck, const char* outName, const StoragePtr& out, const StoragePtr& in) {
  if (out && out == in) ck.fail(outName, "a storage other than the inputs'", "one of them");
}

struct Conv2dArgs {
  static constexpr const char* kName = "conv2d";
  StoragePtr x, w, bias, y;
  DType dtype = DType::Float32;
  ConvShape s;
  StoragePtr workspace;  // filled by the dispatcher when the implementation needs one

  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("w", w);
    f.optionalStorage("bias", bias);
    f.storage("y", y);
    f.floatDtype("dtype", dtype);
    s.fields(f);
  }
  bool check(const Check& ck) {
    s.check(ck);
    ck.holds("x", x, s.xElements(), dtype);
    ck.holds("w", w, s.wElements(), dtype);
    if (bias) ck.holds("bias", bias, s.K, dtype);
    ck.holds("y", y, s.yElements(), dtype);
    distinct(ck, "y", y, x);
    distinct(ck, "y", y, w);
    distinct(ck, "y", y, bias);
    return s.yElements() > 0;
  }
};

struct Conv2dBackwardDataArgs {
  static constexpr const char* kName = "conv2dBackwardData";
  StoragePtr gradOut, w, gradIn;
  DType dtype = DType::Float32;
  ConvShape s;
  StoragePtr workspace;

  void fields(Fields& f) {
    f.storage("gradOut", gradOut);
    f.storage("w", w);
    f.storage("gradIn", gradIn);
    f.floatDtype("dtype", dtype);
    s.fields(f);
  }
  bool check(const Check& ck) {
    s.check(ck);
    ck.holds("gradOut", gradOut, s.yElements(), dtype);
    ck.holds("w", w, s.wElements(), dtype);
    ck.holds("gradIn", gradIn, s.xElements(), dtype);
    distinct(ck, "gradIn", gradIn, gradOut);
    distinct(ck, "gradIn", gradIn, w);
    return s.xElements() > 0;
  }
};

struct Conv2dBackwardFilterArgs {
  static constexpr const char* kName = "conv2dBackwardFilter";
  StoragePtr x, gradOut, gradWeight, gradBias;
  DType dtype = DType::Float32;
  ConvShape s;
  StoragePtr workspace;

  void fields(Fields& f) {
    f.storage("x", x);
    f.storage("gradOut", gradOut);
    f.storage("gradWeight", gradWeight);
    f.optionalStorage("gradBias", gradBias);
    f.floatDtype("dtype", dtype);
    s.fields(f);
  }
  bool check(const Check& ck) {
    s.check(ck);
    ck.holds("x", x, s.xElements(), dtype);
    ck.holds("gradOut", gradOut, s.yElements(), dtype);
    ck.holds("gradWeight", gradWeight, s.wElements(), dtype);
    if (gradBias) ck.holds("gradBias", gradBias, s.K, dtype);
    distinct(ck, "gradWeight", gradWeight, x);
    distinct(ck, "gradWeight", gradWeight, gradOut);
    distinct(ck, "gradBias", gradBias, x);
    distinct(ck, "gradBias", gradBias, gradOut);
    if (gradBias && gradBias == gradWeight) ck.fail("gradBias", "a storage other than gradWeight's", "the same");
    // With N = 0 the sums are empty: the kernels still write the zeros.
    return s.wElements() > 0 || (gradBias && s.K > 0);
  }
};

}  // namespace hy::ops
