/**
 * The viewer's server without a browser: the group it draws for PAPER.md's worked example, the byte-offset
 * index, and the security promises (only the run's files, loopback only, bounded requests).
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { UserError } from "../../src/util/errors.js";
import type { GroupView } from "../../src/view/groupView.js";
import { RunIndex, classifyLine, leadingScalars } from "../../src/view/runIndex.js";
import { checkTarget, loopbackAddress, startViewer, type Viewer } from "../../src/view/server.js";
import { buildReportData, pickSteps } from "../../src/view/report.js";
import { main as reportMain } from "../../src/cli/report.js";
import { FIXTURE, ids, writeRun } from "./fixture.js";

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A raw request: the path is sent exactly as given (node's client does not normalise it). */
function get(v: Viewer, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: v.port, path, method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
    });
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const stepByText = (view: GroupView, text: string) => {
  const s = view.steps.find((st) => st.tokens.join(" ") === ids(text).join(" "));
  assert.ok(s, `no process step ${text}`);
  return s;
};

let root: string;
let viewer: Viewer;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "lgrpo-view-"));
  writeRun(join(root, "run"));
  // A secret beside the run: it must never be served.
  writeFileSync(join(root, "secret.txt"), "do not serve");
  viewer = await startViewer({ path: join(root, "run"), port: 0 });
});

after(async () => {
  await viewer?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("the worked example of PAPER.md section 2", () => {
  test("draws AB -> {CD, EFHI}; JKL -> {M, NQ -> {ST, U}}; VWYZ with the paper's |lambda|, R and A", async () => {
    const r = await get(viewer, `/api/group?step=${FIXTURE.exampleStep}&id=${FIXTURE.exampleId}`);
    assert.equal(r.status, 200);
    const view = JSON.parse(r.body) as GroupView;
    assert.equal(view.k, 6);
    assert.ok(Math.abs(view.rewardMean - 0.4167) < 1e-4 && Math.abs(view.rewardStd - 0.3764) < 1e-4);
    const children = (t: string) => stepByText(view, t).children.map((c) => view.steps[c].tokens.join(" ")).sort();
    assert.deepEqual(children("AB"), [ids("CD"), ids("EFHI")].map((x) => x.join(" ")).sort());
    assert.deepEqual(children("JKL"), [ids("M"), ids("NQ")].map((x) => x.join(" ")).sort());
    assert.deepEqual(children("NQ"), [ids("ST"), ids("U")].map((x) => x.join(" ")).sort());
    assert.deepEqual(view.roots.map((s) => view.steps[s].tokens.join(" ")).sort(), ["AB", "JKL", "VWYZ"].map((w) => ids(w).join(" ")).sort());
    const [ab, jkl, nq] = ["AB", "JKL", "NQ"].map((t) => stepByText(view, t));
    assert.deepEqual([ab.lambdaSize, jkl.lambdaSize, nq.lambdaSize], [2, 3, 2]);
    // JKL: R = 1/3, A = -0.22: pushed down three times although JKLM is the best completion.
    assert.ok(Math.abs(jkl.processReward - 1 / 3) < 1e-5 && Math.abs(jkl.processAdvantage - -0.2214) < 1e-3);
    assert.ok(ab.processAdvantage > 0 && nq.processAdvantage < 0);
    assert.equal(view.steps.filter((s) => s.leafOf.length > 0).length, 6);
    // Outcome advantages +1.55 (r = 1), -1.11 (r = 0), +0.22 (r = 0.5).
    assert.deepEqual(view.completions.map((c) => Math.round(c.advantage * 100) / 100), [0.22, 0.22, 1.55, -1.11, -1.11, 0.22]);
    // Under "dapo" a step's summed weight is |lambda| x A under GRPO and A under lambda-GRPO (units of 1/T).
    for (const s of [ab, jkl, nq]) {
      assert.ok(Math.abs(s.pushGrpo - s.lambdaSize * s.pushLambda) < 1e-4, `step ${s.id}`);
      assert.ok(Math.abs(s.pushLambda - s.processAdvantage) < 1e-4, `step ${s.id}`);
    }
    const jklm = view.completions[2];
    assert.deepEqual(jklm.wGrpo, [1, 1]);
    assert.deepEqual(jklm.wLambda.map((w) => Math.round(w * 1e4) / 1e4), [0.3333, 1]);
  });

  test("switching group gives another tree; groups of a step and search by id", async () => {
    const groups = JSON.parse((await get(viewer, `/api/groups?step=${FIXTURE.exampleStep}`)).body) as { handle: number; id: string }[];
    assert.deepEqual(groups.map((g) => g.id), ["s3-g0", "s3-g1", "s3-g2"]);
    const other = JSON.parse((await get(viewer, `/api/group?handle=${groups[1].handle}`)).body) as GroupView;
    assert.equal(other.id, "s3-g1");
    const hits = JSON.parse((await get(viewer, "/api/search?q=S3-G")).body) as { id: string }[];
    assert.deepEqual(hits.map((h) => h.id), ["s3-g0", "s3-g1", "s3-g2"]);
    const run = JSON.parse((await get(viewer, "/api/run")).body) as { steps: unknown[]; groups: number; lossType: string };
    assert.equal(run.steps.length, FIXTURE.steps);
    assert.equal(run.groups, FIXTURE.steps * FIXTURE.groupsPerStep + 1); // + the hostile id
    assert.equal(run.lossType, "dapo");
    const metrics = JSON.parse((await get(viewer, "/api/metrics")).body) as { step: number[]; keys: string[] };
    assert.equal(metrics.step.length, FIXTURE.steps);
    assert.ok(metrics.keys.includes("env/target_rate") && metrics.keys.includes("path_depth_mean"));
  });
});

describe("index of rollouts.jsonl", () => {
  test("reads id and step from the leading fields, falls back to parsing the whole line", () => {
    assert.deepEqual(leadingScalars('{"id": "s1-g0", "step": 1, "completions": [{"tokens": [1]}]}').fields.get("id"), "s1-g0");
    assert.deepEqual(classifyLine('{"id":"a\\"b","step":2,"completions":[]}', "f", 1), { kind: "group", id: 'a"b', step: 2 });
    // id after the completions: only a full parse finds it.
    assert.deepEqual(classifyLine('{"step":2,"completions":[{"tokens":[1],"reward":0}],"id":"late"}', "f", 1), { kind: "group", id: "late", step: 2 });
    assert.deepEqual(classifyLine('{"group":3,"step":0,"tokens":[1,2],"reward":1}', "f", 1), { kind: "completion", group: 3, step: 0 });
    assert.throws(() => classifyLine('{"step":-1,"completions":[]}', "rollouts.jsonl", 7), /rollouts\.jsonl:7: step: expected a non-negative integer/);
    assert.throws(() => classifyLine("{oops", "rollouts.jsonl", 2), /rollouts\.jsonl:2: malformed JSON/);
  });

  test("a live run: appended groups are indexed, a half-written last line waits", async () => {
    const dir = join(root, "live");
    writeRun(dir);
    const index = await RunIndex.open(dir);
    const n = index.groupCount;
    const file = join(dir, "rollouts.jsonl");
    const line = JSON.stringify({ id: "s7-g0", step: 7, completions: [{ tokens: [1, 2], reward: 1 }, { tokens: [1, 3], reward: 0 }] });
    appendFileSync(file, line.slice(0, 20));
    await index.refresh();
    assert.equal(index.groupCount, n);
    appendFileSync(file, line.slice(20) + "\n");
    await index.refresh();
    assert.equal(index.groupCount, n + 1);
    assert.deepEqual(index.steps.at(-1), 7);
  });

  test("one completion per line: a group's lines are gathered; errors name file, line and field", async () => {
    const dir = join(root, "per-completion");
    const file = join(dir + ".jsonl");
    const lines = [
      { group: "g0", step: 1, tokens: [1, 2], reward: 1 },
      { group: "g0", step: 1, tokens: [1, 3], reward: 0 },
      { group: "g1", step: 1, tokens: [4], reward: 0.5 },
      { group: "g1", step: 1, tokens: [4, "x"], reward: 0.5 },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    const v = await startViewer({ path: file, port: 0 });
    try {
      const g0 = JSON.parse((await get(v, "/api/group?step=1&id=g0")).body) as GroupView;
      assert.equal(g0.k, 2);
      assert.equal(g0.steps[g0.roots[0]].lambdaSize, 2);
      const g1 = await get(v, "/api/group?step=1&id=g1");
      assert.equal(g1.status, 422);
      assert.match((JSON.parse(g1.body) as { error: string }).error, /per-completion\.jsonl:4: tokens\[1\]: expected a non-negative integer token id/);
    } finally {
      await v.close();
    }
  });
});

describe("security", () => {
  test("serves the run's files from the fixed list, and nothing else", async () => {
    assert.equal((await get(viewer, "/run/config.json")).status, 200);
    assert.equal((await get(viewer, "/run/metrics.jsonl")).status, 200);
    assert.equal((await get(viewer, "/run/rollouts.jsonl")).status, 200);
    assert.equal((await get(viewer, "/assets/viewer.js")).status, 200);
    for (const path of ["/run/secret.txt", "/secret.txt", "/run/", "/run", "/assets/", "/src/view/server.ts", "/package.json"]) {
      assert.equal((await get(viewer, path)).status, 404, path);
    }
  });

  test("traversal, absolute and encoded paths get 403/404", async () => {
    const probes = [
      "/../secret.txt",
      "/run/../../secret.txt",
      "/run/../secret.txt",
      "/assets/../../package.json",
      "//etc/passwd",
      "/run//etc/passwd",
      "/run/..%2fsecret.txt",
      "/run/%2e%2e/secret.txt",
      "/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/run/%252e%252e%252fsecret.txt",
      "/run/%25252e%25252e/secret.txt",
      "/run/..%5csecret.txt",
      "/run/..\\secret.txt",
      "/run/config.json%00.js",
      "/run/%2fetc%2fpasswd",
      "/run/%63onfig.json",
    ];
    for (const path of probes) {
      const r = await get(viewer, path);
      assert.ok(r.status === 403 || r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      assert.ok(!r.body.includes("do not serve") && !r.body.includes("root:"), path);
    }
    for (const t of ["/run/%2e%2e/x", "/run/%252e%252e/x", "/a/./b", "/run/..\\x"]) assert.throws(() => checkTarget(t), /path outside the run/, t);
  });

  test("absolute-form targets, oversized URLs and headers, bodies and other methods are refused", async () => {
    assert.equal((await get(viewer, "http://example.com/run/config.json")).status, 400);
    assert.equal((await get(viewer, "/api/search?q=" + "a".repeat(5000))).status, 414);
    assert.equal((await get(viewer, "/", { headers: { "X-Big": "b".repeat(20000) } })).status, 431);
    const post = await get(viewer, "/api/run", { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, HEAD");
    assert.equal((await get(viewer, "/run/config.json", { method: "PUT", body: "x" })).status, 405);
    assert.equal((await get(viewer, "/api/run", { headers: { "Content-Length": "3" }, body: "abc" })).status, 413);
  });

  test("answers only to its own loopback Host (DNS rebinding)", async () => {
    assert.equal((await get(viewer, "/api/run", { headers: { Host: "evil.example:80" } })).status, 403);
    assert.equal((await get(viewer, "/api/run", { headers: { Host: `localhost:${viewer.port}` } })).status, 200);
  });

  test("refuses to bind anything but loopback", async () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "127.0.0.1.nip.io", "", "::ffff:8.8.8.8"]) {
      assert.throws(() => loopbackAddress(host), UserError, host);
      await assert.rejects(startViewer({ path: join(root, "run"), host, port: 0 }), /not a loopback address/, host);
    }
    assert.equal(loopbackAddress("localhost"), "127.0.0.1");
    assert.equal(loopbackAddress("127.0.0.2"), "127.0.0.2");
    assert.equal(loopbackAddress("[::1]"), "::1");
  });

  test("security headers: a strict Content-Security-Policy, no sniffing, no framing", async () => {
    const r = await get(viewer, "/");
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-security-policy"]), /default-src 'none'; script-src 'self'/);
    assert.equal(r.headers["x-content-type-options"], "nosniff");
    assert.equal(r.headers["x-frame-options"], "DENY");
  });
});

describe("report", () => {
  test("embeds every group of evenly spread steps, first and last first", async () => {
    assert.deepEqual(pickSteps([1, 2, 3, 4, 5, 6, 7, 8, 9], 3), [1, 9, 5]);
    assert.deepEqual(pickSteps([1, 2, 3], 8), [1, 3, 2]);
    const { data } = await buildReportData(join(root, "run"), { steps: 2 });
    assert.deepEqual(data.run.steps.map((s) => s.step), [1, FIXTURE.steps]);
    assert.equal(data.views.length, 2 * FIXTURE.groupsPerStep + 1); // the last step has the hostile id too
    assert.match(data.run.subset!, /2 of 6 steps/);
    // A tiny budget keeps one step (at least one group).
    const small = await buildReportData(join(root, "run"), { maxBytes: 10 });
    assert.equal(small.data.views.length, 1);
  });

  test("lambda-grpo report writes one file that loads nothing from outside", async () => {
    const out = join(root, "cli-report.html");
    await reportMain([join(root, "run"), "--out", out, "--steps", "3"]);
    const html = readFileSync(out, "utf8");
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/);
    assert.doesNotMatch(html, /<script[^>]*\ssrc=|<link[^>]*\shref="(?!data:)/);
    assert.ok(html.includes('id="lgrpo-data"'));
    await assert.rejects(reportMain([join(root, "run")]), /--out is required/);
    await assert.rejects(reportMain([join(root, "run"), "--out", join(root, "x.html"), "--steps", "0"]), /--steps: expected an integer >= 1/);
    assert.equal(existsSync(join(root, "x.html")), false);
  });
});
