/** Reading REST bodies: JSON, or multipart with payload_json and files (attachments). */
import type { IncomingMessage } from 'node:http';
import { HttpRefusal, MAX_BODY, refuse, type Upload } from './state.js';

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpRefusal(413, { code: 40005, message: 'Request entity too large' }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function parseBody(req: IncomingMessage, raw: Buffer): Promise<{ body: any; uploads: Upload[] }> {
  if (raw.length === 0) return { body: undefined, uploads: [] };
  const ct = req.headers['content-type'] ?? '';
  if (ct.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw), { headers: { 'content-type': ct } }).formData();
    } catch {
      refuse(400, 50109, 'The request body contains invalid JSON.');
    }
    let body: any = {};
    const uploads: Upload[] = [];
    let order = 0;
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') {
          try {
            body = { ...body, ...JSON.parse(value) };
          } catch {
            refuse(400, 50109, 'The request body contains invalid JSON.');
          }
        } else {
          body[field] = value;
        }
      } else {
        const idx = /^files\[(\d+)\]$/.exec(field)?.[1] ?? /^file(\d*)$/.exec(field)?.[1] ?? String(order);
        order++;
        const data = Buffer.from(await value.arrayBuffer());
        uploads.push({ field, index: idx === '' ? '0' : idx, name: value.name, size: data.length, type: value.type, data });
      }
    }
    return { body, uploads };
  }
  try {
    return { body: JSON.parse(raw.toString('utf8')), uploads: [] };
  } catch {
    refuse(400, 50109, 'The request body contains invalid JSON.');
  }
}

/** width and height of a PNG, from its IHDR chunk */
export function pngSize(data: Buffer): { width: number; height: number } | null {
  if (data.length >= 24 && data.readUInt32BE(0) === 0x89504e47 && data.toString('latin1', 12, 16) === 'IHDR') {
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  return null;
}
