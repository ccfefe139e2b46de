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
// A literal message binds to the const char* overload and costs nothing unless thrown; in code that
// runs per token, build composed messages only on failure (if (!cond) throw Error(a + b)).
inline void check(bool cond, const char* message) {
  if (!cond) throw Error(message);
}
inline void check(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace tokenmill
