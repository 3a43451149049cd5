#pragma once
// One exception type for every input error (config, experiment file, data file, flag).
// It carries where the problem is (file, JSON path or line) so the CLI can print one line.
#include <stdexcept>
#include <string>

namespace dreamer {

class InputError : public std::runtime_error {
 public:
  // `where` is a JSON path ("$.expert_attention.k"), "file:line", or a flag name.
  InputError(std::string where, const std::string& what)
      : std::runtime_error(where.empty() ? what : where + ": " + what),
        where_(std::move(where)),
        message_(what) {}
  const std::string& where() const { return where_; }
  const std::string& message() const { return message_; }  // without the location

 private:
  std::string where_, message_;
};

// Throws InputError(where, what) unless `ok`: the one-line form of config validation.
inline void require(bool ok, const std::string& where, const std::string& what) {
  if (!ok) throw InputError(where, what);
}

}  // namespace dreamer
