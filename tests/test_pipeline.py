"""The Azure DevOps pipeline: it parses, and it calls the real tasks, inputs, options and commands."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from pytest_telescope import cli, plugin, scenario

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


def test_benchmark_step_runs_pytest_on_the_cloud_marker_with_the_run_id(steps):
    script = step_named(steps, "Benchmarks")["script"]
    assert script.startswith(".venv/bin/python -m pytest benchmarks/ -m ${{ parameters.cloud }} ")
    argv = words(script)
    assert option_value(argv, "--telescope-run-id") == "${{ parameters.runId }}"
    assert option_value(argv, "--telescope-publish") == "${{ parameters.publish }}"
    assert script.endswith(" ${{ parameters.pytestArgs }}")


def test_benchmark_step_uses_only_options_the_plugin_has(steps):
    used = set(re.findall(r"--telescope-([a-z-]+)", step_named(steps, "Benchmarks")["script"]))
    assert used <= set(plugin.OPTIONS), f"not options of the plugin: {used - set(plugin.OPTIONS)}"


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
