import { badRequestError } from './api-status.js';
import { errorText, invalid } from './field-errors.js';
import { labelValueErrors, qualifiedNameErrors } from './name-rules.js';

/**
 * Label selectors (`a=b,c!=d,e in (x,y),!f`) and field selectors (`involvedObject.name=x`)
 * with the grammar and the 400 errors of apimachinery's `labels.Parse`/`fields.ParseSelector`.
 */
type Operator = 'in' | 'notin' | 'exists' | '!exists' | 'gt' | 'lt';

interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

const KEY = '([^\\s=!<>(),]+)';
const EXISTS_RE = new RegExp(`^${KEY}$`);
const NOT_EXISTS_RE = new RegExp(`^!\\s*${KEY}$`);
const EQUALITY_RE = new RegExp(`^${KEY}\\s*(==|=|!=)\\s*([^\\s=!<>(),]*)$`);
const SET_RE = new RegExp(`^${KEY}\\s+(in|notin)\\s*\\(([^()]*)\\)$`);
const ORDER_RE = new RegExp(`^${KEY}\\s*([<>])\\s*([^\\s=!<>(),]+)$`);

function parseError(detail: string): Error {
  return badRequestError(`unable to parse requirement: ${detail}`);
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const character of text) {
    if (character === '(') depth += 1;
    if (character === ')') depth -= 1;
    if (character === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += character;
    }
  }
  parts.push(current);
  return parts;
}

function checkKey(key: string): void {
  const errors = qualifiedNameErrors(key);
  if (errors.length > 0) throw parseError(errorText(invalid('key', key, errors.join('; '))));
}

function checkValue(key: string, value: string, position: number): void {
  const errors = labelValueErrors(value);
  if (errors.length > 0) throw parseError(errorText(invalid(`values[${position}][${key}]`, value, errors.join('; '))));
}

function parseRequirement(raw: string): Requirement {
  const text = raw.trim();
  let match = NOT_EXISTS_RE.exec(text);
  if (match) {
    checkKey(match[1]);
    return { key: match[1], operator: '!exists', values: [] };
  }
  match = SET_RE.exec(text);
  if (match) {
    const key = match[1];
    const values = match[3].split(',').map((value) => value.trim());
    checkKey(key);
    values.forEach((value, position) => checkValue(key, value, position));
    return { key, operator: match[2] === 'in' ? 'in' : 'notin', values };
  }
  match = EQUALITY_RE.exec(text);
  if (match) {
    const key = match[1];
    const value = match[3];
    checkKey(key);
    checkValue(key, value, 0);
    return { key, operator: match[2] === '!=' ? 'notin' : 'in', values: [value] };
  }
  match = ORDER_RE.exec(text);
  if (match) {
    const key = match[1];
    checkKey(key);
    if (!/^-?[0-9]+$/.test(match[3])) throw parseError(`for 'Gt', 'Lt' operators, the value must be an integer`);
    return { key, operator: match[2] === '>' ? 'gt' : 'lt', values: [match[3]] };
  }
  match = EXISTS_RE.exec(text);
  if (match) {
    checkKey(match[1]);
    return { key: match[1], operator: 'exists', values: [] };
  }
  throw parseError(`invalid requirement ${JSON.stringify(text)}`);
}

function requirementMatches(requirement: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.operator) {
    case 'exists':
      return has;
    case '!exists':
      return !has;
    case 'in':
      return has && requirement.values.includes(value);
    case 'notin':
      return !has || !requirement.values.includes(value);
    case 'gt':
    case 'lt': {
      if (!has || !/^-?[0-9]+$/.test(value)) return false;
      const difference = Number(value) - Number(requirement.values[0]);
      return requirement.operator === 'gt' ? difference > 0 : difference < 0;
    }
  }
}

export class LabelSelector {
  private constructor(private readonly requirements: readonly Requirement[]) {}

  static readonly everything = new LabelSelector([]);

  static parse(text: string | undefined): LabelSelector {
    if (text === undefined || text.trim() === '') return LabelSelector.everything;
    return new LabelSelector(splitTopLevel(text).map(parseRequirement));
  }

  get isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  matches(labels: Readonly<Record<string, string>> | undefined): boolean {
    const actual = labels ?? {};
    return this.requirements.every((requirement) => requirementMatches(requirement, actual));
  }

  /** `key=value` pairs every match must carry: lets the store narrow candidates by its label index. */
  requiredPairs(): [string, string][] {
    return this.requirements
      .filter((requirement) => requirement.operator === 'in' && requirement.values.length === 1)
      .map((requirement) => [requirement.key, requirement.values[0]]);
  }
}

interface FieldRequirement {
  readonly field: string;
  readonly value: string;
  readonly negated: boolean;
}

/** Reads one selectable field of an object as text (`undefined` when the kind does not support it). */
export type FieldReader = (field: string) => string | undefined;

export class FieldSelector {
  private constructor(private readonly requirements: readonly FieldRequirement[]) {}

  static readonly everything = new FieldSelector([]);

  /** `supported` lists the field labels the resource allows; others are a 400 like the real server. */
  static parse(text: string | undefined, supported: ReadonlySet<string>): FieldSelector {
    if (text === undefined || text.trim() === '') return FieldSelector.everything;
    const requirements = text.split(',').map((raw): FieldRequirement => {
      const match = /^\s*([^=!\s]+)\s*(==|=|!=)(.*)$/.exec(raw);
      if (!match) throw badRequestError(`invalid selector: '${text}'; can't understand '${raw}'`);
      const field = match[1];
      if (!supported.has(field)) throw badRequestError(`field label not supported: ${field}`);
      return { field, value: match[3].trim(), negated: match[2] === '!=' };
    });
    return new FieldSelector(requirements);
  }

  get isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  matches(read: FieldReader): boolean {
    return this.requirements.every((requirement) => (read(requirement.field) === requirement.value) !== requirement.negated);
  }
}
