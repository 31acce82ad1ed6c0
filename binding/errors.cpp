#include "errors.h"

#include <new>
#include <string>

#include "../core/error.h"
#include "addon_data.h"
#include "args.h"

namespace hy::binding {

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) {
    return formatNumber(v.As<Napi::Number>().DoubleValue());
  }
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return "'" + s + "'";
  }
  if (v.IsTypedArray()) return "a typed array";
  if (v.IsArrayBuffer()) return "an ArrayBuffer";
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  if (v.IsSymbol()) return "a symbol";
  if (v.IsBigInt()) return "a bigint";
  return "an object";
}

Napi::Object statsToJs(Napi::Env env, const AllocatorStats& s) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  set("liveBytes", s.liveBytes);
  set("requestedBytes", s.requestedBytes);
  set("reservedBytes", s.reservedBytes);
  set("peakLiveBytes", s.peakLiveBytes);
  set("peakReservedBytes", s.peakReservedBytes);
  set("allocations", s.allocations);
  set("frees", s.frees);
  set("cacheHits", s.cacheHits);
  set("segmentAllocations", s.segmentAllocations);
  set("segmentReleases", s.segmentReleases);
  set("oomRetries", s.oomRetries);
  set("pendingFrees", s.pendingFrees);
  set("liveBlocks", s.liveBlocks);
  set("segments", s.segments);
  set("limitBytes", s.limitBytes);
  return o;
}

namespace {

Napi::Error withCode(Napi::Error e, const std::string& code) {
  if (!code.empty()) e.Set("code", Napi::String::New(e.Env(), code));
  return e;
}

}  // namespace

Napi::Error toJsError(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const OutOfMemory& e) {
    AddonData& data = addonData(env);
    Napi::Object err;
    if (!data.outOfMemoryClass.IsEmpty()) {
      err = data.outOfMemoryClass.New({Napi::String::New(env, e.what())});
    } else {
      err = Napi::Error::New(env, e.what()).Value();
    }
    err.Set("code", Napi::String::New(env, e.code()));
    err.Set("stats", statsToJs(env, e.stats));
    return Napi::Error(env, err);
  } catch (const Error& e) {
    switch (e.kind()) {
      case ErrorKind::Type: return withCode(Napi::TypeError::New(env, e.what()), e.code());
      case ErrorKind::Range: return withCode(Napi::RangeError::New(env, e.what()), e.code());
      default: return withCode(Napi::Error::New(env, e.what()), e.code());
    }
  } catch (const std::bad_alloc&) {
    return withCode(Napi::Error::New(env, "hayate: host memory exhausted"), "ERR_OUT_OF_MEMORY");
  } catch (const std::exception& e) {
    return withCode(Napi::Error::New(env, std::string("hayate internal error: ") + e.what()), "ERR_HAYATE_INTERNAL");
  } catch (...) {
    return withCode(Napi::Error::New(env, "hayate internal error"), "ERR_HAYATE_INTERNAL");
  }
}

void setErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Value v = arg(info, 0);
  if (!v.IsObject()) throwType("setErrorClasses: expected an object, got " + describe(v));
  Napi::Value oom = v.As<Napi::Object>().Get("OutOfMemoryError");
  if (!oom.IsFunction()) throwType("setErrorClasses: OutOfMemoryError must be a class, got " + describe(oom));
  addonData(info.Env()).outOfMemoryClass = Napi::Persistent(oom.As<Napi::Function>());
}

}  // namespace hy::binding
