/**
 * The viewer's local HTTP server (node:http). Security is by construction, not by filtering:
 * - it binds loopback addresses only (127.0.0.0/8, ::1, "localhost"); anything else is refused before
 *   listening, and requests whose Host header is not this loopback address are refused (DNS rebinding);
 * - it serves a fixed table of paths: the page, its five assets, the JSON API, and the run's three files
 *   (config.json, metrics.jsonl, rollouts.jsonl, read from the paths found at start); for a sweep folder,
 *   /api/sweep and a run's metrics by its position in the list of runs found at start. No request path is
 *   ever joined to a directory, so there is nothing to traverse; dot segments, backslashes and
 *   percent-encoding are still answered 403/404 up front so a probe learns nothing;
 * - GET/HEAD only (405 otherwise), no request body (413), URL at most MAX_URL_BYTES (414), headers at
 *   most MAX_HEADER_BYTES (431, by node), slow clients cut off by timeouts.
 */
import { createReadStream, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { groupScale, LOSS_TYPES, rewardStd, type LossType, type RewardScaling } from "../prm/index.js";
import { loadTokenizer, type TextEncoder } from "../io/tokenizer.js";
import { GPT2_L, GPT2_R } from "../rl/env/tree.js";
import { UserError } from "../util/errors.js";
import { groupView, readGroup, type GroupView, type TokenDecoder } from "./groupView.js";
import { MetricsCache } from "./metrics.js";
import { ASSET_PATHS, SERVER_CSP, servedPage } from "./page.js";
import { RunIndex } from "./runIndex.js";
import { isSweep, SweepData } from "./sweep.js";

/** Longest request target accepted; the API's longest honest URL is a search of ~100 characters. */
export const MAX_URL_BYTES = 2048;
/** Largest request head (node's default is 16 KiB); a browser's is well under 2 KiB. */
export const MAX_HEADER_BYTES = 8192;
/** Groups whose drawn form is kept in memory, so going back and forth between groups is instant. */
const GROUP_CACHE = 64;
/** Most search results sent for one query. */
const SEARCH_LIMIT = 50;

/**
 * The address to bind for `--host`, or a UserError: loopback only. Names other than "localhost" are refused
 * rather than resolved (a name can point anywhere, and change).
 */
export function loopbackAddress(host: string): string {
  let h = host.trim();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h.toLowerCase() === "localhost") return "127.0.0.1";
  const kind = isIP(h);
  if (kind === 4 && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) && h.split(".").every((p) => Number(p) <= 255)) return h;
  if (kind === 6 && /^(0{0,4}:){2,7}0{0,3}1$|^::1$/i.test(h)) return "::1";
  throw new UserError(
    `--host: '${host}' is not a loopback address; the viewer serves your run's files and only binds ` +
      `127.0.0.1, ::1 or localhost (to look from another machine, forward the port, e.g. ssh -L 8765:127.0.0.1:8765)`,
  );
}

export interface RunSettings {
  lossType: LossType;
  scaleRewards: RewardScaling;
  maxCompletionLength?: number;
  /** The run's objective, from config.json (null: unknown). */
  lambda: boolean | null;
  config: Record<string, unknown> | null;
}

/** The loss settings to draw a run with: from its config.json, overridden by options. */
export async function runSettings(configPath: string | null, lossType?: LossType): Promise<RunSettings> {
  let config: Record<string, unknown> | null = null;
  if (configPath !== null) {
    try {
      const v: unknown = JSON.parse(await readFile(configPath, "utf8"));
      if (v !== null && typeof v === "object" && !Array.isArray(v)) config = v as Record<string, unknown>;
    } catch (err) {
      throw new UserError(`${configPath}: malformed JSON (${(err as Error).message})`);
    }
  }
  const lt = lossType ?? (config?.loss_type as LossType | undefined) ?? "dapo";
  if (!LOSS_TYPES.includes(lt)) {
    const where = lossType !== undefined ? "--loss-type" : `${configPath}: loss_type`;
    throw new UserError(`${where}: expected one of ${LOSS_TYPES.join(", ")}, got ${JSON.stringify(lt)}`);
  }
  const sr = config?.scale_rewards;
  const scaleRewards: RewardScaling = sr === "batch" || sr === "none" ? sr : "group";
  const mcl = config?.max_completion_length;
  return {
    lossType: lt,
    scaleRewards,
    maxCompletionLength: typeof mcl === "number" && Number.isInteger(mcl) && mcl > 0 ? mcl : undefined,
    lambda: typeof config?.lambda === "boolean" ? config.lambda : null,
    config,
  };
}

/**
 * The toy tree environment (src/rl/env/tree.ts) emits two tokens, its moves L and R: name them, from
 * config.json's env.left_token / env.right_token, else the environment's defaults (GPT-2's ids of "L" and
 * "R", 43 and 49). Any other id is shown as a number.
 */
export function treeEnvDecoder(config: Record<string, unknown> | null): TokenDecoder | undefined {
  const env = config?.env as Record<string, unknown> | undefined;
  if (env?.name !== "tree") return undefined;
  const L = typeof env.left_token === "number" ? env.left_token : GPT2_L;
  const R = typeof env.right_token === "number" ? env.right_token : GPT2_R;
  return { decode: (ids) => ids.map((i) => (i === L ? "L" : i === R ? "R" : `\u27e8${i}\u27e9`)).join("") };
}

/**
 * The run's own tokenizer.json, when its config names one: `tokenizer` (a tokenizer.json, or a directory
 * holding one) or `model` when it is a Hugging Face directory with a tokenizer.json. A relative path is
 * tried from the working directory, then from the run directory. null: none known.
 */
export function runTokenizer(config: Record<string, unknown> | null, runDir: string | null): string | null {
  for (const field of ["tokenizer", "model"]) {
    const v = config?.[field];
    if (typeof v !== "string" || v.length === 0) continue;
    const bases = isAbsolute(v) ? [v] : [resolve(v), ...(runDir !== null ? [resolve(runDir, v)] : [])];
    for (const p of bases) {
      for (const file of [p, join(p, "tokenizer.json")]) {
        try {
          if (statSync(file).isFile() && (file !== p || field === "tokenizer")) return file;
        } catch {
          // not there
        }
      }
    }
  }
  return null;
}

/** Summary of a run for the page header and the step picker. */
export interface RunInfo {
  name: string;
  /** "run" (a run directory), "rollouts" (a rollouts file alone) or "sweep" (a folder of runs: /api/sweep). */
  kind: "run" | "rollouts" | "sweep";
  steps: { step: number | null; groups: number }[];
  groups: number;
  hasMetrics: boolean;
  /** How token ids are shown as text: "tokenizer" (--tokenizer or the run's), "tree env" (the toy's L/R), or null (ids). */
  tokenText: "tokenizer" | "tree env" | null;
  /** The tokenizer.json's file name, when one decodes the tokens. */
  tokenizer: string | null;
  /**
   * The run's largest |a| over every completion of every group (indexed so far): the fixed colour scale of
   * the process advantage. It bounds every step's |A| (R is a mean of its members' rewards, so A is a mean
   * of their a). null: no groups.
   */
  maxAbsAdvantage: number | null;
  lossType: LossType;
  scaleRewards: RewardScaling;
  lambda: boolean | null;
  config: Record<string, unknown> | null;
  /** Set by the report: which part of the run it embeds. */
  subset?: string;
}

export interface GroupRef {
  handle: number;
  id: string | number;
  step: number | null;
  index: number;
}

/** What the API and the report both need: the run's index, its metrics, and drawn groups. */
export class RunData {
  private cache = new Map<number, GroupView>();
  private batchStd = new Map<number | null, number>();
  private maxA: { groups: number; value: number | null } = { groups: -1, value: null };

  private constructor(
    readonly index: RunIndex,
    readonly settings: RunSettings,
    readonly metrics: MetricsCache | null,
    private readonly encoder: TextEncoder | undefined,
    private readonly decoder: TokenDecoder | undefined,
    private readonly tokenText: RunInfo["tokenText"],
    private readonly tokenizerPath: string | null,
  ) {}

  static async open(path: string, opts: { tokenizer?: string; lossType?: LossType } = {}): Promise<RunData> {
    const index = await RunIndex.open(path);
    const settings = await runSettings(index.files.config, opts.lossType);
    const tokenizerPath = opts.tokenizer ?? runTokenizer(settings.config, index.files.dir);
    const tokenizer = tokenizerPath !== null ? await loadTokenizer(tokenizerPath) : undefined;
    const decoder = tokenizer ?? treeEnvDecoder(settings.config);
    const metrics = index.files.metrics ? new MetricsCache(index.files.metrics) : null;
    const tokenText = tokenizer ? "tokenizer" : decoder ? "tree env" : null;
    return new RunData(index, settings, metrics, tokenizer, decoder, tokenText, tokenizerPath);
  }

  /** RunInfo.maxAbsAdvantage, recomputed only when groups were added (rewards as the index read them). */
  maxAbsAdvantage(): number | null {
    const n = this.index.groupCount;
    if (this.maxA.groups === n) return this.maxA.value;
    const scale = this.settings.scaleRewards;
    const stepStd = new Map<number | null, number>();
    if (scale === "batch") {
      for (const step of this.index.steps) {
        const all = this.index.groupsOf(step).flatMap((h) => this.index.entry(h)!.rewards);
        if (all.length > 0) stepStd.set(step, rewardStd(all));
      }
    }
    let max: number | null = null;
    for (let h = 0; h < n; h++) {
      const e = this.index.entry(h)!;
      if (e.rewards.length === 0 || !e.rewards.every(Number.isFinite)) continue;
      const g = groupScale(e.rewards, { scale, batchStd: stepStd.get(e.step) });
      if (g.noSignal) continue;
      for (const r of e.rewards) max = Math.max(max ?? 0, Math.abs(r - g.mean) / g.denom);
    }
    this.maxA = { groups: n, value: max };
    return max;
  }

  info(): RunInfo {
    const f = this.index.files;
    return {
      name: f.dir !== null ? basename(f.dir) : basename(f.rollouts),
      kind: f.dir !== null ? "run" : "rollouts",
      steps: this.index.steps.map((step) => ({ step, groups: this.index.groupsOf(step).length })),
      groups: this.index.groupCount,
      hasMetrics: f.metrics !== null,
      tokenText: this.tokenText,
      tokenizer: this.tokenizerPath !== null ? basename(dirname(this.tokenizerPath)) + "/" + basename(this.tokenizerPath) : null,
      maxAbsAdvantage: this.maxAbsAdvantage(),
      lossType: this.settings.lossType,
      scaleRewards: this.settings.scaleRewards,
      lambda: this.settings.lambda,
      config: this.settings.config,
    };
  }

  ref(handle: number): GroupRef {
    const e = this.index.entry(handle)!;
    return { handle, id: e.id, step: e.step, index: e.index };
  }

  groupsOf(step: number | null): GroupRef[] {
    return this.index.groupsOf(step).map((h) => this.ref(h));
  }

  /** The drawn form of one group (computed with the PRM library, cached). */
  async group(handle: number): Promise<GroupView> {
    const hit = this.cache.get(handle);
    if (hit !== undefined) {
      this.cache.delete(handle);
      this.cache.set(handle, hit);
      return hit;
    }
    const entry = this.index.entry(handle);
    if (entry === undefined) throw new UserError(`no group ${handle}`);
    const g = await readGroup(this.index.files.rollouts, entry, this.encoder);
    const batchStd = this.settings.scaleRewards === "batch" ? await this.stepStd(entry.step) : undefined;
    const view = groupView(handle, g, {
      lossType: this.settings.lossType,
      maxCompletionLength: this.settings.maxCompletionLength,
      scale: this.settings.scaleRewards,
      batchStd,
      decoder: this.decoder,
    });
    this.cache.set(handle, view);
    if (this.cache.size > GROUP_CACHE) this.cache.delete(this.cache.keys().next().value!);
    return view;
  }

  /** The n-1 std of all rewards of a step ("batch" scaling reads the step's groups once). */
  private async stepStd(step: number | null): Promise<number> {
    let s = this.batchStd.get(step);
    if (s === undefined) {
      const rewards: number[] = [];
      for (const h of this.index.groupsOf(step)) {
        const g = await readGroup(this.index.files.rollouts, this.index.entry(h)!, this.encoder);
        for (const c of g.completions) rewards.push(c.reward);
      }
      s = rewardStd(rewards);
      this.batchStd.set(step, s);
    }
    return s;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": SERVER_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void {
  const buf = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type, "Content-Length": buf.length });
  res.end(head ? undefined : buf);
}

function sendJson(res: ServerResponse, value: unknown, head: boolean): void {
  send(res, 200, "application/json; charset=utf-8", JSON.stringify(value), head);
}

/**
 * The route of a raw request target, or an HttpError. Paths are compared as raw text against the fixed
 * table, so "/run/%2e%2e/x" is simply not a route; the checks here only make refusals explicit.
 */
export function checkTarget(target: string): { path: string; query: URLSearchParams } {
  if (Buffer.byteLength(target, "utf8") > MAX_URL_BYTES) throw new HttpError(414, "URL too long");
  if (!target.startsWith("/") || target.startsWith("//")) throw new HttpError(400, "expected a path starting with one '/'");
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
  // Decode up to three times so double- and triple-encoded dot segments are recognised as what they are.
  let decoded = path;
  for (let i = 0; i < 3; i++) {
    const d = safeDecode(decoded);
    if (d === null) throw new HttpError(400, "malformed percent-encoding");
    if (/(^|[\\/])\.\.?([\\/]|$)/.test(d) || d.includes("\\") || d.includes("\0") || /\/\//.test(d)) {
      throw new HttpError(403, "path outside the run");
    }
    if (d === decoded) break;
    decoded = d;
  }
  if (path.includes("%")) throw new HttpError(404, "not found");
  return { path, query };
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

function intParam(query: URLSearchParams, name: string): number {
  const v = query.get(name);
  if (v === null || !/^\d{1,9}$/.test(v)) throw new HttpError(400, `${name}: expected a non-negative integer`);
  return Number(v);
}

function stepParam(query: URLSearchParams): number | null {
  const v = query.get("step");
  if (v === null || v === "" || v === "none") return null;
  return intParam(query, "step");
}

export interface ViewerOptions {
  /** A run directory or a rollouts .jsonl file. */
  path: string;
  /** Loopback only (default 127.0.0.1). */
  host?: string;
  /** 0 picks a free port (default 0). */
  port?: number;
  tokenizer?: string;
  lossType?: LossType;
}

/** The header of a sweep folder's page (its runs: /api/sweep). */
function sweepInfo(sweep: SweepData): RunInfo {
  return {
    name: sweep.info.name,
    kind: "sweep",
    steps: [],
    groups: 0,
    hasMetrics: true,
    tokenText: null,
    tokenizer: null,
    maxAbsAdvantage: null,
    lossType: "dapo",
    scaleRewards: "group",
    lambda: null,
    config: null,
  };
}

export interface Viewer {
  url: string;
  host: string;
  port: number;
  /** The run shown, or null for a sweep folder. */
  data: RunData | null;
  sweep: SweepData | null;
  /** One line for the command's start message. */
  summary: string;
  server: Server;
  close(): Promise<void>;
}

/** Start the viewer; resolves once it listens. */
export async function startViewer(opts: ViewerOptions): Promise<Viewer> {
  const host = loopbackAddress(opts.host ?? "127.0.0.1");
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port: expected 0..65535, got ${port}`);
  const sweep = (await isSweep(opts.path)) ? await SweepData.open(opts.path) : null;
  const data = sweep === null ? await RunData.open(opts.path, { tokenizer: opts.tokenizer, lossType: opts.lossType }) : null;
  const files = data?.index.files;
  const runFiles = new Map<string, () => string | null>([
    ["/run/config.json", () => files?.config ?? null],
    ["/run/metrics.jsonl", () => files?.metrics ?? null],
    ["/run/rollouts.jsonl", () => files?.rollouts ?? null],
  ]);
  const name = sweep ? sweep.info.name : data!.info().name;
  const page = servedPage(`lambda-grpo view · ${name}`);
  let allowedHosts = new Set<string>();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "";
    if (Buffer.byteLength(target, "utf8") > MAX_URL_BYTES) throw new HttpError(414, "URL too long");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      throw new HttpError(405, "only GET and HEAD");
    }
    const length = req.headers["content-length"];
    if ((length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined) {
      throw new HttpError(413, "requests have no body here");
    }
    if (!allowedHosts.has((req.headers.host ?? "").toLowerCase())) {
      throw new HttpError(403, "unexpected Host header (this server answers only to its loopback address)");
    }
    const head = req.method === "HEAD";
    const { path, query } = checkTarget(target);

    if (path === "/" || path === "/index.html") return send(res, 200, "text/html; charset=utf-8", page, head);
    const a = ASSET_PATHS[path as keyof typeof ASSET_PATHS];
    if (a !== undefined) return send(res, 200, a.type, await a.text(), head);

    const fileOf = runFiles.get(path);
    if (fileOf !== undefined) {
      const file = fileOf();
      if (file === null) throw new HttpError(404, "not found");
      let size: number;
      try {
        const s = await stat(file);
        if (!s.isFile()) throw new Error("not a file");
        size = s.size;
      } catch {
        throw new HttpError(404, "not found");
      }
      const type = path.endsWith(".json") ? "application/json; charset=utf-8" : "application/x-ndjson; charset=utf-8";
      res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": type, "Content-Length": size });
      if (head || size === 0) return void res.end();
      // Stream the size seen now (a live run may be appending); a huge rollouts file never sits in memory.
      createReadStream(file, { start: 0, end: Math.max(0, size - 1) }).on("error", () => res.destroy()).pipe(res);
      return;
    }

    if (sweep !== null) {
      switch (path) {
        case "/api/run":
          return sendJson(res, sweepInfo(sweep), head);
        case "/api/sweep": {
          const { dir: _dir, ...info } = sweep.info;
          return sendJson(res, info, head);
        }
        case "/api/sweep/metrics": {
          const m = await sweep.runMetrics(intParam(query, "run"));
          if (m === null) throw new HttpError(404, "no such run");
          return sendJson(res, m, head);
        }
      }
      throw new HttpError(404, "not found");
    }
    if (data === null) throw new HttpError(404, "not found");
    switch (path) {
      case "/api/run":
        await data.index.refresh();
        return sendJson(res, data.info(), head);
      case "/api/metrics":
        return sendJson(res, data.metrics ? await data.metrics.get() : null, head);
      case "/api/groups": {
        const step = stepParam(query);
        return sendJson(res, data.groupsOf(step), head);
      }
      case "/api/group": {
        let handle: number;
        if (query.has("handle")) handle = intParam(query, "handle");
        else {
          const id = query.get("id");
          if (id === null) throw new HttpError(400, "expected handle=N, or step=S and id=ID");
          handle = data.index.find(stepParam(query), id);
        }
        if (data.index.entry(handle) === undefined) throw new HttpError(404, "no such group");
        return sendJson(res, await data.group(handle), head);
      }
      case "/api/search": {
        const q = (query.get("q") ?? "").slice(0, 200);
        return sendJson(res, q === "" ? [] : data.index.search(q, SEARCH_LIMIT).map((h) => data.ref(h)), head);
      }
    }
    throw new HttpError(404, "not found");
  }

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof UserError ? 422 : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) console.error(err);
      if (res.headersSent) return void res.destroy();
      // Close the connection on refusals: an unread body or a probing client gets no second request.
      res.setHeader("Connection", "close");
      send(res, status, "application/json; charset=utf-8", JSON.stringify({ error: message }), req.method === "HEAD");
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "EADDRINUSE"
        ? new UserError(`--port: ${port} is in use; pick another (--port 0 takes any free port)`)
        : new UserError(`cannot listen on ${host}:${port} (${err.code ?? err.message})`));
    });
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  // Belt and braces: whatever the OS did, a non-loopback socket is closed before it answers anything.
  try {
    loopbackAddress(addr.address);
  } catch (err) {
    server.close();
    throw err;
  }
  const hostPart = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  allowedHosts = new Set([`${hostPart}:${addr.port}`, `localhost:${addr.port}`]);
  return {
    url: `http://${hostPart}:${addr.port}/`,
    host: addr.address,
    port: addr.port,
    data,
    sweep,
    summary: sweep
      ? `${name}: a sweep of ${sweep.info.runs.length} runs in ${sweep.info.cells.length} cell(s)`
      : `${name}: ${data!.info().steps.length} step(s), ${data!.info().groups} group(s)`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
