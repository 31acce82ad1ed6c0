// Errors raised by the native core. The binding maps each kind to a JS error class; `code` becomes
// the JS error's `code` (for CUDA failures, the CUDA error's name).
#pragma once
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

}  // namespace hy
