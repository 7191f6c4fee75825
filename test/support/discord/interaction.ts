/** A test's handle on one interaction the stand-in dispatched: its payload, callbacks and answer. */
import type { Dict, InteractionState, Waiter } from './state.js';
import { type CallbackRecord, type InteractionAnswer, type Refusal, type SeenMessage, StandInError } from './types.js';

/** Handle on one interaction the stand-in dispatched. */
export class StandInInteraction {
  /** @internal */
  constructor(
    private readonly state: InteractionState,
    private readonly host: { message(id: string): SeenMessage; now(): number },
  ) {}
  get id(): string {
    return this.state.id;
  }
  get token(): string {
    return this.state.token;
  }
  /** 2 = application command, 3 = message component */
  get type(): number {
    return this.state.type;
  }
  /** the exact INTERACTION_CREATE payload sent over the gateway */
  get payload(): Dict {
    return this.state.payload;
  }
  /** every callback attempt, accepted or refused */
  get callbacks(): readonly CallbackRecord[] {
    return this.state.callbacks;
  }
  /** every refused REST call that used this interaction's id or token */
  get refusals(): readonly Refusal[] {
    return this.state.refusals;
  }
  /** Resolves at the first accepted callback; rejects if none came within 3 s. */
  acknowledged(): Promise<CallbackRecord> {
    const s = this.state;
    if (s.ack) return Promise.resolve(s.ack);
    if (s.failure) return Promise.reject(s.failure);
    return new Promise((resolve, reject) => s.ackWaiters.push({ resolve, reject }));
  }
  /**
   * Resolves with the first visible answer: the reply (4), the edited deferred reply (5) or its first
   * follow-up, the updated message (7), or for a deferred update (6) the first edit/follow-up.
   * Rejects if the interaction was not acknowledged within 3 s, or no answer came within `timeoutMs`.
   */
  response(opts: { timeoutMs?: number } = {}): Promise<InteractionAnswer> {
    const s = this.state;
    if (s.answer) return Promise.resolve(s.answer);
    if (s.failure) return Promise.reject(s.failure);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const w: Waiter<InteractionAnswer> = { resolve, reject };
      w.timer = setTimeout(() => {
        s.answerWaiters = s.answerWaiters.filter((x) => x !== w);
        const how = s.ack ? `was acknowledged with type ${s.ack.type} but` : 'was';
        reject(new StandInError(`interaction ${s.label} ${how} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      w.timer.unref();
      s.answerWaiters.push(w);
    });
  }
  /** current state of the original response message (or the clicked message after update) */
  message(): SeenMessage | undefined {
    return this.state.originalMessageId ? this.host.message(this.state.originalMessageId) : undefined;
  }
  /** follow-up messages (not counting one that replaced a deferred reply) */
  followUps(): SeenMessage[] {
    return this.state.followUpIds.map((id) => this.host.message(id));
  }
}
