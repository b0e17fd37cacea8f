"""Tests of the image section."""
import os
import re
import unittest

from .report_case import ReportCase, write_json

_BACKENDS = ("container", "runc", "docker")


def _record(name, seconds, counters, error=None):
    if error:
        return {"name": name + "/iterations:1/manual_time", "run_name": name,
                "run_type": "iteration", "error_occurred": True, "error_message": error,
                "iterations": 0, "real_time": 0, "cpu_time": 0, "time_unit": "us"}
    rec = {"name": name + "/iterations:1/manual_time", "run_name": name, "run_type": "iteration",
           "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 1,
           "real_time": seconds * 1e6, "cpu_time": 1.0, "time_unit": "us", "label": ""}
    rec.update(counters)
    return rec


def image_results(rounds=9, cold_small_s=0.380, runc_padded_error=None, sharing=True):
    """A run of the Image family on three backends: `rounds` rounds of every case (small
    noise), the container's cold pull of the small image at `cold_small_s`, the layer
    store's phases for the native runtime and runc, Docker's whole pulls only."""
    benchmarks = []
    times = {  # backend -> what -> (small, padded)
        "container": {"pull:cold": (cold_small_s, 2.63), "pull:warm": (0.029, 0.031),
                      "start:warm": (0.0052, 0.0055), "start:cold": (0.397, 2.20)},
        "runc": {"pull:cold": (0.346, 2.54), "pull:warm": (0.031, 0.033),
                 "start:warm": (0.048, 0.050), "start:cold": (0.444, 2.14)},
        "docker": {"pull:cold": (0.760, 3.24), "pull:warm": (0.015, 0.016),
                   "start:warm": (0.384, 0.390), "start:cold": (1.118, 4.10)},
    }
    for k in range(rounds):
        noise = 1.0 + 0.01 * ((k * 7) % 5 - 2)
        for backend in _BACKENDS:
            for what, (small, padded) in times[backend].items():
                for image, t in (("small", small), ("padded", padded)):
                    name = "Image/%s/%s/image:%s" % (backend, what, image)
                    if backend == "runc" and what == "pull:cold" and image == "padded" \
                            and runc_padded_error:
                        benchmarks.append(_record(name, 0, {}, error=runc_padded_error))
                        continue
                    counters = {}
                    if what.startswith("pull") and backend != "docker":
                        fetched = 279e6 if image == "padded" else 26e6
                        counters = {"layers": 3 if image == "small" else 4,
                                    "layers_fetched": 3 if what == "pull:cold" else 0,
                                    "layers_unpacked": 3 if what == "pull:cold" else 0}
                        if what == "pull:cold":
                            counters.update({"fetched_bytes": fetched,
                                             "fetch_s": 1.57 if image == "padded" else 0.116,
                                             "verify_s": 0.007, "unpack_s": 0.230})
                    benchmarks.append(_record(name, t * noise, counters))
            if sharing:
                benchmarks.append(_record("Image/%s/sharing/n:8" % backend, 0.5 * noise, {
                    "n_per_image": 8, "disk_bytes": 55e6, "disk_copies_bytes": 457e6,
                    "disk_saved_fraction": 1 - 55 / 457, "cache_bytes": 100e6,
                    "cache_copies_bytes": 400e6, "cache_saved_fraction": 0.75}))
    context = {"run.id": "r1", "env.kernel": "6.1", "suite.profile": "default",
               "env.hostname": "h1",
               "bench.image.vm_cases": "a VM boots the pulled layers as its initramfs"}
    for b in _BACKENDS:
        context["backend.%s.kind" % b] = "container"
        context["backend.%s.role" % b] = "reference" if b == "runc" else "product"
        context["backend.%s.reference" % b] = "true" if b == "runc" else "false"
    return {"context": context, "benchmarks": benchmarks}


def _section(page):
    m = re.search(r'<h2 id="image">.*?</section>', page, re.S)
    return m.group(0) if m else ""


class ImageSectionTest(ReportCase):
    def test_pull_and_start_bars_phases_and_sharing(self):
        _, page, summary = self.render(write_json(self.tmp, "image.json", image_results()))
        section = _section(page)
        self.assertIn("Images from a registry", section)
        self.assertTrue(os.path.exists(os.path.join(self.out, "image.png")))
        self.assertTrue(os.path.exists(os.path.join(self.out, "image_sharing.png")))
        # The container's cold pull of the small image, its phases and its fetch rate
        # (26 MB in 116 ms: 224 MB/s; 279 MB in 1.57 s: 178 MB/s).
        self.assertIn("<b>380 ms</b>", section)
        self.assertIn("116 ms", section)
        self.assertIn("224 MB/s", section)
        self.assertIn("178 MB/s", section)
        self.assertIn("3 / 3", section)  # layers fetched / unpacked
        # 55 MB for 16 instances against 457 MB of copies: 88 % saved on every backend;
        # the page cache 100 MB against 400 MB: 75 %.
        self.assertEqual(section.count('"num">88%</td>'), 3)
        self.assertEqual(section.count('"num">75%</td>'), 3)
        # Its rows are not listed again in the generic table, and are in the summary.
        self.assertNotIn("<code>fetch_s</code>", page)
        self.assertIn("Image/pull:cold/image:small", summary)
        self.assertIn("VMs: a VM boots the pulled layers as its initramfs.", section)

    def test_a_failed_row_says_why(self):
        data = image_results(runc_padded_error="runc: pull: registry refused")
        _, page, _ = self.render(write_json(self.tmp, "failed.json", data))
        self.assertIn('title="runc: pull: registry refused">failed', _section(page))

    def test_without_sharing_rows_no_sharing_table(self):
        _, page, _ = self.render(write_json(self.tmp, "noshare.json",
                                            image_results(sharing=False)))
        self.assertNotIn("Layer sharing", page)
        self.assertFalse(os.path.exists(os.path.join(self.out, "image_sharing.png")))

    def test_an_ab_of_a_slower_cold_pull_is_a_regression(self):
        base = write_json(self.tmp, "base.json", image_results())
        new = write_json(self.tmp, "slow.json", image_results(cold_small_s=0.950))
        _, page, _ = self.render(base, new)
        section = _section(page)
        # The container's cold pull 2.5× slower in every round: the gate's own verdict.
        row = re.search(r"pull,\xa0empty\xa0store</td><td>small</td><td>container</td>"
                        r"<td>slow</td>.*?</tr>", section, re.S)
        self.assertIsNotNone(row, section)
        self.assertIn("v-regressed", row.group(0))
        self.assertIn("+150.0%", row.group(0))


if __name__ == "__main__":
    unittest.main()
