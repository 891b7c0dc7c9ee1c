#!/usr/bin/python3
"""Checks that the project's includes point down the layers.

Every quoted include in production code is written from the repository root, so its first path
component names the layer it reaches into. A file may include its own layer and the layers
below it; siblings on one level must not know each other. Tests and benchmarks sit above
everything and may include any layer, but also only from the root.

    check_layers.py ROOT        prints every offending include as file:line and exits 1
"""
import pathlib
import re
import sys

# Bottom to top. Folders on one rank are siblings that must not include each other.
LAYERS = [
    ["infra"],
    ["config", "store"],
    ["engine"],
    ["projections", "outbox"],
    ["daemon"],
]
RANK = {folder: rank for rank, folders in enumerate(LAYERS) for folder in folders}
# Above every layer: may include any of them.
TOP = ["tests", "bench"]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE_SUFFIXES = {".cpp", ".hpp", ".h", ".cc"}


def layer_of(path: str) -> str:
    return path.split("/", 1)[0]


def check_include(source: str, target: str, local_headers: set[str]) -> str | None:
    """Returns why `source` must not include `target`, or None when it may."""
    from_layer = layer_of(source)
    to_layer = layer_of(target)
    if from_layer in TOP:
        # Test helpers beside the test may be included by their bare name.
        if to_layer in RANK or to_layer in TOP or target in local_headers:
            return None
        return f'"{target}" is not written from the repository root'
    if to_layer not in RANK:
        return f'"{target}" is not written from the repository root (no layer folder "{to_layer}")'
    if to_layer == from_layer:
        return None
    if RANK[to_layer] == RANK[from_layer]:
        return f"{from_layer}/ and {to_layer}/ are siblings and must not know each other"
    if RANK[to_layer] > RANK[from_layer]:
        return f"{from_layer}/ must not include {to_layer}/, a layer above it"
    return None


def check_tree(root: pathlib.Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if layer_of(relative) not in RANK and layer_of(relative) not in TOP:
            continue  # build trees and anything that is not the project's code
        if relative.startswith(("build", ".")):
            continue
        local_headers = {p.name for p in path.parent.iterdir()}
        if layer_of(relative) in TOP:
            local_headers |= {p.name for p in (root / "tests" / "support").glob("*.hpp")}
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            why = check_include(relative, match.group(1), local_headers)
            if why:
                problems.append(f"{relative}:{number}: {why}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    root = pathlib.Path(argv[1])
    if not root.is_dir():
        print(f"check_layers: {root} is not a directory", file=sys.stderr)
        return 2
    problems = check_tree(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layers: {len(problems)} include(s) point the wrong way "
              "(layers, bottom to top: " + " < ".join("/".join(l) for l in LAYERS) + ")")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
