/**
 * A TCP port on 127.0.0.1 that nothing listens on right now: bound to port 0, read, closed. For
 * a peer that must be told its port before it starts (the daemon's metrics.address, Prometheus's
 * --web.listen-address). Another process could take it in between; on this host's loopback, with
 * ports the kernel hands out in rotation, that has not been seen.
 */
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";

export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  server.listen({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}
