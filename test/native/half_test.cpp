// Exhaustive check of core/half.h's branch-free conversions, and of cpu/half_convert.h's array
// conversions on every path the CPU has, against the definitional ones below (explicit cases for
// zero, subnormals, normals, overflow, inf and NaN, with round-to-nearest-even by remainder
// comparison): every one of the 2^32 floats and 2^16 halves must agree bit for bit.
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <vector>
#include <cstring>

#include "../../core/half.h"
#include "../../cpu/half_convert.h"

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
  // The array conversions of cpu/half_convert.h, every path this CPU has, over every input, with
  // lengths that leave a tail after the vector loop.
  std::vector<uint16_t> halves(65536);
  for (uint32_t h = 0; h < 65536; ++h) halves[h] = static_cast<uint16_t>(h);
  constexpr size_t kChunk = (size_t(1) << 20) + 5;
  std::vector<float> floats(kChunk), widened(65536);
  std::vector<uint16_t> narrowed(kChunk);
  for (const hy::cpu::HalfConversions& path : hy::cpu::availableHalfConversions()) {
    uint64_t pathBad = 0;
    path.toFloat(halves.data(), widened.data(), halves.size() - 3);
    path.toFloat(halves.data() + halves.size() - 3, widened.data() + halves.size() - 3, 3);
    for (uint32_t h = 0; h < 65536; ++h) {
      if (hy::bitsOf(widened[h]) != hy::bitsOf(reference::halfBitsToFloat(static_cast<uint16_t>(h)))) {
        if (pathBad < 10) std::fprintf(stderr, "%s: half %04x -> float %08x\n", path.name, h, hy::bitsOf(widened[h]));
        ++pathBad;
      }
    }
    for (uint64_t start = 0; start <= 0xffffffffull; start += kChunk) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, 0x100000000ull - start));
      for (size_t i = 0; i < n; ++i) floats[i] = hy::floatOf(static_cast<uint32_t>(start + i));
      path.toHalf(floats.data(), narrowed.data(), n);
      for (size_t i = 0; i < n; ++i) {
        if (narrowed[i] != reference::floatToHalfBits(floats[i])) {
          if (pathBad < 10) {
            std::fprintf(stderr, "%s: float %08x -> half %04x\n", path.name, static_cast<uint32_t>(start + i), narrowed[i]);
          }
          ++pathBad;
        }
      }
    }
    std::printf("%s array conversions: %llu differ from the reference\n", path.name, static_cast<unsigned long long>(pathBad));
    bad += pathBad;
  }
  std::printf("%llu conversions differ from the reference\n", static_cast<unsigned long long>(bad));
  return bad == 0 ? 0 : 1;
}
