// A stand-in for the 'uxp' module: secure storage in memory, entrypoints recorded.
const store = new Map<string, Uint8Array>();
export const registered: unknown[] = [];

export const secureStorage = {
  async setItem(key: string, value: string | Uint8Array): Promise<void> {
    store.set(key, typeof value === "string" ? new TextEncoder().encode(value) : value);
  },
  async getItem(key: string): Promise<Uint8Array> {
    const v = store.get(key);
    if (!v) throw new Error(`no item ${key}`);
    return v;
  },
  async removeItem(key: string): Promise<void> {
    store.delete(key);
  },
};

export const entrypoints = {
  setup(config: unknown): void {
    registered.push(config);
  },
};
