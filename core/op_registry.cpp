#include "op_registry.h"

#include <deque>
#include <string>

#include "../cpu/queue.h"
#include "dispatch.h"
#include "error.h"
#ifdef HAYATE_WITH_CUDA
#include "../cuda/runtime.h"
#endif

namespace hy::ops {

namespace {

// A deque: OpInfo references handed out by addOp stay valid as ops are added.
std::deque<OpInfo>& registry() {
  static std::deque<OpInfo>* ops = new std::deque<OpInfo>();
  return *ops;
}

std::vector<OpInfo>& snapshot() {
  static std::vector<OpInfo>* list = new std::vector<OpInfo>();
  return *list;
}

class Describer : public Fields {
 public:
  std::vector<FieldInfo> fields;
  void storage(const char* name, StoragePtr&) override { add(name, "storage"); }
  void optionalStorage(const char* name, StoragePtr&) override { add(name, "optionalStorage"); }
  void dtype(const char* name, DType&, uint32_t allowed) override {
    FieldInfo& f = add(name, "dtype");
    const EnumNames& e = enumNames<DType>();
    for (int32_t i = 0; i < e.count; ++i) {
      if (allowed & (1u << i)) f.values.emplace_back(e.names[i]);
    }
  }
  void size(const char* name, uint64_t&) override { add(name, "size"); }
  void number(const char* name, double&, bool) override { add(name, "number"); }
  void boolean(const char* name, bool&) override { add(name, "bool"); }
  void enumeration(const char* name, int32_t&, const EnumNames& e) override {
    FieldInfo& f = add(name, "enum");
    for (int32_t i = 0; i < e.count; ++i) f.values.emplace_back(e.names[i]);
  }
  void dims(const char* name, Dims&) override { add(name, "dims"); }

 private:
  FieldInfo& add(const char* name, const char* kind) {
    fields.push_back({name, kind, {}});
    return fields.back();
  }
};

class Collector : public Fields {
 public:
  std::vector<std::pair<const char*, Storage*>> storages;
  void storage(const char* name, StoragePtr& v) override { push(name, v); }
  void optionalStorage(const char* name, StoragePtr& v) override { push(name, v); }
  void dtype(const char*, DType&, uint32_t) override {}
  void size(const char*, uint64_t&) override {}
  void number(const char*, double&, bool) override {}
  void boolean(const char*, bool&) override {}
  void enumeration(const char*, int32_t&, const EnumNames&) override {}
  void dims(const char*, Dims&) override {}

 private:
  void push(const char* name, const StoragePtr& v) {
    if (v) storages.emplace_back(name, v.get());
  }
};

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return s.empty() ? "(none)" : s;
}

}  // namespace

void Check::fail(const std::string& argument, const std::string& expected, const std::string& got) const {
  throwRange(std::string(op_) + ": " + argument + " must be " + expected + ", got " + got);
}

void Check::holdsBytes(const char* name, const StoragePtr& s, uint64_t bytes) const {
  if (bytes > s->bytes) {
    fail(name, "a storage of at least " + std::to_string(bytes) + " bytes",
         "one of " + std::to_string(s->bytes) + " bytes");
  }
}

void Check::holds(const char* name, const StoragePtr& s, uint64_t n, DType dtype) const {
  if (n > (uint64_t(1) << 52)) fail(std::string(name) + "'s element count", "at most 2^52", std::to_string(n));
  const uint64_t bytes = n * dtypeSize(dtype);
  if (bytes > s->bytes) {
    fail(name, "a storage of " + std::to_string(n) + " " + dtypeName(dtype) + " elements (" + std::to_string(bytes) +
                   " bytes)",
         "one of " + std::to_string(s->bytes) + " bytes");
  }
}

uint64_t Check::product(std::initializer_list<uint64_t> factors, const char* what) const {
  uint64_t n = 1;
  bool zero = false;
  uint64_t big = 1;  // the product of the non-zero factors, saturated: a zero factor wins only if nothing overflowed
  for (uint64_t f : factors) {
    if (f == 0) {
      zero = true;
      continue;
    }
    if (big > (uint64_t(1) << 52) / f) fail(what, "at most 2^52", "a product that overflows");
    big *= f;
  }
  n = zero ? 0 : big;
  return n;
}

void Check::fitsInt(const char* name, uint64_t v) const {
  if (v > 2147483647ull) fail(name, "at most 2147483647", std::to_string(v));
}

const std::vector<OpInfo>& allOps() {
  std::vector<OpInfo>& s = snapshot();
  if (s.size() != registry().size()) s.assign(registry().begin(), registry().end());
  return s;
}

const OpInfo* findOp(const std::string& name) {
  for (const OpInfo& op : registry()) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

void run(const std::string& name, Fields& source, const std::string& impl) {
  const OpInfo* op = findOp(name);
  if (op == nullptr) throwRange("run: op must be the name of a registered op, got '" + name + "'");
  op->run(source, impl);
}

namespace detail {

std::vector<FieldInfo> describeFields(void (*visit)(Fields&)) {
  Describer d;
  visit(d);
  return d.fields;
}

OpInfo& addOp(const char* name, void (*runFn)(Fields&, const std::string&), std::vector<FieldInfo> fields) {
  for (OpInfo& op : registry()) {
    if (op.name == name) return op;
  }
  registry().push_back(OpInfo{name, std::move(fields), {}, runFn});
  return registry().back();
}

std::vector<std::pair<const char*, Storage*>> collectStorages(void (*visit)(void*, Fields&), void* args) {
  Collector c;
  visit(args, c);
  return std::move(c.storages);
}

DeviceType commonDevice(const char* op, const std::vector<std::pair<const char*, Storage*>>& storages) {
  if (storages.empty()) throwRange(std::string(op) + ": no storage given");
  const auto& first = storages.front();
  for (const auto& s : storages) {
    if (s.second->device != first.second->device) {
      throwRange(std::string(op) + ": " + s.first + " must be on " + deviceName(first.second->device) + " like " +
                 first.first + ", got " + deviceName(s.second->device));
    }
  }
  return first.second->device;
}

void unknownImpl(const char* op, DeviceType device, const std::string& impl, const std::vector<std::string>& names) {
  throwRange(std::string(op) + ": impl must be one of the " + deviceName(device) + " implementations " + joined(names) +
             ", got '" + impl + "'");
}

void implDoesNotApply(const char* op, const std::string& impl) {
  throwRange(std::string(op) + ": impl '" + impl + "' does not apply to these arguments");
}

void noImplementation(const char* op, DeviceType device) {
  if (device == DeviceType::Cuda && !cudaAvailable()) throwNoCuda();
  throwRange(std::string(op) + ": no " + deviceName(device) + " implementation applies to these arguments");
}

void submit(DeviceType device, std::function<void(StreamId)> launch, std::vector<Storage*> storages) {
  if (device == DeviceType::Cuda) {
    if (!cudaAvailable()) throwNoCuda();
    launch(computeStream());
    return;
  }
  // The task owns the argument struct (and so every storage) until it has run; the raw pointers
  // stay valid as long as it does.
  cpu::queue().enqueue([launch = std::move(launch), storages = std::move(storages)] {
    for (Storage* s : storages) s->waitForHost();
    launch(0);
  });
}

}  // namespace detail

}  // namespace hy::ops
