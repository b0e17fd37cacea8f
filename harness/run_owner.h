// Who made a run, and whether it still runs: how every backend tells its own leftovers
// (from a run whose harness was killed) from the objects of a run that is still going.
//
// An owner record is "<pid> <start time>", the start time being field 22 of
// /proc/<pid>/stat, which rules out a recycled pid. Backends keep it in an `owner` file
// beside their per-run state, or in a label on what they create.
//
//   WriteWholeFile(run_dir + "/owner", OwnerOfThisProcess() + "\n");
//   ...
//   if (!OwnerIsLive(ReadFile(other_run_dir + "/owner"))) remove it;
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace isobench::harness {

// Field 22 of /proc/<pid>/stat (clock ticks after boot); 0 when there is no such process.
unsigned long long ProcessStartTicks(pid_t pid);

// "<pid> <start time>" of the calling process.
std::string OwnerOfThisProcess();

// Whether the process an owner record names still runs: same pid, same start time, and
// not a zombie (an owner that exited but was not yet reaped can destroy nothing). A
// record with the pid alone is accepted, for records written without a start time.
bool OwnerIsLive(std::string_view owner);

// Whether the process that made a NewRunId()-style id ("<yyyymmddThhmmss>-<pid>") still
// runs: the pid runs, is not a zombie, and started no later than the id's time.
bool RunIdOwnerIsLive(const std::string& run_id);

// At the end of a run: removes `run_dir` and its owner file if nothing else is left in
// it. If instances that outlived their backend still have state there, the owner file
// stays (rewritten) so that a later run can tell whose it is.
void ReleaseRunDir(const std::string& run_dir);

}  // namespace isobench::harness
