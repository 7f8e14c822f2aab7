/** Where results go: a row of slots to the right of the source node. Pure arithmetic. */

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** The gap between the source and each result: proportional to the size, at least 24 units. */
export function rowGap(source: Rect): number {
  return Math.max(24, Math.round(Math.max(source.width, source.height) * 0.05));
}

/** `count` top-left corners for results the size of `source`, in a row to its right. */
export function rowSlots(source: Rect, count: number, gap: number = rowGap(source)): Point[] {
  const slots: Point[] = [];
  for (let i = 0; i < count; i++) {
    slots.push({ x: source.x + (source.width + gap) * (i + 1), y: source.y });
  }
  return slots;
}

/** A layer name that says how a result was made: the prompt (shortened) and the seed. */
export function resultName(prompt: string, seed: number, maxPrompt = 48): string {
  const text = prompt.trim().replace(/\s+/g, " ");
  if (text === "") return `Layerbridge · seed ${seed}`;
  const short = text.length > maxPrompt ? `${text.slice(0, maxPrompt - 1)}…` : text;
  return `${short} · seed ${seed}`;
}
