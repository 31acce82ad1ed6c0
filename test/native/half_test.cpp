// Exhaustive check of core/half.h's branch-free conversions against the definitional ones below
// (explicit cases for zero, subnormals, normals, overflow, inf and NaN, with round-to-nearest-even
// by remainder comparison): every one of the 2^32 floats and 2^16 halves must agree bit for bit.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "../../core/half.h"

namespace reference {

inline uint16_t floatToHalfBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  }
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (absx < 0x38800000u) {  // subnormal half or zero
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);  // below half of the smallest subnormal
    const uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(absx >> 23);  // 14..24
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((absx - 0x38000000u) >> 13);
  const uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float halfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // normalise the subnormal
      int e = -1;
      do { ++e; mant <<= 1; } while ((mant & 0x400u) == 0);
      x = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    x = sign | 0x7f800000u | mant << 13;
  } else {
    x = sign | (exp + 112u) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace reference

int main() {
  uint64_t bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = reference::halfBitsToFloat(static_cast<uint16_t>(h));
    const float b = hy::halfBitsToFloat(static_cast<uint16_t>(h));
    if (hy::bitsOf(a) != hy::bitsOf(b)) {
      if (bad < 10) std::fprintf(stderr, "half %04x -> float: %08x, expected %08x\n", h, hy::bitsOf(b), hy::bitsOf(a));
      ++bad;
    }
  }
  for (uint64_t u = 0; u <= 0xffffffffull; ++u) {
    const float f = hy::floatOf(static_cast<uint32_t>(u));
    const uint16_t a = reference::floatToHalfBits(f);
    const uint16_t b = hy::floatToHalfBits(f);
    if (a != b) {
      if (bad < 10) std::fprintf(stderr, "float %08x -> half: %04x, expected %04x\n", static_cast<uint32_t>(u), b, a);
      ++bad;
    }
  }
  std::printf("%llu conversions differ from the reference\n", static_cast<unsigned long long>(bad));
  return bad == 0 ? 0 : 1;
}
