/** GET /metrics over a unix socket or a TCP address, for tests and benchmarks. */
import { get, type RequestOptions } from "node:http";

/** `target`: `{ socketPath }` or `{ host, port }`. Resolves with the HTTP status and the body. */
export async function scrapeMetrics(target: RequestOptions): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get({ ...target, path: "/metrics" }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text })).on("error", reject);
    }).on("error", reject);
  });
}

/** The value of an unlabelled series in a scrape, or NaN when absent. */
export function sampleValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}
