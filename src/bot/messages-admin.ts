/**
 * The catalog's part for admins: /model's answers, a fine-tune's progress and its report, in English and
 * simplified Chinese (traditional comes from the simplified, as for the rest of the catalog: messages.ts).
 * Technical words stay as they are in both (version ids, perplexity figures, backend names, an error's own
 * text).
 */
import type { GateCheck, GateVerdict } from '../jobs/promotion.js';
import type { RunReport } from '../jobs/runner.js';

type Run = { trigger: string; requestedBy: string | null };
type RunStatus = 'running' | 'promoted' | 'rejected' | 'failed';

export type AdminCatalog = {
  onlyAdmins: string;
  startedBy: (run: Run) => string;
  duration: (seconds: number) => string;
  preparing: string;
  evaluating: string;
  promoting: string;
  /** the words of a progress line: step, loss, tokens a second, time left */
  progress: (p: { bar: string; percent: number; step: number; loss: string; tokensPerSecond: string; eta: string }) => string;
  header: (p: { id: number; by: string; since: string; base: string; rated: number }) => string;
  busy: (p: { id: number; by: string; since: string; progress: string }) => string;
  status: {
    title: string;
    activeVersion: string;
    devPerplexity: string;
    backend: string;
    poemsServed: string;
    ratingsStored: string;
    uptime: string;
    finetuneNow: string;
    lastRun: string;
    nextRun: string;
    recentVersions: string;
    notMeasured: string;
    none: string;
    noneYet: string;
    cronOff: string;
    runStatus: Record<RunStatus, string>;
    /** "(run #3)" after a version a run made */
    byRun: (id: number) => string;
    taste: string;
    tasteModel: (p: { version: string; auc: string; poems: number; n: number }) => string;
    tasteBroken: (why: string) => string;
    noTaste: string;
    /** the judge's liked share of the gate's poems, active → candidate */
    likedShare: string;
  };
  noRun: string;
  /** a retrain the trainer's queue could not start, and why */
  notStarted: (reason: string) => string;
  stopping: (id: number) => string;
  notVersionId: (asked: string) => string;
  noSuchVersion: (asked: string) => string;
  noEarlierVersion: string;
  alreadyAnswering: (version: string) => string;
  couldNotSwitch: (p: { version: string; error: string; current: string }) => string;
  nowAnswering: (p: { version: string; ppl: string; was: string; wasPpl: string }) => string;
  report: {
    title: (id: number, status: 'promoted' | 'rejected' | 'failed') => string;
    devPerplexity: string;
    activeModel: string;
    started: string;
    tokensTrained: string;
    steps: string;
    ratedPoemsUsed: string;
    timeTaken: string;
    failed: (p: { error: string; base: string }) => string;
    /** the gate's answer, then each check with its figures (the figures stay as the gate wrote them) */
    decision: (v: GateVerdict) => string;
    taste: string;
    /** the night's taste model: its held-out AUC against the active one's, and whether it now serves */
    tasteLine: (report: RunReport) => string;
  };
};

const CHECK_NAMES: Record<'en' | 'zh-CN', Record<GateCheck['name'], string>> = {
  en: {
    unchanged: 'active model unchanged',
    taste: 'taste',
    perplexity: 'dev perplexity',
    tones: 'tones',
    rhyme: 'rhyme',
    repeats: 'repeats',
    copies: 'copied lines',
    diversity: 'distinct-2',
    verbatim: 'no rated poem copied',
  },
  'zh-CN': {
    unchanged: '当前模型未变',
    taste: '口味',
    perplexity: '开发集困惑度',
    tones: '平仄',
    rhyme: '押韵',
    repeats: '重字',
    copies: '抄句',
    diversity: '多样性 distinct-2',
    verbatim: '不照抄评过的诗',
  },
};

const checkList = (v: GateVerdict, lang: 'en' | 'zh-CN') => v.checks.map((c) => `${c.pass ? '✅' : '❌'} ${CHECK_NAMES[lang][c.name]}: ${c.detail}`).join('\n');
const auc = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));

export const ADMIN_CATALOG: Record<'en' | 'zh-CN', AdminCatalog> = {
  en: {
    onlyAdmins: 'Only server admins (Manage Server) can use /model.',
    startedBy: (run) => (run.trigger === 'admin' && run.requestedBy ? `by <@${run.requestedBy}>` : 'by the nightly schedule'),
    duration: (seconds) => {
      const s = Math.max(0, Math.round(seconds));
      if (s < 60) return `${s}s`;
      if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
      return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    },
    preparing: "Preparing: reading the readers' ratings and the corpus…",
    evaluating: "Training done. Measuring both models for the gate: dev perplexity, each one's poems under the judge, the rules of verse…",
    promoting: 'The candidate passed the gate: loading it beside the active model…',
    progress: (p) => `\`${p.bar}\` ${p.percent}% · step ${p.step} · loss ${p.loss} · ${p.tokensPerSecond} tok/s · ETA ${p.eta}`,
    header: (p) => `**Fine-tune #${p.id}** started ${p.by} ${p.since} from \`${p.base}\`, learning from ${p.rated} rated poems.`,
    busy: (p) => `Fine-tune #${p.id} is already running (started ${p.by} ${p.since}).\n${p.progress}\nUse \`/model stop\` to end it.`,
    status: {
      title: 'Model status',
      activeVersion: 'Active version',
      devPerplexity: 'Dev perplexity',
      backend: 'Backend',
      poemsServed: 'Poems served',
      ratingsStored: 'Ratings stored',
      uptime: 'Uptime',
      finetuneNow: 'Fine-tune now',
      lastRun: 'Last run',
      nextRun: 'Next scheduled run',
      recentVersions: 'Recent versions',
      notMeasured: 'not measured',
      none: 'none',
      noneYet: 'none yet',
      cronOff: 'none (TRAIN_CRON=off)',
      runStatus: { running: 'running', promoted: 'promoted', rejected: 'rejected', failed: 'failed' },
      byRun: (id) => ` (run #${id})`,
      taste: 'Taste model',
      tasteModel: (p) => `\`${p.version}\`: held-out AUC ${p.auc} (${p.poems} poems it did not train on); best of ${p.n} candidates a poem, fewer under load`,
      tasteBroken: (why) => `not in use (${why}): every poem is its one candidate`,
      noTaste: 'none yet: every poem is its one candidate until a night has enough ratings',
      likedShare: "liked (the judge's share of the gate's poems)",
    },
    noRun: 'No fine-tune is running.',
    notStarted: (reason) => `The fine-tune did not start: ${reason}`,
    stopping: (id) => `Stopping fine-tune #${id}. Its report will say when it has stopped; the active model is not changed.`,
    notVersionId: (asked) => `\`${asked}\` is not a version id (letters, digits, . _ -). \`/model status\` lists the versions.`,
    noSuchVersion: (asked) => `There is no version \`${asked}\`. \`/model status\` lists the recent ones.`,
    noEarlierVersion: 'There is no earlier active version to roll back to.',
    alreadyAnswering: (version) => `\`${version}\` is already answering.`,
    couldNotSwitch: (p) => `Could not switch to \`${p.version}\`: ${p.error}\nStill answering with \`${p.current}\`.`,
    nowAnswering: (p) => `Now answering with \`${p.version}\` (dev perplexity ${p.ppl}), was \`${p.was}\` (${p.wasPpl}).`,
    report: {
      title: (id, status) => `Fine-tune #${id}: ${{ promoted: 'promoted', rejected: 'not promoted', failed: 'failed' }[status]}`,
      devPerplexity: 'Dev perplexity',
      activeModel: 'Active model',
      started: 'Started',
      tokensTrained: 'Tokens trained',
      steps: 'Steps',
      ratedPoemsUsed: 'Rated poems',
      timeTaken: 'Time taken',
      failed: (p) => `**Failed:** ${p.error}\nThe active model \`${p.base}\` keeps answering.`,
      decision: (v) =>
        `${v.promote ? '**Promoted**: every check passed.' : `**Kept \`${v.baseVersion}\`**: decided by ${CHECK_NAMES.en[v.decidedBy as GateCheck['name']]}.`}\n${checkList(v, 'en')}`,
      taste: 'Taste model',
      tasteLine: (r) =>
        r.taste
          ? `\`${r.taste.version}\`: held-out AUC ${auc(r.taste.heldOutAuc)} (active ${auc(r.taste.activeAuc)}, ${r.taste.heldOutPoems} poems) · ${r.taste.promoted ? 'now chooses among candidates' : 'not better: the active one stays'} · learnt by ${r.recipe} from ${r.preferenceExamples} poems`
          : `none tonight: ${r.noTaste ?? 'too few ratings'}`,
    },
  },
  'zh-CN': {
    onlyAdmins: '只有能「管理服务器」的管理员才能用 /model。',
    startedBy: (run) => (run.trigger === 'admin' && run.requestedBy ? `由 <@${run.requestedBy}>` : '由每晚的定时任务'),
    duration: (seconds) => {
      const s = Math.max(0, Math.round(seconds));
      if (s < 60) return `${s} 秒`;
      if (s < 3600) return `${Math.floor(s / 60)} 分 ${s % 60} 秒`;
      return `${Math.floor(s / 3600)} 小时 ${Math.floor((s % 3600) / 60)} 分`;
    },
    preparing: '准备中：读取读者的评分和语料……',
    evaluating: '训练完成。正在为把关测两个模型：开发集困惑度、各自的诗在评判模型下的得分、格律……',
    promoting: '新模型通过了把关：正在当前模型旁边加载它……',
    progress: (p) => `\`${p.bar}\` ${p.percent}% · 第 ${p.step} 步 · 损失 ${p.loss} · 每秒 ${p.tokensPerSecond} 词元 · 还需 ${p.eta}`,
    header: (p) => `**微调 #${p.id}** ${p.by}发起于 ${p.since}，从 \`${p.base}\` 开始，向 ${p.rated} 首评过分的诗学习。`,
    busy: (p) => `微调 #${p.id} 正在进行（${p.by}发起于 ${p.since}）。\n${p.progress}\n用 \`/model stop\` 可以停止。`,
    status: {
      title: '模型状态',
      activeVersion: '当前版本',
      devPerplexity: '开发集困惑度',
      backend: '后端',
      poemsServed: '已写的诗',
      ratingsStored: '已存的评分',
      uptime: '运行时间',
      finetuneNow: '正在微调',
      lastRun: '上次微调',
      nextRun: '下次定时微调',
      recentVersions: '最近的版本',
      notMeasured: '未测',
      none: '无',
      noneYet: '还没有',
      cronOff: '无（TRAIN_CRON=off）',
      runStatus: { running: '进行中', promoted: '已采用', rejected: '未采用', failed: '失败' },
      byRun: (id) => `（微调 #${id}）`,
      taste: '口味模型',
      tasteModel: (p) => `\`${p.version}\`：留出评分上的 AUC ${p.auc}（${p.poems} 首它没学过的诗）；每首诗从 ${p.n} 首候选中挑，忙时少挑`,
      tasteBroken: (why) => `没在用（${why}）：每首诗只写一首候选`,
      noTaste: '还没有：某晚评分足够之前，每首诗只写一首候选',
      likedShare: '喜欢（评判模型认为喜欢的把关诗所占比例）',
    },
    noRun: '现在没有在进行的微调。',
    notStarted: (reason) => `微调没有开始：${reason}`,
    stopping: (id) => `正在停止微调 #${id}。停下后它的报告会说明；当前模型不变。`,
    notVersionId: (asked) => `\`${asked}\` 不是版本号（字母、数字、. _ -）。\`/model status\` 列出各个版本。`,
    noSuchVersion: (asked) => `没有版本 \`${asked}\`。\`/model status\` 列出最近的版本。`,
    noEarlierVersion: '没有可以回退到的更早版本。',
    alreadyAnswering: (version) => `\`${version}\` 已经在用了。`,
    couldNotSwitch: (p) => `无法切换到 \`${p.version}\`：${p.error}\n仍在用 \`${p.current}\`。`,
    nowAnswering: (p) => `现在用 \`${p.version}\`（开发集困惑度 ${p.ppl}），之前是 \`${p.was}\`（${p.wasPpl}）。`,
    report: {
      title: (id, status) => `微调 #${id}：${{ promoted: '已采用', rejected: '未采用', failed: '失败' }[status]}`,
      devPerplexity: '开发集困惑度',
      activeModel: '当前模型',
      started: '发起',
      tokensTrained: '训练的词元',
      steps: '步数',
      ratedPoemsUsed: '评过分的诗',
      timeTaken: '用时',
      failed: (p) => `**失败：**${p.error}\n当前模型 \`${p.base}\` 继续使用。`,
      decision: (v) =>
        `${v.promote ? '**已采用**：各项检查都通过。' : `**保留 \`${v.baseVersion}\`**：由「${CHECK_NAMES['zh-CN'][v.decidedBy as GateCheck['name']]}」决定。`}\n${checkList(v, 'zh-CN')}`,
      taste: '口味模型',
      tasteLine: (r) =>
        r.taste
          ? `\`${r.taste.version}\`：留出评分上的 AUC ${auc(r.taste.heldOutAuc)}（当前 ${auc(r.taste.activeAuc)}，${r.taste.heldOutPoems} 首）· ${r.taste.promoted ? '现在由它挑选候选诗' : '不比当前的好：保留当前的'} · 用 ${r.recipe} 从 ${r.preferenceExamples} 首诗学习`
          : `今晚没有：${r.noTaste ?? '评分太少'}`,
    },
  },
};
