/**
 * The daemon's replies as the client library reads them: the contract's decoders
 * (@gmempool/contract codec/, the same tables the daemon encodes with), with what they cannot
 * translate (an enum value or event case this client does not know, a field the proto requires
 * left out: a daemon newer than the client, or a bug) reported as this library's InternalError.
 * That classification is all that is the client's own here.
 */
import * as contract from "@gmempool/contract";
import { InternalError } from "../pool-errors.ts";

/** `decode` with a WireValueError turned into InternalError, keeping it as the cause. */
function readingReply<A extends unknown[], R>(decode: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return decode(...args);
    } catch (error) {
      if (error instanceof contract.WireValueError) throw new InternalError(`the daemon's reply cannot be read (a daemon newer than this client?): ${error.message}`, { cause: error });
      throw error;
    }
  };
}

export const decodeArena = readingReply(contract.decodeArena);
export const decodeCapabilities = readingReply(contract.decodeCapabilities);
export const decodeFragmentationMap = readingReply(contract.decodeFragmentationMap);
export const decodeLease = readingReply(contract.decodeLease);
export const decodePolicyView = readingReply(contract.decodePolicyView);
export const decodePoolStatus = readingReply(contract.decodePoolStatus);
export const decodeQuotaUsage = readingReply(contract.decodeQuotaUsage);
export const decodeWatchEvent = readingReply(contract.decodePoolEvent);
export const decodeConvertResult = readingReply(contract.decodeConvertResult);
export const decodeDeleteArenaResult = readingReply(contract.decodeDeleteArenaResult);
export const decodeDiscardResult = readingReply(contract.decodeDiscardResult);
export const decodeForceReleaseResult = readingReply(contract.decodeForceReleaseResult);
export const decodePopulateResult = readingReply(contract.decodePopulateResult);
export const decodeReleaseResult = readingReply(contract.decodeReleaseResult);
export const decodeSetPolicyResult = readingReply(contract.decodeSetPolicyResult);
