#!/usr/bin/python3
"""Writes the synthetic Google Benchmark files the loader and report tests read.

The numbers imitate this project's build machine (TCG VMs, hybrid cgroups) and a
second, KVM-capable host. Deterministic: rerun after changing it, from the
repository root:

  /usr/bin/python3 harness/testdata/gen_startup_results.py harness/testdata
"""
import json
import math
import random
import statistics
import sys

# Phase end times as fractions of the total start time (cumulative, like the
# harness records them: seconds since the create request).
CONTAINER_PHASES = [("clone", 0.18), ("rootfs", 0.55), ("exec", 0.80), ("ready", 1.0)]
VM_PHASES = [("domain_created", 0.07), ("first_console_byte", 0.16), ("kernel", 0.72),
             ("init", 0.93), ("ready", 1.0)]


def context(host, accelerator, cpu_model, kernel, cgroup_mode, date):
    return {
        "date": date,
        "host_name": host,
        "executable": "/work/main/build/bench/startup_bench",
        "num_cpus": 2 if host == "vm" else 16,
        "mhz_per_cpu": 2596 if host == "vm" else 3400,
        "cpu_scaling_enabled": False,
        "caches": [{"type": "Data", "level": 1, "size": 32768, "num_sharing": 1},
                   {"type": "Unified", "level": 3, "size": 33554432, "num_sharing": 2}],
        "load_avg": [0.21, 0.3, 0.18],
        "library_build_type": "release",
        "env.hostname": host,
        "env.cpu_model": cpu_model,
        "env.kernel": kernel,
        "env.cgroup_mode": cgroup_mode,
        "env.memory_total_bytes": "25769803776" if host == "vm" else "68719476736",
        "env.ksm": "0",
        "env.thp": "madvise",
        "env.cpu_governor": "unknown" if host == "vm" else "performance",
        "env.libvirt_version": "9.0.0",
        "env.qemu_version": "7.2.0",
        "env.git_revision": "3f2c1a9e0b7d",
        "vm.accelerator": accelerator,
        **traits(("container", "host", "qemu-raw", "runc", "vm")),
    }


# backend.<name>.kind/.role/.reference, as the harness writes them from each backend's traits.
TRAITS = {"container": ("container", "product"), "vm": ("vm", "product"),
          "runc": ("container", "reference"), "host": ("host", "floor"),
          "qemu-raw": ("vm", "floor")}


def traits(backends):
    out = {}
    for b in backends:
        kind, role = TRAITS[b]
        out["backend.%s.kind" % b] = kind
        out["backend.%s.role" % b] = role
        out["backend.%s.reference" % b] = "false" if role == "product" else "true"
    return out


def records(run_name, unit, scale, totals, rng, phases=None, destroy=None, cpu_frac=0.3,
            extra=None):
    """Iteration records plus Google Benchmark's mean/median/stddev/cv aggregates."""
    out = []
    n = len(totals)
    for i, total in enumerate(totals):
        rec = {
            "name": run_name, "family_index": 0, "per_family_instance_index": 0,
            "run_name": run_name, "run_type": "iteration", "repetitions": n,
            "repetition_index": i, "threads": 1, "iterations": 1,
            "real_time": total / scale,
            "cpu_time": total * cpu_frac * rng.uniform(0.8, 1.2) / scale,
            "time_unit": unit,
        }
        if phases:
            for phase, frac in phases:
                jitter = 1.0 if phase == "ready" else rng.uniform(0.95, 1.05)
                rec["phase_%s_s" % phase] = round(total * frac * jitter, 9)
        if destroy:
            rec["destroy_s"] = round(rng.lognormvariate(math.log(destroy), 0.1), 9)
        for key, (centre, spread) in (extra or {}).items():
            rec[key] = round(rng.gauss(centre, spread), 3)
        out.append(rec)
    keys = [k for k in out[0] if k in ("real_time", "cpu_time") or k.endswith("_s")
            or k in (extra or {})]
    stats = [("mean", statistics.mean, "time"), ("median", statistics.median, "time"),
             ("stddev", statistics.stdev, "time"),
             ("cv", lambda v: statistics.stdev(v) / statistics.mean(v), "percentage")]
    for agg, fn, agg_unit in stats:
        rec = {
            "name": run_name + "_" + agg, "family_index": 0, "per_family_instance_index": 0,
            "run_name": run_name, "run_type": "aggregate", "repetitions": n, "threads": 1,
            "aggregate_name": agg, "aggregate_unit": agg_unit, "iterations": n,
        }
        for k in keys:
            rec[k] = fn([r[k] for r in out[:n]])
        rec["time_unit"] = unit
        # Google Benchmark writes time_unit right after cpu_time; keep that order.
        ordered = {k: rec[k] for k in list(rec) if k not in keys and k != "time_unit"}
        ordered["real_time"] = rec["real_time"]
        ordered["cpu_time"] = rec["cpu_time"]
        ordered["time_unit"] = unit
        ordered.update({k: rec[k] for k in keys if k not in ("real_time", "cpu_time")})
        out.append(ordered)
    return out


def lognormal(rng, median, sigma, n):
    return [rng.lognormvariate(math.log(median), sigma) for _ in range(n)]


def build(host, seed):
    rng = random.Random(seed)
    fast = host != "vm"
    suffix = "/iterations:1/repeats:%d/manual_time"
    benchmarks = []
    benchmarks += records("Startup/container/ready" + suffix % 20, "ms", 1e-3,
                          lognormal(rng, 2.2e-3 if fast else 3.1e-3, 0.08, 20), rng,
                          CONTAINER_PHASES, destroy=1.4e-3 if fast else 2.0e-3)
    benchmarks += records("Startup/vm/ready" + suffix % 3, "ms", 1e-3,
                          lognormal(rng, 0.62 if fast else 9.0, 0.03, 3), rng,
                          VM_PHASES, destroy=0.09 if fast else 0.35, cpu_frac=0.05)
    benchmarks += records("Startup/host/ready" + suffix % 20, "us", 1e-6,
                          lognormal(rng, 0.6e-3 if fast else 0.9e-3, 0.1, 20), rng)
    benchmarks += records("Startup/runc/ready" + suffix % 5, "ms", 1e-3,
                          lognormal(rng, 28e-3 if fast else 39e-3, 0.05, 5), rng)
    benchmarks += records("Startup/qemu-raw/ready" + suffix % 3, "ms", 1e-3,
                          lognormal(rng, 0.35 if fast else 8.6, 0.03, 3), rng, cpu_frac=0.05)
    benchmarks += records("Density/container/instances:16" + suffix % 3, "ms", 1e-3,
                          lognormal(rng, 0.06, 0.05, 3), rng,
                          extra={"pss_per_instance_mib": (1.8, 0.05),
                                 "memavailable_delta_mib": (31.0, 1.5)})
    benchmarks += records("Density/vm/instances:16" + suffix % 3, "ms", 1e-3,
                          lognormal(rng, 9.5 if fast else 140.0, 0.05, 3), rng,
                          extra={"pss_per_instance_mib": (212.0, 4.0),
                                 "memavailable_delta_mib": (3420.0, 40.0)})
    if host == "vm":
        return {"context": context("vm", "tcg", "Intel Xeon Processor (Cascadelake)",
                                   "6.1.0-18-amd64", "hybrid", "2024-06-11T09:12:44+00:00"),
                "benchmarks": benchmarks}
    return {"context": context("bench-epyc-02", "kvm", "AMD EPYC 7543 32-Core Processor",
                               "6.1.0-21-amd64", "v2", "2024-06-11T10:40:02+00:00"),
            "benchmarks": benchmarks}


def main():
    outdir = sys.argv[1]
    for filename, host, seed in (("startup_results.json", "vm", 11),
                                 ("startup_results_host2.json", "bench-epyc-02", 12)):
        with open(outdir + "/" + filename, "w") as f:
            json.dump(build(host, seed), f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
