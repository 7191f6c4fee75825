/**
 * The names every layer shares, defined once: the four forms, the couplet forms, the two scripts, the two
 * rhyme systems and the two precisions. The model, the CLI's choices, the bot's options and the database's
 * input rules all read these lists.
 */
export const FORMS = ['wujue', 'qijue', 'wulv', 'qilv'] as const;
export type Form = (typeof FORMS)[number];

/** a couplet stored beside the poems: its line length */
export const COUPLET_FORMS = ['couplet5', 'couplet7'] as const;
export type CoupletForm = (typeof COUPLET_FORMS)[number];

export const SCRIPTS = ['simplified', 'traditional'] as const;
export type Script = (typeof SCRIPTS)[number];
/** the corpus's own script, and so the model's */
export const DEFAULT_SCRIPT: Script = 'traditional';

/** the poets' own rhyme groups (classical-rhyme.ts), or 十三辙 on modern readings (rhyme.ts) */
export const RHYME_SYSTEMS = ['classical', 'modern'] as const;
export type RhymeSystem = (typeof RHYME_SYSTEMS)[number];

/** how the generation products run: int8 weights (served) or float32 (the reference) */
export const PRECISIONS = ['int8', 'float32'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** sampling defaults: a poem, and a couplet's lower line (lower: one line must fit its upper line) */
export const POEM_SAMPLING = { temperature: 0.8, topK: 40, topP: 0.9 } as const;
export const COUPLET_SAMPLING = { temperature: 0.6, topK: 20, topP: 0.9 } as const;

/** "a, b or c", for messages that list the choices */
export const orList = (items: readonly string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`);

/** how the nightly update learns from the readers (src/model/poem/train/preference.ts) */
export const RECIPES = ['raft', 'kto'] as const;
export type Recipe = (typeof RECIPES)[number];
