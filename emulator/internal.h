// What the emulator's runtime (runtime.cpp) and its grid executor (scheduler.cpp) share.
#pragma once
#include <string>

#include "device.h"

namespace hyemu {

// The order in which the threads of a block (and the blocks of a grid) run between barriers:
// HY_EMU_ORDER=forward (default), reverse or shuffle[:seed]. A missing barrier or a race
// between threads changes a result under one of them.
enum class Order { Forward, Reverse, Shuffle };
struct OrderSetting {
  Order order;
  uint64_t seed;
};
OrderSetting threadOrder();

struct LaunchResult {
  cudaError_t error = cudaSuccess;
  std::string message;
};

// Runs every block of the grid on the calling (stream) thread. Returns the first fault.
LaunchResult runGrid(const LaunchConfig& cfg, KernelBody& body);

// Largest dynamic shared memory a kernel was allowed by cudaFuncSetAttribute (48 KiB default).
size_t maxDynamicShared(const void* kernel);

// The emulated device's limits: an H100 SXM (sm_90).
constexpr size_t kStaticSharedLimit = 48 * 1024;
constexpr size_t kSharedOptinLimit = 227 * 1024;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kMaxGridDim[3] = {0x7fffffffu, 65535u, 65535u};
constexpr int kMultiProcessors = 132;

}  // namespace hyemu
