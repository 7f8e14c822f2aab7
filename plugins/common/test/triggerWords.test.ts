import { describe, expect, it } from "vitest";
import { loraLabel, TriggerWordTracker, withTriggerWords } from "../src/triggerWords.js";

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

describe("TriggerWordTracker", () => {
  it("takes out, with its comma, the word picking a LoRA put in", () => {
    const words = new TriggerWordTracker();
    const picked = words.add("a red bottle", ["inksk"]);
    expect(picked).toBe("a red bottle, inksk");
    expect(words.remove(picked, ["inksk"])).toBe("a red bottle");
    expect(words.remove(words.add("", ["inksk", "lbbrand"]), ["inksk"])).toBe("lbbrand");
  });

  it("keeps what the prompt went on to say after the word", () => {
    const words = new TriggerWordTracker();
    const prompt = `${words.add("a bottle", ["inksk"])}, on a wooden table`;
    expect(words.remove(prompt, ["inksk"])).toBe("a bottle, on a wooden table");
  });

  it("never takes out a word the designer typed, or one moved into a sentence", () => {
    const words = new TriggerWordTracker();
    expect(words.remove(words.add("inksk bottle", ["inksk"]), ["inksk"])).toBe("inksk bottle"); // typed before
    const moved = new TriggerWordTracker();
    moved.add("a bottle", ["inksk"]);
    expect(moved.remove("an inksk drawing of a bottle", ["inksk"])).toBe("an inksk drawing of a bottle");
    expect(new TriggerWordTracker().remove("a bottle, inksk", ["inksk"])).toBe("a bottle, inksk"); // not put in here
  });

  it("leaves a word another picked LoRA calls for too", () => {
    const words = new TriggerWordTracker();
    const prompt = words.add(words.add("a bottle", ["lbstyle"]), ["lbstyle", "grain"]);
    expect(prompt).toBe("a bottle, lbstyle, grain");
    expect(words.remove(prompt, ["lbstyle", "grain"], ["lbstyle"])).toBe("a bottle, lbstyle");
  });

  it("treats the words as text, not patterns, in any case", () => {
    const words = new TriggerWordTracker();
    expect(words.remove(words.add("a bottle", ["c++", "(Style)"]), ["C++", "(style)"])).toBe("a bottle");
  });
});
