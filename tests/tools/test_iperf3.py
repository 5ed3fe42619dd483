import json
from pathlib import Path

import pytest

from pytest_telescope.errors import ToolError
from pytest_telescope.samples import Sample
from pytest_telescope.tools import iperf3

DATA = Path(__file__).parents[1] / "data"
RECORDINGS = ["tcp", "tcp-p2", "tcp-reverse", "udp", "tcp-reverse-server-output", "tcp-bidir", "udp-bidir"]


def text(name: str) -> str:
    return (DATA / f"iperf3-3.12-{name}.json").read_text()


def raw(name: str) -> dict:
    return json.loads(text(name))


def by_metric(samples: list[Sample]) -> dict[str, Sample]:
    result = {sample.metric: sample for sample in samples}
    assert len(result) == len(samples), "a metric was emitted twice"
    return result


# Command building


def test_server_command():
    assert iperf3.server_command(5201) == ["iperf3", "-s", "-1", "-J", "-p", "5201"]


def test_server_command_with_bind_address():
    assert iperf3.server_command(15201, bind="10.200.0.1") == [
        "iperf3", "-s", "-1", "-J", "-p", "15201", "-B", "10.200.0.1",
    ]


def test_client_command_defaults():
    assert iperf3.command("10.0.0.2", 5201) == [
        "iperf3", "-c", "10.0.0.2", "-p", "5201", "-t", "10", "-P", "1", "--json",
    ]


def test_client_command_with_every_option():
    command = iperf3.command(
        "server.example", 20003, protocol="udp", duration=60, parallel=4, bandwidth="500M", reverse=True, omit=2
    )
    assert command == [
        "iperf3", "-c", "server.example", "-p", "20003", "-t", "60", "-P", "4", "--json",
        "-u", "-b", "500M", "-R", "--get-server-output", "-O", "2",
    ]


def test_client_command_bidir_asks_for_the_server_s_output():
    assert iperf3.command("10.0.0.2", 5201, bidir=True)[-2:] == ["--bidir", "--get-server-output"]


@pytest.mark.parametrize(
    "bandwidth, argument", [(1_000_000_000, "1000000000"), (0, "0"), ("1.5G", "1.5G"), ("10m", "10m")]
)
def test_client_command_bandwidth(bandwidth, argument):
    command = iperf3.command("10.0.0.2", 5201, bandwidth=bandwidth)
    assert command[-2:] == ["-b", argument]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"protocol": "sctp"}, "protocol must be one of tcp, udp, got 'sctp'"),
        ({"protocol": "TCP"}, "protocol must be one of tcp, udp"),
        ({"duration": 0}, "duration must be a whole number of seconds > 0, got 0"),
        ({"duration": -5}, "duration must be"),
        ({"duration": 2.5}, "duration must be"),
        ({"parallel": 0}, "parallel must be an integer >= 1, got 0"),
        ({"parallel": "2"}, "parallel must be"),
        ({"omit": -1}, "omit must be a whole number of seconds >= 0, got -1"),
        ({"bandwidth": "fast"}, "bandwidth must be bits/s as an int >= 0 or a string like \"500M\", got 'fast'"),
        ({"bandwidth": -1}, "bandwidth must be"),
        ({"bandwidth": True}, "bandwidth must be"),
        ({"reverse": True, "bidir": True}, "bidir and reverse exclude each other"),
    ],
)
def test_client_command_rejects_bad_arguments(options, message):
    with pytest.raises(ValueError) as error:
        iperf3.command("10.0.0.2", 5201, **options)
    assert message in str(error.value)


@pytest.mark.parametrize("port", [0, 65536, -1, "5201"])
def test_commands_reject_bad_port(port):
    with pytest.raises(ValueError, match="port must be an integer from 1 to 65535"):
        iperf3.server_command(port)
    with pytest.raises(ValueError, match="port must be an integer from 1 to 65535"):
        iperf3.command("10.0.0.2", port)


# Parsing real recordings


@pytest.mark.parametrize("name", ["tcp", "tcp-p2"])
def test_parse_tcp(name):
    data = raw(name)
    end = data["end"]
    samples = by_metric(iperf3.parse(text(name)))

    rtts = [stream["sender"]["mean_rtt"] for stream in end["streams"]]
    assert len(rtts) == data["start"]["test_start"]["num_streams"]
    expected = {
        "throughput_sent": (end["sum_sent"]["bits_per_second"] / 1e6, "Mbit/s"),
        "throughput_received": (end["sum_received"]["bits_per_second"] / 1e6, "Mbit/s"),
        "retransmits": (end["sum_sent"]["retransmits"], "count"),
        "rtt_mean": (sum(rtts) / len(rtts), "us"),
        "cpu_local": (end["cpu_utilization_percent"]["host_total"], "%"),
        "cpu_remote": (end["cpu_utilization_percent"]["remote_total"], "%"),
    }
    assert samples.keys() == expected.keys()
    for metric, (value, unit) in expected.items():
        assert samples[metric] == Sample(metric, pytest.approx(value), unit, {})
    assert samples["throughput_sent"].value > 100  # loopback moves gigabits: a wrong scale would show


def test_parse_tcp_reverse_has_no_rtt():
    end = raw("tcp-reverse")["end"]
    # In reverse mode the client receives: iperf3 marks the sender side remote and gives RTTs as 0.
    assert end["streams"][0]["sender"]["sender"] is False
    assert end["streams"][0]["sender"]["mean_rtt"] == 0
    samples = by_metric(iperf3.parse(text("tcp-reverse")))

    assert "rtt_mean" not in samples
    assert samples["throughput_sent"].value == pytest.approx(end["sum_sent"]["bits_per_second"] / 1e6)
    assert samples["throughput_received"].value == pytest.approx(end["sum_received"]["bits_per_second"] / 1e6)
    assert samples["retransmits"].value == end["sum_sent"]["retransmits"]
    assert samples["cpu_local"].value == pytest.approx(end["cpu_utilization_percent"]["host_total"])


def test_parse_tcp_reverse_takes_the_rtt_from_the_server_s_output():
    data = raw("tcp-reverse-server-output")
    server_streams = data["server_output_json"]["end"]["streams"]
    assert data["end"]["streams"][0]["sender"]["mean_rtt"] == 0  # the client only receives
    samples = by_metric(iperf3.parse(text("tcp-reverse-server-output")))

    rtts = [stream["sender"]["mean_rtt"] for stream in server_streams if stream["sender"]["sender"]]
    assert rtts and all(rtts)
    assert samples["rtt_mean"] == Sample("rtt_mean", pytest.approx(sum(rtts) / len(rtts)), "us", {})
    assert samples["throughput_received"].value == pytest.approx(data["end"]["sum_received"]["bits_per_second"] / 1e6)


def test_parse_tcp_bidir_labels_both_directions():
    data = raw("tcp-bidir")
    end = data["end"]
    samples = iperf3.parse(text("tcp-bidir"))
    directions = {direction: {s.metric: s for s in samples if s.labels.get("direction") == direction}
                  for direction in ("forward", "reverse")}

    for direction, suffix in (("forward", ""), ("reverse", "_bidir_reverse")):
        got = directions[direction]
        assert got.keys() == {"throughput_sent", "throughput_received", "retransmits", "rtt_mean"}
        assert got["throughput_received"].value == pytest.approx(end[f"sum_received{suffix}"]["bits_per_second"] / 1e6)
        assert got["retransmits"].value == end[f"sum_sent{suffix}"]["retransmits"]
    # The forward RTT is the client's own sending sockets', the reverse one the server's.
    client = [s["sender"]["mean_rtt"] for s in end["streams"] if s["sender"]["sender"]]
    server = [s["sender"]["mean_rtt"] for s in data["server_output_json"]["end"]["streams"] if s["sender"]["sender"]]
    assert len(client) == len(server) == 2
    assert directions["forward"]["rtt_mean"].value == pytest.approx(sum(client) / 2)
    assert directions["reverse"]["rtt_mean"].value == pytest.approx(sum(server) / 2)
    assert {s.metric for s in samples if "direction" not in s.labels} == {"cpu_local", "cpu_remote"}


def test_parse_udp_bidir_labels_both_directions():
    end = raw("udp-bidir")["end"]
    samples = iperf3.parse(text("udp-bidir"))
    reverse = {s.metric: s for s in samples if s.labels.get("direction") == "reverse"}

    assert reverse["jitter"].value == pytest.approx(end["sum_received_bidir_reverse"]["jitter_ms"])
    assert reverse["packets"].value == end["sum_received_bidir_reverse"]["packets"]
    assert len([s for s in samples if s.metric == "jitter"]) == 2


def test_parse_udp():
    data = raw("udp")
    end = data["end"]
    assert data["start"]["test_start"]["protocol"] == "UDP"
    samples = by_metric(iperf3.parse(text("udp")))

    received = end["sum_received"]
    expected = {
        "throughput_sent": (end["sum_sent"]["bits_per_second"] / 1e6, "Mbit/s"),
        "throughput_received": (received["bits_per_second"] / 1e6, "Mbit/s"),
        "jitter": (received["jitter_ms"], "ms"),
        "lost_percent": (received["lost_percent"], "%"),
        "lost_packets": (received["lost_packets"], "count"),
        "packets": (received["packets"], "count"),
        "cpu_local": (end["cpu_utilization_percent"]["host_total"], "%"),
        "cpu_remote": (end["cpu_utilization_percent"]["remote_total"], "%"),
    }
    assert samples.keys() == expected.keys()
    for metric, (value, unit) in expected.items():
        assert samples[metric] == Sample(metric, pytest.approx(value), unit, {})
    # Recorded at -b 200M: the sender's rate is the target.
    assert samples["throughput_sent"].value == pytest.approx(200, rel=0.05)
    assert samples["jitter"].value > 0  # sum_sent has jitter 0: the jitter must be the receiver's


def test_parse_udp_before_iperf3_3_11_uses_sum():
    data = raw("udp")
    del data["end"]["sum_sent"], data["end"]["sum_received"]
    total = data["end"]["sum"]
    samples = by_metric(iperf3.parse(json.dumps(data)))

    assert "throughput_received" not in samples
    sent = total["bits_per_second"] / 1e6
    assert samples["throughput_sent"] == Sample("throughput_sent", pytest.approx(sent), "Mbit/s")
    assert samples["jitter"].value == pytest.approx(total["jitter_ms"])
    assert samples["lost_percent"].value == total["lost_percent"]
    assert samples["lost_packets"].value == total["lost_packets"]
    assert samples["packets"].value == total["packets"]


def test_parse_tcp_without_retransmits_or_rtt():
    data = raw("tcp")
    del data["end"]["sum_sent"]["retransmits"]
    for stream in data["end"]["streams"]:
        del stream["sender"]["mean_rtt"]
    samples = by_metric(iperf3.parse(json.dumps(data)))

    assert samples.keys() == {"throughput_sent", "throughput_received", "cpu_local", "cpu_remote"}


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_metric_is_declared(name):
    samples = iperf3.parse(text(name))
    assert samples
    for sample in samples:
        assert sample.unit == iperf3.METRICS[sample.metric].unit
        assert isinstance(sample.value, float)


# Error paths


def test_parse_error_recording():
    # Recorded from a client with no server; iperf3 3.12 exited 0 here.
    output = text("error")
    command = iperf3.command("127.0.0.1", 15301, duration=2)
    with pytest.raises(ToolError) as error:
        iperf3.parse(output, command)
    assert error.value.problem == "iperf3 reported: unable to connect to server: Connection refused"
    assert error.value.command == " ".join(command)
    assert error.value.output == output


@pytest.mark.parametrize(
    "output, problem",
    [
        ("", "no output; expected iperf3 --json output"),
        (" \n", "no output; expected iperf3 --json output"),
        ("iperf3: error - unable to connect to server", "expected iperf3 --json output, got invalid JSON"),
        ("[1, 2]", "expected iperf3 --json output, got JSON that is not an object"),
    ],
)
def test_parse_unreadable_output(output, problem):
    with pytest.raises(ToolError) as error:
        iperf3.parse(output)
    assert error.value.problem.startswith(problem)


def test_parse_truncated_output():
    output = text("tcp")
    with pytest.raises(ToolError, match="expected iperf3 --json output, got invalid JSON"):
        iperf3.parse(output[: len(output) // 2])


@pytest.mark.parametrize(
    "name, path, problem",
    [
        ("tcp", ["end", "sum_received"], "no end.sum_received in iperf3 --json output"),
        ("tcp", ["end", "cpu_utilization_percent", "remote_total"], "no end.cpu_utilization_percent.remote_total in"),
        ("tcp", ["start", "test_start"], "no start.test_start in iperf3 --json output"),
        ("udp", ["end", "sum_received", "jitter_ms"], "no end.sum_received.jitter_ms in iperf3 --json output"),
    ],
)
def test_parse_missing_key_names_its_path(name, path, problem):
    data = raw(name)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(ToolError) as error:
        iperf3.parse(json.dumps(data))
    assert error.value.problem.startswith(problem)


def test_parse_value_that_is_not_a_number():
    data = raw("tcp")
    data["end"]["sum_sent"]["bits_per_second"] = "fast"
    with pytest.raises(ToolError) as error:
        iperf3.parse(json.dumps(data))
    assert error.value.problem == "end.sum_sent.bits_per_second is not a number in iperf3 --json output: 'fast'"
