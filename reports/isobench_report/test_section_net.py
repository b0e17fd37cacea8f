"""Tests of the network section."""
import os
import unittest

from .report_case import ReportCase, write_json


def _record(name, time_us, counters, label="", error=None):
    rec = {"name": name + "/iterations:1/manual_time", "run_name": name, "run_type": "iteration",
           "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 1,
           "real_time": time_us, "cpu_time": 1.0, "time_unit": "us", "label": label}
    rec.update(counters)
    if error:
        rec = {"name": rec["name"], "run_name": name, "run_type": "iteration",
               "error_occurred": True, "error_message": error, "iterations": 0,
               "real_time": 0, "cpu_time": 0, "time_unit": "us"}
    return rec


def net_results(rounds=9, container_gbit=10.0, container_rtt_us=30.0, runc_error=None):
    """A run of the Net family: the host's loopback and a container's path to the host,
    `rounds` interleaved rounds of a stream and a TCP ping-pong (small noise)."""
    benchmarks = []
    for k in range(rounds):
        noise = 1.0 + 0.01 * ((k * 7) % 5 - 2)
        for backend, path, gbit, rtt in (("host", "loopback", 40.0, 12.0),
                                         ("container", "host", container_gbit, container_rtt_us)):
            bits = gbit * 1e9 * noise
            benchmarks.append(_record("Net/%s/%s:tcp_stream" % (backend, path),
                                      8.0 * 2 ** 20 / bits * 1e6, {"bits_per_s": bits}))
            p50 = rtt * 1e-6 * noise
            benchmarks.append(_record("Net/%s/%s:tcp_rr" % (backend, path), p50 * 1e6,
                                      {"rtt_p50_s": p50, "rtt_p99_s": 2.5 * p50,
                                       "transactions_per_s": 1.0 / p50}))
        benchmarks.append(_record("Net/runc/host:tcp_stream", 1.0, {},
                                  error=runc_error or "runc: iperf3 failed: refused"))
    return {"context": {"run.id": "r1", "env.kernel": "6.1", "suite.profile": "quick",
                        "backend.host.kind": "host", "backend.host.role": "floor",
                        "backend.container.kind": "container",
                        "backend.container.role": "product",
                        "backend.runc.kind": "container", "backend.runc.role": "reference"},
            "benchmarks": benchmarks}


class NetSectionTest(ReportCase):
    def test_throughput_and_round_trips_against_the_loopback_floor(self):
        _, page, summary = self.render(write_json(self.tmp, "net.json", net_results()))
        self.assertIn('<h2 id="net">Network</h2>', page)
        self.assertTrue(os.path.exists(os.path.join(self.out, "net.png")))
        # 10 Gbit/s over a 40 Gbit/s floor: 0.25×; 30 µs over 12 µs: 2.5×.
        self.assertTrue("10.0 Gbit/s" in page)
        self.assertTrue("0.25× <small>(95% CI" in page)
        self.assertTrue("2.50× <small>(95% CI" in page)
        # The floor's own rows carry no ratio; runc's failed stream says why.
        self.assertTrue('title="runc: iperf3 failed: refused">failed' in page)
        self.assertTrue("Net" in summary, summary)

    def test_connect_request_close_is_the_time_per_transaction(self):
        data = net_results()
        for k in range(9):
            for backend, path, tps in (("host", "loopback", 10000.0), ("container", "peer", 5000.0)):
                rate = tps * (1.0 + 0.01 * (k % 3))
                data["benchmarks"].append(_record(
                    "Net/%s/%s:tcp_crr" % (backend, path), 1e6 / rate,
                    {"transactions_per_s": rate, "request_p50_s": 40e-6,
                     "request_p99_s": 90e-6}))
        _, page, _ = self.render(write_json(self.tmp, "crr.json", data))
        self.assertIn("TCP\u00a0connect/request/close", page)
        self.assertIn("container\u00a0peer", page)
        # Half the floor's rate: twice its time per transaction.
        self.assertIn("2.00× <small>(95% CI", page)
        self.assertTrue("99.0 µs" in page)  # the floor: 1 / its median rate

    def test_same_as_the_floor_is_no_difference(self):
        data = net_results(container_gbit=40.0, container_rtt_us=12.0)
        _, page, _ = self.render(write_json(self.tmp, "same.json", data))
        self.assertTrue("no difference" in page)


if __name__ == "__main__":
    unittest.main()
