// The slice of the 'uxp' module the panel uses, for the DOM-typed build (the full UXP type
// package conflicts with the DOM lib). src/uxp/* are also checked against the real package
// (tsconfig.uxp.json).
export declare const secureStorage: {
  setItem(key: string, value: string | ArrayBuffer | Uint8Array): Promise<void>;
  getItem(key: string): Promise<Uint8Array>;
  removeItem(key: string): Promise<void>;
};
export declare const entrypoints: {
  setup(config: unknown): void;
};
