// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator, so element i of a random
// tensor depends only on (seed, offset, i) and the CPU and CUDA backends produce the same values.
#pragma once
#include <cmath>
#include <cstdint>

#include "hd.h"

namespace hy {

struct Philox4 { uint32_t v[4]; };

HY_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// counter = 128-bit block index (low 64 bits used), key = the 64-bit seed.
HY_HD Philox4 philox4x32(uint64_t counter, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  Philox4 out;
  out.v[0] = c0; out.v[1] = c1; out.v[2] = c2; out.v[3] = c3;
  return out;
}

// Uniform in [0, 1) with 24 random bits: exactly representable in float32.
HY_HD float uniformFromBits(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// Element i of a random stream: block (offset + i / 4), lane i % 4. Normals use Box-Muller on the
// lane pairs (0,1) and (2,3), computed in double so both backends round to the same float.
HY_HD float philoxUniform(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4 r = philox4x32(offset + i / 4, seed);
  return uniformFromBits(r.v[i % 4]);
}

// An integer uniform in [lo, hi) (hi - lo <= 2^31): the element's 32 random bits scaled in double
// (exact below 2^32), so both backends give the same value.
HY_HD int32_t philoxInteger(uint64_t seed, uint64_t offset, uint64_t i, double lo, double hi) {
  const Philox4 r = philox4x32(offset + i / 4, seed);
  const double u = static_cast<double>(r.v[i % 4]) * (1.0 / 4294967296.0);
  double v = lo + static_cast<double>(static_cast<int64_t>(u * (hi - lo)));
  if (v >= hi) v = hi - 1;
  return static_cast<int32_t>(v);
}

HY_HD double philoxNormal(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4 r = philox4x32(offset + i / 4, seed);
  const unsigned lane = static_cast<unsigned>(i % 4);
  const unsigned pair = lane & ~1u;
  // (x + 0.5) / 2^32 lies in (0, 1): log never sees zero.
  const double u1 = (static_cast<double>(r.v[pair]) + 0.5) * (1.0 / 4294967296.0);
  const double u2 = (static_cast<double>(r.v[pair + 1]) + 0.5) * (1.0 / 4294967296.0);
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586 * u2;
  return (lane & 1u) ? radius * sin(angle) : radius * cos(angle);
}

// Counter blocks a stream of n elements consumes; the generator's offset advances by this.
HY_HD uint64_t philoxBlocks(uint64_t n) { return (n + 3) / 4; }

}  // namespace hy
