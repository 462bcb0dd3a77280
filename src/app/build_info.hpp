// The version and source revision this binary was built from (build_info.cpp is generated at
// build time by cmake/BuildInfo.cmake, rewritten only when the revision changes).
#pragma once

namespace rocketmart::app {

extern const char* const kBuildVersion;   // the project version, e.g. "0.1.0"
extern const char* const kBuildRevision;  // git commit (12 hex, "-dirty" if modified), or "unknown"

}  // namespace rocketmart::app
