"""Print a pip constraints file pinning every dependency of pyproject.toml at its declared floor."""

import re
import sys
import tomllib

with open(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml", "rb") as handle:
    project = tomllib.load(handle)["project"]
for requirement in project["dependencies"]:
    match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([0-9][^,;\s]*)", requirement)
    if not match:
        sys.exit(f"no floor to pin in {requirement!r}: declare each dependency as name>=version")
    name = re.sub(r"\[.*\]", "", match.group(1))
    print(f"{name}=={match.group(2)}")
