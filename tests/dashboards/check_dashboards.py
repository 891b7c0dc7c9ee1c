#!/usr/bin/python3
"""Checks dashboards/ against what sluice exports.

- sluice.json is valid JSON with a Prometheus `datasource` variable that every panel uses;
- every metric name referenced by a dashboard query, an alert expression or an alert unit-test
  series exists in the exposition of a fresh SluiceMetrics (--exposition BINARY) or in a live
  scrape of a running sluice (--scrape FILE, the body of GET /metrics) (histogram
  _bucket/_sum/_count count as their family; `up` is Prometheus' own);
- every dashboard query parses as PromQL (through `promtool check rules`).
Exit status 0 when all hold; otherwise every problem is listed on stderr.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names_in(expr):
    """Metric names in a PromQL expression (or a Grafana label_values() query)."""
    label_values = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_]+\s*\)\s*", expr, re.S)
    if label_values:
        expr = label_values.group(1)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (matcher values)
    expr = re.sub(r"\{[^}]*\}", "", expr)             # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)            # range and subquery durations
    expr = GROUPING.sub("", expr)                     # grouping label lists
    names = set()
    for match in IDENT.finditer(expr):
        token = match.group(0)
        before = expr[match.start() - 1] if match.start() > 0 else ""
        after = expr[match.end():].lstrip()[:1]
        if (before and before in "$.0123456789") or token.lower() in KEYWORDS:
            continue
        if after == "(":
            continue  # a function or aggregation
        names.add(token)
    return names


def exported_names(text):
    names = {"up"}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(IDENT.match(line).group(0))
    return names


def dashboard_queries(path, problems):
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"{path}: not valid JSON: {e}")
        return []
    variables = dashboard.get("templating", {}).get("list", [])
    if not any(v.get("type") == "datasource" and v.get("name") == "datasource"
               and v.get("query") == "prometheus" for v in variables):
        problems.append(f"{path}: no `datasource` variable of type datasource for prometheus")
    if dashboard.get("schemaVersion") != 39:
        problems.append(f"{path}: schemaVersion is {dashboard.get('schemaVersion')}, expected 39")
    for wanted in ("projection", "webhook"):
        if not any(v.get("name") == wanted for v in variables):
            problems.append(f"{path}: no `{wanted}` template variable")
    queries = []
    for v in variables:
        if v.get("type") == "query":
            query = v.get("query")
            queries.append(("variable " + v["name"], query.get("query") if isinstance(query, dict) else query))
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{path}: panel '{panel.get('title')}' does not use ${{datasource}}")
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"{path}: a query of '{panel.get('title')}' does not use ${{datasource}}")
            queries.append((f"panel '{panel.get('title')}'", target.get("expr", "")))
    return queries


def rule_expressions(path):
    try:
        import yaml  # Debian's python3-yaml, when installed
    except ImportError:
        yaml = None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if yaml is not None:
        doc = yaml.safe_load(text)
        return [(f"alert {r.get('alert') or r.get('record')}", r["expr"])
                for g in doc["groups"] for r in g["rules"]]
    # Fallback: `expr:` lines, with `|` blocks continued by deeper-indented lines.
    out, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if not m:
            continue
        expr, indent = m.group(2), len(m.group(1))
        if expr.strip() in ("|", ">", "|-", ">-"):
            body = []
            for nxt in lines[i + 1:]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            expr = "\n".join(body)
        out.append((f"{path}:{i + 1}", expr))
    return out


def test_series(path):
    with open(path, encoding="utf-8") as f:
        return [(f"{path}:{i + 1}", m.group(1)) for i, line in enumerate(f)
                for m in [re.search(r"series:\s*'([^']*)'", line)] if m]


def promql_parses(queries, promtool, problems):
    """Feeds every dashboard query, variables substituted, to promtool as recording rules."""
    rules = []
    for where, expr in queries:
        if not expr or expr.lstrip().startswith("label_values("):
            continue
        concrete = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        concrete = re.sub(r"\$\{?[A-Za-z_]+\}?", ".*", concrete)
        rules.append((where, concrete))
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (_, expr) in enumerate(rules):
            f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(expr)}\n")
        name = f.name
    try:
        result = subprocess.run([promtool, "check", "rules", name], capture_output=True, text=True)
        if result.returncode != 0:
            problems.append("dashboard queries that promtool cannot parse:\n" + result.stdout + result.stderr)
    finally:
        os.unlink(name)


def main():
    parser = argparse.ArgumentParser()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--exposition", help="binary printing a fresh exposition")
    source.add_argument("--scrape", help="file holding a live scrape of GET /metrics")
    parser.add_argument("--promtool", required=True)
    parser.add_argument("--dashboard", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--rules-test", required=True)
    args = parser.parse_args()

    problems = []
    if args.scrape:
        with open(args.scrape, encoding="utf-8") as f:
            text = f.read()
        origin = f"the live scrape {args.scrape}"
    else:
        text = subprocess.run([args.exposition], check=True, capture_output=True,
                              text=True).stdout
        origin = "sluice"
    known = exported_names(text)
    if known == {"up"}:
        problems.append(f"no metrics at all in {origin}")
    queries = dashboard_queries(args.dashboard, problems)
    references = queries + rule_expressions(args.rules) + test_series(args.rules_test)
    checked = set()
    for where, expr in references:
        for name in sorted(metric_names_in(expr)):
            checked.add(name)
            if name not in known:
                problems.append(f"{where}: metric {name} is not exported by {origin}")
    promql_parses(queries, args.promtool, problems)
    if not checked:
        problems.append("no metric references found at all: the checker is broken")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"checked {len(references)} expressions referencing {len(checked)} metric names: "
          + ("FAILED" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
