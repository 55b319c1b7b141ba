// The reflection index's thread (reflection.ts): @grpc/reflection's implementation, built from
// the descriptor files in workerData, answers each request posted to it, in order. Plain
// JavaScript so that node runs it as it is, from the bundled daemon and from the sources alike.
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";

const { ReflectionV1Implementation } = createRequire(import.meta.url)("@grpc/reflection/build/src/implementations/reflection-v1.js");

// The library reads nothing of a definition but its fileDescriptorProtos (reflection.ts).
const implementation = new ReflectionV1Implementation({
  "gmempool.reflection.files": { format: "Protocol Buffer 3 EnumDescriptorProto", type: {}, fileDescriptorProtos: workerData.files },
});

parentPort.on("message", ({ id, request }) => {
  try {
    parentPort.postMessage({ id, response: implementation.handleServerReflectionRequest(request) });
  } catch (error) {
    parentPort.postMessage({ id, failure: error instanceof Error ? error.message : String(error) });
  }
});
