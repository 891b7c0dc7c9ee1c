#!/usr/bin/python3
"""Unit tests of check_layers: a tree with a wrong include fails, a layered one passes."""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import check_layers  # noqa: E402


def write(root: pathlib.Path, path: str, text: str) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)


class CheckLayers(unittest.TestCase):
    def tree(self, files: dict[str, str]) -> list[str]:
        with tempfile.TemporaryDirectory() as directory:
            root = pathlib.Path(directory)
            for path, text in files.items():
                write(root, path, text)
            return check_layers.check_tree(root)

    def test_downward_includes_pass(self):
        self.assertEqual(self.tree({
            "infra/pg/connection.hpp": "#pragma once\n",
            "engine/runner.cpp": '#include "infra/pg/connection.hpp"\n#include "engine/runner.hpp"\n',
            "daemon/main.cpp": '#include "engine/runner.hpp"\n#include <vector>\n',
            "tests/engine/runner_test.cpp": '#include "daemon/daemon.hpp"\n#include "fixture.hpp"\n',
            "tests/engine/fixture.hpp": "#pragma once\n",
        }), [])

    def test_an_upward_include_fails_and_names_the_place(self):
        problems = self.tree({
            "infra/pg/connection.cpp": '#include <string>\n\n#include "engine/runner.hpp"\n',
        })
        self.assertEqual(len(problems), 1)
        self.assertIn("infra/pg/connection.cpp:3:", problems[0])
        self.assertIn("a layer above it", problems[0])

    def test_siblings_must_not_know_each_other(self):
        problems = self.tree({"outbox/dispatcher.cpp": '#include "projections/partition.hpp"\n'})
        self.assertEqual(len(problems), 1)
        self.assertIn("siblings", problems[0])

    def test_an_include_not_written_from_the_root_fails(self):
        problems = self.tree({"infra/sql/lexer.cpp": '#include "lexer.hpp"\n'})
        self.assertEqual(len(problems), 1)
        self.assertIn("repository root", problems[0])

    def test_the_command_exits_non_zero_on_a_wrong_include(self):
        with tempfile.TemporaryDirectory() as directory:
            write(pathlib.Path(directory), "store/migrate.cpp", '#include "daemon/daemon.hpp"\n')
            self.assertEqual(check_layers.main(["check_layers.py", directory]), 1)


if __name__ == "__main__":
    unittest.main()
