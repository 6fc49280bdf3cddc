// Secrets never leave the process: every URI that is printed goes through redactUri first.

/** Replaces the password in a URI (`scheme://user:pass@host`) with `***`. Non-URIs pass unchanged. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_m, scheme: string, auth: string) => {
    const i = auth.indexOf(':');
    return i === -1 ? `${scheme}${auth}@` : `${scheme}${auth.slice(0, i)}:***@`;
  });
}

/** Removes every occurrence of the given secrets from a message (error texts may echo a URI). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}
