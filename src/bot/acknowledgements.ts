/**
 * Acknowledgements first. Discord drops an interaction not answered within 3 s, while a reply that has
 * been acknowledged may come minutes later. In a burst the main thread sends both at once; a reply that
 * could wait (store the poem, edit the message) waits here until no acknowledgement is on its way.
 */
export class AcknowledgementGate {
  private sending = 0;
  private waiting: (() => void)[] = [];

  /** Counts `acknowledgement` as on its way until it settles; returns it. */
  track<T>(acknowledgement: Promise<T>): Promise<T> {
    this.sending++;
    return acknowledgement.finally(() => {
      if (--this.sending > 0) return;
      for (const resume of this.waiting.splice(0)) resume();
    });
  }

  /** Resolves when no acknowledgement is on its way. */
  clear(): Promise<void> {
    return this.sending === 0 ? Promise.resolve() : new Promise((resume) => this.waiting.push(resume));
  }
}
