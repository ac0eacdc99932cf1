// HdrHistogram interop test against hdr-histogram-js, a decoder/encoder we did not write.
//   node interop.js <interop_tool> <node_prefix> <work_dir>
// (a) our log writer -> their log reader: counts, percentiles, tags, interval lengths must match
//     what our interop_tool printed;
// (b) their encoder and log writer -> our decoder and log reader (interop_tool check).
// Exits 77 (ctest SKIP_RETURN_CODE) when hdr-histogram-js is not installed, saying why.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync, spawnSync } = require("child_process");

const [tool, prefix, work] = process.argv.slice(2);
if (!tool || !prefix || !work) {
  console.error("usage: node interop.js <interop_tool> <node_prefix> <work_dir>");
  process.exit(2);
}

let hdr;
try {
  hdr = require(path.join(path.resolve(prefix), "node_modules", "hdr-histogram-js"));
} catch (e) {
  console.log(`SKIPPED: hdr-histogram-js is not installed under ${prefix} (${e.code || e.message}); ` +
              "run scripts/setup-interop.sh to install it");
  process.exit(77);
}

let failures = 0;
function expectEq(what, got, want) {
  if (got === want) return;
  failures++;
  console.error(`MISMATCH ${what}: hdr-histogram-js ${got}, perflab ${want}`);
}

// ---- (a) our writer, their reader ---------------------------------------------------------------
fs.mkdirSync(work, { recursive: true });
const expected = JSON.parse(execFileSync(tool, ["write", work], { encoding: "utf8" }));
const logText = fs.readFileSync(path.join(work, "perflab.hlog"), "utf8");
const reader = new hdr.HistogramLogReader(logText, 64);
const got = [];
for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) got.push(h);
expectEq("interval count", got.length, expected.intervals.length);
expectEq("StartTime", reader.startTimeSec, expected.start_time_s);
got.forEach((h, i) => {
  const want = expected.intervals[i];
  const name = `interval ${i}`;
  expectEq(`${name} tag`, h.tag === "NO TAG" ? "" : h.tag, want.tag);
  // Field 2 is the interval length: the reader's end - start must equal it.
  expectEq(`${name} start ms`, Math.round(h.startTimeStampMsec - expected.start_time_s * 1000), want.start_s * 1000);
  expectEq(`${name} length ms`, Math.round(h.endTimeStampMsec - h.startTimeStampMsec), want.length_s * 1000);
  expectEq(`${name} total_count`, h.totalCount, want.total_count);
  if (want.total_count > 0) {
    // Not h.maxValue / h.minNonZeroValue: hdr-histogram-js 3.0.1 keeps them as raw internal values
    // (maxValue is off by the unit mask when lowest > 1); percentiles 100 and 0 are the
    // HdrHistogram-defined max and min.
    expectEq(`${name} max`, h.getValueAtPercentile(100), want.max);
    expectEq(`${name} min`, h.getValueAtPercentile(0), want.min);
    if (Math.abs(h.mean - want.mean) > 1e-6 * Math.max(1, want.mean)) expectEq(`${name} mean`, h.mean, want.mean);
  }
  for (const [p, v] of Object.entries(want.percentiles)) {
    expectEq(`${name} p${Number(p)}`, h.getValueAtPercentile(Number(p)), v);
  }
});
console.log(`(a) hdr-histogram-js read ${got.length} intervals written by perflab`);

// ---- (b) their encoder, our decoder ---------------------------------------------------------------
let seed = 12345;
function rand() {  // deterministic LCG: the same inputs every run
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
function summary(name, h, lowest, digits, recorded) {
  const percentiles = {};
  for (const p of [1, 50, 90, 99, 99.9, 99.99, 100]) percentiles[String(p)] = h.getValueAtPercentile(p);
  const counts = [];
  for (const v of recorded.slice(0, 50)) counts.push([v, h.getCountAtIndex(h.countsArrayIndex(v))]);
  return {
    name, lowest, digits, total_count: h.totalCount, mean: h.mean,
    min: h.totalCount ? h.getValueAtPercentile(0) : 0, max: h.totalCount ? h.getValueAtPercentile(100) : 0,
    percentiles, counts, blob: hdr.encodeIntoCompressedBase64(h),
  };
}
const specs = [
  { name: "ns-3digits-32bit", lowest: 1, highest: 3600e9, digits: 3, bits: 32, n: 20000, scale: 1e7 },
  { name: "us-2digits-packed", lowest: 1, highest: 3600e6, digits: 2, bits: "packed", n: 5000, scale: 1e5 },
  { name: "lowest1000-4digits-64bit", lowest: 1000, highest: 3600e9, digits: 4, bits: 64, n: 3000, scale: 1e9 },
  { name: "empty", lowest: 1, highest: 3600e9, digits: 3, bits: 32, n: 0, scale: 1 },
];
const blobs = [];
const logLines = [];
const writer = new hdr.HistogramLogWriter((s) => logLines.push(s));
writer.outputLogFormatVersion();
writer.outputStartTime(1700000000000);
writer.outputLegend();
const logWant = [];
specs.forEach((s, k) => {
  const h = hdr.build({
    lowestDiscernibleValue: s.lowest, highestTrackableValue: s.highest, numberOfSignificantValueDigits: s.digits,
    bitBucketSize: s.bits, autoResize: false, useWebAssembly: false,
  });
  const recorded = [];
  for (let i = 0; i < s.n; i++) {
    const v = Math.floor(Math.exp(rand() * Math.log(s.scale))) + s.lowest;
    h.recordValue(v);
    recorded.push(v);
  }
  if (s.n > 0) h.recordValueWithCount(recorded[0], 1000);  // a count far above 1
  const sum = summary(s.name, h, s.lowest, s.digits, recorded);
  blobs.push(sum);
  h.tag = k % 2 ? `t${k}` : "NO TAG";
  writer.outputIntervalHistogram(h, k * 2, k * 2 + 1.5, 1000);
  logWant.push({ ...sum, tag: k % 2 ? `t${k}` : "", length_s: 1.5 });
});
const casesFile = path.join(work, "js-cases.json");
const jsLog = path.join(work, "js.hlog");
fs.writeFileSync(casesFile, JSON.stringify({ blobs, log: logWant }, null, 1));
fs.writeFileSync(jsLog, logLines.join(""));
const r = spawnSync(tool, ["check", casesFile, jsLog], { encoding: "utf8" });
process.stdout.write(r.stdout);
process.stderr.write(r.stderr);
if (r.status !== 0) {
  failures++;
  console.error(`(b) interop_tool check failed with status ${r.status}`);
} else {
  console.log(`(b) perflab decoded ${blobs.length} blobs and a log written by hdr-histogram-js`);
}

if (failures > 0) {
  console.error(`FAILED: ${failures} mismatches`);
  process.exit(1);
}
console.log("PASSED: perflab and hdr-histogram-js agree");
