import { describe, expect, it } from "vitest";
import { loraLabel, withTriggerWords } from "../src/triggerWords.js";

describe("loraLabel", () => {
  it("shows a LoRA's trigger words beside its name", () => {
    expect(loraLabel({ id: "brand-red", name: "Brand red", trigger_words: ["lbbrand"] })).toBe("Brand red · lbbrand");
  });

  it("shows the name alone (or the id) when there are none", () => {
    expect(loraLabel({ id: "grain", name: "Film grain", trigger_words: [] })).toBe("Film grain");
    expect(loraLabel({ id: "grain", name: "" })).toBe("grain");
  });
});

describe("withTriggerWords", () => {
  it("appends a trigger word to the prompt, comma-separated", () => {
    expect(withTriggerWords("a red bottle on a table", ["lbbrand"])).toBe("a red bottle on a table, lbbrand");
  });

  it("makes the word the prompt when the prompt is empty, and drops trailing separators", () => {
    expect(withTriggerWords("", ["lbbrand"])).toBe("lbbrand");
    expect(withTriggerWords("a bottle, ", ["lbbrand"])).toBe("a bottle, lbbrand");
  });

  it("adds nothing the prompt already holds as a word, in any case", () => {
    expect(withTriggerWords("LBBRAND bottle", ["lbbrand"])).toBe("LBBRAND bottle");
    expect(withTriggerWords("a bottle, lbbrand", ["lbbrand", "in the style of x"])).toBe("a bottle, lbbrand, in the style of x");
  });

  it("tells a word from a longer one that contains it", () => {
    expect(withTriggerWords("lbbrandnew bottle", ["lbbrand"])).toBe("lbbrandnew bottle, lbbrand");
  });

  it("treats the words as text, not patterns", () => {
    expect(withTriggerWords("a (style) bottle", ["(style)"])).toBe("a (style) bottle");
    expect(withTriggerWords("a bottle", ["c++"])).toBe("a bottle, c++");
  });
});
