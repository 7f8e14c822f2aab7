// A LoRA is called by its trigger words (one trained by the daemon, by the word it was trained
// with): the pickers show them beside the name and put them into the prompt when it is picked.
import type { ModelInfo } from "./protocol.js";

/** The picker's label for a LoRA: its name, then its trigger words. */
export function loraLabel(model: Pick<ModelInfo, "id" | "name" | "trigger_words">): string {
  const name = model.name || model.id;
  const words = (model.trigger_words ?? []).filter((w) => w.trim());
  return words.length ? `${name} · ${words.join(", ")}` : name;
}

/** `prompt` with each of `words` it does not hold yet (as a whole word, in any case) appended,
 * comma-separated, so picking a LoRA twice or after typing its word adds nothing. */
export function withTriggerWords(prompt: string, words: readonly string[]): string {
  let out = prompt;
  for (const raw of words) {
    const word = raw.trim();
    if (!word || holdsWord(out, word)) continue;
    const head = out.replace(/[\s,]+$/u, "");
    out = head ? `${head}, ${word}` : word;
  }
  return out;
}

function holdsWord(text: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${escaped}($|[^\\p{L}\\p{N}_])`, "iu").test(text);
}
