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

let variantConverters: ((text: string) => string)[] | undefined;

/**
 * Other forms of a character, as OpenCC's variant tables give them: Japanese shinjitai (顔 → 顏, 隠 → 隱), the
 * Hong Kong and Taiwan standards (灶 → 竈, 裡 → 裏), and the round trip through simplified (舖 → 鋪, 綫 → 線),
 * each mapped to OpenCC's standard traditional form. No variant table is kept of our own.
 */
export function variantForms(ch: string): string[] {
  variantConverters ??= [
    OpenCC.Converter({ from: 'jp', to: 't' }),
    OpenCC.Converter({ from: 'hk', to: 't' }),
    OpenCC.Converter({ from: 'tw', to: 't' }),
    (text: string) => toTraditional(inScript(text, 'simplified')),
  ] as ((text: string) => string)[];
  return [...new Set(variantConverters.map((convert) => convert(ch)))].filter((form) => form !== ch);
}

/**
 * How a model that writes traditional characters spells typed text, character by character: the text
 * converted to traditional as a whole (phrases convert better than characters), the character as typed, or
 * one of its variant forms — the first that `known` accepts; undefined where none is known.
 */
export function spellIn(text: string, known: (ch: string) => boolean): (string | undefined)[] {
  const typed = [...text];
  const converted = [...toTraditional(text)];
  const whole = converted.length === typed.length;
  return typed.map((ch, i) => [...(whole ? [converted[i]!] : []), ch, ...variantForms(ch)].find(known));
}
