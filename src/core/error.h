// tokenmill's one exception type. Library code throws tokenmill::Error for anything a user can
// cause (bad file, bad flag, bad request); apps/ and server/ catch it at the boundary and print
// the message (one line, naming the file/field/parameter and what was expected).
#pragma once
#include <stdexcept>
#include <string>

namespace tokenmill {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error(message) when cond is false. Used for bounds checks on untrusted input.
inline void check(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace tokenmill
