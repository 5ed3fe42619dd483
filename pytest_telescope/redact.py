"""Keep secrets out of everything the plugin writes: results, JUnit, terminal lines.

Secrets are the values of credential-like environment variables, of
Terraform outputs marked sensitive, and the credentials of a kubeconfig. Every text the plugin writes passes
through ``Redactor.scrub``.
"""

from __future__ import annotations

import json
import re
from typing import Mapping
from xml.sax.saxutils import escape

import yaml

REDACTED = "[REDACTED]"
SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|ACCESS_KEY|CONNECTION_STRING|API_KEY|SAS_", re.I
)
CREDENTIAL_KEYS = ("token", "password", "client-key-data", "client-certificate-data")
MIN_LENGTH = 6  # shorter values ("1", "true") would redact ordinary text


class Redactor:
    def __init__(self):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern | None = None

    def add(self, value) -> None:
        """Treat ``value`` (and, for text, each of its lines) as a secret from now on."""
        for text in _strings(value):
            text = text.strip()
            if len(text) >= MIN_LENGTH:
                # Also as it reads once written into JSON or XML, where scrubbing happens.
                self._secrets.update({text, json.dumps(text)[1:-1], escape(text, {'"': "&quot;"})})
                self._pattern = None

    def add_environment(self, environ: Mapping[str, str]) -> None:
        for name, value in environ.items():
            if SECRET_NAME.search(name):
                self.add(value)

    def add_sensitive_outputs(self, outputs: Mapping[str, dict]) -> None:
        """Terraform outputs as in its state: ``{name: {"value": ..., "sensitive": bool}}``.

        Of a kubeconfig, only the credentials: its other lines ("kind: Config") are ordinary text.
        """
        for output in outputs.values():
            if output.get("sensitive"):
                value = output.get("value")
                credentials = kubeconfig_credentials(value) if isinstance(value, str) else None
                self.add(value if credentials is None else credentials)

    def add_kubeconfig(self, text: str) -> None:
        self.add(kubeconfig_credentials(text) or [])

    def scrub(self, text: str) -> str:
        if not self._secrets:
            return text
        if self._pattern is None:
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        return self._pattern.sub(REDACTED, text)


def kubeconfig_credentials(text: str) -> list[str] | None:
    """The credentials of every user of a kubeconfig, or None when ``text`` is not a kubeconfig.

    Only what is a credential: tokens, keys, passwords, and the secret-named
    settings of auth providers and exec plugins; not an exec plugin's
    ``AWS_PROFILE=default``, which would redact the word "default" everywhere.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(document, dict) or "users" not in document:
        return None
    users = document.get("users")
    found = []
    for entry in users if isinstance(users, list) else []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        found += [str(user[key]) for key in CREDENTIAL_KEYS if user.get(key)]
        provider = user.get("auth-provider")
        settings = provider.get("config") if isinstance(provider, dict) else None
        if isinstance(settings, dict):
            found += [str(value) for key, value in settings.items() if SECRET_NAME.search(key)]
        plugin = user.get("exec")
        variables = plugin.get("env") if isinstance(plugin, dict) else None
        for variable in variables if isinstance(variables, list) else []:
            if isinstance(variable, dict) and SECRET_NAME.search(str(variable.get("name", ""))):
                found.append(str(variable.get("value", "")))
    return found


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value, *value.splitlines()]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []
