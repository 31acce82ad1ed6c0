// IEEE binary16 <-> binary32 on the host, round-to-nearest-even, bit for bit as CUDA's
// __float2half_rn / __half2float. Both are branch-free (selects only) so loops over them vectorise;
// the tricks follow the well-known magic-number formulation: float addition does the rounding.
#pragma once
#include <cstdint>
#include <cstring>

namespace hy {

inline uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t floatToHalfBits(float f) {
  const uint32_t all = bitsOf(f);
  const uint32_t sign = all & 0x80000000u;
  const uint32_t x = all ^ sign;  // |f|
  // Inf and NaN (quieted); anything from 65520 up rounds to inf through the normal path's carry.
  const uint32_t special = x > 0x7f800000u ? 0x7e00u : 0x7c00u;
  // Subnormal halves: adding 0.5 lines the 10 kept bits up at the bottom of the float's mantissa,
  // and the float addition rounds to nearest even.
  const uint32_t sub = bitsOf(floatOf(x) + 0.5f) - 0x3f000000u;
  // Normal halves: rebias the exponent, add the rounding bias (ties to even via the lowest kept bit)
  // and drop 13 bits; a mantissa carry moves into the exponent, up to inf.
  const uint32_t odd = (x >> 13) & 1u;
  const uint32_t normal = (x - (112u << 23) + 0xfffu + odd) >> 13;
  const uint32_t h = x >= (143u << 23) ? special : (x < (113u << 23) ? sub : normal);
  return static_cast<uint16_t>(h | (sign >> 16));
}

inline float halfBitsToFloat(uint16_t h) {
  const uint32_t kExp = 0x7c00u << 13;                 // the half exponent field, moved up
  const uint32_t shifted = static_cast<uint32_t>(h & 0x7fffu) << 13;
  const uint32_t exp = shifted & kExp;
  const uint32_t rebased = shifted + (112u << 23);     // exponent bias 15 -> 127
  const uint32_t special = rebased + (112u << 23);     // inf / NaN: exponent all ones
  // Subnormal halves: give them exponent 2^-14 as an implicit 1, then subtract that 1 in float.
  const uint32_t sub = bitsOf(floatOf(rebased + (1u << 23)) - floatOf(113u << 23));
  const uint32_t r = exp == kExp ? special : (exp == 0 ? sub : rebased);
  return floatOf(r | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

}  // namespace hy
