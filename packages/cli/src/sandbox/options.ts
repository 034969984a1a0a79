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
