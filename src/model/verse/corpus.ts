/**
 * The 全唐诗 corpus from the `chinese-poetry` package: cleaning, the four regular forms, the fixed dev split.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';

import { FORMS, type Form } from '../../shared/verse.js';

export { FORMS, type Form };
export const FORM_SHAPE: Record<Form, { lineLength: 5 | 7; lines: 4 | 8; name: string }> = {
  wujue: { lineLength: 5, lines: 4, name: '五言绝句' },
  qijue: { lineLength: 7, lines: 4, name: '七言绝句' },
  wulv: { lineLength: 5, lines: 8, name: '五言律诗' },
  qilv: { lineLength: 7, lines: 8, name: '七言律诗' },
};

export function formOf(lineLength: number, lines: number): Form | undefined {
  return FORMS.find((f) => FORM_SHAPE[f].lineLength === lineLength && FORM_SHAPE[f].lines === lines);
}

/** A regular poem: its lines hold only Han characters; punctuation is implied by the form. */
export type Poem = { lines: string[]; form: Form };

/** The chinese-poetry JSON format (also what `tangshi eval --file` reads). */
export const RawPoems = z.array(z.object({ paragraphs: z.array(z.string()) }).passthrough());

const HAN = /\p{Script=Han}/u;
// notes and variant readings: the brackets and everything inside them
const BRACKETED = /（[^（）]*）|\([^()]*\)|\[[^[\]]*\]|\{[^{}]*\}|《[^《》]*》|〖[^〖〗]*〗|〔[^〔〕]*〕|【[^【】]*】|［[^［］]*］/g;
// a missing or composed glyph makes the poem unreliable: drop it whole
const MISSING_GLYPH = /[□■○●◻◼〇⿰-⿻\u{E000}-\u{F8FF}\u{FFFD}]/u;
const LINE_BREAK = /[，。？！；：]/;

/**
 * Cleans one poem's text into lines of Han characters, or undefined if it cannot be trusted.
 * Drops bracketed notes, quotation marks, digits and stray symbols.
 */
export function cleanLines(paragraphs: string[]): string[] | undefined {
  let text = paragraphs.join('');
  let previous: string;
  do {
    previous = text;
    text = text.replace(BRACKETED, ''); // repeated for nested brackets
  } while (text !== previous);
  if (MISSING_GLYPH.test(text)) return undefined;
  const lines = text
    .split(LINE_BREAK)
    .map((line) => [...line].filter((ch) => HAN.test(ch)).join(''))
    .filter((line) => line.length > 0);
  return lines.length > 0 ? lines : undefined;
}

/** The poem's form if it is one of the four regular forms. */
export function regularPoem(lines: string[]): Poem | undefined {
  if (lines.length === 0) return undefined;
  const length = [...lines[0]!].length;
  if (!lines.every((line) => [...line].length === length)) return undefined;
  const form = formOf(length, lines.length);
  return form ? { lines, form } : undefined;
}

/**
 * Regular-shaped excerpts of an irregular poem, as extra training text: each run of equal 5- or 7-character
 * lines is cut, couplet by couplet, into 4-line stanzas read as 五言/七言绝句 (the 绝句 is traditionally
 * described as a cut-off half of a longer poem). A stanza that falls in dev by the hash rule is dropped, so
 * no dev text is ever trained on.
 */
export function stanzasOf(lines: string[]): Poem[] {
  const stanzas: Poem[] = [];
  for (let i = 0; i < lines.length; ) {
    const length = [...lines[i]!].length;
    let end = i;
    while (end < lines.length && [...lines[end]!].length === length) end++;
    const form = formOf(length, 4);
    // stanzas start on a couplet's first line, counted from the poem's start
    for (let s = i + (i % 2); form && s + 4 <= end; s += 4) {
      const stanza = lines.slice(s, s + 4);
      if (!isDev(stanza)) stanzas.push({ lines: stanza, form });
    }
    i = end;
  }
  return stanzas;
}

/** The poem as printed: `，` after odd lines and `。` after even lines. */
export function poemText(lines: string[]): string {
  return lines.map((line, i) => line + (i % 2 === 0 ? '，' : '。')).join('');
}

/**
 * The fixed dev split: a poem is in dev when the first 4 bytes of sha256(its cleaned text), as a big-endian
 * integer, mod 10000 is below 500 (5%). It depends only on the text, so it never moves between runs.
 */
export const SPLIT = { method: 'sha256(poemText) first 4 bytes big-endian mod 10000 < 500', devShare: 0.05 };

export function isDev(lines: string[]): boolean {
  const digest = createHash('sha256').update(poemText(lines)).digest();
  return digest.readUInt32BE(0) % 10000 < 500;
}

export type Corpus = { train: Poem[]; dev: Poem[]; others: string[][]; stats: Record<string, number> };

/** The package's files of one dynasty's poems (poet.tang.N.json or poet.song.N.json), in order. */
function poetFiles(dynasty: 'tang' | 'song'): string[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('chinese-poetry/package.json')), 'dist', 'quantangshi');
  return readdirSync(dir)
    .filter((f) => new RegExp(`^poet\\.${dynasty}\\.\\d+\\.json$`).test(f))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
    .map((f) => join(dir, f));
}

/** Cleans and de-duplicates raw poems, keeps the regular forms and splits them. */
export function buildCorpus(raw: { paragraphs: string[] }[]): Corpus {
  const seen = new Set<string>();
  const corpus: Corpus = { train: [], dev: [], others: [], stats: { raw: raw.length, dropped: 0, duplicates: 0 } };
  for (const { paragraphs } of raw) {
    const lines = cleanLines(paragraphs);
    if (!lines) {
      corpus.stats.dropped!++;
      continue;
    }
    const key = lines.join('|');
    if (seen.has(key)) {
      corpus.stats.duplicates!++;
      continue;
    }
    seen.add(key);
    const poem = regularPoem(lines);
    if (poem) (isDev(lines) ? corpus.dev : corpus.train).push(poem);
    else if (!isDev(lines)) corpus.others.push(lines);
  }
  Object.assign(corpus.stats, { train: corpus.train.length, dev: corpus.dev.length, others: corpus.others.length });
  return corpus;
}

let cached: Corpus | undefined;

/** The whole Tang corpus (seconds to read and clean: cached per process). */
export function loadTangCorpus(): Corpus {
  cached ??= buildCorpus(poetFiles('tang').flatMap((f) => RawPoems.parse(JSON.parse(readFileSync(f, 'utf8')))));
  return cached;
}

/**
 * The Song poets' regular poems (全宋诗), cleaned like the Tang ones, as extra training text: never a poem
 * that shares a line with a Tang dev poem (the Song files repeat many Tang lines), so the dev split stays
 * untouched by any run, nor one that is already a Tang poem.
 */
export function loadSongPoems(tang: Corpus = loadTangCorpus()): Poem[] {
  const devLines = new Set(tang.dev.flatMap((p) => p.lines));
  const seen = new Set([...tang.train, ...tang.dev].map((p) => p.lines.join('|')));
  const poems: Poem[] = [];
  for (const file of poetFiles('song'))
    for (const { paragraphs } of RawPoems.parse(JSON.parse(readFileSync(file, 'utf8')))) {
      const lines = cleanLines(paragraphs);
      const poem = lines && regularPoem(lines);
      if (!poem || poem.lines.some((l) => devLines.has(l))) continue;
      const key = poem.lines.join('|');
      if (seen.has(key)) continue;
      seen.add(key);
      poems.push(poem);
    }
  return poems;
}

/** A poem file that cannot be read or is not in the chinese-poetry format. */
export class PoemFileError extends Error {
  override name = 'PoemFileError';
}

/** Regular poems from any file in the chinese-poetry format (for an outside check with `eval --file`). */
export function loadPoemFile(path: string): { poems: Poem[]; skipped: number } {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new PoemFileError(`cannot read ${path} as JSON: ${(e as Error).message}`);
  }
  const parsed = RawPoems.safeParse(data);
  if (!parsed.success) throw new PoemFileError(`${path} is not an array of poems with "paragraphs" (the chinese-poetry format)`);
  const poems: Poem[] = [];
  for (const { paragraphs } of parsed.data) {
    const lines = cleanLines(paragraphs);
    const poem = lines && regularPoem(lines);
    if (poem) poems.push(poem);
  }
  return { poems, skipped: parsed.data.length - poems.length };
}
