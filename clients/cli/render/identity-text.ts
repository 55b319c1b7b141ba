/** A process identity in one short phrase, for tables and event lines. */
import type { Identity } from "../../node/src/resources.ts";

export function identityText(identity: Identity): string {
  return `pid ${identity.pid} uid ${identity.uid}`;
}
