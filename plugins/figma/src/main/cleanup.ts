/**
 * Undo actions for the temporary edits an export makes (a hidden mask shape, a scratch frame),
 * so that closing the plugin half way through an export can still put the document back: Figma
 * destroys the main thread right after the "close" handlers return, and a `finally` waiting on an
 * export would never run.
 */
export class Cleanup {
  private readonly actions = new Set<() => void>();

  /** Register `undo`; call the returned function once the edit is undone the normal way. */
  add(undo: () => void): () => void {
    this.actions.add(undo);
    return () => this.actions.delete(undo);
  }

  /** Undo every edit still registered (synchronously: this runs in the "close" handler). */
  runAll(): void {
    for (const undo of [...this.actions]) {
      this.actions.delete(undo);
      try {
        undo();
      } catch {
        // the node is gone already: nothing left to put back
      }
    }
  }

  get size(): number {
    return this.actions.size;
  }
}
