// Argument checks for binding functions. Every check names the op and the offending value, and
// throws the JS error class a Node.js user expects (TypeError for a wrong type, RangeError for a
// value out of range).
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "../core/dtype.h"
#include "../core/error.h"
#include "../core/storage.h"

namespace hy::binding {

std::string describe(const Napi::Value& v);  // a short rendering of a JS value for messages

inline Napi::Value arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

// A non-negative integer no larger than 2^53 - 1 (sizes, counts, offsets).
inline uint64_t getSize(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  Napi::Value v = arg(info, i);
  if (!v.IsNumber()) throwType(std::string(op) + ": " + name + " must be a number, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9007199254740991.0) {
    throwRange(std::string(op) + ": " + name + " must be a non-negative integer, got " + describe(v));
  }
  return static_cast<uint64_t>(d);
}

inline bool getBool(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  Napi::Value v = arg(info, i);
  if (!v.IsBoolean()) throwType(std::string(op) + ": " + name + " must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

// A dtype by name: 'float32', 'float16' or 'int32'.
inline DType getDType(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Napi::Value v = arg(info, i);
  const std::string expected = "'float32', 'float16' or 'int32'";
  if (!v.IsString()) throwType(std::string(op) + ": dtype must be " + expected + ", got " + describe(v));
  const int32_t code = enumNames<DType>().find(v.As<Napi::String>().Utf8Value().c_str());
  if (code < 0) throwRange(std::string(op) + ": dtype must be " + expected + ", got " + describe(v));
  return static_cast<DType>(code);
}

inline DeviceType getDevice(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Napi::Value v = arg(info, i);
  if (!v.IsString()) throwType(std::string(op) + ": device must be 'cpu' or 'cuda', got " + describe(v));
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "cpu") return DeviceType::Cpu;
  if (s == "cuda") return DeviceType::Cuda;
  throwRange(std::string(op) + ": device must be 'cpu' or 'cuda', got " + describe(v));
}

// Bytes that n elements of dtype occupy, or a RangeError naming op when the storage is too small.
inline size_t checkedBytes(uint64_t n, DType dtype, const Storage& a, const char* op) {
  const uint64_t bytes = n * dtypeSize(dtype);
  if (n > (uint64_t(1) << 52) || bytes > a.bytes) {
    throwRange(std::string(op) + ": " + std::to_string(n) + " elements of " + dtypeName(dtype) + " need " +
               std::to_string(bytes) + " bytes but the storage holds " + std::to_string(a.bytes));
  }
  return static_cast<size_t>(bytes);
}

}  // namespace hy::binding
