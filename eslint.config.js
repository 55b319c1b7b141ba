// ESLint flat config: type-aware typescript-eslint rules plus the layer rule of DESIGN.md §4.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Which folders a layer may import from (besides itself and node_modules).
 * Imports flow downward only: server -> daemon -> pool and kvm. src/pool imports nothing
 * outside itself, not even Node built-ins (types of the wire contract only). Clients import nothing from src/. The wire contract
 * (packages/contract, @gmempool/contract) and the koffi binding of Linux (packages/sys,
 * @gmempool/sys) are below both: they import only node_modules (not even each other), and the
 * daemon and the clients import them by their package names.
 */
const LAYERS = [
  // The core loads nothing; it may name the wire contract's types (erased: ErrorKind).
  { layer: "src/pool", forbidden: ["**/kvm/**", "**/daemon/**", "**/server/**", "**/clients/**", "node:*", "fs", "os", "path", "child_process", "koffi", "@grpc/*"], typesOnly: ["@gmempool/*"] },
  { layer: "src/kvm", forbidden: ["**/pool/**", "**/daemon/**", "**/server/**", "**/clients/**"] },
  { layer: "src/daemon", forbidden: ["**/server/**", "**/clients/**", "@grpc/*"] },
  { layer: "src/server", forbidden: ["**/clients/**"] },
  // Clients reach the repository's src/ only by climbing out of clients/ ("../../src/..."); a
  // glob like "**/src/**" would also match the client library's own clients/node/src.
  { layer: "clients", forbidden: [], forbiddenRegex: "^(\\.\\./)+src/" },
  // The contract's own sources live in packages/contract/src, so "**/src/**" cannot name the
  // daemon here either: anything reached by climbing out of the package is forbidden.
  { layer: "packages/contract", forbidden: ["@gmempool/client", "@gmempool/client/*", "@gmempool/sys", "@gmempool/sys/*"], forbiddenRegex: "^(\\.\\./)+(\\.\\.|src|clients|bench|scripts)(/|$)" },
  // The same for the koffi binding (packages/sys/src): koffi and Node built-ins only.
  { layer: "packages/sys", forbidden: ["@gmempool/*"], forbiddenRegex: "^(\\.\\./)+(\\.\\.|src|clients|bench|scripts|packages)(/|$)" },
];

/** Test support of the workspace packages (the real-kernel test gate): tests only. */
const PACKAGE_TEST_SUPPORT = ["@gmempool/sys/testing", "@gmempool/sys/testing/*"];

export default tseslint.config(
  { ignores: ["dist/**", "coverage/**", "node_modules/**", "packages/contract/src/generated/**", "**/dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Typed-array and bitmap code indexes within checked bounds; noUncheckedIndexedAccess
      // makes every such read optional, and `!` is the honest way to say "in bounds".
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      "no-restricted-syntax": ["error", { selector: "TSEnumDeclaration", message: "Use a union of string literals (erasable syntax)." }],
    },
  },
  ...LAYERS.flatMap(({ layer, forbidden, forbiddenRegex, typesOnly }) => {
    const patterns = [
      ...(typesOnly === undefined ? [] : [{ group: typesOnly, allowTypeImports: true, message: `Layer rule (DESIGN.md §4): ${layer} may import only types from this.` }]),
      ...(forbidden.length === 0 ? [] : [{ group: forbidden, message: `Layer rule (DESIGN.md §4): ${layer} may not import this.` }]),
      ...(forbiddenRegex === undefined ? [] : [{ regex: forbiddenRegex, message: `Layer rule (DESIGN.md §4): ${layer} may not import this.` }]),
    ];
    const rule = (extra) => ({ "@typescript-eslint/no-restricted-imports": ["error", { patterns: [...patterns, ...extra] }] });
    // Tests may use node:test and node:assert; the layer rule is about production code.
    const blocks = [{ files: [`${layer}/**/*.ts`], ignores: layer === "src/pool" ? ["**/*.test.ts"] : [], rules: rule([]) }];
    // The kernel port's fakes and test support stay out of src/'s production code (and so out
    // of the daemon's production build, tsconfig.build.json): only tests, fakes and testing/
    // folders use them. This later block wins for those files, with the layer rule kept.
    if (layer.startsWith("src/")) {
      blocks.push({
        files: [`${layer}/**/*.ts`],
        ignores: ["**/*.test.ts", "src/kvm/fake/**", "**/testing/**"],
        rules: rule([{ group: ["**/fake/**", "./fake/**", "**/testing/**", "./testing/**", ...PACKAGE_TEST_SUPPORT], message: "Production code may not import the kernel fakes or test support (tsconfig.build.json)." }]),
      });
    }
    return blocks;
  }),
  // The client library's test double (clients/node/src/test-double/) is the daemon run
  // in-process: it alone in clients/ reaches into src/ (the daemon's logic, its handlers, the
  // kernel port's fakes), and the library's own code may not import it — only the testing
  // entry point (testing.ts) and tests do, so `@gmempool/client` stays free of the daemon.
  // The repository's own test support for clients (clients/node/src/testing/: the spawned
  // daemon) starts the daemon through its one spawner, src/main/testing/daemon-process.ts.
  { files: ["clients/node/src/test-double/**/*.ts", "clients/node/src/testing/**/*.ts"], rules: { "@typescript-eslint/no-restricted-imports": "off" } },
  {
    files: ["clients/node/src/**/*.ts"],
    ignores: ["clients/node/src/test-double/**", "clients/node/src/testing.ts", "clients/node/src/testing/**", "**/*.test.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: "^(\\.\\./)+src/", message: "Layer rule (DESIGN.md §4): clients may not import this." },
            { group: ["**/test-double/**", "./test-double/**", "**/testing.ts", "./testing.ts"], message: "The client library may not import its test double (it runs the daemon); use @gmempool/client/testing from tests." },
            { group: PACKAGE_TEST_SUPPORT, message: "The client library may not import test support (@gmempool/sys/testing loads node:test and is not packed)." },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [{ from: "package", name: ["test", "it", "describe", "suite"], package: "node:test" }] }],
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  { files: ["scripts/**/*.mjs"], languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } } },
);
