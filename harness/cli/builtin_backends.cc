#include "harness/cli/builtin_backends.h"

#ifdef ISOBENCH_HAVE_CONTAINER
#include "container/container_backend.h"
#endif
#ifdef ISOBENCH_HAVE_VM
#include "vm/raw_qemu.h"
#include "vm/vm_backend.h"
#endif
#ifdef ISOBENCH_HAVE_OCI
#include "container/oci/oci_backend.h"
#endif
#ifdef ISOBENCH_HAVE_DOCKER
#include "container/docker/docker_backend.h"
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
#ifdef ISOBENCH_HAVE_OCI
    container::oci::RegisterOciBackends(r);
#endif
#ifdef ISOBENCH_HAVE_DOCKER
    container::docker::RegisterDockerBackend(r);
#endif
    return r;
  }();
  return registry;
}

const BackendRegistry& ReferenceBackends() {
  static const BackendRegistry registry = [] {
    BackendRegistry r;
#ifdef ISOBENCH_HAVE_VM
    vm::RegisterRawQemuBackend(r);
#endif
    return r;
  }();
  return registry;
}

}  // namespace isobench::harness
