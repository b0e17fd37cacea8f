// Every backend this build knows: "container" and "vm" (and more as they land).
#pragma once

#include "harness/backend.h"

namespace isobench::harness {

const BackendRegistry& BuiltinBackends();

// Reference rows that are not isolation technologies under test but yardsticks for one
// (benchmarks only): "qemu-raw", the VM's guest under a plain qemu command line.
const BackendRegistry& ReferenceBackends();

}  // namespace isobench::harness
