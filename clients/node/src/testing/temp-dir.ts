/** The repository's test temp directories (removed at exit), for tests under clients/. */
export { testTempDir } from "../../../../src/daemon/testing/test-temp-dir.ts";
