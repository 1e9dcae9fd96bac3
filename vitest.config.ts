import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The minutes-long end-to-end checks have their own config (vitest.e2e.config.ts).
    exclude: ["test/e2e/**", "**/node_modules/**"],
    // Two files at a time on a 2-core machine (Vitest's default there is one): most suites wait on
    // loopback servers, child processes and moto, not on the CPU.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
