import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // Photoshop's host modules do not exist outside Photoshop: tests get recording stand-ins
    alias: { photoshop: here("./test/mocks/photoshop.ts"), uxp: here("./test/mocks/uxp.ts") },
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
