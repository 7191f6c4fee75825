/**
 * What Discord refuses with 400 50035 "Invalid Form Body" (messages, components, command registrations), and
 * what Discord's client would not let a user send (options that do not fit the registered command).
 */
import { chars, type Dict, type FormErrors, type MessageState } from './state.js';
import type { CommandOptionInput } from './types.js';

const NAME_RE = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

export function validateMessage(
  m: Pick<MessageState, 'content' | 'embeds' | 'components' | 'flags' | 'allowedMentions' | 'attachments'>,
  errors: FormErrors,
): void {
  if (chars(m.content) > 2000) errors.add(['content'], 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  if (m.embeds.length > 10) errors.add(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  let total = 0;
  m.embeds.forEach((e: Dict, i) => {
    const len = (path: (string | number)[], v: unknown, max: number): void => {
      if (v === undefined || v === null) return;
      if (typeof v !== 'string') return errors.add(['embeds', i, ...path], 'BASE_TYPE_STRING', 'Must be a string.');
      total += chars(v);
      if (chars(v) > max) errors.add(['embeds', i, ...path], 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
    };
    if (!e || typeof e !== 'object') return errors.add(['embeds', i], 'MODEL_TYPE_CONVERT', 'Must be an object.');
    len(['title'], e.title, 256);
    len(['description'], e.description, 4096);
    len(['footer', 'text'], e.footer?.text, 2048);
    len(['author', 'name'], e.author?.name, 256);
    if (e.color !== undefined && e.color !== null && !(Number.isInteger(e.color) && e.color >= 0 && e.color <= 0xffffff)) {
      errors.add(['embeds', i, 'color'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 16777215.');
    }
    if (e.fields !== undefined) {
      if (!Array.isArray(e.fields)) return errors.add(['embeds', i, 'fields'], 'BASE_TYPE_LIST', 'Must be a list.');
      if (e.fields.length > 25) errors.add(['embeds', i, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      e.fields.forEach((f: Dict, j: number) => {
        for (const [k, max] of [
          ['name', 256],
          ['value', 1024],
        ] as const) {
          if (typeof f?.[k] !== 'string' || f[k].length === 0) errors.add(['embeds', i, 'fields', j, k], 'BASE_TYPE_REQUIRED', 'This field is required');
          else len(['fields', j, k], f[k], max);
        }
      });
    }
  });
  if (total > 6000) errors.add(['embeds'], 'MESSAGE_EMBEDS_TOO_LONG', 'Embed size exceeds maximum size of 6000');
  validateComponents(m.components, errors);
  if (m.attachments.length > 10) errors.add(['attachments'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  const am = m.allowedMentions as Dict | undefined;
  if (am) {
    const parse: unknown[] = Array.isArray(am.parse) ? am.parse : [];
    for (const p of parse) {
      if (!['users', 'roles', 'everyone'].includes(String(p)))
        errors.add(['allowed_mentions', 'parse'], 'BASE_TYPE_CHOICES', `Value must be one of {'users', 'roles', 'everyone'}.`);
    }
    if (parse.includes('users') && Array.isArray(am.users) && am.users.length) {
      errors.add(['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', 'parse:["users"] and users: [ids] are mutually exclusive.');
    }
    if (parse.includes('roles') && Array.isArray(am.roles) && am.roles.length) {
      errors.add(['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', 'parse:["roles"] and roles: [ids] are mutually exclusive.');
    }
    if (Array.isArray(am.users) && am.users.length > 100) errors.add(['allowed_mentions', 'users'], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
  }
}

/**
 * Action rows of buttons: what the bot sends. Other components (select menus, text inputs, the
 * components-v2 layout) are refused as unsupported, so a bot that starts sending them gets a failing test
 * here rather than a stand-in that silently accepts them.
 */
function validateComponents(components: unknown, errors: FormErrors): void {
  if (!Array.isArray(components)) return errors.add(['components'], 'BASE_TYPE_LIST', 'Must be a list.');
  const ids = new Set<string>();
  const button = (c: Dict, path: (string | number)[]): void => {
    if (c.type !== 2) return errors.add([...path, 'type'], 'STANDIN_UNSUPPORTED', `component type ${c.type}: the stand-in knows buttons only`);
    const style = c.style;
    if (![1, 2, 3, 4, 5, 6].includes(style)) return errors.add([...path, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6}.');
    if (style === 5) {
      if (typeof c.url !== 'string') errors.add([...path, 'url'], 'BUTTON_COMPONENT_URL_REQUIRED', 'A url is required');
      if (c.custom_id !== undefined) errors.add([...path, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED', 'A custom id cannot be specified');
    } else if (style === 6) {
      if (typeof c.sku_id !== 'string') errors.add([...path, 'sku_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
    } else {
      if (typeof c.custom_id !== 'string') errors.add([...path, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_REQUIRED', 'A custom id required');
      if (c.url !== undefined) errors.add([...path, 'url'], 'BUTTON_COMPONENT_URL_NOT_ALLOWED', 'A url cannot be specified');
    }
    if (style !== 6 && !c.label && !c.emoji) errors.add([...path], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'A label or emoji is required');
    if (typeof c.label === 'string' && chars(c.label) > 80) errors.add([...path, 'label'], 'BASE_TYPE_MAX_LENGTH', 'Must be 80 or fewer in length.');
    if (typeof c.custom_id === 'string') {
      if (c.custom_id.length < 1 || chars(c.custom_id) > 100)
        errors.add([...path, 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      if (ids.has(c.custom_id)) errors.add([...path, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
      ids.add(c.custom_id);
    }
  };
  if (components.length > 5) errors.add(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
  components.forEach((row: Dict, r) => {
    if (row?.type !== 1) return errors.add(['components', r, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1,).');
    const children = row.components;
    if (!Array.isArray(children) || children.length < 1 || children.length > 5) {
      return errors.add(['components', r, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
    }
    children.forEach((c: Dict, i: number) => {
      if (c?.type === 1) errors.add(['components', r, 'components', i, 'type'], 'COMPONENT_TYPE_INVALID', 'Action rows cannot be nested');
      else button(c ?? {}, ['components', r, 'components', i]);
    });
  });
}

export function findComponent(components: unknown[], customId: string): Dict | null {
  for (const c of components as Dict[]) {
    if (!c) continue;
    if (c.custom_id === customId) return c;
    if (Array.isArray(c.components)) {
      const found = findComponent(c.components, customId);
      if (found) return found;
    }
  }
  return null;
}

export function collectCustomIds(components: unknown[]): string[] {
  const out: string[] = [];
  const walk = (list: unknown[]): void => {
    for (const c of list as Dict[]) {
      if (typeof c?.custom_id === 'string') out.push(c.custom_id);
      if (Array.isArray(c?.components)) walk(c.components);
    }
  };
  walk(components);
  return out;
}

export function validateCommand(c: Dict, errors: FormErrors, path: (string | number)[]): void {
  if (!c || typeof c !== 'object') return errors.add(path, 'MODEL_TYPE_CONVERT', 'Must be an object.');
  const type = c.type ?? 1;
  if (![1, 2, 3, 4].includes(type)) errors.add([...path, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.');
  if (typeof c.name !== 'string') return errors.add([...path, 'name'], 'BASE_TYPE_REQUIRED', 'This field is required');
  if (type === 1) {
    if (!NAME_RE.test(c.name) || c.name !== c.name.toLowerCase()) {
      errors.add([...path, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    if (typeof c.description !== 'string' || chars(c.description) < 1 || chars(c.description) > 100) {
      errors.add([...path, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    validateCommandOptions(c.options, errors, [...path, 'options'], 0);
  } else {
    if (chars(c.name) < 1 || chars(c.name) > 32) errors.add([...path, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
    if (c.description) errors.add([...path, 'description'], 'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', 'Context menu commands cannot have description');
    if (c.options?.length) errors.add([...path, 'options'], 'APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED', 'Context menu commands cannot have options');
  }
  if (c.default_member_permissions !== undefined && c.default_member_permissions !== null) {
    if (!/^\d+$/.test(String(c.default_member_permissions))) {
      errors.add([...path, 'default_member_permissions'], 'PERMISSIONS_INVALID', 'Invalid permissions');
    }
  }
}

function validateCommandOptions(options: unknown, errors: FormErrors, path: (string | number)[], depth: number): void {
  if (options === undefined || options === null) return;
  if (!Array.isArray(options)) return errors.add(path, 'BASE_TYPE_LIST', 'Must be a list.');
  if (options.length > 25) errors.add(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  const names = new Set<string>();
  let sawOptional = false;
  const subs = options.filter((o: Dict) => o?.type === 1 || o?.type === 2).length;
  if (subs && subs !== options.length)
    errors.add(path, 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-command and sub-command group option types are mutually exclusive to all other types');
  options.forEach((o: Dict, i: number) => {
    const p = [...path, i];
    if (!o || typeof o !== 'object') return errors.add(p, 'MODEL_TYPE_CONVERT', 'Must be an object.');
    if (!(Number.isInteger(o.type) && o.type >= 1 && o.type <= 11)) errors.add([...p, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1..11}.');
    if (typeof o.name !== 'string' || !NAME_RE.test(o.name) || o.name !== o.name.toLowerCase()) {
      errors.add([...p, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    } else if (names.has(o.name)) {
      errors.add([...p, 'name'], 'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS', 'Option names must be unique');
    }
    names.add(o.name);
    if (typeof o.description !== 'string' || chars(o.description) < 1 || chars(o.description) > 100) {
      errors.add([...p, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    if (o.type === 1 || o.type === 2) {
      if (o.type === 2 && depth > 0) errors.add([...p, 'type'], 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-command groups cannot be nested');
      if (o.type === 1 && depth > 1) errors.add([...p, 'type'], 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-commands cannot be nested this deep');
      validateCommandOptions(o.options, errors, [...p, 'options'], depth + 1);
      return;
    }
    if (o.required) {
      if (sawOptional)
        errors.add([...p, 'required'], 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
    } else sawOptional = true;
    if (o.choices !== undefined) {
      if (!Array.isArray(o.choices) || o.choices.length > 25) errors.add([...p, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      else if (o.autocomplete)
        errors.add([...p, 'autocomplete'], 'APPLICATION_COMMAND_OPTION_CHOICES_AND_AUTOCOMPLETE', 'Autocomplete cannot be used with choices');
      else
        o.choices.forEach((ch: Dict, j: number) => {
          if (typeof ch?.name !== 'string' || chars(ch.name) < 1 || chars(ch.name) > 100)
            errors.add([...p, 'choices', j, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
          const want = o.type === 3 ? 'string' : 'number';
          if (typeof ch?.value !== want) errors.add([...p, 'choices', j, 'value'], `BASE_TYPE_${want.toUpperCase()}`, `Must be a ${want}.`);
        });
    }
  });
}

/** Does the user input fit the registered option schema? Returns a problem description or null. */
export function checkOptions(defs: Dict[] | undefined, given: CommandOptionInput[], prefix: string): string | null {
  const list = defs ?? [];
  const hasSubs = list.some((d) => d.type === 1 || d.type === 2);
  if (hasSubs) {
    const sub = given[0];
    if (given.length !== 1 || !sub) return `expected exactly one subcommand of ${list.map((d) => prefix + d.name).join(', ')}`;
    const def = list.find((d) => d.name === sub.name);
    if (!def) return `unknown subcommand "${prefix}${sub.name}"`;
    if (def.type !== sub.type) return `"${prefix}${sub.name}" is type ${def.type}, not ${sub.type}`;
    return checkOptions(def.options, sub.options ?? [], `${prefix}${sub.name} `);
  }
  for (const g of given) {
    const def = list.find((d) => d.name === g.name);
    if (!def) return `unknown option "${prefix}${g.name}" (registered: ${list.map((d) => d.name).join(', ') || 'none'})`;
    if (def.type !== g.type) return `option "${prefix}${g.name}" is type ${def.type}, not ${g.type}`;
    const v = g.value;
    const name = `option "${prefix}${g.name}"`;
    switch (g.type) {
      case 3:
        if (typeof v !== 'string') return `${name} needs a string`;
        if (def.min_length !== undefined && chars(v) < def.min_length) return `${name} is shorter than min_length ${def.min_length}`;
        if (def.max_length !== undefined && chars(v) > def.max_length) return `${name} is longer than max_length ${def.max_length}`;
        break;
      case 4:
      case 10:
        if (typeof v !== 'number' || (g.type === 4 && !Number.isInteger(v))) return `${name} needs ${g.type === 4 ? 'an integer' : 'a number'}`;
        if (def.min_value !== undefined && v < def.min_value) return `${name} is below min_value ${def.min_value}`;
        if (def.max_value !== undefined && v > def.max_value) return `${name} is above max_value ${def.max_value}`;
        break;
      case 5:
        if (typeof v !== 'boolean') return `${name} needs a boolean`;
        break;
      default:
        return `${name} is of type ${g.type}: the stand-in sends strings, numbers and booleans only`;
    }
    if (Array.isArray(def.choices) && def.choices.length && !def.choices.some((c: Dict) => c.value === v)) {
      return `${name} must be one of ${def.choices.map((c: Dict) => JSON.stringify(c.value)).join(', ')}`;
    }
  }
  for (const d of list) {
    if (d.required && !given.some((g) => g.name === d.name)) return `required option "${prefix}${d.name}" is missing`;
  }
  return null;
}
