/**
 * A real Prometheus (Debian's `prometheus`, 2.42) as a child process, for the test that scrapes
 * the spawned daemon: its config, its TSDB and its log in a temporary directory, its web API on
 * 127.0.0.1 at a free port. Every process started here is stopped by its owner (`stop`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { testTempDir } from "../../daemon/testing/test-temp-dir.ts";
import { freeTcpPort } from "./free-tcp-port.ts";

/** One element of an instant vector from /api/v1/query. */
export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

export class PrometheusProcess {
  /** http://127.0.0.1:PORT, the web API. */
  readonly url: string;
  readonly child: ChildProcess;
  readonly log: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(url: string, child: ChildProcess) {
    this.url = url;
    this.child = child;
    this.exited = once(child, "exit").then(([code]) => code as number | null);
    for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (chunk: Buffer) => this.log.push(chunk.toString("utf8")));
  }

  /** Starts Prometheus scraping `targets` ("host:port", path /metrics) every second; resolves once /-/ready answers. */
  static async start(options: { readonly targets: readonly string[]; readonly readyTimeoutMs?: number }): Promise<PrometheusProcess> {
    const dir = await testTempDir("prometheus-");
    const configFile = join(dir, "prometheus.yml");
    writeFileSync(configFile, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: gmempool\n    static_configs:\n      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(", ")}]\n`);
    const port = await freeTcpPort();
    const child = spawn("prometheus", [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const prometheus = new PrometheusProcess(`http://127.0.0.1:${port}`, child);
    try {
      await prometheus.#poll(options.readyTimeoutMs ?? 10_000, "/-/ready", async () => (await fetch(`${prometheus.url}/-/ready`)).ok);
    } catch (error) {
      await prometheus.stop();
      throw error;
    }
    return prometheus;
  }

  /** An instant query through the HTTP API (/api/v1/query); rejects on anything but success. */
  async query(promql: string): Promise<PromSample[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
    if (body.status !== "success" || body.data?.resultType !== "vector") throw new Error(`query ${promql}: ${body.status} ${body.error ?? body.data?.resultType ?? ""}`);
    return body.data.result;
  }

  /** Polls `query(promql)` until it returns at least `count` samples; a timeout names the query and shows Prometheus's log. */
  async waitForSamples(promql: string, count: number, timeoutMs: number): Promise<PromSample[]> {
    let samples: PromSample[] = [];
    await this.#poll(timeoutMs, promql, async () => (samples = await this.query(promql)).length >= count);
    return samples;
  }

  async #poll(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`prometheus exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}:\n${this.log.join("")}`);
      try {
        if (await check()) return;
      } catch (error) {
        last = error; // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus: ${what} not there within ${timeoutMs} ms (last error: ${String(last)}):\n${this.log.join("")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s; resolves once it has. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
