/** Structured logs (pino): JSON lines on stdout. */
import { pino } from 'pino';

export const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'tangshi-bot' } });
export type Log = typeof log;
