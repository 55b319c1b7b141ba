/**
 * Request bytes that do not decode as their protobuf message. grpc-js answers a throwing
 * `requestDeserialize` with INTERNAL ("Error deserializing request"), which tells the client the
 * daemon failed when the client sent garbage. So every method's deserializer is wrapped: bytes
 * that do not decode become an `UndecodableRequest`, and the handlers (handler-context.ts,
 * watch-handler.ts) answer it with invalid-argument naming the method and the message type —
 * counted under INVALID_ARGUMENT, the daemon never called. Both transports (the sockets and the
 * in-process one) serve the wrapped definitions.
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { definitionTypeName } from "@gmempool/contract";
import { GmempoolError } from "../pool/errors.ts";

export class UndecodableRequest {
  readonly error: GmempoolError;

  constructor(method: string, messageType: string, reason: string) {
    this.error = new GmempoolError("invalid-argument", `the request of ${method} does not decode as a ${messageType}: ${reason}`);
  }
}

/** The request's message type name ("GetArenaRequest") of a method of the contract's definitions. */
function requestTypeName(method: ServiceDefinition[string]): string {
  const requestType = (method as { requestType?: object }).requestType;
  return (requestType === undefined ? undefined : definitionTypeName(requestType)) ?? "request message";
}

/**
 * `definition` with deserializers that return an UndecodableRequest instead of throwing; each
 * decode's time goes to `observeDecode` (the server's check of how long a call holds the loop:
 * grpc-js decodes before the handler runs).
 */
export function tolerantDeserializers(definition: ServiceDefinition, observeDecode?: (method: string, ms: number) => void): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([name, method]) => {
      const messageType = requestTypeName(method);
      const requestDeserialize = (bytes: Buffer): unknown => {
        const started = performance.now();
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return new UndecodableRequest(name, messageType, error instanceof Error ? error.message : String(error));
        } finally {
          observeDecode?.(name, performance.now() - started);
        }
      };
      return [name, { ...method, requestDeserialize }];
    }),
  );
}

/** Throws the invalid-argument of a request that did not decode; returns the request otherwise. */
export function decodedRequest<T>(request: T | UndecodableRequest): T {
  if (request instanceof UndecodableRequest) throw request.error;
  return request;
}
