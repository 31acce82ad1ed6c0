// nvcuda::wmma on the emulated device. load/store/mma are warp rendezvous: all 32 lanes must call
// them with the same pointer and leading dimension, the pointer must be 32-byte aligned and ldm a
// multiple of 16 bytes (the documented rules), or the launch fails. The element-to-lane mapping of a
// fragment is unspecified on the GPU; here it is a scrambled bijection (detail::slotIndex), so code
// that assumes a mapping gets wrong answers. Products of
// fp16 inputs are exact in float and accumulate in float, as the tensor cores do.
#pragma once
#if !defined(HY_CUDA_EMULATOR)
#error "emulator/include/mma.h is only for the emulated build"
#endif
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "../device.h"

namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
template <typename Use, int M, int N, int K>
struct Shape;
template <int M, int N, int K>
struct Shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct Shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct Shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};
template <typename T>
inline float toF(T v) {
  if constexpr (std::is_same<T, __half>::value) {
    return __half2float(v);
  } else {
    return static_cast<float>(v);
  }
}
template <typename T>
inline T fromF(float v) {
  if constexpr (std::is_same<T, __half>::value) {
    return __float2half_rn(v);
  } else {
    return static_cast<T>(v);
  }
}
}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
 public:
  static constexpr int rows = detail::Shape<Use, M, N, K>::rows;
  static constexpr int cols = detail::Shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols / 32;
  static_assert(rows * cols % 32 == 0 && (rows * cols & (rows * cols - 1)) == 0,
                "a fragment spreads evenly over the warp (and slotIndex permutes a power of two)");
  using element_type = T;
  T x[num_elements];
};

template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const T& v) {
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = v;
}

namespace detail {

// Which matrix element (row-major over the fragment) element e of lane l holds: a scrambled
// bijection, so that neither a natural access pattern (lane + 32 j, a row per lane) nor any real
// GPU's mapping coincides with it, and code that assumes one reads other lanes' elements.
inline int slotIndex(int e, int lane, int total) { return ((e * 32 + lane) * 37 + 11) % total; }

struct Access {
  const void* ptr;
  unsigned ldm;
  int layout;
};

// Every lane must name the same matrix, at an aligned address with an aligned pitch. `own` moves
// this lane's elements. A _sync matrix operation converges the warp but orders no memory between
// its lanes (that takes __syncwarp), so the emulator moves them either when the lane arrives
// (reverse order: a lane stores while another still reads the old contents) or when the group is
// released (forward order: a lane reads others' elements before they stored them); shuffled
// orders pick per call.
template <typename Own>
inline void rendezvous(const char* what, const void* ptr, unsigned ldm, int layout, size_t elementBytes,
                       const char* file, int line, Own own) {
  if ((reinterpret_cast<uintptr_t>(ptr) & 31u) != 0) {
    ::hyemu::fail(cudaErrorMisalignedAddress, "%s at %s:%d: pointer %p is not 32-byte aligned", what, file, line, ptr);
  }
  if ((ldm * elementBytes) % 16 != 0 || ldm == 0) {
    ::hyemu::fail(cudaErrorLaunchFailure, "%s at %s:%d: ldm %u is not a multiple of %zu elements (16 bytes)", what,
                  file, line, ldm, 16 / elementBytes);
  }
  const bool atArrival = ::hyemu::memoryAtArrival();
  if (atArrival) own();
  Access mine{ptr, ldm, layout};
  ::hyemu::LaneSlot s;
  s.args = &mine;
  s.file = file;
  s.line = line;
  ::hyemu::warpCollective(
      ::hyemu::Collective::Wmma, 0xffffffffu, &s, what, [](::hyemu::LaneSlot* const* slots, unsigned) {
        const Access& a0 = *static_cast<const Access*>(slots[0]->args);
        for (int l = 1; l < 32; ++l) {
          const Access& a = *static_cast<const Access*>(slots[l]->args);
          if (a.ptr != a0.ptr || a.ldm != a0.ldm || a.layout != a0.layout) {
            ::hyemu::groupFault(cudaErrorLaunchFailure,
                          "wmma at %s:%d: lane %d passed (%p, ldm %u) but lane 0 passed (%p, ldm %u); all lanes "
                          "must pass the same arguments",
                          slots[l]->file, slots[l]->line, l, a.ptr, a.ldm, a0.ptr, a0.ldm);
            return;
          }
        }
      });
  if (!atArrival) own();
}

inline int laneId() { return static_cast<int>(::hyemu::current("wmma").lane); }

template <typename Frag, typename P>
inline void loadElements(Frag& f, const P* p, unsigned ldm, bool rowMajor) {
  const int lane = laneId();
  for (int e = 0; e < Frag::num_elements; ++e) {
    const int i = slotIndex(e, lane, Frag::rows * Frag::cols);
    const int r = i / Frag::cols, c = i % Frag::cols;
    const P& v = rowMajor ? p[static_cast<size_t>(r) * ldm + c] : p[static_cast<size_t>(c) * ldm + r];
    f.x[e] = fromF<typename Frag::element_type>(toF(v));
  }
}

struct MmaArgs {
  void* d;
  const void* a;
  const void* b;
  const void* c;
};

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout, typename P>
inline void hyLoadMatrix(fragment<Use, M, N, K, T, Layout>& f, const P* p, unsigned ldm, bool rowMajor,
                         const char* file, int line) {
  detail::rendezvous("wmma::load_matrix_sync", p, ldm, rowMajor ? 0 : 1, sizeof(P), file, line,
                     [&] { detail::loadElements(f, p, ldm, rowMajor); });
}

template <typename Use, int M, int N, int K, typename T, typename Layout, typename P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const P* p, unsigned ldm) {
  static_assert(!std::is_same<Use, accumulator>::value, "an accumulator load takes a layout_t");
  hyLoadMatrix(f, p, ldm, std::is_same<Layout, row_major>::value, "wmma", 0);
}

template <int M, int N, int K, typename T, typename P>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const P* p, unsigned ldm, layout_t layout) {
  hyLoadMatrix(f, p, ldm, layout == mem_row_major, "wmma", 0);
}

template <int M, int N, int K, typename T, typename P>
inline void store_matrix_sync(P* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout) {
  using Frag = fragment<accumulator, M, N, K, T>;
  detail::rendezvous("wmma::store_matrix_sync", p, ldm, layout, sizeof(P), "wmma", 0, [&] {
    const int lane = detail::laneId();
    for (int e = 0; e < Frag::num_elements; ++e) {
      const int i = detail::slotIndex(e, lane, Frag::rows * Frag::cols);
      const int r = i / Frag::cols, c = i % Frag::cols;
      P& out = layout == mem_row_major ? p[static_cast<size_t>(r) * ldm + c] : p[static_cast<size_t>(c) * ldm + r];
      out = detail::fromF<P>(detail::toF(f.x[e]));
    }
  });
}

// D = A * B + C over the whole warp's fragments, gathered from all 32 lanes.
template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB, typename TC, typename TD>
inline void mma_sync(fragment<accumulator, M, N, K, TD>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
                     const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  using FA = fragment<matrix_a, M, N, K, TA, LA>;
  using FB = fragment<matrix_b, M, N, K, TB, LB>;
  using FC = fragment<accumulator, M, N, K, TC>;
  using FD = fragment<accumulator, M, N, K, TD>;
  detail::MmaArgs mine{&d, &a, &b, &c};
  ::hyemu::LaneSlot s;
  s.args = &mine;
  s.file = "wmma::mma_sync";
  ::hyemu::warpCollective(
      ::hyemu::Collective::Wmma, 0xffffffffu, &s, "wmma::mma_sync", [](::hyemu::LaneSlot* const* slots, unsigned) {
        float A[M][K], B[K][N], C[M][N];
        for (int l = 0; l < 32; ++l) {
          const auto& args = *static_cast<const detail::MmaArgs*>(slots[l]->args);
          const FA& fa = *static_cast<const FA*>(args.a);
          const FB& fb = *static_cast<const FB*>(args.b);
          const FC& fc = *static_cast<const FC*>(args.c);
          for (int e = 0; e < FA::num_elements; ++e) {
            const int i = detail::slotIndex(e, l, M * K);
            A[i / K][i % K] = detail::toF(fa.x[e]);
          }
          for (int e = 0; e < FB::num_elements; ++e) {
            const int i = detail::slotIndex(e, l, K * N);
            B[i / N][i % N] = detail::toF(fb.x[e]);
          }
          for (int e = 0; e < FC::num_elements; ++e) {
            const int i = detail::slotIndex(e, l, M * N);
            C[i / N][i % N] = detail::toF(fc.x[e]);
          }
        }
        for (int l = 0; l < 32; ++l) {
          FD& fd = *static_cast<FD*>(static_cast<const detail::MmaArgs*>(slots[l]->args)->d);
          for (int e = 0; e < FD::num_elements; ++e) {
            const int i = detail::slotIndex(e, l, M * N);
            const int r = i / N, col = i % N;
            float acc = C[r][col];
            for (int k = 0; k < K; ++k) acc = fmaf(A[r][k], B[k][col], acc);
            fd.x[e] = detail::fromF<TD>(acc);
          }
        }
      });
}

}  // namespace wmma
}  // namespace nvcuda
