// Binding functions of the elementwise family:
//   unary(op, x, out, dtype, n)                          op: UnaryOp code (core/elementwise_math.h)
//   unaryGrad(op, x, gradOut, gradIn, dtype, n)          op: UnaryGradOp code
//   scalarOp(op, x, out, dtype, n, s)                    op: ScalarOp code
//   binary(op, a, b, out, dtype, shape, stridesA, stridesB)   broadcasting by element strides
//   reduceSum(x, out, dtype, outer, reduce, inner, scale)     out[o,i] = scale * sum_r x[o,r,i]
// dtype: float32 or float16 (math in float32).
#include <string>

#include "../core/elementwise.h"
#include "args.h"
#include "errors.h"
#include "registry.h"
#include "storage.h"

namespace hy::binding {

namespace {

int32_t opCode(const Napi::CallbackInfo& info, int32_t count, const char* op) {
  const uint64_t code = getSize(info, 0, op, "op code");
  if (code >= static_cast<uint64_t>(count)) throwRange(std::string(op) + ": unknown op code " + std::to_string(code));
  return static_cast<int32_t>(code);
}

Napi::Value unaryFn(const Napi::CallbackInfo& info) {
  const char* op = "unary";
  const auto code = static_cast<UnaryOp>(opCode(info, static_cast<int32_t>(UnaryOp::Count), op));
  AllocationPtr x = Storage::fromArg(info, 1, op);
  AllocationPtr out = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const uint64_t n = getSize(info, 4, op, "element count");
  checkedBytes(n, dtype, *x, op);
  checkedBytes(n, dtype, *out, op);
  unary(code, *x, *out, dtype, static_cast<size_t>(n));
  return info.Env().Undefined();
}

Napi::Value unaryGradFn(const Napi::CallbackInfo& info) {
  const char* op = "unaryGrad";
  const auto code = static_cast<UnaryGradOp>(opCode(info, static_cast<int32_t>(UnaryGradOp::Count), op));
  AllocationPtr x = Storage::fromArg(info, 1, op);
  AllocationPtr g = Storage::fromArg(info, 2, op);
  AllocationPtr out = Storage::fromArg(info, 3, op);
  const DType dtype = getFloatDType(info, 4, op);
  const uint64_t n = getSize(info, 5, op, "element count");
  checkedBytes(n, dtype, *x, op);
  checkedBytes(n, dtype, *g, op);
  checkedBytes(n, dtype, *out, op);
  unaryGrad(code, *x, *g, *out, dtype, static_cast<size_t>(n));
  return info.Env().Undefined();
}

Napi::Value scalarFn(const Napi::CallbackInfo& info) {
  const char* op = "scalarOp";
  const auto code = static_cast<ScalarOp>(opCode(info, static_cast<int32_t>(ScalarOp::Count), op));
  AllocationPtr x = Storage::fromArg(info, 1, op);
  AllocationPtr out = Storage::fromArg(info, 2, op);
  const DType dtype = getFloatDType(info, 3, op);
  const uint64_t n = getSize(info, 4, op, "element count");
  Napi::Value s = arg(info, 5);
  if (!s.IsNumber()) throwType(std::string(op) + ": scalar must be a number, got " + describe(s));
  checkedBytes(n, dtype, *x, op);
  checkedBytes(n, dtype, *out, op);
  scalar(code, *x, *out, dtype, static_cast<size_t>(n), s.As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

// Reads an array of at most kMaxDims integers.
int readDims(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, int64_t* out, bool allowZero) {
  Napi::Value v = arg(info, i);
  if (!v.IsArray()) throwType(std::string(op) + ": " + name + " must be an array, got " + describe(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > static_cast<uint32_t>(kMaxDims)) {
    throwRange(std::string(op) + ": " + name + " has " + std::to_string(a.Length()) + " dimensions, at most " +
               std::to_string(kMaxDims) + " are supported");
  }
  for (uint32_t d = 0; d < a.Length(); ++d) {
    Napi::Value e = a.Get(d);
    if (!e.IsNumber()) throwType(std::string(op) + ": " + name + "[" + std::to_string(d) + "] must be a number");
    const double x = e.As<Napi::Number>().DoubleValue();
    if (!(x >= 0) || x != std::floor(x) || x > 4294967296.0 || (!allowZero && x == 0)) {
      throwRange(std::string(op) + ": " + name + "[" + std::to_string(d) + "] is out of range: " + describe(e));
    }
    out[d] = static_cast<int64_t>(x);
  }
  return static_cast<int>(a.Length());
}

Napi::Value binaryFn(const Napi::CallbackInfo& info) {
  const char* op = "binary";
  const auto code = static_cast<BinaryOp>(opCode(info, static_cast<int32_t>(BinaryOp::Count), op));
  AllocationPtr a = Storage::fromArg(info, 1, op);
  AllocationPtr b = Storage::fromArg(info, 2, op);
  AllocationPtr out = Storage::fromArg(info, 3, op);
  const DType dtype = getFloatDType(info, 4, op);
  BroadcastLayout L;
  L.ndim = readDims(info, 5, op, "shape", L.shape, true);
  if (readDims(info, 6, op, "stridesA", L.strideA, true) != L.ndim ||
      readDims(info, 7, op, "stridesB", L.strideB, true) != L.ndim) {
    throwRange(std::string(op) + ": shape and strides must have the same length");
  }
  // Every element each input may touch must lie inside its storage.
  uint64_t n = 1, lastA = 0, lastB = 0;
  for (int d = 0; d < L.ndim; ++d) {
    n *= static_cast<uint64_t>(L.shape[d]);
    if (L.shape[d] > 0) {
      lastA += static_cast<uint64_t>(L.shape[d] - 1) * static_cast<uint64_t>(L.strideA[d]);
      lastB += static_cast<uint64_t>(L.shape[d] - 1) * static_cast<uint64_t>(L.strideB[d]);
    }
  }
  if (n > (uint64_t(1) << 48)) throwRange(std::string(op) + ": too many elements");
  if (n > 0) {
    checkedBytes(lastA + 1, dtype, *a, op);
    checkedBytes(lastB + 1, dtype, *b, op);
  }
  checkedBytes(n, dtype, *out, op);
  binary(code, *a, *b, *out, dtype, L);
  return info.Env().Undefined();
}

Napi::Value reduceSumFn(const Napi::CallbackInfo& info) {
  const char* op = "sum";
  AllocationPtr x = Storage::fromArg(info, 0, op);
  AllocationPtr out = Storage::fromArg(info, 1, op);
  const DType dtype = getFloatDType(info, 2, op);
  const uint64_t outer = getSize(info, 3, op, "outer size");
  const uint64_t reduce = getSize(info, 4, op, "reduced size");
  const uint64_t inner = getSize(info, 5, op, "inner size");
  const double scale = getNumber(info, 6, op, "scale");
  if (outer > (uint64_t(1) << 48) || reduce > (uint64_t(1) << 48) || inner > (uint64_t(1) << 48) ||
      (outer != 0 && reduce != 0 && inner != 0 && outer * reduce > (uint64_t(1) << 48) / inner)) {
    throwRange(std::string(op) + ": sizes are too large");
  }
  checkedBytes(outer * reduce * inner, dtype, *x, op);
  checkedBytes(outer * inner, dtype, *out, op);
  reduceSum(*x, *out, dtype, static_cast<size_t>(outer), static_cast<size_t>(reduce), static_cast<size_t>(inner),
            static_cast<float>(scale));
  return info.Env().Undefined();
}

}  // namespace

void registerElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("unary", Napi::Function::New<wrap<unaryFn>>(env, "unary"));
  exports.Set("unaryGrad", Napi::Function::New<wrap<unaryGradFn>>(env, "unaryGrad"));
  exports.Set("scalarOp", Napi::Function::New<wrap<scalarFn>>(env, "scalarOp"));
  exports.Set("binary", Napi::Function::New<wrap<binaryFn>>(env, "binary"));
  exports.Set("reduceSum", Napi::Function::New<wrap<reduceSumFn>>(env, "reduceSum"));
}

}  // namespace hy::binding
