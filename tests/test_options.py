"""The plugin's options as a run reads them."""

import pytest

from pytest_telescope.options import terraform_dir
from pytest_telescope.provision.terraform import SHIPPED_MODULES, terraform_module


def test_a_terraform_dir_that_was_given_and_does_not_exist_is_a_usage_error(pytester):
    given = r"^--telescope-terraform-dir terraform-modulez: no such directory \(.*/terraform-modulez\)$"
    with pytest.raises(pytest.UsageError, match=given):
        terraform_dir(pytester.parseconfig("--telescope-terraform-dir", "terraform-modulez"))
    pytester.makeini("[pytest]\ntelescope_terraform_dir = terraform-modulez\n")
    with pytest.raises(pytest.UsageError, match=r"^telescope_terraform_dir = terraform-modulez: no such directory"):
        terraform_dir(pytester.parseconfig())


def test_a_cloud_without_a_module_of_the_user_s_own_gets_the_shipped_one(pytester):
    default = terraform_dir(pytester.parseconfig())  # ./terraform, which this project does not have
    assert terraform_module(default, "local") == SHIPPED_MODULES / "local"
    pytester.path.joinpath("modules", "aws").mkdir(parents=True)
    own = terraform_dir(pytester.parseconfig("--telescope-terraform-dir", "modules"))
    assert terraform_module(own, "aws") == pytester.path / "modules" / "aws"
    assert terraform_module(own, "local") == SHIPPED_MODULES / "local"
