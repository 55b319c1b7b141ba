/**
 * Keeps the node's ResourceSlice true (resource-slice.ts): publishes it at start, then again
 * whenever the daemon's Watch reports a change, at most once per `minIntervalMs` (1 s by
 * default: a burst of allocations costs the API server one write). Create first; when the slice
 * exists, replace it with the resourceVersion last seen (read once after a conflict).
 * A failed write is logged and retried at the next change or interval; the daemon is the truth,
 * the slice only its published copy.
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment, @typescript-eslint/no-misused-spread --
   client-node's models are classes without behaviour; its ObjectSerializer reads their fields by
   attribute map, so a plain object serializes exactly like an instance (checked by
   slice-publisher.test.ts against the bodies on the wire). */
import type { ResourceV1Api, V1ResourceSlice } from "@kubernetes/client-node";
import type { PoolClient } from "../node/src/pool-client.ts";
import { resourceSliceFor, sliceName } from "./resource-slice.ts";

export interface SlicePublisherOptions {
  readonly driver: string;
  readonly nodeName: string;
  readonly pool: PoolClient;
  readonly api: Pick<ResourceV1Api, "createResourceSlice" | "replaceResourceSlice" | "readResourceSlice">;
  readonly minIntervalMs?: number;
  readonly log?: (message: string) => void;
}

export class SlicePublisher {
  readonly #o: SlicePublisherOptions;
  #generation = 0;
  #resourceVersion: string | undefined;
  #lastWrite = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  #stopped = false;
  #watch: { cancel(): void } | undefined;
  /** Slices written (tests and diagnostics). */
  published = 0;

  constructor(options: SlicePublisherOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#publish();
    const stream = this.#o.pool.watch({ allOwners: true });
    this.#watch = stream;
    void (async () => {
      try {
        for await (const _event of stream) this.changed();
      } catch (error) {
        if (!this.#stopped) this.#o.log?.(`watch ended: ${error instanceof Error ? error.message : String(error)}`);
      }
    })();
  }

  /** Something changed: publish now, or once the interval since the last write has passed. */
  changed(): void {
    this.#dirty = true;
    if (this.#timer !== undefined || this.#running !== undefined || this.#stopped) return;
    const wait = Math.max(0, this.#lastWrite + (this.#o.minIntervalMs ?? 1000) - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#publish().finally(() => {
        this.#running = undefined;
        if (this.#dirty) this.changed();
      });
    }, wait);
  }

  async #publish(): Promise<void> {
    this.#dirty = false;
    this.#lastWrite = Date.now();
    try {
      const status = await this.#o.pool.getPoolStatus();
      const reservations = await this.#o.pool.listReservations();
      const claimable = status.freeUnitCount + reservations.reduce((n, r) => n + r.sizeUnitCount, 0);
      const body = resourceSliceFor({ driver: this.#o.driver, nodeName: this.#o.nodeName, generation: ++this.#generation, claimableUnits: claimable });
      await this.#write(body);
      this.published++;
    } catch (error) {
      this.#dirty = true;
      this.#o.log?.(`ResourceSlice not published: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async #write(body: V1ResourceSlice): Promise<void> {
    const name = sliceName(this.#o.driver, this.#o.nodeName);
    if (this.#resourceVersion === undefined) {
      try {
        this.#resourceVersion = (await this.#o.api.createResourceSlice({ body })).metadata?.resourceVersion;
        return;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 409) throw error;
        this.#resourceVersion = (await this.#o.api.readResourceSlice({ name })).metadata?.resourceVersion;
      }
    }
    const replaced = await this.#o.api.replaceResourceSlice({ name, body: { ...body, metadata: { ...body.metadata, ...(this.#resourceVersion === undefined ? {} : { resourceVersion: this.#resourceVersion }) } } });
    this.#resourceVersion = replaced.metadata?.resourceVersion;
  }

  /** Waits for a write in flight or due; for tests. */
  async flushed(): Promise<void> {
    while (this.#timer !== undefined || this.#running !== undefined) await (this.#running ?? new Promise((r) => setTimeout(r, 20)));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#watch?.cancel();
  }
}
