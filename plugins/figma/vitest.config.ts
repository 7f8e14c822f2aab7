import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/main/**/*.test.ts", "test/shared/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "daemon",
          include: ["test/ui/**/*.test.ts", "test/browser/**/*.test.ts"],
          globalSetup: ["test/support/globalDaemon.ts"],
        },
      },
    ],
  },
});
