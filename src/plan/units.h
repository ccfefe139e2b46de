// Number formatting for plan's tables: parameter counts, bytes, rates.
#pragma once
#include <string>

namespace tokenmill::plan {

std::string fixed(double v, int decimals);         // "4.125"
std::string count(double n);                       // "8.03 B", "11.3 M"
std::string bytes_human(double b);                 // "16.06 GB", "128.0 KiB", "340 B"
std::string bytes_exact(double b);                 // "131,072 B"
std::string rate(double per_s);                    // "1,234.5" / "12.3" / "0.041"
std::string lower_ascii(std::string s);            // names compared case-insensitively

}  // namespace tokenmill::plan
