// Mapping native failures to JS errors: hy::Error kinds to TypeError / RangeError / Error with a
// `code`, allocator exhaustion to the library's OutOfMemoryError carrying the allocator's stats.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>

#include "../core/caching_allocator.h"

namespace hy::binding {

Napi::Object statsToJs(Napi::Env env, const AllocatorStats& s);
Napi::Error toJsError(Napi::Env env, std::exception_ptr error);
void setErrorClasses(const Napi::CallbackInfo& info);

// Runs body and rethrows any native failure as the matching JS error.
template <typename F>
auto guarded(Napi::Env env, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, std::current_exception());
  }
}

// A binding function whose native failures become JS errors.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value wrap(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return F(info); });
}

}  // namespace hy::binding
