import { configDefaults, defineConfig } from "vitest/config";

// Two projects: `unit` (no daemon, no browser) and `daemon` (*.daemon / *.browser tests: one
// real daemon started by the global setup, shared by every file).
const needsDaemon = ["test/**/*.daemon.test.ts", "test/**/*.browser.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...needsDaemon] },
      },
      {
        extends: true,
        test: { name: "daemon", include: needsDaemon, globalSetup: ["test/support/globalDaemon.ts"] },
      },
    ],
  },
});
