import { describeError, redactUrl } from '@dragonflow/base';

/** URL-shaped words of a message (scheme://…), as DB drivers put endpoints in their errors. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>()]+/gi;

/** `text` with every URL in it passed through redactUrl: no credentials reach a log line. */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, (u) => redactUrl(u));
}

/** An error as a log line may show it: its description (with context) and its cause, credentials removed. */
export function describeForLog(err: unknown): string {
  const seen = new Set<unknown>();
  const parts: string[] = [];
  let e: unknown = err;
  while (e !== undefined && e !== null && !seen.has(e) && parts.length < 5) {
    seen.add(e);
    parts.push(describeError(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return redactText(parts.join(' <- caused by: '));
}
