#include "harness/cli/builtin_backends.h"

#ifdef ISOBENCH_HAVE_CONTAINER
#include "container/container_backend.h"
#endif
#ifdef ISOBENCH_HAVE_VM
#include "vm/vm_backend.h"
#endif

namespace isobench::harness {

const BackendRegistry& BuiltinBackends() {
  static const BackendRegistry registry = [] {
    BackendRegistry r;
#ifdef ISOBENCH_HAVE_CONTAINER
    container::RegisterContainerBackend(r);
#endif
#ifdef ISOBENCH_HAVE_VM
    vm::RegisterVmBackend(r);
#endif
    return r;
  }();
  return registry;
}

}  // namespace isobench::harness
