import { describeError } from '@dragonflow/base';

/**
 * A stack of cleanup steps, run last-in first-out. Every step runs even when an
 * earlier one fails; failures are collected and reported together.
 */
export class CleanupStack {
  private steps: { what: string; fn: () => unknown }[] = [];

  defer(what: string, fn: () => unknown): void {
    this.steps.push({ what, fn });
  }

  async run(): Promise<string[]> {
    const errors: string[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.fn();
      } catch (err) {
        errors.push(`${step.what}: ${describeError(err)}`);
      }
    }
    return errors;
  }

  get size(): number {
    return this.steps.length;
  }
}
