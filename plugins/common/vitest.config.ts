import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // daemon tests start their own daemon per file; keep CPU use of a 2-core CI box sane
    maxWorkers: 2,
    minWorkers: 1,
  },
});
