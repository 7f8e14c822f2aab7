// Where the pairing token lives: UXP secure storage in Photoshop, memory in tests.

export interface TokenStore {
  load(): Promise<string | undefined>;
  save(token: string): Promise<void>;
  clear(): Promise<void>;
}

export class MemoryTokenStore implements TokenStore {
  constructor(private token: string | undefined = undefined) {}

  load(): Promise<string | undefined> {
    return Promise.resolve(this.token);
  }

  save(token: string): Promise<void> {
    this.token = token;
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.token = undefined;
    return Promise.resolve();
  }
}
