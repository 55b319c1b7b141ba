/**
 * A local HTTP server standing in for the Kubernetes API server: it serves the ResourceClaims a
 * test puts in it (GET /apis/resource.k8s.io/v1/namespaces/NS/resourceclaims/NAME), records every
 * request with its body, and answers 404 in the API's Status shape for anything else. No real
 * cluster is involved (docs/kubernetes.md says so).
 */
import { createServer, type Server } from "node:http";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

export class FakeApiServer {
  readonly claims = new Map<string, object>();
  readonly requests: RecordedRequest[] = [];
  /** Answers for other paths, by "METHOD path" (e.g. ResourceSlice writes). */
  readonly handlers = new Map<string, (body: unknown) => { status: number; body: unknown }>();
  readonly #server: Server;
  #port = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        const body: unknown = text === "" ? undefined : JSON.parse(text);
        const path = (req.url ?? "").split("?")[0]!;
        this.requests.push({ method: req.method ?? "", path, body });
        const claim = /^\/apis\/resource\.k8s\.io\/v1\/namespaces\/([^/]+)\/resourceclaims\/([^/]+)$/.exec(path);
        const found = req.method === "GET" && claim !== null ? this.claims.get(`${claim[1]}/${claim[2]}`) : undefined;
        const handler = this.handlers.get(`${req.method ?? ""} ${path}`);
        const answer = found !== undefined ? { status: 200, body: found } : handler !== undefined ? handler(body) : { status: 404, body: { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: `${path} not found` } };
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(JSON.stringify(answer.body));
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    this.#port = typeof address === "object" && address !== null ? address.port : 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** A kubeconfig file in `dir` that points at this server (no TLS, no credentials). */
  async writeKubeconfig(dir: string): Promise<string> {
    const path = join(dir, "kubeconfig");
    await writeFile(path, JSON.stringify({
      apiVersion: "v1", kind: "Config", "current-context": "fake",
      // client-node refuses plain HTTP unless TLS verification is off (there is no TLS here).
      clusters: [{ name: "fake", cluster: { server: this.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "fake", user: {} }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }],
    }));
    return path;
  }

  /** A ResourceClaim allocated `memory` bytes-quantity of our driver's device. */
  putClaim(namespace: string, name: string, uid: string, memory: string, driver = "gmempool.dra"): void {
    this.claims.set(`${namespace}/${name}`, {
      apiVersion: "resource.k8s.io/v1", kind: "ResourceClaim",
      metadata: { namespace, name, uid },
      spec: { devices: { requests: [{ name: "mem", exactly: { deviceClassName: "gmempool-memory", capacity: { requests: { memory } } } }] } },
      status: { allocation: { devices: { results: [{ request: "mem", driver, pool: "node-a", device: "memory", consumedCapacity: { memory } }] } } },
    });
  }

  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
