/** Simplified ⇄ traditional with opencc-js: the corpus (and so the model) is traditional. */
import * as OpenCC from 'opencc-js';

import type { Script } from '../../shared/verse.js';

export type { Script };

// Built on first use: they hold OpenCC's dictionaries, which the bot's main thread (importing this for the
// nightly fine-tune's data) would otherwise carry all day for its GC to mark.
let toTraditionalText: ((text: string) => string) | undefined;
let toSimplifiedText: ((text: string) => string) | undefined;

export function toTraditional(text: string): string {
  toTraditionalText ??= OpenCC.Converter({ from: 'cn', to: 't' }) as (text: string) => string;
  return toTraditionalText(text);
}

export function inScript(text: string, script: Script): string {
  if (script !== 'simplified') return text;
  toSimplifiedText ??= OpenCC.Converter({ from: 't', to: 'cn' }) as (text: string) => string;
  return toSimplifiedText(text);
}
