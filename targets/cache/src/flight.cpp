#include <perflab/cache/flight.hpp>

namespace perflab::cache {

void flight::finish(std::string_view value) { end(true, value); }
void flight::abandon() { end(false, {}); }

void flight::end(bool ok, std::string_view value) {
  std::vector<std::function<void()>> subscribers;
  {
    std::lock_guard l(mutex_);
    if (ended_) return;
    ended_ = true;
    ok_ = ok;
    value_.assign(value);
    subscribers.swap(subscribers_);
  }
  cv_.notify_all();
  for (auto& f : subscribers) f();
}

bool flight::wait(std::string& value) {
  std::unique_lock l(mutex_);
  ++waiters_;
  cv_.wait(l, [this] { return ended_; });
  if (ok_) value.assign(value_);
  return ok_;
}

void flight::wait_ended() {
  std::unique_lock l(mutex_);
  ++waiters_;
  cv_.wait(l, [this] { return ended_; });
}

bool flight::subscribe(std::function<void()> on_done) {
  std::lock_guard l(mutex_);
  if (ended_) return false;
  ++waiters_;
  subscribers_.push_back(std::move(on_done));
  return true;
}

bool flight::result(std::string& value) const {
  std::lock_guard l(mutex_);
  if (ended_ && ok_) value.assign(value_);
  return ended_ && ok_;
}

bool flight::ended() const {
  std::lock_guard l(mutex_);
  return ended_;
}

std::size_t flight::waiters() const {
  std::lock_guard l(mutex_);
  return waiters_;
}

}  // namespace perflab::cache
