// Names the calling thread so `top -H`, gdb and perf show what each thread is for (an embedded
// server runs a dozen of them). Linux keeps at most 15 bytes; longer names are cut.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace rocketmart {

inline void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace rocketmart
