// The pairing token in UXP secure storage (encrypted by the OS), never in localStorage.
import { secureStorage } from "uxp";
import type { TokenStore } from "../tokenStore.js";

const KEY = "layerbridge.token";

export class SecureTokenStore implements TokenStore {
  async load(): Promise<string | undefined> {
    try {
      const bytes = await secureStorage.getItem(KEY);
      if (!bytes || bytes.length === 0) return undefined;
      return new TextDecoderShim().decode(bytes);
    } catch {
      return undefined; // nothing stored yet
    }
  }

  async save(token: string): Promise<void> {
    await secureStorage.setItem(KEY, token);
  }

  async clear(): Promise<void> {
    await secureStorage.removeItem(KEY);
  }
}

/** UTF-8 decode without relying on TextDecoder typings (absent from the UXP type package). */
class TextDecoderShim {
  decode(bytes: Uint8Array): string {
    let out = "";
    for (const b of bytes) out += String.fromCharCode(b);
    try {
      return decodeURIComponent(escape(out));
    } catch {
      return out;
    }
  }
}
