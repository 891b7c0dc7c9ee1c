#!/usr/bin/python3
"""Docs match behaviour: every command's --help, every documented flag.

    help_matches_docs.py SLUICE_BINARY SOURCE_DIR

- `sluice --help` and `sluice CMD [SUB] --help` of every command it lists (and of every
  subcommand a command's usage names, e.g. `sluice outbox retry`) exit 0 with a help text whose
  usage lines name only flags its options list;
- the README's command table lists exactly the commands of `sluice --help`;
- every flag that README.md or docs/*.md write in a `sluice CMD ...` invocation (a line of a
  code block, an inline code span, or anywhere in a row of the README's command table) is one
  of CMD's options, and every `sluice WORD` they write names a command (and a subcommand where
  the command has them);
- an unknown command, and an unknown flag of every command, exit 2 with a message naming it;
- docs/configuration.md's example is tests/config/valid/orders.yaml, as it says.

Every problem is printed as FILE:LINE: message; the exit code is 1 when there is one.
"""
import pathlib
import re
import shlex
import subprocess
import sys

FLAG = re.compile(r"(?<![\w./-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
SPAN = re.compile(r"`([^`]+)`")


def run(binary, args):
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    return result.returncode, result.stdout, result.stderr


def help_flags(text):
    """The long flags and short letters of a help text's Options section."""
    flags = set()
    options = text.split("\nOptions:\n", 1)[1] if "\nOptions:\n" in text else ""
    for line in options.splitlines():
        m = re.match(r"^  (?:-([a-zA-Z]) \[ --([a-z0-9-]+) \]|--([a-z0-9-]+))", line)
        if m:
            if m.group(1):
                flags.add("-" + m.group(1))
            flags.add("--" + (m.group(2) or m.group(3)))
    return flags


def usage_part(text):
    return text.split("\nOptions:\n", 1)[0]


class Checker:
    def __init__(self, binary, source):
        self.binary = binary
        self.source = pathlib.Path(source)
        self.problems = []
        self.commands = []  # from sluice --help, in order
        self.flags = {}  # "outbox" and "outbox retry" -> set of flags
        self.subcommands = {}  # "outbox" -> ["status", "list", ...]
        self.invocations = 0
        self.flags_checked = 0

    def problem(self, where, message):
        self.problems.append(f"{where}: {message}")

    # --- the binary's own help ------------------------------------------------------------

    def check_help(self):
        code, out, err = run(self.binary, ["--help"])
        if code != 0 or not out.strip():
            self.problem("sluice --help", f"exit {code}, output {out!r}, stderr {err!r}")
            return
        listing = out.split("\nCommands:\n", 1)
        if len(listing) != 2:
            self.problem("sluice --help", "no 'Commands:' section")
            return
        for line in listing[1].splitlines():
            if not line.strip():
                break
            self.commands.append(line.split()[0])
        for command in self.commands:
            text = self.command_help([command])
            if text is None:
                continue
            subs = sorted(set(re.findall(rf"sluice {re.escape(command)} ([a-z][a-z-]*)\b",
                                         usage_part(text))))
            self.subcommands[command] = subs
            for sub in subs:
                self.command_help([command, sub])

    def command_help(self, words):
        name = " ".join(words)
        code, out, err = run(self.binary, [*words, "--help"])
        where = f"sluice {name} --help"
        if code != 0 or not out.strip():
            self.problem(where, f"exit {code}, output {out!r}, stderr {err!r}")
            return None
        if f"Usage: sluice {words[0]}" not in out:
            self.problem(where, "no 'Usage: sluice ...' line")
        flags = help_flags(out)
        if not flags:
            self.problem(where, "lists no options")
        self.flags[name] = flags
        for flag in FLAG.findall(usage_part(out)):
            if flag not in flags:
                self.problem(where, f"the usage line names {flag}, which is not among its options")
        return out

    def check_rejections(self):
        code, _, err = run(self.binary, ["no-such-command"])
        if code != 2 or "no-such-command" not in err:
            self.problem("sluice no-such-command",
                         f"expected exit 2 and a message naming it, got exit {code}: {err!r}")
        code, out, err = run(self.binary, [])
        if code != 2 or not err.strip():
            self.problem("sluice (no command)",
                         f"expected exit 2 and the command list on stderr, got exit {code}")
        for name in self.flags:
            words = name.split()
            code, _, err = run(self.binary, [*words, "--no-such-flag"])
            if code != 2 or "--no-such-flag" not in err:
                self.problem(f"sluice {name} --no-such-flag",
                             f"expected exit 2 and a message naming the flag, got exit {code}: "
                             f"{err.strip()!r}")

    # --- the docs ------------------------------------------------------------------------

    def check_invocation(self, where, text, tokens, extra_flags=()):
        """tokens: the words after `sluice`; extra_flags: (where, flag) pairs from elsewhere in
        a command-table row. Returns the command, or None."""
        if not tokens or not re.fullmatch(r"[a-z][a-z-]*", tokens[0]):
            return None
        command = tokens[0]
        if command not in self.flags:
            self.problem(where, f"`sluice {command}`: sluice has no command {command!r} "
                                f"(sluice --help lists {', '.join(self.commands)})")
            return None
        subs = self.subcommands.get(command, [])
        rest = tokens[1:]
        if subs and rest and not rest[0].startswith("-"):
            for sub in re.split(r"\\?\|", rest[0]):
                if sub not in subs:
                    self.problem(where, f"`sluice {command} {sub}`: sluice {command} has no "
                                        f"{sub!r} (its usage lists {', '.join(subs)})")
        flags = [(where, f) for t in rest for f in FLAG.findall(t)]
        self.invocations += 1
        self.flags_checked += len(flags) + len(extra_flags)
        for at, flag in [*flags, *extra_flags]:
            if flag not in self.flags[command]:
                self.problem(at, f"`{text.strip()}`: sluice {command} has no {flag} "
                                 f"(sluice {command} --help lists "
                                 f"{', '.join(sorted(self.flags[command]))})")
        return command

    def check_code_line(self, where, line):
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            tokens = list(lexer)
        except ValueError:
            tokens = line.split()
        command = []
        for token in [*tokens, ";"]:
            if token and set(token) <= set("&|;()"):
                if command and command[0] == "sluice":
                    self.check_invocation(where, line, command[1:])
                command = []
            elif command or token not in ("$", "sudo"):
                command.append(token)

    def check_doc(self, path):
        name = str(path.relative_to(self.source))
        lines = path.read_text().splitlines()
        fenced = False
        pending = ""  # a code line continued with a backslash
        paragraph = []  # (line number, text) of prose lines
        for number, line in enumerate(lines, 1):
            if line.lstrip().startswith("```"):
                self.check_paragraph(name, paragraph)
                paragraph = []
                fenced = not fenced
                continue
            if fenced:
                if line.endswith("\\"):
                    pending += line[:-1] + " "
                    continue
                self.check_code_line(f"{name}:{number}", pending + line)
                pending = ""
            elif not line.strip() or line.lstrip().startswith("|"):
                self.check_paragraph(name, paragraph)
                paragraph = [(number, line)] if line.strip() else []
                if line.strip():  # a table row is a paragraph of its own
                    self.check_paragraph(name, paragraph, table_row=True)
                    paragraph = []
            else:
                paragraph.append((number, line))
        self.check_paragraph(name, paragraph)

    def check_paragraph(self, name, paragraph, table_row=False):
        """Inline code spans of one paragraph (or one table row)."""
        if not paragraph:
            return
        text = "\n".join(line for _, line in paragraph)
        starts = []  # offset of each line in text
        offset = 0
        for number, line in paragraph:
            starts.append((offset, number))
            offset += len(line) + 1

        def line_at(pos):
            return max(n for o, n in starts if o <= pos)

        # In the command table every flag of a row belongs to the command of its first cell.
        first_cell = re.match(r"\|\s*(`sluice ([^`]+)`)\s*\|", text) if table_row else None
        row_flags = []
        for m in SPAN.finditer(text):
            span = m.group(1)
            where = f"{name}:{line_at(m.start())}"
            words = span.split()
            if first_cell and m.start() == first_cell.start(1):
                continue
            if len(words) > 1 and words[0] == "sluice":
                self.check_invocation(where, span.replace("\n", " "), words[1:])
            elif table_row:
                for flag in FLAG.findall(span):
                    row_flags.append((f"{name}:{line_at(m.start() + span.index(flag))}", flag))
        if first_cell:
            self.check_invocation(f"{name}:{paragraph[0][0]}", "sluice " + first_cell.group(2),
                                  first_cell.group(2).split(), row_flags)

    def check_command_table(self):
        readme = (self.source / "README.md").read_text()
        section = readme.split("\n## Commands\n", 1)
        if len(section) != 2:
            self.problem("README.md", "no '## Commands' section")
            return
        table = section[1].split("\n## ", 1)[0]
        listed = set(re.findall(r"^\| `sluice ([a-z][a-z-]*)", table, re.M))
        for command in sorted(listed - set(self.commands)):
            self.problem("README.md", f"the command table lists `sluice {command}`, which "
                                      f"sluice --help does not")
        for command in self.commands:
            if command not in listed:
                self.problem("README.md", f"sluice --help lists {command}, the command table "
                                          f"does not")

    def check_configuration_example(self):
        doc = (self.source / "docs/configuration.md").read_text()
        m = re.search(r"\n## Example\n+```yaml\n(.*?)```\n", doc, re.S)
        valid = self.source / "tests/config/valid/orders.yaml"
        if not m:
            self.problem("docs/configuration.md", "no yaml block under '## Example'")
        elif m.group(1) != valid.read_text():
            self.problem("docs/configuration.md", "the example is not the same file as "
                                                  "tests/config/valid/orders.yaml, as it says")

    def run(self):
        self.check_help()
        if not self.commands:
            return
        self.check_rejections()
        self.check_command_table()
        for path in [self.source / "README.md", *sorted((self.source / "docs").glob("*.md"))]:
            self.check_doc(path)
        self.check_configuration_example()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    checker = Checker(sys.argv[1], sys.argv[2])
    checker.run()
    for p in checker.problems:
        print(p, file=sys.stderr)
    if checker.problems:
        print(f"{len(checker.problems)} mismatches between the docs and sluice", file=sys.stderr)
        sys.exit(1)
    print(f"help and docs agree: {len(checker.flags)} help texts ({', '.join(checker.flags)}); "
          f"{checker.invocations} documented invocations with {checker.flags_checked} flags")


if __name__ == "__main__":
    main()
