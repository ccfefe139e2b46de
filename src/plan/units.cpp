#include "plan/units.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace tokenmill::plan {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string count(double n) {
  if (n >= 1e12) return fixed(n / 1e12, 3) + " T";
  if (n >= 1e9) return fixed(n / 1e9, 2) + " B";
  if (n >= 1e6) return fixed(n / 1e6, 2) + " M";
  if (n >= 1e3) return fixed(n / 1e3, 1) + " K";
  return fixed(n, 0);
}

// Capacities in decimal units (as devices are sold); amounts under 1 MB in binary ones (KV per
// token is a power of two more often than not).
std::string bytes_human(double b) {
  if (b >= 1e12) return fixed(b / 1e12, 3) + " TB";
  if (b >= 1e9) return fixed(b / 1e9, 2) + " GB";
  if (b >= 1e6) return fixed(b / 1e6, 2) + " MB";
  if (b >= 1024) return fixed(b / 1024, 1) + " KiB";
  return fixed(b, 0) + " B";
}

std::string bytes_exact(double b) {
  std::string digits = fixed(std::round(b), 0), out;
  const int n = int(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0 && digits[size_t(i - 1)] != '-') out += ',';
    out += digits[size_t(i)];
  }
  return out + " B";
}

std::string rate(double per_s) {
  if (per_s >= 100) return fixed(per_s, 0);
  if (per_s >= 1) return fixed(per_s, 1);
  return fixed(per_s, 3);
}

std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

}  // namespace tokenmill::plan
