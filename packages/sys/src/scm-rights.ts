/**
 * struct msghdr with SCM_RIGHTS ancillary data, laid out in Buffers for sendmsg/recvmsg.
 *
 * The kernel follows pointers inside msghdr (msg_iov, msg_control), so those must be addresses
 * of memory that does not move: every buffer here is backed by its own ArrayBuffer (V8 may keep
 * tiny typed arrays on its moving heap; a standalone ArrayBuffer's store never moves) and stays
 * referenced by this object while the syscall runs.
 */
import koffi from "koffi";
import { asFd, type Fd } from "./fd.ts";
import { SCM_RIGHTS, SOL_SOCKET } from "./kernel-constants.ts";
import { cmsghdr, encodeStruct, iovec, msghdr } from "./structs.ts";

/** A Buffer whose memory never moves (see the file comment). */
export function stableBuffer(bytes: number): Buffer {
  return Buffer.from(new ArrayBuffer(bytes));
}

const CMSG_HEADER_BYTES = cmsghdr.size;
const align8 = (n: number): number => (n + 7) & ~7;
/** CMSG_LEN(n fds) and CMSG_SPACE(n fds) of <sys/socket.h>. */
export const cmsgLen = (fds: number): number => CMSG_HEADER_BYTES + 4 * fds;
export const cmsgSpace = (fds: number): number => CMSG_HEADER_BYTES + align8(4 * fds);

/** The pieces of one sendmsg call; keep the object alive until sendmsg returns. */
export class OutgoingMessage {
  readonly header: Buffer;
  readonly #payload: Buffer;
  readonly #iov: Buffer;
  readonly #control: Buffer | null;

  /** `fds` are borrowed: sendmsg installs copies in the peer, the caller keeps (and closes) its own. */
  constructor(payload: Uint8Array, fds: readonly number[]) {
    this.#payload = stableBuffer(payload.length);
    this.#payload.set(payload);
    this.#iov = encodeStruct(iovec, { iov_base: koffi.address(this.#payload), iov_len: payload.length });
    this.#control = null;
    if (fds.length > 0) {
      this.#control = stableBuffer(cmsgSpace(fds.length));
      koffi.encode(this.#control, 0, cmsghdr, { cmsg_len: cmsgLen(fds.length), cmsg_level: SOL_SOCKET, cmsg_type: SCM_RIGHTS });
      fds.forEach((fd, i) => this.#control?.writeInt32LE(fd, CMSG_HEADER_BYTES + 4 * i));
    }
    this.header = encodeStruct(msghdr, {
      msg_iov: koffi.address(this.#iov),
      msg_iovlen: 1,
      msg_control: this.#control === null ? 0 : koffi.address(this.#control),
      msg_controllen: this.#control?.length ?? 0,
    });
  }
}

/** Reusable buffers for recvmsg on one socket: room for `maxPayload` bytes and `maxFds` fds. */
export class IncomingMessageBuffers {
  readonly header: Buffer;
  readonly #payload: Buffer;
  readonly #iov: Buffer;
  readonly #control: Buffer;

  constructor(maxPayload: number, maxFds: number) {
    this.#payload = stableBuffer(maxPayload);
    this.#iov = encodeStruct(iovec, { iov_base: koffi.address(this.#payload), iov_len: maxPayload });
    this.#control = stableBuffer(cmsgSpace(maxFds));
    this.header = stableBuffer(msghdr.size);
    this.reset();
  }

  /** Restores the lengths recvmsg overwrote; call before every recvmsg. */
  reset(): void {
    this.#control.fill(0);
    koffi.encode(this.header, 0, msghdr, {
      msg_iov: koffi.address(this.#iov),
      msg_iovlen: 1,
      msg_control: koffi.address(this.#control),
      msg_controllen: this.#control.length,
    });
  }

  /** msg_flags after recvmsg (MSG_TRUNC, MSG_CTRUNC). */
  flags(): number {
    return this.header.readInt32LE(koffi.offsetof(msghdr, "msg_flags"));
  }

  /** A copy of the first `length` payload bytes. */
  payload(length: number): Uint8Array {
    return new Uint8Array(this.#payload.subarray(0, length));
  }

  /** Every fd of every SCM_RIGHTS message in the control data recvmsg returned. */
  fds(): Fd[] {
    const controlLength = Number(this.header.readBigUInt64LE(koffi.offsetof(msghdr, "msg_controllen")));
    const fds: Fd[] = [];
    for (let at = 0; at + CMSG_HEADER_BYTES <= controlLength; ) {
      const length = Number(this.#control.readBigUInt64LE(at));
      if (length < CMSG_HEADER_BYTES) break;
      const level = this.#control.readInt32LE(at + 8);
      const type = this.#control.readInt32LE(at + 12);
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        for (let i = CMSG_HEADER_BYTES; i + 4 <= length; i += 4) fds.push(asFd(this.#control.readInt32LE(at + i)));
      }
      at += align8(length);
    }
    return fds;
  }
}
