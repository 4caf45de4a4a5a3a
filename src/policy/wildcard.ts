// IAM wildcard matching: "*" any run of characters, "?" exactly one, and
// policy variables (${aws:username}, ${*}, ${?}, ${$}, ${key, 'default'})
// whose values are always literal text. Pure.
//
// Var-free patterns are compiled once and cached in a bounded map (patterns
// come from policy files, never from requests, so the set is small).

export type PatternToken =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'star' }
  | { readonly kind: 'one' }
  | { readonly kind: 'var'; readonly key: string; readonly fallback?: string };

export type VariableLookup = (key: string) => string | undefined;

const VAR = /\$\{([^}]*)\}/g;
const VAR_BODY = /^\s*([A-Za-z0-9-]+:[A-Za-z0-9_\-/.:]+|\*|\?|\$)\s*(?:,\s*'([^']*)'\s*)?$/;

/** Tokenise a pattern; with variables=false, "${...}" is plain text (as in Action). */
export function tokenize(pattern: string, variables: boolean): PatternToken[] {
  const tokens: PatternToken[] = [];
  const pushText = (s: string) => {
    for (const ch of s) {
      if (ch === '*') tokens.push({ kind: 'star' });
      else if (ch === '?') tokens.push({ kind: 'one' });
      else {
        const last = tokens[tokens.length - 1];
        if (last?.kind === 'text') tokens[tokens.length - 1] = { kind: 'text', text: last.text + ch };
        else tokens.push({ kind: 'text', text: ch });
      }
    }
  };
  if (!variables) {
    pushText(pattern);
    return tokens;
  }
  let at = 0;
  for (const m of pattern.matchAll(VAR)) {
    pushText(pattern.slice(at, m.index));
    at = (m.index ?? 0) + m[0].length;
    const body = VAR_BODY.exec(m[1] ?? '');
    if (!body) throw new Error(`"${m[0]}" is not a policy variable (expected \${prefix:Key} or \${prefix:Key, 'default'})`);
    const key = body[1] as string;
    if (key === '*' || key === '?' || key === '$') tokens.push({ kind: 'text', text: key });
    else tokens.push({ kind: 'var', key: key.toLowerCase(), ...(body[2] !== undefined ? { fallback: body[2] } : {}) });
  }
  pushText(pattern.slice(at));
  // Merge adjacent text tokens produced by ${*} and friends.
  return tokens.reduce<PatternToken[]>((acc, tok) => {
    const last = acc[acc.length - 1];
    if (tok.kind === 'text' && last?.kind === 'text') acc[acc.length - 1] = { kind: 'text', text: last.text + tok.text };
    else acc.push(tok);
    return acc;
  }, []);
}

export function hasVariables(tokens: readonly PatternToken[]): boolean {
  return tokens.some((t) => t.kind === 'var');
}

const escape = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');

/** Resolve variables; undefined when a variable has no value and no default (the element cannot match). */
function toRegexSource(tokens: readonly PatternToken[], lookup: VariableLookup): string | undefined {
  let src = '';
  for (const t of tokens) {
    if (t.kind === 'star') src += '.*';
    else if (t.kind === 'one') src += '.';
    else if (t.kind === 'text') src += escape(t.text);
    else {
      const v = lookup(t.key) ?? t.fallback;
      if (v === undefined) return undefined;
      src += escape(v);
    }
  }
  return src;
}

const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 4096;

function compiled(pattern: string, caseInsensitive: boolean): RegExp {
  const key = (caseInsensitive ? 'i:' : 's:') + pattern;
  let re = cache.get(key);
  if (!re) {
    re = new RegExp(`^${toRegexSource(tokenize(pattern, false), () => undefined) as string}$`, caseInsensitive ? 'is' : 's');
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, re);
  }
  return re;
}

/** Match without variables (actions, and patterns known to have none). */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return caseInsensitive ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }
  return compiled(pattern, caseInsensitive).test(value);
}

/** Match a pattern that may hold policy variables. */
export function patternMatch(pattern: string, value: string, lookup: VariableLookup, caseInsensitive = false): boolean {
  if (!pattern.includes('${')) return wildcardMatch(pattern, value, caseInsensitive);
  const src = toRegexSource(tokenize(pattern, true), lookup);
  if (src === undefined) return false;
  return new RegExp(`^${src}$`, caseInsensitive ? 'is' : 's').test(value);
}

/** Substitute variables in a condition value that is compared literally (StringEquals). */
export function substitute(value: string, lookup: VariableLookup): string | undefined {
  if (!value.includes('${')) return value;
  let out = '';
  for (const t of tokenize(value, true)) {
    if (t.kind === 'text') out += t.text;
    else if (t.kind === 'star') out += '*';
    else if (t.kind === 'one') out += '?';
    else {
      const v = lookup(t.key) ?? t.fallback;
      if (v === undefined) return undefined;
      out += v;
    }
  }
  return out;
}
