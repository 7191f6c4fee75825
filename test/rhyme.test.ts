import { describe, expect, it } from 'vitest';
import { loadTangCorpus } from '../src/model/verse/corpus.js';
import { poemRhymes, rhymeClasses, rhymeGroups, rhymeRate, rhymesWith, THIRTEEN_RHYMES } from '../src/model/verse/modern-rhyme.js';

// 王維《山居秋暝》: 秋/流/舟/留 all rhyme in 油求
const SHAN_JU_QIU_MING = ['空山新雨後', '天氣晚來秋', '明月松間照', '清泉石上流', '竹喧歸浣女', '蓮動下漁舟', '隨意春芳歇', '王孫自可留'];
// the same poem with its last rhyme changed to 去 (qù, 一七)
const BROKEN = [...SHAN_JU_QIU_MING.slice(0, 7), '王孫自可去'];
// 王之渙《登鸛雀樓》: 流/樓
const DENG_GUAN_QUE_LOU = ['白日依山盡', '黃河入海流', '欲窮千里目', '更上一層樓'];

describe('THIRTEEN_RHYMES', () => {
  it('has thirteen groups and puts each final in exactly one', () => {
    expect(Object.keys(THIRTEEN_RHYMES)).toHaveLength(13);
    const finals = Object.values(THIRTEEN_RHYMES).flat();
    expect(new Set(finals).size).toBe(finals.length);
  });
});

describe('rhymeGroups', () => {
  it('puts 山/間/還/閒 (traditional) in 言前', () => {
    for (const ch of ['山', '間', '還', '閒']) expect(rhymeGroups(ch).has('言前'), ch).toBe(true);
  });

  it('reads simplified and traditional forms alike', () => {
    expect(rhymeGroups('间')).toEqual(rhymeGroups('間'));
    expect(rhymeGroups('闲')).toEqual(rhymeGroups('閒'));
  });

  it('puts 花/家/霞 in 发花', () => {
    for (const ch of ['花', '家', '霞']) expect(rhymeGroups(ch).has('发花'), ch).toBe(true);
  });

  it('gives a polyphonic character the groups of all its readings', () => {
    expect(rhymeGroups('還')).toEqual(new Set(['言前', '怀来'])); // huán, hái
    expect(rhymeGroups('行')).toEqual(new Set(['中东', '江阳'])); // xíng/héng, háng
    expect(rhymeGroups('山')).toEqual(new Set(['言前']));
  });

  it('reads finals spelled with y/w, after j/q/x, and shortened (iu, ui, un)', () => {
    expect(rhymeGroups('魚')).toEqual(new Set(['一七'])); // yú: ü, not u
    expect(rhymeGroups('虛')).toEqual(new Set(['一七'])); // xū: ü
    expect(rhymeGroups('雪')).toEqual(new Set(['乜斜'])); // xuě: üe
    expect(rhymeGroups('月')).toEqual(new Set(['乜斜'])); // yuè: üe
    expect(rhymeGroups('雲')).toEqual(new Set(['人辰'])); // yún: ün
    expect(rhymeGroups('君')).toEqual(new Set(['人辰'])); // jūn: ün
    expect(rhymeGroups('歸')).toEqual(new Set(['灰堆'])); // guī: uei
    expect(rhymeGroups('遊')).toEqual(new Set(['油求'])); // yóu: iou
    expect(rhymeGroups('日')).toEqual(new Set(['一七'])); // rì: the apical i
    expect(rhymeGroups('孤')).toEqual(new Set(['姑苏'])); // gū
    expect(rhymeGroups('翁')).toEqual(new Set(['中东'])); // wēng: ueng
  });

  it('is empty for anything but one known Han character', () => {
    for (const s of ['a', '，', '。', '1', '', '山水', ' ']) expect(rhymeGroups(s).size, JSON.stringify(s)).toBe(0);
  });

  it('returns a set the caller may change without touching the cache', () => {
    rhymeGroups('山').add('发花');
    expect(rhymeGroups('山')).toEqual(new Set(['言前']));
  });
});

describe('rhymesWith', () => {
  it('is true for characters sharing a group and false otherwise', () => {
    expect(rhymesWith('山', '閒')).toBe(true);
    expect(rhymesWith('秋', '留')).toBe(true);
    expect(rhymesWith('山', '花')).toBe(false);
    expect(rhymesWith('山', '。')).toBe(false);
  });
});

describe('poemRhymes', () => {
  it('accepts a regulated poem whose even lines rhyme', () => {
    expect(poemRhymes(SHAN_JU_QIU_MING)).toBe(true);
    expect(poemRhymes(DENG_GUAN_QUE_LOU)).toBe(true);
  });

  it('rejects a poem with one even line off the rhyme', () => {
    expect(poemRhymes(BROKEN)).toBe(false);
  });

  it('needs one group common to all even lines, not just pairwise overlap', () => {
    // 還 (言前/怀来) overlaps 山 (言前) and 來 (怀来), but 山 and 來 share nothing
    expect(poemRhymes(['一一', '一山', '一一', '一還', '一一', '一來'])).toBe(false);
    expect(poemRhymes(['一一', '一山', '一一', '一還', '一一', '一閒'])).toBe(true);
  });

  it('is true for a poem with fewer than two even lines', () => {
    expect(poemRhymes(['白日依山盡', '黃河入海流'])).toBe(true);
    expect(poemRhymes(['白日依山盡'])).toBe(true);
    expect(poemRhymes([])).toBe(true);
  });
});

describe('rhymeRate', () => {
  it('is the fraction of poems that rhyme', () => {
    expect(rhymeRate([SHAN_JU_QIU_MING, BROKEN, DENG_GUAN_QUE_LOU])).toBeCloseTo(2 / 3);
    expect(rhymeRate([BROKEN])).toBe(0);
    expect(rhymeRate([])).toBe(0);
  });
});

describe('rhymeClasses', () => {
  it('maps each group to the indices of the characters that can be in it', () => {
    const classes = rhymeClasses(['山', '花', '還', 'x', '閒', '霞']);
    expect(classes.get('言前')).toEqual([0, 2, 4]);
    expect(classes.get('发花')).toEqual([1, 5]);
    expect(classes.get('怀来')).toEqual([2]);
    expect([...classes.keys()].sort()).toEqual(['发花', '怀来', '言前'].sort());
  });
});

describe('the Tang corpus', () => {
  it('rhymes in most regular poems by this measure', { timeout: 60_000 }, () => {
    const { train } = loadTangCorpus();
    const rate = rhymeRate(train.map((p) => p.lines));
    console.log(`corpus rhyme rate (train, ${train.length} regular poems): ${rate.toFixed(4)}`);
    expect(rate).toBeGreaterThan(0.7);
  });
});
