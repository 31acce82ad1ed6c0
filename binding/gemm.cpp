// gemm(a, b, c, dtype, M, N, K, transA, transB, alpha, beta, batch, strideA, strideB, strideC):
// checks every argument and every operand's extent against its storage, then calls core/gemm.
#include <cfloat>
#include <climits>
#include <cmath>
#include <string>

#include "../core/dispatch.h"
#include "../core/gemm.h"
#include "args.h"
#include "errors.h"
#include "registry.h"
#include "storage.h"

namespace hy::binding {

namespace {

constexpr const char* kOp = "gemm";

// Sizes stay below 2^31 so that kernels can count tiles and fragments in int.
int64_t getDim(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const uint64_t v = getSize(info, i, kOp, name);
  if (v > INT_MAX) throwRange(std::string(kOp) + ": " + name + " must be at most " + std::to_string(INT_MAX) + ", got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

float getScale(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const double v = getNumber(info, i, kOp, name);
  if (!(std::fabs(v) <= FLT_MAX)) throwRange(std::string(kOp) + ": " + name + " must be a finite float32, got " + describe(arg(info, i)));
  return static_cast<float>(v);
}

// The elements batch items of a rows x cols operand span: (batch - 1) * stride + rows * cols.
void checkExtent(const char* name, const Allocation& s, DType dtype, int64_t batch, uint64_t stride, int64_t rows,
                 int64_t cols) {
  const uint64_t size = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);  // < 2^62
  if (batch == 0 || size == 0) return;
  const std::string what = std::string(kOp) + ": " + name + " (" + std::to_string(rows) + "x" + std::to_string(cols) +
                           ", batch " + std::to_string(batch) + ", stride " + std::to_string(stride) + ")";
  uint64_t span = 0;
  uint64_t n = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(batch - 1), stride, &span) || __builtin_add_overflow(span, size, &n)) {
    throwRange(what + ": the element count overflows");
  }
  checkedBytes(n, dtype, s, what.c_str());
}

Napi::Value gemmFn(const Napi::CallbackInfo& info) {
  AllocationPtr a = Storage::fromArg(info, 0, kOp);
  AllocationPtr b = Storage::fromArg(info, 1, kOp);
  AllocationPtr c = Storage::fromArg(info, 2, kOp);
  const DType dtype = getDType(info, 3, kOp);
  if (dtype != DType::Float32 && dtype != DType::Float16) {
    throwRange(std::string(kOp) + ": dtype must be float32 (0) or float16 (1), got " + dtypeName(dtype));
  }
  GemmParams p;
  p.M = getDim(info, 4, "M");
  p.N = getDim(info, 5, "N");
  p.K = getDim(info, 6, "K");
  p.transA = getBool(info, 7, kOp, "transA");
  p.transB = getBool(info, 8, kOp, "transB");
  p.alpha = getScale(info, 9, "alpha");
  p.beta = getScale(info, 10, "beta");
  p.batch = getDim(info, 11, "batch");
  const uint64_t strideA = getSize(info, 12, kOp, "strideA");
  const uint64_t strideB = getSize(info, 13, kOp, "strideB");
  const uint64_t strideC = getSize(info, 14, kOp, "strideC");
  requireSameDevice(kOp, *a, *b);
  requireSameDevice(kOp, *a, *c);
  // Operands have no offsets, so a shared storage means C overlaps an input it is still reading.
  if (c == a || c == b) throwRange(std::string(kOp) + ": c must not be the same storage as a or b");
  const uint64_t sizeC = static_cast<uint64_t>(p.M) * static_cast<uint64_t>(p.N);
  if (p.batch > 1 && strideC < sizeC) {
    throwRange(std::string(kOp) + ": strideC " + std::to_string(strideC) + " is less than M*N = " + std::to_string(sizeC) +
               ", so batch items would write over each other");
  }
  checkExtent("a", *a, dtype, p.batch, strideA, p.transA ? p.K : p.M, p.transA ? p.M : p.K);
  checkExtent("b", *b, dtype, p.batch, strideB, p.transB ? p.N : p.K, p.transB ? p.K : p.N);
  checkExtent("c", *c, dtype, p.batch, strideC, p.M, p.N);
  // getSize caps each stride at 2^53 - 1, so it fits int64.
  p.strideA = static_cast<int64_t>(strideA);
  p.strideB = static_cast<int64_t>(strideB);
  p.strideC = static_cast<int64_t>(strideC);
  gemm(*a, *b, *c, dtype, p);
  return info.Env().Undefined();
}

}  // namespace

void registerGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New<wrap<gemmFn>>(env, "gemm"));
}

}  // namespace hy::binding
