#!/usr/bin/python3
"""End-to-end checks of `loadgen report`, `loadgen compare` and validate_schema.py on synthetic runs,
of the JUnit XML and Markdown summary (parsed with python3's xml.etree, not our code), and of
`loadgen run --dry-run` and `loadgen run --junit --summary-md` with a real lab-target.

One case per ctest test:
  cli_test.py --case NAME --loadgen PATH --synth PATH --schema PATH --validator PATH --work DIR
              [--target-bin PATH]
Exits 0 when every check of the case holds, 1 (naming the failed check) otherwise.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

A = None


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(cmd, expect_rc=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=50)
    if expect_rc is not None and p.returncode != expect_rc:
        fail(f"{' '.join(map(str, cmd))}: exit {p.returncode}, expected {expect_rc}\n"
             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def synth(name, *args):
    d = os.path.join(A.work, name)
    run([A.synth, d, *args], 0)
    return d


def loadgen(*args, rc=None):
    return run([A.loadgen, *args], rc)


def validate(path, rc):
    return run([sys.executable, A.validator, A.schema, path], rc)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def case_schema_valid():
    validate(synth("base"), 0)
    validate(os.path.join(synth("rep", "--repeats", "3", "--saturated", "--error-rate", "0.01"), "run.json"), 0)


def case_schema_broken():
    d = synth("base")
    good = json.loads(read(os.path.join(d, "run.json")))

    def mutated(name, mutate, raw=None):
        doc = json.loads(json.dumps(good))
        mutate(doc)
        path = os.path.join(A.work, name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(raw if raw is not None else json.dumps(doc))
        return path

    cases = {
        "missing_field": lambda d: d["variants"][0]["ttlb"].pop("p99_us"),
        "wrong_type": lambda d: d["variants"][0].__setitem__("tps_mean", "fast"),
        "unknown_field": lambda d: d["variants"][0].__setitem__("tps_median", 1.0),
        "future_schema": lambda d: d.__setitem__("schema", d["schema"] + 1),
        "negative_count": lambda d: d["variants"][0]["errors"].__setitem__("reset", -1),
        "param_not_string": lambda d: d["variants"][0]["params"].__setitem__("connections", 10),
    }
    for name, m in cases.items():
        p = validate(mutated(name, m), 1)
        if "run" not in p.stderr and name not in p.stderr and not p.stderr.strip():
            fail(f"{name}: no reason given")
    nan = read(os.path.join(d, "run.json")).replace('"tps_mean": ', '"tps_mean": NaN, "x": ', 1)
    validate(mutated("nan", lambda d: None, raw=nan), 1)
    # The unmodified copy still validates: the failures above come from the mutations.
    validate(mutated("unchanged", lambda d: None), 0)


def check_self_contained(html):
    if "<svg" not in html:
        fail("report.html has no inline SVG")
    if "<script src" in html or "<link" in html or "<img" in html:
        fail("report.html loads external resources")
    for url in re.findall(r"https?://[^\s\"'<>)]*", html):
        if url != "http://www.w3.org/2000/svg":
            fail("report.html references " + url)


def case_report():
    d = synth("base", "--saturated")
    p = loadgen("report", d, rc=0)
    md_path, html_path = os.path.join(d, "report.md"), os.path.join(d, "report.html")
    if md_path not in p.stdout or html_path not in p.stdout:
        fail("report paths not printed: " + p.stdout)
    md, html = read(md_path), read(html_path)
    check_self_contained(html)
    for needle in ["open loop (constant arrivals", "warm-up 1 s", "model=reactor,connections=10",
                   "model=reactor,connections=100", "SATURATED", "Tool: perflab", "TPS vs connections"]:
        if needle not in md:
            fail(f"report.md lacks {needle!r}")


def case_report_several():
    a, b = synth("baseline"), synth("candidate", "--tps", "4000", "--seed", "2")
    out = os.path.join(A.work, "out")
    loadgen("report", a, os.path.join(b, "run.json"), "--output", out, rc=0)
    md = read(os.path.join(out, "report.md"))
    for needle in ["baseline: model=reactor,connections=10", "candidate: model=reactor,connections=100"]:
        if needle not in md:
            fail(f"report.md lacks {needle!r}")
    check_self_contained(read(os.path.join(out, "report.html")))


def case_report_missing():
    p = loadgen("report", os.path.join(A.work, "no-such-run"), rc=2)
    if "no-such-run" not in p.stderr:
        fail("error does not name the missing path: " + p.stderr)
    os.makedirs(os.path.join(A.work, "empty"))
    loadgen("report", os.path.join(A.work, "empty"), rc=2)


def case_compare_regression():
    base = synth("base")
    cand = synth("cand", "--tps", "4000", "--latency-us", "1200")  # -20% TPS, +50% latency
    p = loadgen("compare", base, cand, rc=4)
    for needle in ["REGRESSED", "exit 4", "no usable test"]:
        if needle not in p.stdout:
            fail(f"compare output lacks {needle!r}:\n{p.stdout}")
    # The same change the other way round is an improvement, not a regression.
    p = loadgen("compare", cand, base, rc=0)
    if "improved" not in p.stdout:
        fail("reverse comparison shows no improvement:\n" + p.stdout)


def case_compare_noise():
    base = synth("base")
    cand = synth("cand", "--tps", str(5000 * 0.98), "--latency-us", str(800 * 1.02))  # 2% worse: noise
    p = loadgen("compare", base, cand, "--tolerance", "5%", rc=0)
    if "0 regressed" not in p.stdout:
        fail("noise flagged:\n" + p.stdout)
    # A 1% tolerance catches the same 2% change.
    loadgen("compare", base, cand, "--tolerance", "1%", rc=4)
    # Comparing a run with itself: nothing changes.
    loadgen("compare", base, os.path.join(base, "run.json"), rc=0)


def case_compare_repeats():
    base = synth("base", "--repeats", "5")
    worse = synth("worse", "--repeats", "5", "--latency-us", "1040", "--seed", "2")  # +30% latency
    p = loadgen("compare", base, worse, "--metric", "ttlb.p50,ttlb.p99", rc=4)
    if "5/5" not in p.stdout:
        fail("repeats not used:\n" + p.stdout)
    j = json.loads(loadgen("compare", base, worse, "--metric", "ttlb.p50", "--json", rc=4).stdout)
    ch = j["changes"][0]
    if ch["p_value"] is None or ch["p_value"] >= 0.05 or "mann-whitney" not in ch["method"]:
        fail("expected a significant Mann-Whitney test: " + json.dumps(ch))
    same = synth("same", "--repeats", "5", "--seed", "3")
    loadgen("compare", base, same, rc=0)


def case_compare_json():
    base = synth("base")
    # A saturated loadgen delays sends: corrected latencies grow (a regression) and the run is flagged.
    cand = synth("cand", "--saturated")
    p = loadgen("compare", base, cand, "--json", rc=4)
    j = json.loads(p.stdout)
    if j["verdict"] != "regression" or j["exit_code"] != 4:
        fail("unexpected verdict: " + p.stdout)
    if not any("saturated" in w for w in j["warnings"]):
        fail("saturated candidate not flagged: " + p.stdout)
    p = loadgen("compare", base, base, "--json", rc=0)
    j = json.loads(p.stdout)
    if j["verdict"] != "ok" or j["exit_code"] != 0 or j["regressions"] != 0:
        fail("self-comparison not ok: " + p.stdout)
    if {c["metric"] for c in j["changes"]} != {"tps.mean", "ttlb.p50", "ttlb.p99", "ttfb.p99", "errors.rate"}:
        fail("default metrics wrong: " + p.stdout)


def case_compare_usage():
    base = synth("base")
    loadgen("compare", base, "--tolerance", "5%", rc=2)                        # missing candidate
    loadgen("compare", base, os.path.join(A.work, "nope"), rc=2)               # missing file
    p = loadgen("compare", base, base, "--tolerance", "lots", rc=2)
    if "tolerance" not in p.stderr:
        fail("bad tolerance not explained: " + p.stderr)
    p = loadgen("compare", base, base, "--metric", "ttlb.p42", rc=2)
    if "unknown metric" not in p.stderr:
        fail("bad metric not explained: " + p.stderr)


def junit_cases(path):
    """Parses a JUnit file; returns (root, [(name, failure element or None)]) after structural checks."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{path}: not well-formed XML: {e}")
    if root.tag != "testsuites":
        fail(f"{path}: root is <{root.tag}>, expected <testsuites>")
    suites = root.findall("testsuite")
    if len(suites) != 1:
        fail(f"{path}: {len(suites)} <testsuite> elements, expected 1")
    suite = suites[0]
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    for el in (root, suite):
        if int(el.get("tests")) != len(cases) or int(el.get("failures")) != len(failures):
            fail(f"{path}: <{el.tag}> counts tests={el.get('tests')} failures={el.get('failures')}, "
                 f"but holds {len(cases)} testcases with {len(failures)} failures")
    for c in cases:
        if not c.get("classname") or not c.get("name"):
            fail(f"{path}: a testcase without classname or name")
        float(c.get("time"))
    return root, [(c.get("name"), c.find("failure")) for c in cases]


def case_junit_synthetic():
    junit, summary = os.path.join(A.work, "junit.xml"), os.path.join(A.work, "summary.md")
    synth("run", "--saturated", "--stalled", "4", "--threshold-fail", "--junit", junit, "--summary-md", summary)
    _, cases = junit_cases(junit)
    by_name = dict(cases)
    first, second = "model=reactor,connections=10", "model=reactor,connections=100"
    # One testcase for the run, one status per variant, one per variant x threshold.
    expected = {"run: complete", first + ": status", second + ": status", first + ": ttlb.p99 < 1ms",
                first + ": errors.rate < 5%", second + ": errors.rate < 5%"}
    if set(by_name) != expected:
        fail(f"testcases {sorted(by_name)}, expected {sorted(expected)}")
    for name in ["run: complete", first + ": errors.rate < 5%", second + ": errors.rate < 5%"]:
        if by_name[name] is not None:
            fail(f"{name} failed: {by_name[name].get('message')}")
    th = by_name[first + ": ttlb.p99 < 1ms"]
    if th is None or not re.fullmatch(r"ttlb\.p99 < 1ms: actual [0-9.]+ ms, limit 1\.00 ms", th.get("message")):
        fail("threshold failure without actual and limit: " + ("passed" if th is None else th.get("message")))
    for name, word in [(first + ": status", "STALLED"), (second + ": status", "SATURATED")]:
        f = by_name[name]
        if f is None or f.get("type") != word or word not in f.get("message"):
            fail(f"{name}: expected a {word} failure, got " + ("none" if f is None else ET.tostring(f, "unicode")))
    text = read(summary)
    if not text.startswith("### perflab synthetic: FAILED, exit 5 (the load generator was saturated"):
        fail("summary verdict line: " + text.splitlines()[0])
    for needle in ["| variant | goodput/s |", "**Findings**", "- goodput (model=reactor): connections=10 ",
                   "- **STALLED** `model=reactor,connections=10`: 4 of the 8 requests"]:
        if needle not in text:
            fail(f"summary lacks {needle!r}:\n{text}")


SCENARIO = """name = "e2e-ci"
thresholds = ["tps.mean > 20", "ttlb.p99 < 1us"]

[target]
model = "reactor"

[load]
model = "open"
rate = "100/s"
warmup = "200ms"
duration = "1s"
send_lag_bound = "500ms"   # a busy CI box must not turn this into SATURATED

[[request]]
path = "/hello"
"""


def scenario(name, text):
    path = os.path.join(A.work, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def case_dry_run():
    if not A.target_bin:
        fail("lab-target is not built (no --target-bin)")
    sc = scenario("plan.toml", SCENARIO + '\n[matrix]\n"target.model" = ["reactor", "coroutine"]\n')
    out = os.path.join(A.work, "results")
    p = loadgen("run", sc, "--dry-run", "--output", out, "--target-bin", A.target_bin, rc=0)
    lines = p.stdout.splitlines()
    if lines[0] != "perflab run: e2e-ci (dry run: 2 variants checked, nothing started)":
        fail("dry-run title: " + p.stdout)
    for model in ["reactor", "coroutine"]:
        row = [l for l in lines if l.startswith("model=" + model)]
        if len(row) != 1 or "open loop, constant 100/s" not in row[0] or not row[0].endswith("1.5 s"):
            fail(f"no plan row for {model} (expected 0.2 s + 1 s + 0.3 s = 1.5 s):\n{p.stdout}")
    if not lines[-1].startswith("total: 2 runs, about 3.0 s"):
        fail("total line: " + lines[-1])
    if os.path.exists(out):
        fail("a dry run created " + out)
    # A bad scenario: exit 2 with file:line:col, nothing created.
    bad = scenario("bad.toml", SCENARIO.replace('rate = "100/s"', 'rate = "fast"'))
    p = loadgen("run", bad, "--dry-run", "--output", out, "--target-bin", A.target_bin, rc=2)
    if not re.search(re.escape(bad) + r":9:8: load\.rate", p.stderr):
        fail("no file:line:col for a bad rate: " + p.stderr)
    # A target option lab-target does not accept is caught too (prepare(), with lab-target --help).
    p = loadgen("run", sc, "--dry-run", "--set", "target.bogus=1", "--target-bin", A.target_bin, rc=2)
    if "unknown target option 'bogus'" not in p.stderr:
        fail("unknown target option not caught: " + p.stderr)
    if os.path.exists(out):
        fail("a failed dry run created " + out)


def case_ci_files():
    if not A.target_bin:
        fail("lab-target is not built (no --target-bin)")
    sc = scenario("ci.toml", SCENARIO)
    junit, summary = os.path.join(A.work, "junit.xml"), os.path.join(A.work, "summary.md")
    # "ttlb.p99 < 1us" cannot hold: exit 3, and the files say the same.
    p = loadgen("run", sc, "--output", os.path.join(A.work, "results"), "--target-bin", A.target_bin, "--no-report",
                "--junit", junit, "--summary-md", summary, rc=3)
    if f"junit: {junit}" not in p.stdout or f"summary: {summary}" not in p.stdout:
        fail("CI file paths not printed:\n" + p.stdout)
    root, cases = junit_cases(junit)
    by_name = dict(cases)
    if set(by_name) != {"run: complete", "e2e-ci: status", "e2e-ci: tps.mean > 20", "e2e-ci: ttlb.p99 < 1us"}:
        fail(f"testcases: {sorted(by_name)}")
    f = by_name["e2e-ci: ttlb.p99 < 1us"]
    if f is None or "actual" not in f.get("message") or "limit 1 us" not in f.get("message"):
        fail("failed threshold: " + ("passed" if f is None else f.get("message")))
    for ok in ["run: complete", "e2e-ci: status", "e2e-ci: tps.mean > 20"]:
        if by_name[ok] is not None:
            fail(f"{ok} failed: {by_name[ok].get('message')}")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    if props.get("exit_code") != "3":
        fail(f"exit_code property {props.get('exit_code')}, expected 3")
    text = read(summary)
    if not text.startswith("### perflab e2e-ci: FAILED, exit 3 (a threshold failed)"):
        fail("summary verdict line: " + text.splitlines()[0])
    if "| e2e-ci |" not in text or "THRESHOLD FAILED" not in text:
        fail("summary table:\n" + text)


def main():
    global A
    ap = argparse.ArgumentParser()
    for opt in ["--case", "--loadgen", "--synth", "--schema", "--validator", "--work"]:
        ap.add_argument(opt, required=True)
    ap.add_argument("--target-bin", default="")
    A = ap.parse_args()
    shutil.rmtree(A.work, ignore_errors=True)
    os.makedirs(A.work)
    fn = globals().get("case_" + A.case)
    if fn is None:
        fail("unknown case " + A.case)
    fn()
    shutil.rmtree(A.work, ignore_errors=True)
    print("ok: " + A.case)


if __name__ == "__main__":
    main()
