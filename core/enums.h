// Every enum the binding and TypeScript share, each written once as an X-macro list of
// (C++ name, JS name). The enums, their name tables and the export to JS (`native.enums`) are all
// generated from these lists, so TypeScript passes names and never writes an op code as a number.
// Adding an elementwise op is one line here plus its math in elementwise_math.h.
#pragma once
#include <cstdint>
#include <cstring>

#define HY_DTYPES(X) X(Float32, float32) X(Float16, float16) X(Int32, int32) X(Bool, bool)
#define HY_UNARY_OPS(X)                                                                                     \
  X(Neg, neg) X(Exp, exp) X(Log, log) X(Erf, erf) X(Relu, relu) X(Gelu, gelu) X(GeluTanh, geluTanh) \
  X(Tanh, tanh) X(Sigmoid, sigmoid) X(Sqrt, sqrt) X(Abs, abs) X(Rsqrt, rsqrt) X(Floor, floor)
#define HY_UNARY_GRAD_OPS(X) X(Relu, relu) X(Gelu, gelu) X(GeluTanh, geluTanh) X(Abs, abs)
#define HY_SCALAR_OPS(X) X(Add, add) X(Mul, mul) X(RSub, rsub) X(RDiv, rdiv) X(Pow, pow) X(Max, max) X(Min, min)
#define HY_BINARY_OPS(X) X(Add, add) X(Sub, sub) X(Mul, mul) X(Div, div)
#define HY_REDUCTIONS(X) X(None, none) X(Mean, mean) X(Sum, sum)
#define HY_RANDOM_KINDS(X) X(Uniform, uniform) X(Normal, normal) X(Integer, integer)
#define HY_COMPARE_OPS(X) X(Eq, eq) X(Ne, ne) X(Lt, lt) X(Le, le) X(Gt, gt) X(Ge, ge) X(And, and) X(Or, or) X(Xor, xor)
#define HY_ARG_REDUCTIONS(X) X(Max, max) X(Min, min)
#define HY_INT_BINARY_OPS(X) X(Add, add) X(Sub, sub) X(Mul, mul) X(FloorDivide, floorDivide) X(Remainder, remainder)
#define HY_OPTIMIZER_KINDS(X) X(Sgd, sgd) X(Adam, adam) X(Adadelta, adadelta) X(Lamb, lamb) X(Lars, lars)

// Every list above, as (enum type, JS enum name, list): the binding walks this to export them.
#define HY_ALL_ENUMS(E)                   \
  E(::hy::DType, DType, HY_DTYPES)         \
  E(::hy::UnaryOp, UnaryOp, HY_UNARY_OPS)  \
  E(::hy::UnaryGradOp, UnaryGradOp, HY_UNARY_GRAD_OPS) \
  E(::hy::ScalarOp, ScalarOp, HY_SCALAR_OPS) \
  E(::hy::BinaryOp, BinaryOp, HY_BINARY_OPS) \
  E(::hy::nn::Reduction, Reduction, HY_REDUCTIONS) \
  E(::hy::RandomKind, RandomKind, HY_RANDOM_KINDS) \
  E(::hy::OptimizerKind, OptimizerKind, HY_OPTIMIZER_KINDS) \
  E(::hy::CompareOp, CompareOp, HY_COMPARE_OPS) \
  E(::hy::ArgReduction, ArgReduction, HY_ARG_REDUCTIONS) \
  E(::hy::IntBinaryOp, IntBinaryOp, HY_INT_BINARY_OPS)

namespace hy {

#define HY_ENUM_ENTRY(name, js) name,
enum class DType : int32_t { HY_DTYPES(HY_ENUM_ENTRY) };
enum class UnaryOp : int32_t { HY_UNARY_OPS(HY_ENUM_ENTRY) Count };
enum class UnaryGradOp : int32_t { HY_UNARY_GRAD_OPS(HY_ENUM_ENTRY) Count };
enum class ScalarOp : int32_t { HY_SCALAR_OPS(HY_ENUM_ENTRY) Count };
enum class BinaryOp : int32_t { HY_BINARY_OPS(HY_ENUM_ENTRY) Count };
enum class RandomKind : int32_t { HY_RANDOM_KINDS(HY_ENUM_ENTRY) Count };
enum class OptimizerKind : int32_t { HY_OPTIMIZER_KINDS(HY_ENUM_ENTRY) Count };
enum class CompareOp : int32_t { HY_COMPARE_OPS(HY_ENUM_ENTRY) Count };
enum class ArgReduction : int32_t { HY_ARG_REDUCTIONS(HY_ENUM_ENTRY) Count };
enum class IntBinaryOp : int32_t { HY_INT_BINARY_OPS(HY_ENUM_ENTRY) Count };
namespace nn {
enum class Reduction : int32_t { HY_REDUCTIONS(HY_ENUM_ENTRY) Count };
}
#undef HY_ENUM_ENTRY

// The JS names of one enum, indexed by code.
struct EnumNames {
  const char* enumName;
  const char* const* names;
  int32_t count;
  // The code of `name`, or -1.
  int32_t find(const char* name) const {
    for (int32_t i = 0; i < count; ++i) {
      if (std::strcmp(names[i], name) == 0) return i;
    }
    return -1;
  }
};

template <typename E>
const EnumNames& enumNames();

#define HY_ENUM_JS_NAME(name, js) #js,
#define HY_ENUM_NAMES(Type, Name, LIST)                                                     \
  template <>                                                                               \
  inline const EnumNames& enumNames<Type>() {                                               \
    static const char* const names[] = {LIST(HY_ENUM_JS_NAME)};                             \
    static const EnumNames e{#Name, names, static_cast<int32_t>(sizeof names / sizeof *names)}; \
    return e;                                                                               \
  }
HY_ALL_ENUMS(HY_ENUM_NAMES)
#undef HY_ENUM_NAMES
#undef HY_ENUM_JS_NAME

}  // namespace hy
