// Reads a file of the source tree (ROCKETMART_SOURCE_DIR, set by CTest), for tests that check the
// documents against the binary.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace rocketmart::testing {

inline std::string SourceFile(const std::string& relative) {
  const char* root = std::getenv("ROCKETMART_SOURCE_DIR");
  if (!root) throw std::runtime_error("ROCKETMART_SOURCE_DIR is not set");
  std::ifstream in(std::string(root) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace rocketmart::testing
