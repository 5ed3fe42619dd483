"""Storage performance of the target's scratch directory, measured with fio."""

from pathlib import PurePosixPath

import pytest

from pytest_telescope.tools import fio

pytestmark = pytest.mark.scenario("fio.yaml")


def test_fio(target, case, record_samples):
    (host,) = target.endpoints("client")
    filename = str(PurePosixPath(host.scratch_dir) / f"fio-{case.id}.dat")
    timeout = case.params.get("runtime", 5) + 300
    result = host.run(fio.command(filename, **case.params), timeout=timeout)
    record_samples(fio.parse(result.stdout, result.argv))
