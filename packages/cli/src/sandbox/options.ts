import { InvalidArgumentError } from 'commander';

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
