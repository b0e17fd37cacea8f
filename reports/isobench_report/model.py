"""The report's model: one Series per input, one Cell per benchmark and input, and
the Report that holds them with the C++ statistics and the gate's verdicts."""
import base64
import io
import math
import os
import zlib

from .fmt import esc
from .plotting import pyplot

# What a backend is comes from the results' context, written by the harness from the
# backend's traits: backend.<name>.kind (host, container, vm) and backend.<name>.reference
# (true for yardsticks: the host floor, runc, qemu without libvirt). A file without them
# shows the backend as a product of unknown kind. No backend is named here: the order is
# by role and kind, then name, and so is the colour: products of the container kind in
# blues and greens, VMs in oranges and reds, references in muted tones (and hatched),
# each taking the next colour of its group in name order. Adding a VM never recolours a
# container.
KIND_ORDER = {"container": 0, "vm": 1, "host": 2}
GROUP_COLORS = {
    (False, "container"): ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#bcbd22"],
    (False, "vm"): ["#ff7f0e", "#d62728", "#e377c2"],
    (False, "host"): ["#7f7f7f"],
    (True, "container"): ["#8c564b", "#c49c94", "#98df8a"],
    (True, "vm"): ["#ff9896", "#f7b6d2"],
    (True, "host"): ["#7f7f7f", "#c7c7c7"],
}
OTHER_COLORS = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"]
SERIES_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]




class Series:
    """One input file."""

    def __init__(self, path, results, index):
        self.path = path
        self.index = index
        self.results = results
        self.context = results["context"]
        self.host = (self.context.get("env.hostname") or self.context.get("host_name")
                     or "unknown host")
        self.accelerator = self.context.get("vm.accelerator", "")
        # KVM inside a guest (ci/nested_kvm.sh) is its own environment, never KVM on
        # hardware: "kvm nested in tcg" wherever the accelerator is named.
        nested = self.context.get("vm.nested", "none")
        if self.accelerator and nested not in ("", "none", "unknown"):
            self.accelerator = "%s nested in %s" % (self.accelerator, nested)
        self.label = self.host

    def kind(self, backend):
        """host, container, vm; "" when the file does not say."""
        return self.context.get("backend.%s.kind" % backend, "")

    def role(self, backend):
        """product, reference, floor; "" when the file does not say."""
        return self.context.get("backend.%s.role" % backend, "")

    def is_reference(self, backend):
        return self.context.get("backend.%s.reference" % backend) == "true"

    def is_host_floor(self, backend):
        """The agent on the bare host (kind host, role floor): what I/O and overhead
        rows are divided by."""
        return self.kind(backend) == "host" and self.role(backend) == "floor"

    def host_floor(self):
        """The backends that are the host floor (kind host, role floor) in this file."""
        return sorted({name[len("backend."):-len(".kind")] for name, v in self.context.items()
                       if name.startswith("backend.") and name.endswith(".kind")
                       and self.is_host_floor(name[len("backend."):-len(".kind")])})

    def backend_label(self, backend):
        if self.kind(backend) == "vm" and self.accelerator:
            return "%s (%s)" % (backend, self.accelerator)
        return backend


class Cell:
    """The samples of one benchmark (family, params, backend) in one series."""

    def __init__(self, series, run, name):
        self.series = series
        self.run = run
        self.family = name["family"]
        self.backend = name["backend"]
        self.params = name["params"]
        self.case = name["case_key"]
        self.samples = list(run["real_time_s"])
        self.cpu = list(run["cpu_time_s"])
        self.counters = run["counters"]
        self.errors = run["errors"]
        self.labels = run.get("labels", [])


def joint_backend_label(backend, series, newline=False):
    """'vm (tcg)' when every series agrees, else 'vm (tcg / kvm)' in series order."""
    labels = list(dict.fromkeys(s.backend_label(backend) for s in series))
    if len(labels) <= 1:
        return labels[0] if labels else backend
    return "%s%s(%s)" % (backend, "\n" if newline else " ",
                         " / ".join(s.accelerator or "?" for s in series))


def backend_order(report, backends):
    """Products, then references; within each, containers, then VMs, then the host,
    each by name."""
    def key(b):
        return (1 if report.is_reference(b) else 0,
                KIND_ORDER.get(report.kind(b), len(KIND_ORDER)), b)
    return sorted(set(backends), key=key)


def backend_color(report, backend):
    """The backend's colour: the next of its group's (role, kind) in name order over
    every backend of the report, so that it is the same in every chart."""
    group = (report.is_reference(backend), report.kind(backend))
    palette = GROUP_COLORS.get(group, OTHER_COLORS)
    peers = sorted(b for b in report.backends()
                   if (report.is_reference(b), report.kind(b)) == group)
    if backend not in peers:
        peers = sorted(peers + [backend])
    return palette[peers.index(backend) % len(palette)]


class Report:
    def __init__(self, stats, series, thresholds="", alpha=None):
        self.stats = stats
        self.series = series
        self.thresholds = thresholds
        self.alpha = alpha
        self.cells = []
        self.warnings = []
        self.images = []  # (filename, png bytes)
        self.summary_extra = []  # Markdown lines after the table
        self._label_series()
        for s in series:
            for run_name, run in s.results["runs"].items():
                name = run["name"] or {"family": "Other", "backend": "–", "params": run_name,
                                       "case_key": "Other/" + run_name}
                cell = Cell(s, run, name)
                self.cells.append(cell)
                if cell.errors:
                    self.warnings.append(
                        "%s [%s]: %d of %d repetitions failed: %s" % (
                            run_name, s.label, len(cell.errors),
                            len(cell.errors) + len(cell.samples),
                            "; ".join(sorted(set(cell.errors)))))
        self._ci_cache = {}
        self.verdicts = {}

    def series_title(self, s):
        return ("host " if self.multi_host else "input ") + s.label

    def is_reference(self, backend):
        """A yardstick row in any input."""
        return any(s.is_reference(backend) for s in self.series)

    def is_vm(self, backend):
        return any(s.kind(backend) == "vm" for s in self.series)

    def backends(self):
        """Every backend the inputs describe or measure."""
        names = {c.backend for c in self.cells}
        for s in self.series:
            names |= {k[len("backend."):-len(".kind")] for k in s.context
                      if k.startswith("backend.") and k.endswith(".kind")}
        return sorted(names)

    def kind(self, backend):
        """The backend's kind in the first input that says it; "" when none does."""
        return next((s.kind(backend) for s in self.series if s.kind(backend)), "")

    def _label_series(self):
        hosts = [s.host for s in self.series]
        self.multi_host = len(set(hosts)) > 1
        if len(self.series) > 1 and not self.multi_host:
            # The same host several times: an A/B of a change; name the files.
            names = [os.path.splitext(os.path.basename(s.path))[0] for s in self.series]
            for i, s in enumerate(self.series):
                s.label = names[i] if names.count(names[i]) == 1 else "%s #%d" % (names[i], i + 1)

    



    def median_ci(self, samples):
        # Google Benchmark writes NaN for a counter it could not compute; such a
        # repetition says nothing about the median.
        samples = [v for v in samples if math.isfinite(v)]
        key = tuple(samples)
        if key not in self._ci_cache:
            if not samples:
                self._ci_cache[key] = (math.nan, math.nan, math.nan)
            else:
                lo, hi = self.stats.bootstrap_ci(samples)
                self._ci_cache[key] = (self.stats.median(samples), lo, hi)
        return self._ci_cache[key]

    def compute_verdicts(self):
        """The gate's verdict of every later series against the first: the dict
        `isobench compare --json` prints, computed by the same C++ (compare_results).
        Inputs from different hosts are a host comparison (cross_host)."""
        self.verdicts = {}
        for s in self.series[1:]:
            self.verdicts[s.index] = self.stats.compare_results(
                self.series[0].results, s.results, thresholds=self.thresholds,
                alpha=self.alpha, cross_host=self.multi_host)
            v = self.verdicts[s.index]
            if v["environment"]["differences"]:
                self.warnings.append("%s against %s: %s: %s" % (
                    s.label, self.series[0].label,
                    "host comparison" if self.multi_host else "refused, no verdicts",
                    "; ".join("%s %s vs %s" % (d["key"], d["base"], d["new"])
                              for d in v["environment"]["differences"])))

    def verdict(self, cell, metric="time"):
        """The gate's row for this cell (a later series) against the first, or None."""
        if cell is None or cell.series.index == 0:
            return None
        v = getattr(self, "verdicts", {}).get(cell.series.index)
        if not v:
            return None
        key = cell.run["run_name"] + ":" + metric
        for row in v["rows"]:
            if row["key"] == key:
                return row
        return None

    



    def add_figure(self, fig, name):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        pyplot().close(fig)
        self.images.append((name + ".png", buf.getvalue()))
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return '<img class="plot" alt="%s" src="data:image/png;base64,%s">' % (esc(name), data)



def median_of(values):
    """Median of the finite values (plain Python: used for display only)."""
    s = sorted(v for v in values if math.isfinite(v))
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2



class Ratio:
    """A median (with 95% CI when there are ≥2 samples) and its ratio to a reference.

    The ratio's interval is the C++ core's (isobench_py.change_interval: the interval
    of the Hodges–Lehmann ratio that inverts the Mann–Whitney test at 5%); a ratio
    whose interval includes 1 is `no_difference` and drawn so."""

    def __init__(self, report, values, ref_values):
        values = [v for v in values if math.isfinite(v)]
        ref_values = [v for v in ref_values if math.isfinite(v)]
        self.n = len(values)
        self.median, self.lo, self.hi = report.median_ci(values) if values else (math.nan,) * 3
        self.has_ci = len(values) > 1
        self.ratio = self.rlo = self.rhi = math.nan
        self.no_difference = False
        if ref_values and values:
            ref = report.median_ci(ref_values)[0]
            if ref > 0:
                self.ratio = self.median / ref
                try:
                    _, low, high = report.stats.change_interval(ref_values, values, 0.05)
                except ValueError:
                    low = high = math.nan
                if math.isfinite(low) and math.isfinite(high):
                    self.rlo, self.rhi = 1 + low, 1 + high
                    self.no_difference = self.rlo <= 1 <= self.rhi
                else:
                    # Too few samples for any 95% interval: the ratio alone, no claim.
                    self.has_ci = False
        if not self.has_ci:
            self.lo = self.hi = math.nan
