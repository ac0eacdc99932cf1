// io-uring's start-up check: can this process set up an io_uring at all? A raw io_uring_setup
// system call (no liburing needed), so even a build without liburing says why the kernel would
// refuse, and the message names the cause the user can act on.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "models.hpp"

namespace perflab::targets::detail {

namespace {

// PERFLAB_TEST_IO_URING_ERRNO: the errno a test wants io_uring_setup to fail with (0: none).
int uring_probe_forced_errno() noexcept {
  const char* v = std::getenv("PERFLAB_TEST_IO_URING_ERRNO");
  if (!v || !*v) return 0;
  if (std::strcmp(v, "EPERM") == 0) return EPERM;
  if (std::strcmp(v, "ENOSYS") == 0) return ENOSYS;
  if (std::strcmp(v, "ENOMEM") == 0) return ENOMEM;
  return std::atoi(v);
}

std::string uring_probe_read_sysctl() {
  std::ifstream in("/proc/sys/kernel/io_uring_disabled");
  std::string value;
  if (in) std::getline(in, value);
  return value;
}

}  // namespace

std::string describe_io_uring_failure(int err, std::string_view disabled_sysctl) {
  std::string why = "--model io-uring: io_uring is unavailable: io_uring_setup failed with ";
  why += err == EPERM ? "EPERM" : err == ENOSYS ? "ENOSYS" : std::to_string(err);
  why += " (";
  why += std::strerror(err);
  why += "): ";
  if (err == EPERM && disabled_sysctl == "2")
    why += "the kernel.io_uring_disabled sysctl is 2 (io_uring off for every process)";
  else if (err == EPERM && disabled_sysctl == "1")
    why += "the kernel.io_uring_disabled sysctl is 1 (io_uring only for CAP_SYS_ADMIN or the "
           "kernel.io_uring_group group)";
  else if (err == EPERM)
    why += "a seccomp filter or security policy denies io_uring (containers' default seccomp "
           "profiles do)";
  else if (err == ENOSYS)
    why += "the kernel has no io_uring (older than 5.1 or built without CONFIG_IO_URING), or a "
           "seccomp filter hides it";
  else if (err == ENOMEM)
    why += "the locked-memory limit (ulimit -l) is too small for a ring";
  else
    why += "the kernel refused to set up a ring";
  why += "; use another --model";
  return why;
}

std::optional<std::string> io_uring_unavailable_reason() {
  int err = uring_probe_forced_errno();
  if (err == 0) {
    io_uring_params params{};
    const long fd = ::syscall(__NR_io_uring_setup, 1, &params);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
    } else {
      err = errno;
    }
  }
  if (err != 0) return describe_io_uring_failure(err, uring_probe_read_sysctl());
  if (!io_uring_built())
    return "--model io-uring: io_uring is unavailable: this lab-target was built without liburing "
           "(install liburing-dev, scripts/setup.sh does, and rebuild); use another --model";
  return std::nullopt;
}

}  // namespace perflab::targets::detail
