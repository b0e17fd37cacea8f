"""The image section: pulls from the loopback registry (empty store, layers present),
the start of a pulled image and the cold start, for a small and a padded image, and
what layer sharing saves on disk and in the page cache."""
import math
import re

from .fmt import bw_text, esc, fmt_number, fmt_sig, fmt_time
from .markup import comparison_cell, failed_cells, table
from .model import backend_color, backend_order, median_of
from .plotting import log_axis_labels, pyplot
from .section_generic import family_table

_TIMED = re.compile(r"^(?P<what>pull:cold|pull:warm|start:warm|start:cold)/image:(?P<image>[a-z]+)$")
_SHARING = re.compile(r"^sharing/n:(?P<n>\d+)$")
_WHAT = ("pull:cold", "pull:warm", "start:warm", "start:cold")
_WHAT_TEXT = {
    "pull:cold": "pull, empty store",
    "pull:warm": "pull, layers present",
    "start:warm": "start of the pulled image",
    "start:cold": "cold start (pull, unpack, start)",
}
_WHAT_SHORT = {"pull:cold": "cold pull", "pull:warm": "warm pull",
               "start:warm": "start of\nthe pulled image", "start:cold": "cold start"}
_IMAGES = ("small", "padded")


def _image_key(image):
    return (_IMAGES.index(image) if image in _IMAGES else len(_IMAGES), image)


def image_cells(report):
    """([(cell, what, image)], [(cell, n)]) of the Image family."""
    timed, sharing = [], []
    for c in report.cells:
        if c.family != "Image":
            continue
        m = _TIMED.match(c.params)
        if m:
            timed.append((c, m.group("what"), m.group("image")))
            continue
        m = _SHARING.match(c.params)
        if m:
            sharing.append((c, int(m.group("n"))))
    return timed, sharing


def _mb(value):
    return "–" if not math.isfinite(value) else "%s MB" % fmt_sig(value / 1e6)


def _counter(cell, name):
    return median_of(cell.counters.get(name, []))


def plot_times(report, keys, cases, by_key, label):
    """Grouped bars on a log axis: one group per (what, image), one bar per backend (and
    series), the median with its 95% interval."""
    fig, ax = pyplot().subplots(figsize=(12, 4.6), layout="constrained")
    width = 0.8 / max(len(keys), 1)
    labelled = set()
    for ki, key in enumerate(keys):
        si, backend = key
        hatch = "//" if report.is_reference(backend) else None
        if si:
            hatch = (hatch or "") + ".."
        for ci, case in enumerate(cases):
            cell = by_key.get(key + case)
            if cell is None or not cell.samples:
                continue
            med, lo, hi = report.median_ci(cell.samples)
            if not (math.isfinite(med) and med > 0):
                continue
            x = ci + (ki - (len(keys) - 1) / 2) * width
            ax.bar([x], [med], width=width * 0.92, color=backend_color(report, backend),
                   hatch=hatch, edgecolor="white",
                   label=None if key in labelled else label(key))
            labelled.add(key)
            if math.isfinite(lo) and math.isfinite(hi) and lo > 0:
                ax.errorbar([x], [med], yerr=[[med - lo], [hi - med]], fmt="none",
                            ecolor="black", capsize=2, linewidth=1)
            ax.annotate(fmt_time(med), (x, hi if math.isfinite(hi) and hi > med else med),
                        xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                        fontsize=7, rotation=90)
    ax.set_yscale("log")
    log_axis_labels(ax.yaxis, fmt_time)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi * 4)
    ax.set_ylabel("median (log); lower is better")
    ax.set_title("Pull and start of a registry image: median and 95% interval",
                 fontsize=10.5, loc="left")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(["%s\n(%s)" % (_WHAT_SHORT[w], i) for w, i in cases], fontsize=8.5)
    ax.set_xlim(-0.6, len(cases) - 0.4)
    ax.grid(axis="y", which="major", alpha=0.35)
    ax.set_axisbelow(True)
    if labelled:
        ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def plot_sharing(report, rows):
    """rows: [(label, color, n, {"disk": (shared, copies), "cache": (shared, copies)})]:
    the bytes N instances of two images hold, shared against N copies, per backend."""
    panels = ("disk", "cache")
    fig, axes = pyplot().subplots(1, 2, figsize=(12, 3.6), layout="constrained")
    for ax, panel in zip(axes, panels):
        for ri, (label, color, n, values) in enumerate(rows):
            shared, copies = values[panel]
            for j, (value, hatch, what) in enumerate(((shared, None, "shared layers"),
                                                      (copies, "xx", "%d copies" % (2 * n)))):
                if not (math.isfinite(value) and value > 0):
                    continue
                x = ri + (j - 0.5) * 0.4
                ax.bar([x], [value / 1e6], width=0.37, color=color, hatch=hatch,
                       edgecolor="white", alpha=1.0 if j == 0 else 0.55)
                ax.annotate("%s\n%s" % (_mb(value), what), (x, value / 1e6), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=7)
            if math.isfinite(shared) and math.isfinite(copies) and copies > 0:
                ax.annotate("%.0f%% saved" % (100 * (1 - shared / copies)),
                            (ri, 0), xytext=(0, -26), textcoords="offset points",
                            ha="center", va="top", fontsize=8, fontweight="bold")
        top = ax.get_ylim()[1]
        ax.set_ylim(0, top * 1.25)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r[0] for r in rows], fontsize=9)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_ylabel("MB")
        ax.set_title("Disk (blocks of the layer directories)" if panel == "disk"
                     else "Page cache (resident pages of those files)", fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0.35)
        ax.set_axisbelow(True)
    return fig


def section_image(report):
    timed, sharing = image_cells(report)
    if not timed and not sharing:
        return "", []
    multi = len(report.series) > 1
    backends = backend_order(report, [c.backend for c, _, _ in timed] +
                             [c.backend for c, _ in sharing])
    keys = sorted({(c.series.index, c.backend) for c, _, _ in timed},
                  key=lambda k: (backends.index(k[1]), k[0]))
    cases = sorted({(w, i) for _, w, i in timed}, key=lambda t: (_image_key(t[1]),
                                                                 _WHAT.index(t[0])))
    by_key = {(c.series.index, c.backend, w, i): c for c, w, i in timed}

    def label(key):
        si, b = key
        s = report.series[si]
        return s.backend_label(b) + ((" — " + s.label) if multi else "")

    out = ['<section><h2 id="image">Images from a registry</h2>',
           '<p class="note">Each backend pulls images isobench built and pushed to the '
           'registry on this host\'s loopback: <b>small</b> (the guest userland in three '
           'layers: base, tools, agent) and <b>padded</b> (the same with an incompressible '
           'layer added). A cold pull starts from an empty layer store (the backend\'s own: '
           'Docker\'s, or isobench\'s content-addressed store for the native runtime and the '
           'OCI runtime, where every layer is verified against its digest before it is '
           'unpacked); a warm pull finds every layer present. The start of the pulled image '
           'is create → ready from its layers; the cold start is the whole path on an empty '
           'store. Each round runs every case once, backends interleaved.</p>']
    vm_cases = next((s.context.get("bench.image.vm_cases") for s in report.series
                     if s.context.get("bench.image.vm_cases")), None)
    if vm_cases:
        out.append('<p class="note">VMs: %s.</p>' % esc(vm_cases))
    if keys:
        out.append(report.add_figure(plot_times(report, keys, cases, by_key, label), "image"))
        headers = (["case", "image", "backend"] + (["series"] if multi else []) +
                   ["n", "median", "95% CI"] + (["vs " + esc(report.series[0].label)]
                                                if multi else []) +
                   ["fetch", "verify", "unpack", "fetched", "fetch rate", "layers fetched / "
                    "unpacked"])
        rows, classes = [], {}
        for what, image in cases:
            for key in keys:
                cell = by_key.get(key + (what, image))
                if cell is None:
                    continue
                si, b = key
                if report.is_reference(b):
                    classes[len(rows)] = "reference"
                row = [esc(_WHAT_TEXT[what]).replace(" ", "\u00a0"), esc(image),
                       esc(report.series[si].backend_label(b))]
                if multi:
                    row.append(esc(report.series[si].label))
                if not cell.samples:
                    row += failed_cells(cell, 7 + (1 if multi else 0))
                    rows.append(row)
                    continue
                med, lo, hi = report.median_ci(cell.samples)
                row += [str(len(cell.samples)), "<b>%s</b>" % fmt_time(med),
                        "%s – %s" % (fmt_time(lo), fmt_time(hi)) if math.isfinite(lo) else "–"]
                if multi:
                    row.append("" if si == 0 else comparison_cell(report.verdict(cell)))
                fetch, fetched = _counter(cell, "fetch_s"), _counter(cell, "fetched_bytes")
                layers = (_counter(cell, "layers_fetched"), _counter(cell, "layers_unpacked"))
                row += [fmt_time(fetch), fmt_time(_counter(cell, "verify_s")),
                        fmt_time(_counter(cell, "unpack_s")), _mb(fetched),
                        bw_text(fetched / fetch) if fetch > 0 and math.isfinite(fetched)
                        else "–",
                        " / ".join(fmt_number(v) for v in layers)
                        if all(math.isfinite(v) for v in layers) else "–"]
                rows.append(row)
        out.append(table(headers, rows, classes, numeric_from=4 if multi else 3))
        out.append('<p class="note">fetch, verify and unpack are the layer store\'s own '
                   'phases (the native runtime and the OCI runtime); Docker pulls through its '
                   'API and reports the whole pull only. A dash is a figure the backend does '
                   'not give.</p>')
    if sharing:
        out.append("<h3>Layer sharing</h3>")
        out.append('<p class="note">N instances of each of two images that share their base '
                   'layer, started together: the bytes their layer directories hold on disk '
                   'and in the page cache (each file once: a layer shared by every instance '
                   'counts once), against 2N copies of the images. The page-cache figure '
                   'follows a cold pull, which has just written the layers. Report-only: '
                   'not gated.</p>')
        plot_rows, rows, classes = [], [], {}
        for c, n in sorted(sharing, key=lambda t: (backends.index(t[0].backend),
                                                   t[0].series.index)):
            lab = c.series.backend_label(c.backend) + ((" — " + c.series.label) if multi
                                                       else "")
            if report.is_reference(c.backend):
                classes[len(rows)] = "reference"
            row = [esc(lab), str(n)]
            if not c.samples:
                rows.append(row + failed_cells(c, 6))
                continue
            disk = (_counter(c, "disk_bytes"), _counter(c, "disk_copies_bytes"))
            cache = (_counter(c, "cache_bytes"), _counter(c, "cache_copies_bytes"))
            plot_rows.append((lab, backend_color(report, c.backend), n,
                              {"disk": disk, "cache": cache}))

            def saved(pair):
                return ("%.0f%%" % (100 * (1 - pair[0] / pair[1]))
                        if all(math.isfinite(v) for v in pair) and pair[1] > 0 else "–")
            rows.append(row + [str(len(c.samples)), fmt_time(median_of(c.samples)),
                               _mb(disk[0]), _mb(disk[1]), saved(disk), _mb(cache[0]),
                               _mb(cache[1]), saved(cache)])
        if plot_rows:
            out.append(report.add_figure(plot_sharing(report, plot_rows), "image_sharing"))
        out.append(table(["backend", "N per image", "n", "start of the 2N", "disk, shared", "disk, 2N copies",
                          "saved", "page cache, shared", "page cache, 2N copies", "saved"],
                         rows, classes, numeric_from=1))
    _, summary = family_table(report, "Image")
    out.append("</section>")
    return "".join(out), summary
