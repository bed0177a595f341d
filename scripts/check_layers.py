#!/usr/bin/env python3
"""The layering check: run by ctest, fails on an upward include.

Two rules, both read from the build itself (nothing here lists layers):
  1. Folder = target: every source file of one folder is compiled into the
     same target (compile_commands.json says which).
  2. A file may include a header of its own target or of a target its
     target links, directly or through others (link_graph.txt, written by
     CMake from the targets' link libraries). An include of a layer above
     fails, even where the final program would still link.

Usage: scripts/check_layers.py BUILD_DIR
"""

import json
import os
import re
import sys
from collections import defaultdict

ROOTS = ("engine", "fs", "web", "cli")
INCLUDE = re.compile(r'^\s*#\s*include\s+"((?:engine|fs|web|cli)/[^"]+)"',
                     re.MULTILINE)
TARGET_OF_OBJECT = re.compile(r"CMakeFiles/([^/]+)\.dir/")


def read_link_graph(build):
    graph = {}
    with open(os.path.join(build, "link_graph.txt")) as f:
        for line in f:
            target, _, deps = line.partition(":")
            if target.strip():
                graph[target.strip()] = deps.split()
    return graph


def closure(graph, target):
    seen, todo = set(), [target]
    while todo:
        t = todo.pop()
        if t not in seen:
            seen.add(t)
            todo.extend(graph.get(t, []))
    return seen


def folder_targets(source, build):
    """Maps each folder (relative to the source tree) to its one target."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        commands = json.load(f)
    targets = defaultdict(set)
    for c in commands:
        path = os.path.relpath(c["file"], source)
        if not path.startswith(ROOTS):
            continue
        m = TARGET_OF_OBJECT.search(c.get("output", c["command"]))
        if m:
            targets[os.path.dirname(path)].add(m.group(1))
    return targets


def main():
    build = os.path.abspath(sys.argv[1])
    source = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    graph = read_link_graph(build)
    problems = []

    folders = folder_targets(source, build)
    owner = {}
    for folder, targets in sorted(folders.items()):
        if len(targets) > 1:
            problems.append(f"{folder}/ is built into {len(targets)} targets "
                            f"({', '.join(sorted(targets))}): one folder, "
                            "one target")
        owner[folder] = sorted(targets)[0]

    def target_of(path):
        folder = os.path.dirname(path)
        while folder and folder not in owner:
            folder = os.path.dirname(folder)
        return owner.get(folder)

    for root in ROOTS:
        for dirpath, _, files in os.walk(os.path.join(source, root)):
            for name in files:
                if not name.endswith((".h", ".cpp")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), source)
                target = target_of(path)
                if target is None:
                    problems.append(f"{path}: in no target's folder")
                    continue
                allowed = closure(graph, target)
                with open(os.path.join(source, path)) as f:
                    text = f.read()
                for header in INCLUDE.findall(text):
                    wanted = target_of(header)
                    if wanted is not None and wanted not in allowed:
                        problems.append(
                            f"{path} ({target}) includes {header} "
                            f"({wanted}), which {target} does not link")

    for p in problems:
        print(p)
    checked = sum(len(v) for v in graph.values())
    print(f"{len(owner)} folders, {len(graph)} targets, {checked} links: "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
