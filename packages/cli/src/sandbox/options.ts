import { InvalidArgumentError } from 'commander';
import { parse } from 'yaml';

/** A commander option parser for an integer in [min, max]. */
export function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer ${min}..${max}`);
    return Number(v);
  };
}

/** A commander option parser for one of a few words. */
export function choice<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}`);
    return v as T;
  };
}

/** A commander option parser for a comma-separated list of some of a few words (duplicates dropped, order kept). */
export function choices<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T[] => {
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError(`${name} needs at least one of ${values.join(', ')}`);
    const bad = items.filter((i) => !(values as readonly string[]).includes(i));
    if (bad.length > 0) throw new InvalidArgumentError(`${name}: ${bad.join(', ')}: each must be one of ${values.join(', ')}`);
    return [...new Set(items)] as T[];
  };
}

/** Per-app options: package name → the options its entry in every controller config gets. */
export type AppOptions = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/**
 * A commander option parser for a repeatable `PACKAGE=OPTIONS`, OPTIONS a YAML flow
 * mapping or JSON (`@dragonflow/app-dnat={mode: centralized}`): each occurrence adds
 * to the options of its package (later keys win). Whether the app accepts them is
 * the app's own check, when the controllers load it.
 */
export function appOptionsOption(name: string) {
  return (v: string, previous: AppOptions | undefined): AppOptions => {
    const eq = v.indexOf('=');
    const pkg = eq < 0 ? '' : v.slice(0, eq).trim();
    if (!pkg) throw new InvalidArgumentError(`${name} ${v}: must be PACKAGE=OPTIONS, e.g. '@dragonflow/app-dnat={mode: centralized}'`);
    let options: unknown;
    try {
      options = parse(v.slice(eq + 1));
    } catch (err) {
      throw new InvalidArgumentError(`${name} ${pkg}: the options are not YAML or JSON (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidArgumentError(`${name} ${pkg}: the options must be a mapping, e.g. {mode: centralized}`);
    return { ...previous, [pkg]: { ...previous?.[pkg], ...(options as Record<string, unknown>) } };
  };
}
