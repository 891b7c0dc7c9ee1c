"""Checks webhook bodies against the shipped envelope schema (docs/webhook-envelope.schema.json).

    /usr/bin/python3 check_envelope.py SCHEMA BODY_FILE...

Prints one line per body that does not match, naming the file and what is wrong; exits 1 when
any does not match, 2 on bad usage or a schema that is not valid JSON Schema, 0 otherwise.
Uses Debian's python3-jsonschema.
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        print(f"{argv[1]}: not a valid JSON Schema: {e.message}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    failed = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            try:
                body = json.load(f)
            except json.JSONDecodeError as e:
                print(f"{path}: not JSON: {e}")
                failed += 1
                continue
        for error in validator.iter_errors(body):
            where = "/".join(str(p) for p in error.absolute_path) or "(body)"
            print(f"{path}: {where}: {error.message}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
