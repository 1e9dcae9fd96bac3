import { defineConfig } from "vitest/config";

// The end-to-end checks (`npm run test:e2e`, run by `.ci/run` after `npm test`): the packed tarball
// installed into fresh CDK apps, and a real `cdk deploy` against moto. Each takes minutes and runs
// whole programs (npm, cdk, cfn-lint, moto_server), so they run one file at a time and stay out of
// `npm test`, which must stay well under 5 minutes.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
