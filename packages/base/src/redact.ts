/**
 * Endpoints are shown in logs, health reports and CLI output; a DB URL may carry
 * credentials (`redis://user:secret@host:6379`, `?password=...`). Everything that
 * shows an endpoint passes it through here first.
 */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)?[^/?#@\s]*@/i;
const SECRET_PARAM = /([?&;](?:password|passwd|pass|pwd|token|secret|auth)=)[^&;#]*/gi;

/** The endpoint without userinfo and with secret query parameters masked. Not a URL? Returned with the same rules applied. */
export function redactUrl(url: string): string {
  return url.replace(USERINFO, (_m, scheme: string | undefined) => scheme ?? '').replace(SECRET_PARAM, '$1***');
}
