// The binding's side of the op registry (core/op_registry.h): one entry, run(op, args), reads the
// op's argument struct from a JS object by field name, and describes every registered op and enum
// for TypeScript (ops(), enums). Type errors are TypeErrors, values out of range RangeErrors, each
// naming the op and the field.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <string>

#include "../core/op_registry.h"
#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "registry.h"
#include "storage.h"

namespace hy::binding {

namespace {

// Reads an op's fields from JS: by name from an argument object (run), or positionally from the
// call's arguments in the order the op declares them (runAt, which lib/native.ts's run uses: a
// property read through N-API costs several times a positional argument).
class JsFields : public ops::Fields {
 public:
  using ops::Fields::number;
  JsFields(Napi::Object args, const char* op)
      : env_(args.Env()), args_(args), op_(op), data_(addonData(args.Env())) {
    if (data_.fieldKeys.IsEmpty()) data_.fieldKeys = Napi::Persistent(Napi::Array::New(env_).As<Napi::Object>());
    keys_ = data_.fieldKeys.Value();
  }
  JsFields(const Napi::CallbackInfo& info, size_t first, const ops::OpInfo& op)
      : env_(info.Env()), op_(op.name.c_str()), data_(addonData(info.Env())), info_(&info), pos_(first), declared_(&op.fields) {}

  void storage(const char* name, StoragePtr& v) override { v = StorageTable::fromValue(get(name), op_, name); }
  void optionalStorage(const char* name, StoragePtr& v) override {
    const Napi::Value x = get(name);
    v = x.IsNull() || x.IsUndefined() ? nullptr : StorageTable::fromValue(x, op_, name);
  }
  void dtype(const char* name, DType& v, uint32_t allowed) override {
    v = static_cast<DType>(choose(name, enumNames<DType>(), allowed));
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
  void enumeration(const char* name, int32_t& v, const EnumNames& e) override { v = choose(name, e, ~0u); }
  void dims(const char* name, ops::Dims& v) override {
    const Napi::Value x = get(name);
    if (info_ != nullptr) {  // runAt: the count, then the sizes, each an argument of its own
      const double count = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1;
      if (!(count >= 0 && count <= ops::kMaxDims && count == std::floor(count))) {
        throwRange(std::string(op_) + ": field '" + name + "' must come as a count of at most " +
                   std::to_string(ops::kMaxDims) + " and then the sizes, got " + describe(x));
      }
      v.n = static_cast<int>(count);
      for (int d = 0; d < v.n; ++d) {
        const Napi::Value e = (*info_)[pos_++];
        const auto entry = [&] { return std::string(name) + "[" + std::to_string(d) + "]"; };
        if (!e.IsNumber()) fail(entry().c_str(), "a number", e, true);
        const double s = e.As<Napi::Number>().DoubleValue();
        if (!(s >= 0) || s != std::floor(s) || s > 4294967296.0) fail(entry().c_str(), "an integer in [0, 2^32]", e, false);
        v.v[d] = static_cast<int64_t>(s);
      }
      return;
    }
    if (!x.IsArray()) fail(name, "an array of sizes", x, true);
    Napi::Array a = x.As<Napi::Array>();
    if (a.Length() > static_cast<uint32_t>(ops::kMaxDims)) {
      fail(name, "at most " + std::to_string(ops::kMaxDims) + " sizes", x, false);
    }
    v.n = static_cast<int>(a.Length());
    for (uint32_t d = 0; d < a.Length(); ++d) {
      const Napi::Value e = a.Get(d);
      // Built only on failure: this runs for every entry of every dims field of every call.
      const auto entry = [&] { return std::string(name) + "[" + std::to_string(d) + "]"; };
      if (!e.IsNumber()) fail(entry().c_str(), "a number", e, true);
      const double s = e.As<Napi::Number>().DoubleValue();
      if (!(s >= 0) || s != std::floor(s) || s > 4294967296.0) fail(entry().c_str(), "an integer in [0, 2^32]", e, false);
      v.v[d] = static_cast<int64_t>(s);
    }
  }
  void storageList(const char* name, std::vector<StoragePtr>& v) override {
    const Napi::Array a = array(name, "an array of storages");
    v.resize(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const std::string entry = std::string(name) + "[" + std::to_string(i) + "]";
      v[i] = StorageTable::fromValue(a.Get(i), op_, entry.c_str());
    }
  }
  void sizeList(const char* name, std::vector<uint64_t>& v) override {
    const Napi::Array a = array(name, "an array of sizes");
    v.resize(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const Napi::Value e = a.Get(i);
      const auto entry = [&] { return std::string(name) + "[" + std::to_string(i) + "]"; };
      if (!e.IsNumber()) fail(entry().c_str(), "a non-negative integer", e, true);
      const double d = e.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9007199254740991.0) {
        fail(entry().c_str(), "a non-negative integer below 2^53", e, false);
      }
      v[i] = static_cast<uint64_t>(d);
    }
  }

 private:
  // The field's value; its key string is made once per process and kept in fieldKeys. Positional
  // reads check that the op visits its fields in the order it declared them.
  Napi::Value get(const char* name) {
    if (info_ != nullptr) {
      if (next_ >= declared_->size() || std::strcmp((*declared_)[next_].name.c_str(), name) != 0) {
        throwRuntime(std::string(op_) + ": field '" + name + "' read out of its declared order");
      }
      ++next_;
      return (*info_)[pos_++];
    }
    auto it = data_.fieldKeyIndex.find(name);
    if (it == data_.fieldKeyIndex.end()) {
      const uint32_t i = static_cast<uint32_t>(data_.fieldKeyIndex.size());
      keys_.Set(i, Napi::String::New(env_, name));
      it = data_.fieldKeyIndex.emplace(name, i).first;
    }
    return args_.Get(keys_.Get(it->second));
  }

  // The field as an array of at most 2^20 entries (a multi-tensor list), or the error naming it.
  Napi::Array array(const char* name, const char* expected) {
    const Napi::Value x = get(name);
    if (!x.IsArray()) fail(name, expected, x, true);
    Napi::Array a = x.As<Napi::Array>();
    if (a.Length() > (1u << 20)) fail(name, std::string(expected) + " of at most 1048576 entries", x, false);
    return a;
  }

  // The code of the name field `name` holds, among the codes set in `allowed`.
  int32_t choose(const char* name, const EnumNames& e, uint32_t allowed) {
    const Napi::Value x = get(name);
    int32_t code = -1;
    if (info_ != nullptr && x.IsNumber()) {  // runAt: the code (lib/native.ts maps names to codes)
      const double d = x.As<Napi::Number>().DoubleValue();
      if (d >= 0 && d < e.count && d == std::floor(d)) code = static_cast<int32_t>(d);
    } else if (x.IsString()) {
      char buf[32];
      shortString(x, buf);
      code = e.find(buf);
    }
    if (code < 0 || !(allowed & (1u << code))) {
      std::string expected;
      for (int32_t i = 0; i < e.count; ++i) {
        if (allowed & (1u << i)) expected += std::string(expected.empty() ? "'" : ", '") + e.names[i] + "'";
      }
      fail(name, "one of " + expected, x, !x.IsString() && !(info_ != nullptr && x.IsNumber()));
    }
    return code;
  }
  [[noreturn]] void fail(const char* name, const std::string& expected, const Napi::Value& got, bool typeError) const {
    const std::string m = std::string(op_) + ": " + name + " must be " + expected + ", got " + describe(got);
    if (typeError) throwType(m);
    throwRange(m);
  }

  // A short string field (an enum value, a dtype) into a stack buffer: no allocation per call.
  // Longer strings are truncated, which no valid name is.
  static void shortString(const Napi::Value& v, char (&buf)[32]) {
    size_t len = 0;
    if (napi_get_value_string_utf8(v.Env(), v, buf, sizeof buf, &len) != napi_ok) buf[0] = 0;
  }

  Napi::Env env_;
  Napi::Object args_;
  const char* op_;
  AddonData& data_;
  Napi::Object keys_;
  const Napi::CallbackInfo* info_ = nullptr;  // positional reads: the call's arguments
  size_t pos_ = 0;   // the next argument to read (a dims field takes 1 + its count)
  size_t next_ = 0;  // the next declared field
  const std::vector<ops::FieldInfo>* declared_ = nullptr;
};

// The op named by info[0] and its argument object info[1], or a TypeError/RangeError naming them.
const ops::OpInfo& opArgument(const Napi::CallbackInfo& info, const char* fn, Napi::Object& obj) {
  const Napi::Value name = arg(info, 0);
  if (!name.IsString()) throwType(std::string(fn) + ": op must be the name of a registered op, got " + describe(name));
  char opName[64];
  size_t len = 0;
  if (napi_get_value_string_utf8(info.Env(), name, opName, sizeof opName, &len) != napi_ok) opName[0] = 0;
  const std::string op(opName, len);
  const ops::OpInfo* found = ops::findOp(op);
  if (found == nullptr) throwRange(std::string(fn) + ": op must be the name of a registered op, got '" + op + "'");
  const Napi::Value args = arg(info, 1);
  if (!args.IsObject() || args.IsArray() || args.IsFunction()) {
    throwType(op + ": arguments must be an object of named fields, got " + describe(args));
  }
  obj = args.As<Napi::Object>();
  return *found;
}

// run(op, args)
Napi::Value runFn(const Napi::CallbackInfo& info) {
  Napi::Object obj;
  const ops::OpInfo& op = opArgument(info, "run", obj);
  std::string impl;
  const Napi::Value implValue = obj.Get("impl");
  if (!implValue.IsUndefined()) {
    if (!implValue.IsString()) throwType(op.name + ": impl must be an implementation's name, got " + describe(implValue));
    impl = implValue.As<Napi::String>().Utf8Value();
  }
  JsFields fields(obj, op.name.c_str());
  op.run(fields, impl);
  return info.Env().Undefined();
}

// runAt(index, impl, ...values): the op at `index` of ops(), its fields positionally in declared
// order, impl an implementation's name or undefined. A dims field is its count and then its sizes,
// as arguments of their own: reading an array's entries through N-API cost more than the op.
Napi::Value runAtFn(const Napi::CallbackInfo& info) {
  const Napi::Value index = arg(info, 0);
  const std::vector<ops::OpInfo>& all = ops::allOps();
  const double i = index.IsNumber() ? index.As<Napi::Number>().DoubleValue() : -1;
  if (!(i >= 0 && i < static_cast<double>(all.size()) && i == std::floor(i))) {
    throwRange("runAt: index must be an op's position in ops(), got " + describe(index));
  }
  const ops::OpInfo& op = all[static_cast<size_t>(i)];
  std::string impl;
  const Napi::Value implValue = info[1];
  if (!implValue.IsUndefined()) {
    if (!implValue.IsString()) throwType(op.name + ": impl must be an implementation's name, got " + describe(implValue));
    impl = implValue.As<Napi::String>().Utf8Value();
  }
  JsFields fields(info, 2, op);
  op.run(fields, impl);
  return info.Env().Undefined();
}

// candidates(op, args): every implementation on the arguments' device, with whether it applies to
// them, its workspace in bytes and whether it is deterministic (for the autotuner).
Napi::Value candidatesFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object obj;
  const ops::OpInfo& op = opArgument(info, "candidates", obj);
  JsFields fields(obj, op.name.c_str());
  const std::vector<ops::Candidate> list = op.candidates(fields);
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("name", list[i].name);
    c.Set("applies", list[i].applies);
    c.Set("workspaceBytes", static_cast<double>(list[i].workspaceBytes));
    c.Set("deterministic", list[i].deterministic);
    out.Set(static_cast<uint32_t>(i), c);
  }
  return out;
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
  exports.Set("runAt", Napi::Function::New<wrap<runAtFn>>(env, "runAt"));
  exports.Set("ops", Napi::Function::New<wrap<opsFn>>(env, "ops"));
  exports.Set("candidates", Napi::Function::New<wrap<candidatesFn>>(env, "candidates"));
  exports.Set("enums", guarded(env, [&] { return enumsObject(env); }));
}

}  // namespace hy::binding
