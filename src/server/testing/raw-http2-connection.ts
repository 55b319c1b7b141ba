/**
 * A hostile HTTP/2 client for tests: frames written by hand on a unix socket, so that it can do
 * what node's http2 (nghttp2) client never does — open more streams than the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS, before or after acknowledging it — and report, frame by
 * frame, what the server answered (RFC 9113 §6: HEADERS, RST_STREAM, GOAWAY, SETTINGS).
 *
 * Requests are gRPC calls with an empty message: HPACK literals without indexing or Huffman
 * (RFC 7541 §6.2.2), which every decoder takes.
 */
import { connect, type Socket } from "node:net";
import { once } from "node:events";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7 } as const;
const FLAG = { ACK: 0x1, END_STREAM: 0x1, END_HEADERS: 0x4 } as const;

/** What the server sent on the connection, in order. */
export type ServerFrame =
  | { readonly type: "headers"; readonly streamId: number }
  | { readonly type: "rst-stream"; readonly streamId: number; readonly errorCode: number }
  | { readonly type: "goaway"; readonly lastStreamId: number; readonly errorCode: number }
  | { readonly type: "settings"; readonly maxConcurrentStreams: number | undefined }
  | { readonly type: "ping-ack" };

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** A literal header field without indexing, new name (RFC 7541 §6.2.2); names and values < 127 bytes. */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name, "latin1"), Buffer.from([value.length]), Buffer.from(value, "latin1")]);
}

/** HEADERS + DATA (an empty gRPC message, END_STREAM) of one unary or server-streaming call. */
function request(streamId: number, path: string): Buffer {
  // 0x83 :method POST, 0x86 :scheme http (static table, RFC 7541 appendix A).
  const block = Buffer.concat([Buffer.from([0x83, 0x86]), literal(":path", path), literal(":authority", "localhost"), literal("content-type", "application/grpc"), literal("te", "trailers")]);
  return Buffer.concat([frame(FRAME.HEADERS, FLAG.END_HEADERS, streamId, block), frame(FRAME.DATA, FLAG.END_STREAM, streamId, Buffer.alloc(5))]);
}

export class RawHttp2Connection {
  readonly frames: ServerFrame[] = [];
  readonly #socket: Socket;
  #input = Buffer.alloc(0);
  #nextStreamId = 1;
  #ackSettings: boolean;
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(socket: Socket, ackSettings: boolean) {
    this.#socket = socket;
    this.#ackSettings = ackSettings;
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /**
   * Connects and sends the preface and an empty SETTINGS. `ackSettings`: acknowledge the
   * server's SETTINGS when they arrive (false: never, so its limits stay unacknowledged).
   */
  static async connect(path: string, options: { readonly ackSettings: boolean }): Promise<RawHttp2Connection> {
    const socket = connect(path);
    await once(socket, "connect");
    socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
    return new RawHttp2Connection(socket, options.ackSettings);
  }

  #isClosed(): boolean {
    return this.#closed;
  }

  /** Writes `count` calls of `path` in one write (so the server reads them together); their stream ids. */
  open(path: string, count: number): number[] {
    const ids = Array.from({ length: count }, () => (this.#nextStreamId += 2) - 2);
    this.#socket.write(Buffer.concat(ids.map((id) => request(id, path))));
    return ids;
  }

  /** Resolves once `condition` holds for the frames received (or the connection closed), rejects after `timeoutMs`. */
  async until(condition: (frames: readonly ServerFrame[]) => boolean, timeoutMs = 5000): Promise<void> {
    const wait = { late: false };
    const deadline = setTimeout(() => {
      wait.late = true;
      this.#wake();
    }, timeoutMs);
    try {
      while (!condition(this.frames)) {
        if (wait.late || this.#isClosed()) throw new Error(`${wait.late ? `not seen within ${timeoutMs} ms` : "connection closed"}; frames: ${JSON.stringify(this.frames)}`);
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /**
   * A PING, answered: the server has processed everything this connection sent before it (frames
   * are handled in order), the SETTINGS ACK included.
   */
  async ping(): Promise<void> {
    const seen = this.frames.filter((f) => f.type === "ping-ack").length;
    this.#socket.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8)));
    await this.until((frames) => frames.filter((f) => f.type === "ping-ack").length > seen);
  }

  close(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #read(chunk: Buffer): void {
    this.#input = Buffer.concat([this.#input, chunk]);
    while (this.#input.length >= 9) {
      const length = this.#input.readUIntBE(0, 3);
      if (this.#input.length < 9 + length) break;
      const type = this.#input[3]!;
      const flags = this.#input[4]!;
      const streamId = this.#input.readUInt32BE(5) & 0x7fffffff;
      const payload = this.#input.subarray(9, 9 + length);
      this.#input = this.#input.subarray(9 + length);
      if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) {
        let maxConcurrentStreams: number | undefined;
        for (let at = 0; at + 6 <= payload.length; at += 6) if (payload.readUInt16BE(at) === 0x3) maxConcurrentStreams = payload.readUInt32BE(at + 2);
        this.frames.push({ type: "settings", maxConcurrentStreams });
        if (this.#ackSettings) this.#socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      } else if (type === FRAME.HEADERS) this.frames.push({ type: "headers", streamId });
      else if (type === FRAME.RST_STREAM) this.frames.push({ type: "rst-stream", streamId, errorCode: payload.readUInt32BE(0) });
      else if (type === FRAME.PING && (flags & FLAG.ACK) !== 0) this.frames.push({ type: "ping-ack" });
      else if (type === FRAME.GOAWAY) this.frames.push({ type: "goaway", lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, errorCode: payload.readUInt32BE(4) });
    }
    this.#wake();
  }
}
