/**
 * protobufjs generates a message type's encoder, decoder and converters with `new Function` the
 * first time the type is used (Type#setup), inside whichever call first needs it: 8–14 ms of
 * CPU for the first CreateMemfdArena, Allocate or GetFragmentationMap of a daemon's life, and a
 * share of the first Watch burst (CPU profiles of `npm run bench -- flood --node-arg
 * --cpu-prof`). That is a loop block a caller causes and another tenant waits for (issue 12,
 * "no request blocks the loop > 10 ms").
 *
 * So once the daemon serves, every message type of the package definition is set up ahead, one
 * type per event-loop task, by a round trip of an empty message through it: that generates the
 * type's own code and its constructor's, and no other type's (an empty message reaches no
 * nested type). The types are the definition's own (@gmempool/contract's messageTypesOf; one
 * definition per process, shared with the server), so calls find their code generated. Nothing
 * here is on a call's path.
 */
import type * as protoLoader from "@grpc/proto-loader";
import { messageTypesOf } from "@gmempool/contract";

export interface CodecWarmUp {
  /** Resolves with the number of types set up once all are (or once stopped). */
  readonly done: Promise<number>;
  /** Sets up no further type. */
  stop(): void;
}

/** Starts setting up the definition's types, one per `setImmediate` (calls that arrive meanwhile interleave with it). */
export function warmUpCodecs(definition: protoLoader.PackageDefinition): CodecWarmUp {
  const types = messageTypesOf(definition);
  let ran = 0;
  let stopped = false;
  const done = new Promise<number>((resolve) => {
    const next = (): void => {
      const type = types[ran];
      if (stopped || type === undefined) {
        resolve(ran);
        return;
      }
      ran += 1;
      type.toObject(type.decode(type.encode(type.fromObject({})).finish()));
      setImmediate(next);
    };
    setImmediate(next);
  });
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}
