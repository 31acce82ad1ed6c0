// Errors raised by the native core. The binding maps each kind to a JS error class; `code` becomes
// the JS error's `code` (for CUDA failures, the CUDA error's name).
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace hy {

enum class ErrorKind { Type, Range, Runtime, OutOfMemory };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, std::string code = "")
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& code() const { return code_; }

 private:
  ErrorKind kind_;
  std::string code_;
};

[[noreturn]] inline void throwType(const std::string& m) { throw Error(ErrorKind::Type, m, "ERR_INVALID_ARG_TYPE"); }
[[noreturn]] inline void throwRange(const std::string& m) { throw Error(ErrorKind::Range, m, "ERR_OUT_OF_RANGE"); }
[[noreturn]] inline void throwRuntime(const std::string& m, const std::string& code = "") {
  throw Error(ErrorKind::Runtime, m, code);
}

// A number as JavaScript prints it: integers without a fraction, others in the fewest digits that
// read back to the same double, NaN and Infinity by name.
inline std::string formatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e21) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace hy
