// int32 arithmetic (ops/integer.h) on the CPU: rows over the pool, the op chosen once per call.
#include "../ops/integer.h"

#include "../core/int_math.h"
#include "../core/nn.h"
#include "strided.h"

namespace hy::cpu {

namespace {

template <IntBinaryOp OP>
void intBinaryT(const ops::IntBinaryArgs& a) {
  const int32_t* pa = static_cast<const int32_t*>(a.a->data());
  const int32_t* pb = static_cast<const int32_t*>(a.b->data());
  int32_t* out = static_cast<int32_t*>(a.out->data());
  const int last = a.layout.ndim - 1;
  const int64_t sa = last >= 0 ? a.layout.stride[0][last] : 0, sb = last >= 0 ? a.layout.stride[1][last] : 0;
  forEachRow<2>(a.layout, [&](const int64_t* off, size_t first, int64_t len) {
    const int32_t* ra = pa + off[0];
    const int32_t* rb = pb + off[1];
    int32_t* ro = out + first;
    if (sa == 1 && sb == 1) {
      for (int64_t j = 0; j < len; ++j) ro[j] = applyIntBinary(OP, ra[j], rb[j]);
    } else {
      for (int64_t j = 0; j < len; ++j) ro[j] = applyIntBinary(OP, ra[j * sa], rb[j * sb]);
    }
  });
}

// Division by zero is an error before anything is written: the divisors are scanned first.
void checkDivisors(const ops::IntBinaryArgs& a) {
  const int32_t* pb = static_cast<const int32_t*>(a.b->data());
  const int last = a.layout.ndim - 1;
  const int64_t sb = last >= 0 ? a.layout.stride[1][last] : 0;
  size_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= static_cast<size_t>(a.layout.shape[d]);
  const int64_t len = last >= 0 ? a.layout.shape[last] : 1;
  for (size_t r = 0; r < rows; ++r) {
    int64_t off = 0;
    size_t rest = r;
    for (int d = last - 1; d >= 0; --d) {
      off += static_cast<int64_t>(rest % static_cast<size_t>(a.layout.shape[d])) * a.layout.stride[1][d];
      rest /= static_cast<size_t>(a.layout.shape[d]);
    }
    for (int64_t j = 0; j < len; ++j) {
      if (pb[off + j * sb] == 0) nn::throwBadTarget(nn::TargetOp::IntDivide, 0, r * static_cast<size_t>(len) + static_cast<size_t>(j), 0);
    }
  }
}

void intBinary(const ops::IntBinaryArgs& a) {
  if (a.op == IntBinaryOp::FloorDivide || a.op == IntBinaryOp::Remainder) checkDivisors(a);
#define HY_CASE(name, js) \
  case IntBinaryOp::name: return intBinaryT<IntBinaryOp::name>(a);
  switch (a.op) {
    HY_INT_BINARY_OPS(HY_CASE)
    default: return;
  }
#undef HY_CASE
}

}  // namespace

// Registered implementation (ops/integer.h).
namespace {
HY_REGISTER_OP(ops::IntBinaryArgs, Cpu, "strided", [](const ops::IntBinaryArgs& a, StreamId) { intBinary(a); });
}  // namespace

}  // namespace hy::cpu
