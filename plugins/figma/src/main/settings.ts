/** The UI's settings (daemon URL, pairing token, last model and prompt) in figma.clientStorage. */

import { DEFAULT_SETTINGS, type Settings } from "../shared/messages";

export const SETTINGS_KEY = "layerbridge.settings";

/** Stored values are checked field by field: an old or damaged entry falls back to defaults. */
export function toSettings(value: unknown): Settings {
  const out: Settings = { ...DEFAULT_SETTINGS };
  if (typeof value !== "object" || value === null) return out;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) {
    const v = record[key];
    if (typeof v === "string") out[key] = v;
  }
  return out;
}

export async function loadSettings(storage: ClientStorageAPI): Promise<Settings> {
  return toSettings(await storage.getAsync(SETTINGS_KEY));
}

export async function saveSettings(storage: ClientStorageAPI, settings: Settings): Promise<void> {
  await storage.setAsync(SETTINGS_KEY, toSettings(settings));
}
