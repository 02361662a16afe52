"""Every installed binary has a man page, and the README's commands exist."""

import json
import os
import subprocess

from suite import ROOT

# Development helpers, not installed programs.
NOT_INSTALLED = {"suite-bench", "gen-imapd-conf-man"}


def binaries():
    meta = json.loads(subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
                                     cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    for pkg in meta["packages"]:
        for t in pkg["targets"]:
            if "bin" in t["kind"]:
                yield t["name"]


def test_every_binary_has_a_man_page():
    missing = [b for b in binaries() if b not in NOT_INSTALLED and not os.path.exists(os.path.join(ROOT, "man", f"{b}.8"))]
    assert not missing, f"no man/<name>.8 for {missing}"


def test_readme_starts_with_the_two_commands():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    head = text[: text.index("## ")]
    for cmd in ("scripts/dev-up", "scripts/test"):
        assert cmd in head
        assert os.access(os.path.join(ROOT, cmd), os.X_OK)
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert "scripts/test" in f.read()
