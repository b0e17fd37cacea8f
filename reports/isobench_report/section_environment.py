"""The environment table: every scalar context key of every input."""
from .fmt import esc, fmt_bytes
from .markup import table

# Context keys first in the environment table, in this order; the rest follow
# sorted. Arrays and objects (caches, load_avg) are left out.
ENV_ORDER = ("host_name", "env.hostname", "env.cpu_model", "num_cpus", "mhz_per_cpu",
             "env.memory_total_bytes", "env.kernel", "env.cgroup_mode", "vm.accelerator",
             "vm.nested", "env.hypervisor", "env.libvirt_version", "env.qemu_version",
             "env.ksm", "env.thp", "env.cpu_governor", "env.git_revision", "date", "executable",
             "library_build_type", "cpu_scaling_enabled")


def section_environment(report):
    """The context of every input, folded: it is the last thing a reader needs and the
    longest (some 60 keys)."""
    keys = set()
    for s in report.series:
        keys.update(k for k, v in s.context.items() if not v.startswith(("[", "{")))
    ordered = [k for k in ENV_ORDER if k in keys] + sorted(keys - set(ENV_ORDER))
    rows, classes = [], {}
    for i, k in enumerate(ordered):
        values = [s.context.get(k, "–") for s in report.series]
        shown = [fmt_bytes(v) if k.endswith("_bytes") else v for v in values]
        rows.append(["<code>%s</code>" % esc(k)] + [esc(v) for v in shown])
        if len(set(values)) > 1:
            classes[i] = "differs"
    headers = ["key"] + [esc(s.label) for s in report.series]
    note = ('<p class="note">Rows that differ between the inputs are highlighted.</p>'
            if len(report.series) > 1 else "")
    fold = "%d context key%s of %s" % (len(rows), "" if len(rows) == 1 else "s",
                                      "the input" if len(report.series) == 1 else
                                      "%d inputs" % len(report.series))
    if len(report.series) > 1:
        fold += ", %d differ%s between them" % (len(classes), "s" if len(classes) == 1 else "")
    return ('<section><h2 id="environment">Environment</h2><details><summary>%s</summary>'
            '%s%s</details></section>'
            % (esc(fold), note, table(headers, rows, classes, numeric_from=99)))
