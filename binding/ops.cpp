// The binding's side of the op registry (core/op_registry.h): one entry, run(op, args), reads the
// op's argument struct from a JS object by field name, and describes every registered op and enum
// for TypeScript (ops(), enums). Type errors are TypeErrors, values out of range RangeErrors, each
// naming the op and the field.
#include <napi.h>

#include <cmath>
#include <string>

#include "../core/op_registry.h"
#include "args.h"
#include "errors.h"
#include "registry.h"
#include "storage.h"

namespace hy::binding {

namespace {

class JsFields : public ops::Fields {
 public:
  using ops::Fields::number;
  JsFields(Napi::Object args, std::string op) : args_(args), op_(std::move(op)) {}

  void storage(const char* name, StoragePtr& v) override { v = StorageHandle::fromValue(get(name), where(name).c_str()); }
  void optionalStorage(const char* name, StoragePtr& v) override {
    const Napi::Value x = get(name);
    v = x.IsNull() || x.IsUndefined() ? nullptr : StorageHandle::fromValue(x, where(name).c_str());
  }
  void dtype(const char* name, DType& v, uint32_t allowed) override {
    const Napi::Value x = get(name);
    const EnumNames& e = enumNames<DType>();
    std::string expected;
    for (int32_t i = 0; i < e.count; ++i) {
      if (allowed & (1u << i)) expected += std::string(expected.empty() ? "'" : ", '") + e.names[i] + "'";
    }
    if (!x.IsString()) fail(name, "one of " + expected, x, true);
    const int32_t code = e.find(x.As<Napi::String>().Utf8Value().c_str());
    if (code < 0 || !(allowed & (1u << code))) fail(name, "one of " + expected, x, false);
    v = static_cast<DType>(code);
  }
  void size(const char* name, uint64_t& v) override {
    const Napi::Value x = get(name);
    if (!x.IsNumber()) fail(name, "a non-negative integer", x, true);
    const double d = x.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9007199254740991.0) {
      fail(name, "a non-negative integer below 2^53", x, false);
    }
    v = static_cast<uint64_t>(d);
  }
  void number(const char* name, double& v, bool allowNaN) override {
    const Napi::Value x = get(name);
    if (!x.IsNumber()) fail(name, "a number", x, true);
    v = x.As<Napi::Number>().DoubleValue();
    if (std::isnan(v) && !allowNaN) fail(name, "a number other than NaN", x, false);
  }
  void boolean(const char* name, bool& v) override {
    const Napi::Value x = get(name);
    if (!x.IsBoolean()) fail(name, "a boolean", x, true);
    v = x.As<Napi::Boolean>().Value();
  }
  void enumeration(const char* name, int32_t& v, const EnumNames& e) override {
    const Napi::Value x = get(name);
    std::string expected;
    for (int32_t i = 0; i < e.count; ++i) expected += std::string(i == 0 ? "'" : ", '") + e.names[i] + "'";
    if (!x.IsString()) fail(name, "one of " + expected, x, true);
    const int32_t code = e.find(x.As<Napi::String>().Utf8Value().c_str());
    if (code < 0) fail(name, "one of " + expected, x, false);
    v = code;
  }
  void dims(const char* name, ops::Dims& v) override {
    const Napi::Value x = get(name);
    if (!x.IsArray()) fail(name, "an array of sizes", x, true);
    Napi::Array a = x.As<Napi::Array>();
    if (a.Length() > static_cast<uint32_t>(ops::kMaxDims)) {
      fail(name, "at most " + std::to_string(ops::kMaxDims) + " sizes", x, false);
    }
    v.n = static_cast<int>(a.Length());
    for (uint32_t d = 0; d < a.Length(); ++d) {
      const Napi::Value e = a.Get(d);
      const std::string entry = std::string(name) + "[" + std::to_string(d) + "]";
      if (!e.IsNumber()) fail(entry.c_str(), "a number", e, true);
      const double s = e.As<Napi::Number>().DoubleValue();
      if (!(s >= 0) || s != std::floor(s) || s > 4294967296.0) fail(entry.c_str(), "an integer in [0, 2^32]", e, false);
      v.v[d] = static_cast<int64_t>(s);
    }
  }

 private:
  Napi::Value get(const char* name) { return args_.Get(name); }
  std::string where(const char* name) const { return op_ + ": " + name; }
  [[noreturn]] void fail(const char* name, const std::string& expected, const Napi::Value& got, bool typeError) const {
    const std::string m = op_ + ": " + name + " must be " + expected + ", got " + describe(got);
    if (typeError) throwType(m);
    throwRange(m);
  }

  Napi::Object args_;
  std::string op_;
};

// run(op, args)
Napi::Value runFn(const Napi::CallbackInfo& info) {
  const Napi::Value name = arg(info, 0);
  if (!name.IsString()) throwType("run: op must be the name of a registered op, got " + describe(name));
  const std::string op = name.As<Napi::String>().Utf8Value();
  if (ops::findOp(op) == nullptr) throwRange("run: op must be the name of a registered op, got '" + op + "'");
  const Napi::Value args = arg(info, 1);
  if (!args.IsObject() || args.IsArray() || args.IsFunction()) {
    throwType(op + ": arguments must be an object of named fields, got " + describe(args));
  }
  const Napi::Object obj = args.As<Napi::Object>();
  std::string impl;
  const Napi::Value implValue = obj.Get("impl");
  if (!implValue.IsUndefined()) {
    if (!implValue.IsString()) throwType(op + ": impl must be an implementation's name, got " + describe(implValue));
    impl = implValue.As<Napi::String>().Utf8Value();
  }
  JsFields fields(obj, op);
  ops::run(op, fields, impl);
  return info.Env().Undefined();
}

Napi::Array strings(Napi::Env env, const std::vector<std::string>& list) {
  Napi::Array a = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) a.Set(static_cast<uint32_t>(i), list[i]);
  return a;
}

Napi::Value opsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<ops::OpInfo>& all = ops::allOps();
  Napi::Array out = Napi::Array::New(env, all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const ops::OpInfo& op = all[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", op.name);
    Napi::Array fields = Napi::Array::New(env, op.fields.size());
    for (size_t f = 0; f < op.fields.size(); ++f) {
      Napi::Object field = Napi::Object::New(env);
      field.Set("name", op.fields[f].name);
      field.Set("kind", op.fields[f].kind);
      if (!op.fields[f].values.empty()) field.Set("values", strings(env, op.fields[f].values));
      fields.Set(static_cast<uint32_t>(f), field);
    }
    o.Set("fields", fields);
    Napi::Object impls = Napi::Object::New(env);
    impls.Set("cpu", strings(env, op.impls[static_cast<int>(DeviceType::Cpu)]));
    impls.Set("cuda", strings(env, op.impls[static_cast<int>(DeviceType::Cuda)]));
    o.Set("impls", impls);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Object enumsObject(Napi::Env env) {
  Napi::Object all = Napi::Object::New(env);
#define HY_EXPORT_ENUM(Type, Name, LIST)                                       \
  {                                                                            \
    const EnumNames& e = enumNames<Type>();                                    \
    Napi::Object values = Napi::Object::New(env);                              \
    for (int32_t i = 0; i < e.count; ++i) values.Set(e.names[i], i);           \
    values.Freeze();                                                           \
    all.Set(e.enumName, values);                                               \
  }
  HY_ALL_ENUMS(HY_EXPORT_ENUM)
#undef HY_EXPORT_ENUM
  all.Freeze();
  return all;
}

}  // namespace

void registerOps(Napi::Env env, Napi::Object exports) {
  exports.Set("run", Napi::Function::New<wrap<runFn>>(env, "run"));
  exports.Set("ops", Napi::Function::New<wrap<opsFn>>(env, "ops"));
  exports.Set("enums", guarded(env, [&] { return enumsObject(env); }));
}

}  // namespace hy::binding
