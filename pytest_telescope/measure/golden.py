"""The golden signals: the USE measurements (utilization, saturation, errors) taken on every benchmark."""

from pytest_telescope.measure.query import Measurement
from pytest_telescope.samples import HIGHER, LOWER

GOLDEN_SIGNALS: tuple[Measurement, ...] = (
    Measurement(
        "cpu_utilization",
        '100 * (1 - avg by ($by) (rate(node_cpu_seconds_total{mode="idle"}[$rate_interval])))',
        "avg",
        "%",
        LOWER,
        "share of CPU time not idle, over all CPUs",
    ),
    Measurement(
        "cpu_saturation",
        "100 * sum by ($by) (rate(node_pressure_cpu_waiting_seconds_total[$rate_interval]))",
        "avg",
        "%",
        LOWER,
        "share of time some task waited for a CPU (PSI cpu some)",
    ),
    Measurement(
        "memory_utilization",
        "100 * (1 - sum by ($by) (node_memory_MemAvailable_bytes) / sum by ($by) (node_memory_MemTotal_bytes))",
        "max",
        "%",
        LOWER,
        "memory in use, not available to new work",
    ),
    Measurement(
        "memory_saturation",
        "100 * sum by ($by) (rate(node_pressure_memory_waiting_seconds_total[$rate_interval]))",
        "avg",
        "%",
        LOWER,
        "share of time some task stalled on memory: reclaim, swap-in, refaults (PSI memory some)",
    ),
    Measurement(
        "memory_oom_kills",
        "sum by ($by) (rate(node_vmstat_oom_kill[$rate_interval]))",
        "max",
        "1/s",
        LOWER,
        "processes killed by the kernel for lack of memory",
    ),
    Measurement(
        "disk_io_utilization",
        "100 * max by ($by) (rate(node_disk_io_time_seconds_total[$rate_interval]))",
        "avg",
        "%",
        LOWER,
        "share of time the busiest block device had I/O in flight",
    ),
    Measurement(
        "disk_saturation",
        "max by ($by) (rate(node_disk_io_time_weighted_seconds_total[$rate_interval]))",
        "avg",
        "count",
        LOWER,
        "average number of requests queued or in flight on the busiest device",
    ),
    Measurement(
        "disk_read_latency",
        "1000 * sum by ($by) (rate(node_disk_read_time_seconds_total[$rate_interval]))"
        " / sum by ($by) (rate(node_disk_reads_completed_total[$rate_interval]))",
        "avg",
        "ms",
        LOWER,
        "average time a read took, queueing included",
    ),
    Measurement(
        "disk_write_latency",
        "1000 * sum by ($by) (rate(node_disk_write_time_seconds_total[$rate_interval]))"
        " / sum by ($by) (rate(node_disk_writes_completed_total[$rate_interval]))",
        "avg",
        "ms",
        LOWER,
        "average time a write took, queueing included",
    ),
    Measurement(
        "disk_read_throughput",
        "sum by ($by) (rate(node_disk_read_bytes_total[$rate_interval])) / 2^20",
        "avg",
        "MiB/s",
        HIGHER,
        "bytes read from block devices",
    ),
    Measurement(
        "disk_write_throughput",
        "sum by ($by) (rate(node_disk_written_bytes_total[$rate_interval])) / 2^20",
        "avg",
        "MiB/s",
        HIGHER,
        "bytes written to block devices",
    ),
    Measurement(
        "network_receive_throughput",
        "8 * sum by ($by) (rate(node_network_receive_bytes_total[$rate_interval])) / 1e6",
        "avg",
        "Mbit/s",
        HIGHER,
        "bits received on the network devices",
    ),
    Measurement(
        "network_transmit_throughput",
        "8 * sum by ($by) (rate(node_network_transmit_bytes_total[$rate_interval])) / 1e6",
        "avg",
        "Mbit/s",
        HIGHER,
        "bits sent on the network devices",
    ),
    Measurement(
        "network_drops",
        "sum by ($by) (rate(node_network_receive_drop_total[$rate_interval])"
        " + rate(node_network_transmit_drop_total[$rate_interval]))",
        "max",
        "packets/s",
        LOWER,
        "packets the devices dropped (full rings or backlogs)",
    ),
    Measurement(
        "network_errors",
        "sum by ($by) (rate(node_network_receive_errs_total[$rate_interval])"
        " + rate(node_network_transmit_errs_total[$rate_interval]))",
        "max",
        "packets/s",
        LOWER,
        "packets the devices received or sent with errors",
    ),
    Measurement(
        "network_tcp_retransmits",
        "sum by ($by) (rate(node_netstat_Tcp_RetransSegs[$rate_interval]))",
        "avg",
        "segments/s",
        LOWER,
        "TCP segments sent again: loss or congestion on the path",
    ),
)
