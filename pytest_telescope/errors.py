"""Errors a user can act on. pytest shows them as one line, not a traceback."""

from __future__ import annotations


class TelescopeError(Exception):
    """Base class: the message alone tells the user what is wrong and where."""


class ScenarioError(TelescopeError):
    """A scenario YAML file is malformed: names the file and the key."""

    def __init__(self, path, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{self.path}: {key}: {problem}" if key else f"{self.path}: {problem}")


class ToolError(TelescopeError):
    """A tool could not run, failed, or printed something we cannot read.

    Names the command and shows the first lines of what it printed.
    """

    HEAD_LINES = 8
    HEAD_CHARACTERS = 2000  # a tool may print one line of 50 MB: bounded in size too, not only in lines

    def __init__(self, command: list[str] | str, problem: str, output: str = ""):
        self.command = command if isinstance(command, str) else " ".join(command)
        self.problem = problem
        self.output = output
        head = "\n".join(output.strip()[: self.HEAD_CHARACTERS + 1].splitlines()[: self.HEAD_LINES])
        if len(head) > self.HEAD_CHARACTERS:
            head = head[: self.HEAD_CHARACTERS] + f" [... {len(output.strip()) - self.HEAD_CHARACTERS:,} more characters]"
        message = f"{self.command}: {problem}"
        if head:
            message += "\n" + "\n".join("    " + line for line in head.splitlines())
        super().__init__(message)


class ProvisionError(TelescopeError):
    """Creating, validating or destroying a target failed."""
