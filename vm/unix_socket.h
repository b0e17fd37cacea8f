// Client side of the unix sockets qemu listens on for the guest's serial ports.
//
//   ISO_ASSIGN_OR_RETURN(Fd fd, ConnectUnixSocket("/run/isobench-vm/r1/web1.ch", deadline));
#pragma once

#include <string>

#include "harness/backend.h"
#include "harness/error.h"
#include "harness/fd.h"

namespace isobench::vm {

// connect(2) to a SOCK_STREAM unix socket, retrying while the path does not exist yet or
// nobody listens (ENOENT, ECONNREFUSED) until `deadline`. The fd is O_CLOEXEC.
harness::Result<harness::Fd> ConnectUnixSocket(const std::string& path,
                                               harness::Clock::time_point deadline);

// unlink(2) that treats a missing file as success.
harness::Result<void> RemoveFileIfExists(const std::string& path);

}  // namespace isobench::vm
