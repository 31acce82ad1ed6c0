#include "op_registry.h"

#include <deque>
#include <mutex>
#include <unordered_map>
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
  void storageList(const char* name, std::vector<StoragePtr>&) override { add(name, "storageList"); }
  void sizeList(const char* name, std::vector<uint64_t>&) override { add(name, "sizeList"); }

 private:
  FieldInfo& add(const char* name, const char* kind) {
    fields.push_back({name, kind, {}});
    return fields.back();
  }
};

// Visitors that see only the storages.
class StorageVisitor : public Fields {
 public:
  void storage(const char* name, StoragePtr& v) override { visit(name, v.get()); }
  void optionalStorage(const char* name, StoragePtr& v) override {
    if (v) visit(name, v.get());
  }
  void dtype(const char*, DType&, uint32_t) override {}
  void size(const char*, uint64_t&) override {}
  void number(const char*, double&, bool) override {}
  void boolean(const char*, bool&) override {}
  void enumeration(const char*, int32_t&, const EnumNames&) override {}
  void dims(const char*, Dims&) override {}
  void storageList(const char* name, std::vector<StoragePtr>& v) override {
    for (StoragePtr& s : v) visit(name, s.get());
  }
  void sizeList(const char*, std::vector<uint64_t>&) override {}

 protected:
  virtual void visit(const char* name, Storage* s) = 0;
};

class DeviceFinder : public StorageVisitor {
 public:
  explicit DeviceFinder(const char* op) : op_(op) {}
  const char* first = nullptr;
  DeviceType device = DeviceType::Cpu;
  uint64_t bytes = 0;

 protected:
  void visit(const char* name, Storage* s) override {
    bytes += s->bytes;
    if (first == nullptr) {
      first = name;
      device = s->device;
    } else if (s->device != device) {
      throwRange(std::string(op_) + ": " + name + " must be on " + deviceName(device) + " like " + first + ", got " +
                 deviceName(s->device));
    }
  }

 private:
  const char* op_;
};

class HostWaiter : public StorageVisitor {
 protected:
  void visit(const char*, Storage* s) override { s->waitForHost(); }
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
  // The non-zero factors must not overflow even when a zero factor makes the product empty.
  uint64_t n = 1;
  bool zero = false;
  for (uint64_t f : factors) {
    if (f == 0) {
      zero = true;
    } else {
      if (n > (uint64_t(1) << 52) / f) fail(what, "at most 2^52", "a product that overflows");
      n *= f;
    }
  }
  return zero ? 0 : n;
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
  // Built once registration (static initialisation) is over; rebuilt if an op was added since.
  static std::unordered_map<std::string, const OpInfo*>* index = new std::unordered_map<std::string, const OpInfo*>();
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (index->size() != registry().size()) {
    index->clear();
    for (const OpInfo& op : registry()) (*index)[op.name] = &op;
  }
  const auto it = index->find(name);
  return it == index->end() ? nullptr : it->second;
}

namespace detail {

std::vector<FieldInfo> describeFields(void (*visit)(Fields&)) {
  Describer d;
  visit(d);
  return d.fields;
}

OpInfo& addOp(const char* name, void (*runFn)(Fields&, const std::string&),
             std::vector<Candidate> (*candidates)(Fields&), std::vector<FieldInfo> fields) {
  for (OpInfo& op : registry()) {
    if (op.name == name) return op;
  }
  registry().push_back(OpInfo{name, std::move(fields), {}, runFn, candidates});
  return registry().back();
}

StoragePtr allocateWorkspace(DeviceType device, uint64_t bytes) {
  return allocate(device, static_cast<size_t>(bytes), false);
}

DeviceType commonDevice(const char* op, void (*visit)(void*, Fields&), void* args) {
  DeviceFinder d(op);
  visit(args, d);
  if (d.first == nullptr) throwRange(std::string(op) + ": no storage given");
  return d.device;
}

DeviceType commonDevice(const char* op, void (*visit)(void*, Fields&), void* args, uint64_t* bytes) {
  DeviceFinder d(op);
  visit(args, d);
  if (d.first == nullptr) throwRange(std::string(op) + ": no storage given");
  *bytes = d.bytes;
  return d.device;
}

bool cpuQueueIdle() { return cpu::queue().idle(); }

void recordCpuError(std::exception_ptr e) { cpu::queue().recordError(std::move(e)); }

void waitForHost(void (*visit)(void*, Fields&), void* args) {
  HostWaiter w;
  visit(args, w);
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

StreamId cudaStream() {
  if (!cudaAvailable()) throwNoCuda();
  return computeStream();
}

void enqueueCpu(std::function<void()> task) { cpu::queue().enqueue(std::move(task)); }

}  // namespace detail

}  // namespace hy::ops
