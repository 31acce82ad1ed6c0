// CPU GEMM, blocked in the GotoBLAS way: operands are packed into contiguous fp32 panels (which also
// absorbs the transposes and the fp16 -> fp32 conversion), a fixed-size register tile accumulates,
// and one epilogue applies alpha/beta and rounds to the output type. The loops are gemm_blocked.inc,
// compiled here for the x86-64 baseline and in gemm_avx2.cpp / gemm_avx512.cpp for wider vector
// units; each variant is a named implementation of the gemm op, the best the CPU has first.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/half.h"
#include "../ops/gemm.h"
#include "features.h"
#include "gemm_kernel.h"
#include "parallel.h"

namespace hy::cpu {

namespace {

inline float halfToFloat(uint16_t h) { return halfBitsToFloat(h); }
inline uint16_t floatToHalf(float f) { return floatToHalfBits(f); }

// The portable variant: a 4 x 8 tile is 8 SSE registers (the x86-64 baseline the addon is built
// for), leaving registers for two B vectors and the broadcast A value; the compiler vectorises
// the j loop, and the fixed bounds let it keep the tile in registers.
struct Kernel {
  static constexpr int64_t MR = 4, NR = 8;
  // A KC x NR B panel (8 KiB) stays in L1 while the MC x KC A block (64 KiB) streams from L2.
  static constexpr int64_t MC = 64, KC = 256, NC = 256;

  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict acc,
                  int64_t ldAcc) {
    float t[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t r = 0; r < MR; ++r) {
        const float av = a[k * MR + r];
        for (int64_t j = 0; j < NR; ++j) t[r][j] += av * b[k * NR + j];
      }
    }
    for (int64_t r = 0; r < MR; ++r) {
      for (int64_t j = 0; j < NR; ++j) acc[r * ldAcc + j] += t[r][j];
    }
  }
};

#include "gemm_blocked.inc"

const GemmKernel kPortable{"portable", Kernel::MR, Kernel::NR, Kernel::MC, Kernel::KC, Kernel::NC, &runBlocks<Kernel>};

// Scratch panels, one set per thread and reused across calls: allocating (and zeroing) them per
// call would cost more than a small product itself. Each panel starts on a 64-byte line: the
// micro-kernel's 64-byte loads from a panel 16 bytes off a line (where malloc puts a large block)
// each touched two lines, and a 1024^3 product ran about 5% slower.
struct Panels {
  float* aPack;
  float* bPack;
  float* acc;
};
Panels scratch(size_t aFloats, size_t bFloats, size_t accFloats) {
  constexpr size_t kLine = 16;  // floats in a 64-byte line
  const auto lines = [](size_t n) { return (n + kLine - 1) / kLine * kLine; };
  const size_t floats = lines(aFloats) + lines(bFloats) + lines(accFloats) + kLine;
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  float* base = buffer.data();
  base += (kLine - reinterpret_cast<uintptr_t>(base) / sizeof(float) % kLine) % kLine;
  return {base, base + lines(aFloats), base + lines(aFloats) + lines(bFloats)};
}

// Blocks of C are independent, so they spread over the thread pool; each thread packs into its own
// scratch. Below about 2^21 multiply-adds a block's work is too small to share. A product with
// fewer blocks than threads (the seed network's fc1: 64 x 128 outputs over K = 9216, one block)
// gets narrower blocks, halving the wider side down to one register tile, so every thread has one.
void gemmWith(const GemmKernel& k, const ops::GemmArgs& a) {
  const GemmParams& p = a.p;
  const auto upTo = [](int64_t x, int64_t m) { return (x + m - 1) / m * m; };
  const double work = static_cast<double>(p.batch) * p.M * p.N * (p.K > 0 ? p.K : 1);
  const bool share = work >= 2097152.0;
  int64_t mcb = std::min(k.MC, upTo(p.M, k.MR)), ncb = std::min(k.NC, upTo(p.N, k.NR));
  const auto blockCount = [&] { return p.batch * ((p.M + mcb - 1) / mcb) * ((p.N + ncb - 1) / ncb); };
  while (share && blockCount() < static_cast<int64_t>(threadCount()) && (ncb > k.NR || mcb > k.MR)) {
    if (ncb > k.NR && (ncb >= mcb || mcb <= k.MR)) {
      ncb = upTo(ncb / 2, k.NR);
    } else {
      mcb = upTo(mcb / 2, k.MR);
    }
  }
  const size_t blocks = static_cast<size_t>(blockCount());
  const size_t grain = share ? 1 : blocks;
  const bool half = a.dtype == DType::Float16;
  const size_t mc = static_cast<size_t>(mcb);
  const size_t kc = static_cast<size_t>(std::min(k.KC, std::max<int64_t>(p.K, 1)));
  const size_t nc = static_cast<size_t>(ncb);
  const size_t bFloats = bPackFloats(p, mcb, ncb, k.NR, kc, nc);
  const auto run = [&](size_t begin, size_t end) {
    const Panels s = scratch(mc * kc, bFloats, mc * nc);
    k.blocks(a.a->data(), a.b->data(), a.c->data(), half, p, mcb, ncb, begin, end, s.aPack, s.bPack, s.acc);
  };
  // Where a block column's whole-K B is packed once per thread and the columns divide evenly among
  // the threads (or are many enough, 4 a thread, to balance unevenly), each thread takes whole
  // columns: split by blocks, two threads on one column each packed the same B (twice the packing,
  // twice its cache footprint).
  const size_t columns = static_cast<size_t>(p.batch * ((p.N + ncb - 1) / ncb));
  const size_t threads = threadCount();
  if (share && threads > 1 && packsWholeB(p, mcb, ncb, k.NR) && (columns % threads == 0 || columns >= 4 * threads)) {
    const size_t perColumn = blocks / columns;
    parallelFor(columns, 1, [&](size_t begin, size_t end) { run(begin * perColumn, end * perColumn); });
    return;
  }
  parallelFor(blocks, grain, run);
}

#if defined(__x86_64__)
// AVX-512's tile for this product: the 16 x 16 one where N fits in it, else the 8 x 32 one.
const GemmKernel& avx512For(const GemmParams& p) { return p.N <= kGemmAvx512Narrow.NR ? kGemmAvx512Narrow : kGemmAvx512; }
#endif

const GemmKernel& bestKernel(const GemmParams& p) {
#if defined(__x86_64__)
  if (hasAvx512()) return avx512For(p);
  static const GemmKernel& best = hasAvx2() ? kGemmAvx2 : kPortable;
  return best;
#else
  (void)p;
  return kPortable;
#endif
}

}  // namespace

void gemmOnThisThread(const float* a, const float* b, float* c, const GemmParams& p) {
  const GemmKernel& k = bestKernel(p);
  const auto upTo = [](int64_t x, int64_t m) { return (x + m - 1) / m * m; };
  const size_t mc = static_cast<size_t>(std::min(k.MC, upTo(p.M, k.MR)));
  const size_t kc = static_cast<size_t>(std::min(k.KC, std::max<int64_t>(p.K, 1)));
  const size_t nc = static_cast<size_t>(std::min(k.NC, upTo(p.N, k.NR)));
  const size_t blocks = static_cast<size_t>(p.batch * ((p.M + k.MC - 1) / k.MC) * ((p.N + k.NC - 1) / k.NC));
  const size_t bFloats = bPackFloats(p, k.MC, k.NC, k.NR, kc, nc);
  const Panels s = scratch(mc * kc, bFloats, mc * nc);
  k.blocks(a, b, c, false, p, k.MC, k.NC, 0, blocks, s.aPack, s.bPack, s.acc);
}

// Registered implementations (ops/gemm.h), in preference order.
namespace {
using ops::GemmArgs;
#if defined(__x86_64__)
HY_REGISTER_OP(
    GemmArgs, Cpu, "avx512", [](const GemmArgs& a, StreamId) { gemmWith(avx512For(a.p), a); },
    [](const GemmArgs&) { return hasAvx512(); });
HY_REGISTER_OP(
    GemmArgs, Cpu, "avx2", [](const GemmArgs& a, StreamId) { gemmWith(kGemmAvx2, a); },
    [](const GemmArgs&) { return hasAvx2(); });
#endif
HY_REGISTER_OP(GemmArgs, Cpu, "portable", [](const GemmArgs& a, StreamId) { gemmWith(kPortable, a); });
}  // namespace

}  // namespace hy::cpu
