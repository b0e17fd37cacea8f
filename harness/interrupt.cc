#include "harness/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace isobench::harness {
namespace {

std::atomic<int> g_signal{0};

void OnSignal(int signo) {
  if (g_signal.exchange(signo) != 0) {
    // Second signal: stop now, the way the default action would.
    ::signal(signo, SIG_DFL);
    ::raise(signo);
    return;
  }
  const char msg[] = "\nisobench: interrupted; finishing the current step and cleaning up "
                     "(send again to stop at once)\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
}

bool Interrupted() { return g_signal.load() != 0; }
int InterruptSignal() { return g_signal.load(); }

}  // namespace isobench::harness
