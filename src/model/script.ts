/** Simplified ⇄ traditional with opencc-js: the corpus (and so the model) is traditional. */
import * as OpenCC from 'opencc-js';

import type { Script } from '../shared/verse.js';

export type { Script };

const toTraditionalText = OpenCC.Converter({ from: 'cn', to: 't' });
const toSimplifiedText = OpenCC.Converter({ from: 't', to: 'cn' });

export function toTraditional(text: string): string {
  return toTraditionalText(text);
}

export function inScript(text: string, script: Script): string {
  return script === 'simplified' ? toSimplifiedText(text) : text;
}
