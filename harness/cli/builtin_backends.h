// Every backend this build knows: "container" and "vm" (and more as they land).
#pragma once

#include "harness/backend.h"

namespace isobench::harness {

const BackendRegistry& BuiltinBackends();

}  // namespace isobench::harness
