/**
 * What the bot says to users, in their language: one catalog, English, simplified Chinese (zh-CN) and
 * traditional Chinese (zh-TW, zh-HK), chosen by the locale Discord sends with every interaction; the admins'
 * part (/model, a fine-tune's progress and report) is messages-admin.ts. The traditional texts are not a second copy: they are the simplified
 * ones through OpenCC's Taiwan phrases (cn → twp: 默认 → 預設, 本周 → 本週), written out as they are sent.
 */
import * as OpenCC from 'opencc-js';
import type { InputProblem } from '../model/poem/decode/poem-request.js';
import { ADMIN_CATALOG, type AdminCatalog } from './messages-admin.js';

export type Language = 'en' | 'zh-CN' | 'zh-TW';

/** Discord's locale → the catalog's language: zh-CN simplified, zh-TW and zh-HK traditional, anything else English. */
export function languageOf(locale: string): Language {
  if (locale === 'zh-CN') return 'zh-CN';
  if (locale === 'zh-TW' || locale === 'zh-HK') return 'zh-TW';
  return 'en';
}

const quoted = (chars: string[]) => chars.map((c) => `「${c}」`).join(' ');
const what = {
  en: { start: 'start text', acrostic: 'acrostic', upper: 'upper line' },
  'zh-CN': { start: '开头', acrostic: '藏头', upper: '上联' },
};

type Catalog = {
  cooldown: (p: { when: string; seconds: number }) => string;
  poemExample: string;
  coupletExample: string;
  coupletMissing: string;
  restarting: string;
  unknownAction: string;
  internalError: string;
  notOurButton: string;
  poemGone: string;
  /** 🔄 from someone who did not ask for the poem */
  onlyAsker: string;
  /** 🔄 on a poem no longer in the records */
  againGone: string;
  rating: string;
  ratings: (n: number) => string;
  topTitle: (p: { kind: 'poem' | 'couplet'; period: 'day' | 'week' | 'all' }) => string;
  topEmpty: (kind: 'poem' | 'couplet') => string;
  free: string;
  by: string;
  upperGiven: string;
  problem: (p: InputProblem) => string;
};

const CATALOG: Record<'en' | 'zh-CN', Catalog> = {
  en: {
    cooldown: ({ when, seconds }) => `You can ask for the next poem ${when} (one every ${seconds} s).`,
    poemExample: 'For example: `/poem 月` or `/poem acrostic:春夏秋冬`.',
    coupletExample: 'For example: `/couplet 白日依山尽`.',
    coupletMissing: 'The couplet model is not installed on this bot (models/couplet).',
    restarting: 'The bot is restarting; please try again in a minute.',
    unknownAction: 'This bot does not know that action.',
    internalError: 'Sorry, something went wrong on our side. Please try again in a moment.',
    notOurButton: 'That button is not one of ours.',
    poemGone: 'This poem is no longer in our records, so it cannot be rated. Ask for a new one with `/poem`.',
    onlyAsker: 'Only the reader who asked for this poem can ask for another one here; `/poem` writes you your own.',
    againGone: 'This poem is no longer in our records. Ask for a new one with `/poem`.',
    rating: 'Rating',
    ratings: (n) => `${n} ${n === 1 ? 'rating' : 'ratings'}`,
    topTitle: ({ kind, period }) =>
      `Best-rated ${kind === 'couplet' ? 'couplets' : 'poems'} ${{ day: 'today', week: 'this week', all: 'of all time' }[period]}`,
    topEmpty: (kind) =>
      kind === 'couplet'
        ? 'No rated couplets yet. Try `/couplet 白日依山尽` and rate the answer.'
        : 'No rated poems yet. Ask for one with `/poem 月` and rate it with the stars under it.',
    free: 'free',
    by: 'by',
    upperGiven: '上联 given',
    problem: (p) => {
      switch (p.code) {
        case 'bothPrompts':
          return 'Give either a start text or an acrostic, not both.';
        case 'empty':
          return p.kind === 'upper'
            ? 'The upper line is empty: type 5 or 7 Chinese characters, e.g. 白日依山尽.'
            : `The ${what.en[p.kind]} is empty: type 1 to 7 Chinese characters, e.g. 月.`;
        case 'notChinese':
          return `The ${what.en[p.kind]} may hold only Chinese characters; these are not: ${quoted(p.chars)}.`;
        case 'startTooLong':
          return `The start text is too long (${p.length} characters): a poem line holds at most 7.`;
        case 'acrosticLength':
          return `An acrostic needs 4 characters (a 绝句) or 8 (a 律诗), one per line; got ${p.length}.`;
        case 'upperLength':
          return `An upper line has 5 or 7 characters (a line of 五言 or 七言 verse); this one has ${p.length}.`;
        case 'unknownChars':
          return `The model cannot write ${quoted(p.chars)} (nor a variant form of it): try another character.`;
        case 'formLines':
          return `A ${p.form} has ${p.lines} lines, so its acrostic needs ${p.lines} characters, not ${p.length}.`;
        case 'formLineLength':
          return `A ${p.form} line holds ${p.lineLength} characters; the start text has ${p.length}. Choose a 七言 form or a shorter start.`;
        case 'invalid':
          return `Invalid ${p.field}: ${p.detail}.`;
      }
    },
  },
  'zh-CN': {
    cooldown: ({ when, seconds }) => `请${when}再来要下一首（每 ${seconds} 秒一首）。`,
    poemExample: '例如：`/poem 月` 或 `/poem acrostic:春夏秋冬`。',
    coupletExample: '例如：`/couplet 白日依山尽`。',
    coupletMissing: '这个机器人没有安装对联模型（models/couplet）。',
    restarting: '机器人正在重启，请一分钟后再试。',
    unknownAction: '机器人不认识这个操作。',
    internalError: '抱歉，我们这边出了问题，请稍后再试。',
    notOurButton: '这不是我们的按钮。',
    poemGone: '这首诗已不在记录中，无法评分。请用 `/poem` 要一首新的。',
    onlyAsker: '只有要这首诗的人才能在这里换一首；用 `/poem` 可以要你自己的一首。',
    againGone: '这首诗已不在记录中。请用 `/poem` 要一首新的。',
    rating: '评分',
    ratings: (n) => `${n} 人评分`,
    topTitle: ({ kind, period }) => `${{ day: '今日', week: '本周', all: '历来' }[period]}评分最高的${kind === 'couplet' ? '对联' : '诗'}`,
    topEmpty: (kind) =>
      kind === 'couplet'
        ? '还没有评过分的对联。试试 `/couplet 白日依山尽`，再给对出的下联打分。'
        : '还没有评过分的诗。用 `/poem 月` 要一首，再点下面的星星打分。',
    free: '自由',
    by: '作者',
    upperGiven: '出上联',
    problem: (p) => {
      switch (p.code) {
        case 'bothPrompts':
          return '开头和藏头只能选一个。';
        case 'empty':
          return p.kind === 'upper' ? '上联是空的：请输入 5 或 7 个汉字，例如 白日依山尽。' : `${what['zh-CN'][p.kind]}是空的：请输入 1 到 7 个汉字，例如 月。`;
        case 'notChinese':
          return `${what['zh-CN'][p.kind]}只能是汉字，这些不是：${quoted(p.chars)}。`;
        case 'startTooLong':
          return `开头太长了（${p.length} 个字）：一句诗最多 7 个字。`;
        case 'acrosticLength':
          return `藏头要 4 个字（绝句）或 8 个字（律诗），每句一个；现在是 ${p.length} 个。`;
        case 'upperLength':
          return `上联是 5 个或 7 个字（五言或七言的一句）；这句有 ${p.length} 个字。`;
        case 'unknownChars':
          return `模型写不出 ${quoted(p.chars)}（也写不出它的异体字）：请换一个字。`;
        case 'formLines':
          return `${p.form}有 ${p.lines} 句，所以藏头要 ${p.lines} 个字，不是 ${p.length} 个。`;
        case 'formLineLength':
          return `${p.form}一句 ${p.lineLength} 个字，开头有 ${p.length} 个字。请选七言，或缩短开头。`;
        case 'invalid':
          return `${p.field} 无效：${p.detail}。`;
      }
    },
  },
};

const toTaiwan = OpenCC.Converter({ from: 'cn', to: 'twp' });

/** The same catalog in traditional characters, each text converted as it is made (so a user's characters in it are too). */
function traditional<T>(catalog: T): T {
  const convert = (value: unknown): unknown => {
    if (typeof value === 'string') return toTaiwan(value);
    if (typeof value === 'function') return (...args: unknown[]) => toTaiwan(value(...args));
    return Object.fromEntries(Object.entries(value as object).map(([key, inner]) => [key, convert(inner)]));
  };
  return convert(catalog) as T;
}

const CATALOGS: Record<Language, Catalog> = { ...CATALOG, 'zh-TW': traditional(CATALOG['zh-CN']) };
const ADMIN_CATALOGS: Record<Language, AdminCatalog> = { ...ADMIN_CATALOG, 'zh-TW': traditional(ADMIN_CATALOG['zh-CN']) };

/** What /model, a fine-tune's progress and its report say, in the language of `locale`. */
export function adminMessagesFor(locale: string): AdminCatalog {
  return ADMIN_CATALOGS[languageOf(locale)];
}

/** Discord's localization fields from the simplified text: zh-CN as written, zh-TW through OpenCC. */
export function zhLocalizations(simplified: string): { 'zh-CN': string; 'zh-TW': string } {
  return { 'zh-CN': simplified, 'zh-TW': toTaiwan(simplified) };
}

/** The catalog in the language of `locale` (Discord's interaction locale). */
export function messagesFor(locale: string): Catalog {
  return CATALOGS[languageOf(locale)];
}

/** The user's message for bad input: from its problem in their language, else the error's own (English) message. */
export function inputProblemText(locale: string, error: { message: string; problem?: InputProblem }): string {
  return error.problem ? messagesFor(locale).problem(error.problem) : error.message;
}
