"""The session's Measurements: which targets a Prometheus may measure, and the pace of another's Prometheus."""

import time

from pytest_telescope.measure import Measurements
from pytest_telescope.measure.golden import GOLDEN_SIGNALS


class ClusterTargetDouble:
    def metrics_sources(self):
        return []  # a cluster's metrics are in its own Prometheus


def test_a_local_prometheus_never_measures_a_cluster():
    measurements = Measurements("local", say=lambda text: None)

    assert not measurements.available(ClusterTargetDouble())
    assert measurements._local is None  # nothing was started for it


def test_a_window_of_anothers_prometheus_steps_by_its_scrape_interval(prometheus):
    measurements = Measurements(prometheus.url, say=lambda text: None)
    end = time.time()
    assert measurements.available(ClusterTargetDouble())
    samples, problems = measurements.window([GOLDEN_SIGNALS[0]], end - 10, end)
    assert problems == [] and samples and measurements._intervals == {prometheus.url: prometheus.scrape_interval}
