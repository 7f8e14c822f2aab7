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

/** The trigger words a LoRA picker put into a prompt, so that unpicking a LoRA (or picking
 * another in its row) takes out what picking it put in, and never a word the designer typed. */
export class TriggerWordTracker {
  /** lower-cased words this picker appended and that may still be in the prompt */
  private readonly added = new Set<string>();

  /** `prompt` with the picked LoRA's `words` appended (those it does not hold yet). */
  add(prompt: string, words: readonly string[]): string {
    for (const raw of words) {
      const word = raw.trim();
      if (word && !holdsWord(prompt, word)) this.added.add(word.toLowerCase());
    }
    return withTriggerWords(prompt, words);
  }

  /** `prompt` without the `words` of a LoRA no longer picked: each one this picker appended
   * comes out with its comma, unless a LoRA still picked calls for it too (`stillNeeded`). A
   * word the designer typed, or one moved into a sentence, stays. */
  remove(prompt: string, words: readonly string[], stillNeeded: readonly string[] = []): string {
    const needed = new Set(stillNeeded.map((w) => w.trim().toLowerCase()));
    let out = prompt;
    for (const raw of words) {
      const key = raw.trim().toLowerCase();
      if (!key || !this.added.has(key) || needed.has(key)) continue;
      out = withoutListedWord(out, raw.trim());
      this.added.delete(key);
    }
    return out;
  }
}

/** `text` without `word` where it stands as an item of the comma-separated list (as
 * withTriggerWords puts it): ", word" after other text, or "word, " / "word" at the start. */
function withoutListedWord(text: string, word: string): string {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");
  const end = "(?=\\s*(?:,|$))";
  const after = new RegExp(`\\s*,\\s*${escaped}${end}`, "iu");
  if (after.test(text)) return text.replace(after, "");
  const first = new RegExp(`^\\s*${escaped}${end}\\s*,?\\s*`, "iu");
  return text.replace(first, "");
}
