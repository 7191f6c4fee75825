import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../src/model/poem/checkpoint.js';
import { FORM_SHAPE, FORMS, type Form } from '../src/model/verse/corpus.js';
import { PoemModel } from '../src/model/poem/decode/generate.js';
import { makeTinyCheckpoint, tempDir } from './helpers.js';
import { formatEta } from '../src/shared/cli-args.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the real `tangshi` command (bin/tangshi.js) and collects its output. */
function tangshi(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tangshi.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, TFJS_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const STACK_FRAME = /\n\s+at /;

let checkpoint: string;
let manifest: Manifest;

beforeAll(() => {
  ({ dir: checkpoint, manifest } = makeTinyCheckpoint());
});

describe('tangshi poem', () => {
  it('prints one JSON poem for a start text and seed, the same poem the library writes', async () => {
    const run = await tangshi(['poem', '月', '--json', '--seed', '3', '--checkpoint', checkpoint]);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout.trim().split('\n');
    expect(out).toHaveLength(1);
    const poem = JSON.parse(out[0]!) as { text: string; lines: string[]; form: Form; script: string; version: string };
    expect(Object.keys(poem).sort()).toEqual(['form', 'lines', 'script', 'text', 'version']);
    expect(poem.version).toBe(manifest.version);
    expect(poem.script).toBe('traditional');
    expect(FORMS).toContain(poem.form);
    expect(poem.lines).toHaveLength(FORM_SHAPE[poem.form].lines);
    for (const line of poem.lines) expect([...line]).toHaveLength(FORM_SHAPE[poem.form].lineLength);
    expect(poem.lines[0]!.startsWith('月')).toBe(true);
    expect(poem.text).toBe(poem.lines.map((line, i) => line + (i % 2 === 0 ? '，' : '。')).join(''));

    // the options reach the model: the same request in-process writes the same poem
    const model = await PoemModel.load(checkpoint);
    try {
      expect(model.generate({ start: '月', seed: 3 })).toEqual(poem);
    } finally {
      model.dispose();
    }
  });

  it('writes with float32 products when asked, the same poem the library writes at that precision', async () => {
    const run = await tangshi(['poem', '山', '--json', '--seed', '5', '--precision', 'float32', '--checkpoint', checkpoint]);
    expect(run.code, run.stderr).toBe(0);
    const model = await PoemModel.load(checkpoint, { precision: 'float32' });
    try {
      expect(model.precision).toBe('float32');
      expect(JSON.parse(run.stdout)).toEqual(model.generate({ start: '山', seed: 5 }));
    } finally {
      model.dispose();
    }
  });

  it('writes an acrostic of 4 as 4 lines headed by its characters', async () => {
    const run = await tangshi(['poem', '--acrostic', '春夏秋冬', '--json', '--checkpoint', checkpoint]);
    expect(run.code, run.stderr).toBe(0);
    const poem = JSON.parse(run.stdout) as { lines: string[]; form: Form };
    expect(poem.lines).toHaveLength(4);
    expect(['wujue', 'qijue']).toContain(poem.form);
    expect(poem.lines.map((line) => [...line][0]).join('')).toBe('春夏秋冬');
  });

  const bad: [string, string[], RegExp][] = [
    ['a start text that is not Chinese', ['poem', 'abc'], /only Chinese characters.*「a」.*「b」.*「c」/],
    ['an unknown form', ['poem', '月', '--form', 'xx'], /--form <form>' argument 'xx' is invalid\. Allowed choices are wujue, qijue, wulv, qilv/],
    ['a temperature that is not a number', ['poem', '月', '--temperature', 'hot'], /--temperature must be a number.*hot/],
    ['both a start text and an acrostic', ['poem', '月', '--acrostic', '春夏秋冬'], /not both/],
    ['an unknown precision', ['poem', '月', '--precision', 'fp8'], /--precision <p>' argument 'fp8' is invalid\. Allowed choices are int8, float32/],
    ['a temperature out of range', ['poem', '月', '--temperature', '-1'], /Invalid temperature: Number must be greater than or equal to 0\.05/],
    ['an unknown option', ['poem', '月', '--bogus'], /unknown option '--bogus'[\s\S]*tangshi COMMAND --help/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with a message on stderr`, async () => {
      const run = await tangshi([...args, '--checkpoint', checkpoint]);
      expect(run.code).not.toBe(0);
      expect(run.code).not.toBeNull();
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(STACK_FRAME);
    });
  }

  it('names a checkpoint it cannot load, without a stack trace', async () => {
    const run = await tangshi(['poem', '--checkpoint', '/nonexistent', '月']);
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/checkpoint \/nonexistent: no readable manifest\.json/);
    expect(run.stderr).not.toMatch(STACK_FRAME);
  });
});

describe('tangshi eval', () => {
  it('measures perplexity on the regular poems of a chinese-poetry file', async () => {
    const poems = [
      { title: '登鸛雀樓', paragraphs: ['白日依山盡，黃河入海流。', '欲窮千里目，更上一層樓。'] },
      { title: '靜夜思', paragraphs: ['床前明月光，疑是地上霜。', '舉頭望明月，低頭思故鄉。'] },
      { title: '早發白帝城', paragraphs: ['朝辭白帝彩雲間，千里江陵一日還。', '兩岸猿聲啼不住，輕舟已過萬重山。'] },
      {
        title: '山居秋暝',
        paragraphs: ['空山新雨後，天氣晚來秋。', '明月松間照，清泉石上流。', '竹喧歸浣女，蓮動下漁舟。', '隨意春芳歇，王孫自可留。'],
      },
      // not a regular form (lines of 5, 5, 6, 6): skipped
      { title: '登幽州臺歌', paragraphs: ['前不見古人，後不見來者。', '念天地之悠悠，獨愴然而涕下。'] },
    ];
    const file = join(tempDir(), 'poems.json');
    writeFileSync(file, JSON.stringify(poems));
    // characters, the ，/。 after each line and the end token
    const expectedTokens = poems
      .slice(0, 4)
      .map((p) =>
        p.paragraphs
          .join('')
          .split(/[，。]/)
          .filter(Boolean),
      )
      .reduce((n, lines) => n + lines.length * ([...lines[0]!].length + 1) + 1, 0);

    const run = await tangshi(['eval', '--checkpoint', checkpoint, '--file', file, '--json', '--workers', '1']);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout.trim().split('\n');
    expect(out).toHaveLength(1);
    const result = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(result.version).toBe(manifest.version);
    expect(result.poems).toBe(4);
    expect(result.skipped_poems).toBe(1);
    expect(result.tokens).toBe(expectedTokens);
    for (const key of ['perplexity', 'content_perplexity'] as const) {
      const value = result[key];
      expect(typeof value, key).toBe('number');
      expect(Number.isFinite(value), key).toBe(true);
      expect(value as number, key).toBeGreaterThan(1);
      // an untrained model's output is nearly uniform: its perplexity is close to the vocabulary size
      expect(value as number, key).toBeGreaterThan(manifest.config.model.vocabSize / 2);
      expect(value as number, key).toBeLessThan(manifest.config.model.vocabSize * 2);
    }
  });
});

describe('poetics', () => {
  it('scores the JSON lines of tangshi poem --json, in either script', async () => {
    const file = join(tempDir(), 'poems.jsonl');
    // 登鸛雀樓 keeps every rule; 靜夜思 (an old-style quatrain) does not
    writeFileSync(
      file,
      [{ lines: ['白日依山尽', '黄河入海流', '欲穷千里目', '更上一层楼'] }, { lines: ['床前明月光', '疑是地上霜', '舉頭望明月', '低頭思故鄉'] }]
        .map((p) => JSON.stringify(p))
        .join('\n'),
    );
    const run = await tangshi(['poetics', file, '--json']);
    expect(run.code).toBe(0);
    const score = JSON.parse(run.stdout);
    expect(score.poems).toBe(2);
    expect(score.tone_rules_kept).toBe(0.5);
    expect(score.repeated_characters).toBeCloseTo(3 / 40);
    expect(score.copied_lines).toBeGreaterThan(0); // both are in the corpus
  });

  it('takes a poem marked traditional as it is (converting it again would turn its rhyme 干 into 幹)', async () => {
    const file = join(tempDir(), 'poems.jsonl');
    const served = { lines: ['海上煙霞百丈壇', '野花香滿草萋干', '如今便是君王母', '不得人家作酒看'], script: 'traditional' }; // a poem the model wrote
    writeFileSync(file, `${JSON.stringify(served)}\n${JSON.stringify({ lines: served.lines })}\n`);
    const score = JSON.parse((await tangshi(['poetics', file, '--json'])).stdout);
    expect(score.poems).toBe(2);
    expect(score.tone_rules_kept).toBe(0.5); // the unmarked copy is read as simplified: 干 → 幹, oblique
    expect(score.rhyme_classical).toBe(0.5);
  });
});

describe('bad input to eval and train: a message that names the problem, no stack trace', () => {
  const fileWith = (name: string, text: string) => {
    const file = join(tempDir(), name);
    writeFileSync(file, text);
    return file;
  };
  const cases: [string, () => string[], RegExp][] = [
    [
      'eval of a file that does not exist',
      () => ['eval', '--checkpoint', checkpoint, '--file', '/nonexistent/poems.json'],
      /cannot read \/nonexistent\/poems\.json as JSON/,
    ],
    ['eval of a file that is not JSON', () => ['eval', '--checkpoint', checkpoint, '--file', fileWith('x.json', 'not json')], /cannot read .*x\.json as JSON/],
    [
      'eval of JSON that is not poems',
      () => ['eval', '--checkpoint', checkpoint, '--file', fileWith('y.json', '[{"title":"no paragraphs"}]')],
      /y\.json is not an array of poems with "paragraphs"/,
    ],
    [
      'train with an unknown optimizer',
      () => ['train', '--optimizer', 'rmsprop', '--out', join(tempDir(), 'm')],
      /--optimizer <name>' argument 'rmsprop' is invalid\. Allowed choices are adam, sgd-momentum, adagrad/,
    ],
    [
      'train with four layers',
      () => ['train', '--layers', '4', '--out', join(tempDir(), 'm')],
      /--layers <n>' argument '4' is invalid\. Allowed choices are 1, 2, 3/,
    ],
    ['eval with 0 workers', () => ['eval', '--checkpoint', checkpoint, '--workers', '0'], /--workers must be a whole number ≥ 1 \(got "0"\)/],
    [
      'bench with steps that are not a number',
      () => ['bench', '--checkpoint', checkpoint, '--skip-torch', '--steps', 'x'],
      /--steps must be a number \(got "x"\)/,
    ],
    [
      'train with a dropout of 0.95',
      () => ['train', '--dropout', '0.95', '--out', join(tempDir(), 'm')],
      /--dropout: Number must be less than or equal to 0\.9 \(got "0\.95"\)/,
    ],
    [
      'train with a weight-drop that is not a number',
      () => ['train', '--weight-drop', 'half', '--out', join(tempDir(), 'm')],
      /--weight-drop must be a number \(got "half"\)/,
    ],
    [
      'train with a negative embedding dropout',
      () => ['train', '--embedding-drop', '-0.1', '--out', join(tempDir(), 'm')],
      /--embedding-drop: Number must be greater than or equal to 0 \(got "-0\.1"\)/,
    ],
    ['poetics of a file that does not exist', () => ['poetics', '/nonexistent/poems.jsonl'], /cannot read \/nonexistent\/poems\.jsonl/],
    [
      'poetics of lines that are not poems',
      () => ['poetics', fileWith('z.jsonl', '{"text":"no lines"}\n')],
      /z\.jsonl: line 1 is neither the chinese-poetry format nor a JSON object with "lines"/,
    ],
    ['poetics without a file', () => ['poetics'], /missing required argument 'file'/],
    ['an unknown command', () => ['poems'], /unknown command 'poems'[\s\S]*--help/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const run = await tangshi(args());
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(STACK_FRAME);
    });
  }
});

describe('help', () => {
  // help wraps to the terminal's width: compare with whitespace runs made one space
  const flat = (text: string) => text.replace(/\s+/g, ' ');
  it('lists every command, and every option of a command with its default and choices', async () => {
    const top = await tangshi(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['poem', 'train', 'eval', 'export', 'poetics', 'bench', 'couplet', 'couplet-train', 'couplet-eval'])
      expect(top.stdout).toMatch(new RegExp(`\\n  ${command} `));
    const poem = await tangshi(['poem', '--help']);
    expect(poem.code).toBe(0);
    for (const option of [
      '--acrostic',
      '--form',
      '--temperature',
      '--top-k',
      '--top-p',
      '--seed',
      '--script',
      '--checkpoint',
      '--precision',
      '--no-tones',
      '--rhyme',
      '--json',
    ]) {
      expect(poem.stdout).toContain(option);
    }
    expect(flat(poem.stdout)).toContain('--temperature <t> sampling temperature, 0.05–3 (default: "0.8")');
    expect(flat(poem.stdout)).toContain('(choices: "wujue", "qijue", "wulv", "qilv")');
    expect(flat(poem.stdout)).toContain('(choices: "classical", "modern", default: "classical")');
    expect(flat((await tangshi(['train', '--help'])).stdout)).toContain(
      '--optimizer <name> the optimizer (choices: "adam", "sgd-momentum", "adagrad", default: "adam")',
    );
    expect(flat((await tangshi(['help', 'couplet'])).stdout)).toContain('upper the upper line (上联), 5 or 7 Chinese characters');
  });
});

describe('tangshi couplet and couplet-eval (the shipped couplet model)', () => {
  it('answers by beam search, the same line every time, and prints the table of test pairs', async () => {
    const [a, b] = await Promise.all([
      tangshi(['couplet', '白日依山尽', '--beam', '3', '--json']),
      tangshi(['couplet', '白日依山尽', '--beam', '3', '--json']),
    ]);
    expect(a.code).toBe(0);
    const answer = JSON.parse(a.stdout) as { upper: string; lower: string };
    expect(answer.upper).toBe('白日依山盡');
    expect([...answer.lower]).toHaveLength(5);
    expect(JSON.parse(b.stdout)).toEqual(answer);
    expect((await tangshi(['couplet', '白日依山尽', '--beam', '0'])).stderr).toMatch(/--beam must be a whole number ≥ 1/);

    const table = await tangshi(['couplet-eval', '--table', '3', '--beam', '2']);
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toBe("| upper line | the poet's lower line | the model's (beam 2) | retrieval's |");
    const { test } = (await import('../src/model/couplet/pairs.js')).loadCouplets();
    expect(rows.slice(2).map((r) => r.split(' | ').slice(0, 2).join(' | '))).toEqual(test.slice(0, 3).map((p) => `| ${p.upper} | ${p.lower}`));
    for (const row of rows.slice(2))
      for (const cell of row.split('|').slice(3, 5)) expect([...cell.trim()]).toHaveLength([...row.split('|')[1]!.trim()].length);
  }, 120000);
});

describe('the training progress bar', () => {
  it('prints its ETA with minutes carried into hours and seconds into minutes', () => {
    expect(formatEta(7170)).toBe('2h00m'); // 1 h 59.5 min rounds to 2h00m, not 1h60m
    expect(formatEta(3725)).toBe('1h02m');
    expect(formatEta(119.6)).toBe('2m00s');
    expect(formatEta(754)).toBe('12m34s');
    expect(formatEta(9)).toBe('9s');
    expect(formatEta(Number.NaN)).toBe('?');
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe('?');
  });
});
