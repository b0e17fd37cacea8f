// Ctrl-C and SIGTERM as a request to stop cleanly: the first signal sets a flag that
// long loops poll (no new instance is started, the ones alive are destroyed by their
// owners, results gathered so far are written); a second signal ends the process at
// once, and the next run's ReclaimStale() removes what it left.
//
//   InstallInterruptHandlers();
//   while (!Interrupted()) { ... }
#pragma once

namespace isobench::harness {

void InstallInterruptHandlers();
bool Interrupted();
// The signal that interrupted (0 if none).
int InterruptSignal();

}  // namespace isobench::harness
