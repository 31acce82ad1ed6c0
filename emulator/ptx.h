// The emulated twins of cuda/ptx.cuh: mma.sync m16n8k16, ldmatrix and cp.async with the PTX ISA's
// per-thread layouts (see the table there). mma and ldmatrix are warp rendezvous over all 32
// lanes; cp.async writes its destination only when a cp.async.wait_group covers its group, so
// reading the tile before the wait reads poison.
#pragma once
#if !defined(HY_CUDA_EMULATOR)
#error "emulator/ptx.h is only for the emulated build"
#endif
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

#include "device.h"

namespace hy::cuda::ptx {

namespace detail {

inline float half(uint32_t reg, int which) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(which == 0 ? reg & 0xffffu : reg >> 16)));
}

inline uint32_t pack(uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16); }

struct MmaLane {
  float* d;
  const uint32_t* a;
  const uint32_t* b;
  const float* c;
};

inline void mmaCombine(::hyemu::LaneSlot* const* slots, unsigned) {
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const MmaLane& m = *static_cast<const MmaLane*>(slots[l]->args);
    const int g = l >> 2, t = l & 3;
    for (int h = 0; h < 2; ++h) {
      A[g][2 * t + h] = half(m.a[0], h);
      A[g + 8][2 * t + h] = half(m.a[1], h);
      A[g][2 * t + 8 + h] = half(m.a[2], h);
      A[g + 8][2 * t + 8 + h] = half(m.a[3], h);
      B[2 * t + h][g] = half(m.b[0], h);
      B[2 * t + 8 + h][g] = half(m.b[1], h);
      C[g][2 * t + h] = m.c[h];
      C[g + 8][2 * t + h] = m.c[2 + h];
    }
  }
  for (int l = 0; l < 32; ++l) {  // every operand was gathered first: d may alias c
    const MmaLane& m = *static_cast<const MmaLane*>(slots[l]->args);
    const int g = l >> 2, t = l & 3;
    for (int i = 0; i < 4; ++i) {
      const int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
      float acc = C[row][col];
      for (int k = 0; k < 16; ++k) acc = fmaf(A[row][k], B[k][col], acc);
      m.d[i] = acc;
    }
  }
}

struct LdmatrixLane {
  uint32_t* r;
  const void* row;
  int count;
  bool trans;
  bool read;            // rowData holds the row already (read at arrival)
  uint16_t rowData[8];
};

inline void ldmatrixCombine(::hyemu::LaneSlot* const* slots, unsigned) {
  const LdmatrixLane& first = *static_cast<const LdmatrixLane*>(slots[0]->args);
  uint16_t M[4][8][8];
  for (int i = 0; i < first.count; ++i) {
    for (int j = 0; j < 8; ++j) {
      const LdmatrixLane& from = *static_cast<const LdmatrixLane*>(slots[8 * i + j]->args);
      std::memcpy(M[i][j], from.read ? from.rowData : from.row, 16);
    }
  }
  for (int l = 0; l < 32; ++l) {
    const LdmatrixLane& me = *static_cast<const LdmatrixLane*>(slots[l]->args);
    const int g = l >> 2, t = l & 3;
    for (int i = 0; i < first.count; ++i) {
      me.r[i] = first.trans ? pack(M[i][2 * t][g], M[i][2 * t + 1][g]) : pack(M[i][g][2 * t], M[i][g][2 * t + 1]);
    }
  }
}

inline void ldmatrix(uint32_t* r, const void* row, int count, bool trans, const char* what) {
  const unsigned lane = ::hyemu::current(what).lane;
  if (static_cast<int>(lane) < 8 * count) {  // the lanes whose addresses are used
    if ((reinterpret_cast<uintptr_t>(row) & 15u) != 0) {
      ::hyemu::fail(cudaErrorMisalignedAddress, "%s: lane %u's row address %p is not 16-byte aligned", what, lane, row);
    }
    if (!::hyemu::inShared(row, 16)) {
      ::hyemu::fail(cudaErrorIllegalAddress, "%s: lane %u's row address %p is not in the block's shared memory", what,
                    lane, row);
    }
  }
  // Each lane's row is read when the lane arrives or when the group is released, by the thread
  // order (see include/mma.h): ldmatrix orders no memory between the lanes.
  LdmatrixLane mine{r, row, count, trans, false, {}};
  if (static_cast<int>(lane) < 8 * count && ::hyemu::memoryAtArrival()) {
    std::memcpy(mine.rowData, row, 16);
    mine.read = true;
  }
  ::hyemu::LaneSlot s;
  s.args = &mine;
  s.param = count * 2 + (trans ? 1 : 0);  // lanes at different ldmatrix variants never group
  s.file = what;
  ::hyemu::warpCollective(::hyemu::Collective::Wmma, 0xffffffffu, &s, what, ldmatrixCombine);
}

}  // namespace detail

inline void mmaM16N8K16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
  detail::MmaLane mine{d, a, b, c};
  ::hyemu::LaneSlot s;
  s.args = &mine;
  s.file = "mma.sync.m16n8k16";
  ::hyemu::warpCollective(::hyemu::Collective::Wmma, 0xffffffffu, &s, "mma.sync.m16n8k16", detail::mmaCombine);
}

inline void ldmatrixX4(uint32_t (&r)[4], const void* row) { detail::ldmatrix(r, row, 4, false, "ldmatrix.x4"); }
inline void ldmatrixX4Trans(uint32_t (&r)[4], const void* row) { detail::ldmatrix(r, row, 4, true, "ldmatrix.x4.trans"); }
inline void ldmatrixX2(uint32_t (&r)[2], const void* row) { detail::ldmatrix(r, row, 2, false, "ldmatrix.x2"); }
inline void ldmatrixX2Trans(uint32_t (&r)[2], const void* row) { detail::ldmatrix(r, row, 2, true, "ldmatrix.x2.trans"); }

inline void cpAsync16(void* shared, const void* global) {
  ::hyemu::Thread& t = ::hyemu::current("cp.async");
  if (((reinterpret_cast<uintptr_t>(shared) | reinterpret_cast<uintptr_t>(global)) & 15u) != 0) {
    ::hyemu::fail(cudaErrorMisalignedAddress, "cp.async 16 from %p to %p: both must be 16-byte aligned", global, shared);
  }
  if (!::hyemu::inShared(shared, 16)) {
    ::hyemu::fail(cudaErrorIllegalAddress, "cp.async destination %p is not in the block's shared memory", shared);
  }
  // The source is read when issued or when the copy lands, by the thread order: overwriting it
  // before the wait is a race.
  ::hyemu::AsyncCopy c;
  c.dst = shared;
  c.src = ::hyemu::memoryAtArrival() ? nullptr : global;
  if (c.src == nullptr) std::memcpy(c.data, global, 16);
  t.copiesOpen.push_back(c);
}

inline void cpAsyncCommit() {
  ::hyemu::Thread& t = ::hyemu::current("cp.async.commit_group");
  t.copyGroups.push_back(std::move(t.copiesOpen));
  t.copiesOpen.clear();
}

template <int Pending>
inline void cpAsyncWait() {
  ::hyemu::Thread& t = ::hyemu::current("cp.async.wait_group");
  while (t.copyGroups.size() > static_cast<size_t>(Pending)) {
    for (const ::hyemu::AsyncCopy& c : t.copyGroups.front()) std::memcpy(c.dst, c.src ? c.src : c.data, sizeof c.data);
    t.copyGroups.erase(t.copyGroups.begin());
  }
}

}  // namespace hy::cuda::ptx
