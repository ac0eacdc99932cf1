#pragma once
// Shared by the integration tests: wait for a state instead of sleeping a fixed time, which a
// busy CI host may exceed.
#include <chrono>
#include <thread>

namespace perflab::testing {

// Calls `done` every `period` until it returns true or `timeout` has passed; its last answer.
template <class Pred>
bool poll_until(Pred done, std::chrono::milliseconds timeout, std::chrono::milliseconds period = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(period);
  }
  return true;
}

}  // namespace perflab::testing
