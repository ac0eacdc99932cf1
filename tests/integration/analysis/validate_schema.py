#!/usr/bin/python3
"""Validates a run.json against docs/result.schema.json.

Usage: /usr/bin/python3 validate_schema.py SCHEMA RUN_JSON
  RUN_JSON may also be a run directory (its run.json is used).
Exit 0 when valid; 1 with the reason(s) on stderr when not (also when a file cannot be read);
2 for a usage error. Needs python3-jsonschema (Debian), hence /usr/bin/python3.
"""
import json
import os
import sys


def main(argv):
    if len(argv) != 3:
        print("usage: validate_schema.py SCHEMA RUN_JSON", file=sys.stderr)
        return 2
    schema_path, run_path = argv[1], argv[2]
    if os.path.isdir(run_path):
        run_path = os.path.join(run_path, "run.json")
    try:
        import jsonschema
    except ImportError:
        print("validate_schema.py: python3-jsonschema is not installed for " + sys.executable +
              " (apt-get install python3-jsonschema; run with /usr/bin/python3)", file=sys.stderr)
        return 1
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{schema_path}: cannot read schema: {e}", file=sys.stderr)
        return 1
    try:
        with open(run_path, encoding="utf-8") as f:
            # NaN/Infinity are not JSON; refuse them rather than let them pass as numbers.
            def reject_constant(name):
                raise ValueError(f"non-JSON number {name}")
            doc = json.load(f, parse_constant=reject_constant)
    except (OSError, ValueError) as e:
        print(f"{run_path}: cannot read: {e}", file=sys.stderr)
        return 1

    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        print(f"{run_path}: valid")
        return 0
    for e in errors[:20]:
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        print(f"{run_path}: {where}: {e.message}", file=sys.stderr)
    if len(errors) > 20:
        print(f"{run_path}: ... and {len(errors) - 20} more errors", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
