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

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"

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

// The directory a backend keeps one run's state in, `<base>/<run id>`, with its owner
// file: made (with the owner file) by the first Ensure(), released (ReleaseRunDir) by
// the destructor. Every backend keeps its per-run files in one; StaleRunDirs and
// RemoveRunTree are the other half, for the runs of a harness that was killed.
//
//   RunDirectory run_dir(workdir + "/oci/runc", context.run_id);
//   ISO_ASSIGN_OR_RETURN(std::string dir, run_dir.Ensure());   // <base>/<run>, owner written
//   ...
//   for (const std::string& stale : StaleRunDirs(workdir + "/oci/runc", context.run_id))
//     ISO_RETURN_IF_ERROR(RemoveRunTree(stale));
class RunDirectory {
 public:
  RunDirectory(const std::string& base, const std::string& run_id, int mode = 0711);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  // The directory, made with its owner file if it is not there (thread-safe; made again
  // if something removed it meanwhile).
  Result<std::string> Ensure();
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const int mode_;
  std::mutex mu_;
  bool made_ = false;
};

// Whether a run directory belongs to a run that is over: its owner file names a process
// that is gone, a zombie or a recycled pid; without an owner file, the process its
// NewRunId()-style name names is gone. This run's directory is never stale.
bool RunDirIsStale(const std::string& run_dir);
// The stale run directories under `base`, other than `live_run_id`'s and the names in
// `keep` (a backend's own files beside its run directories). Empty when `base` is absent.
std::vector<std::string> StaleRunDirs(const std::string& base, const std::string& live_run_id,
                                      const std::vector<std::string>& keep = {});
// Lazily unmounts every mount at or under `dir`, deepest first (a crashed instance's
// overlay, tmpfs or disk image), then removes the tree. Returns how many it unmounted.
Result<int> RemoveRunTree(const std::string& dir);

// Per-run files that belong to no backend (the I/O family's fio files) live in a
// RunDirectory under <workdir>/scratch, one per run. A session that reclaims leftovers,
// and `isobench cleanup`, remove the stale ones.
//
//   RunDirectory scratch(ScratchBase(workdir), run_id);
//   ISO_ASSIGN_OR_RETURN(std::string dir, scratch.Ensure());   // <workdir>/scratch/<run>
std::string ScratchBase(const std::string& workdir);
// Removes the scratch directories of runs that are over; returns how many.
Result<int> ReclaimStaleScratch(const std::string& workdir, const std::string& live_run_id);

}  // namespace isobench::harness
