// Op declarations: filling, random numbers and casts. Each struct is the op's whole argument list:
// its fields by name (read from JS by the binding) and check(), the memory-safety checks, which
// returns whether there is any work. Implementations: cpu/creation.cpp, cpu/cast.cpp,
// cuda/creation.cu, cuda/cast.cu.
#pragma once
#include <cmath>

#include "../core/op_registry.h"

namespace hy::ops {

struct FillArgs {
  static constexpr const char* kName = "fill";
  StoragePtr out;
  DType dtype = DType::Float32;
  uint64_t n = 0;
  double value = 0;
  void fields(Fields& f) {
    f.storage("out", out);
    f.dtype("dtype", dtype, kAllTypes);
    f.size("n", n);
    f.number("value", value, true);  // NaN and infinities fill too (poisoned outputs in tests)
  }
  bool check(const Check& c) const {
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

// Philox random numbers: uniform in [a, b) or normal with mean a and standard deviation b; element
// i depends only on (seed, offset, i), so both backends give the same values.
struct RandomArgs {
  static constexpr const char* kName = "random";
  StoragePtr out;
  DType dtype = DType::Float32;
  uint64_t n = 0;
  RandomKind kind = RandomKind::Uniform;
  uint64_t seed = 0, offset = 0;
  double a = 0, b = 1;
  void fields(Fields& f) {
    f.storage("out", out);
    f.dtype("dtype", dtype, kNumericTypes);  // int32 for the integer kind only
    f.size("n", n);
    f.choice("kind", kind);
    f.size("seed", seed);
    f.size("offset", offset);
    f.number("a", a);
    f.number("b", b);
  }
  bool check(const Check& c) const {
    if (!std::isfinite(a)) c.fail("a", "finite", formatNumber(a));
    if (!std::isfinite(b)) c.fail("b", "finite", formatNumber(b));
    if ((kind == RandomKind::Integer) != (dtype == DType::Int32)) {
      c.fail("dtype", kind == RandomKind::Integer ? "int32 for the integer kind" : "float32 or float16 for this kind", dtypeName(dtype));
    }
    if (kind == RandomKind::Integer &&
        (a != std::floor(a) || b != std::floor(b) || !(a < b) || a < -2147483648.0 || b > 2147483648.0 || b - a > 2147483648.0)) {
      c.fail("b", "an integer bound above the integer a, both in int32's range", formatNumber(a) + ", " + formatNumber(b));
    }
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

struct CastArgs {
  static constexpr const char* kName = "cast";
  StoragePtr x;
  DType xDtype = DType::Float32;
  StoragePtr out;
  DType dtype = DType::Float32;
  uint64_t n = 0;
  void fields(Fields& f) {
    f.storage("x", x);
    f.dtype("xDtype", xDtype, kAllTypes);
    f.storage("out", out);
    f.dtype("dtype", dtype, kAllTypes);
    f.size("n", n);
  }
  bool check(const Check& c) const {
    c.holds("x", x, n, xDtype);
    c.holds("out", out, n, dtype);
    return n > 0;
  }
};

}  // namespace hy::ops
