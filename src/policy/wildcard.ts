// IAM wildcard matching: "*" any run of characters, "?" exactly one, and
// policy variables (${aws:username}, ${*}, ${?}, ${$}, ${key, 'default'})
// whose values are always literal text. Pure.
//
// Matching is a greedy two-pointer scan (no regular expression, no
// backtracking beyond the last "*"): O(value × pattern) at worst. Var-free
// patterns are compiled once and cached in a bounded map (patterns come from
// policy files, never from requests); patterns with variables are compiled
// per use and never cached, since variable values come from requests.

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

/**
 * A compiled pattern: one element per character of the pattern after
 * variables are substituted. `lit` holds the (folded) literal character at
 * each LIT position; `kinds` says what each position is.
 */
interface Compiled {
  readonly kinds: Uint8Array;
  readonly lit: string;
}
const LIT = 0;
const ONE = 1;
const STAR = 2;

/** Case folding one UTF-16 unit at a time, so positions in pattern and value stay aligned. */
function fold(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    const lower = ch.toLowerCase();
    out += lower.length === 1 ? lower : ch;
  }
  return out;
}

/** Resolve variables as literal text; undefined when a variable has no value and no default (the element cannot match). */
function compile(tokens: readonly PatternToken[], lookup: VariableLookup, caseInsensitive: boolean): Compiled | undefined {
  const kinds: number[] = [];
  let lit = '';
  const text = (s: string) => {
    const t = caseInsensitive ? fold(s) : s;
    for (let i = 0; i < t.length; i++) kinds.push(LIT);
    lit += t;
  };
  for (const t of tokens) {
    if (t.kind === 'star') {
      // Runs of "*" are one "*": keeps the matcher's work proportional to the value.
      if (kinds[kinds.length - 1] !== STAR) {
        kinds.push(STAR);
        lit += ' ';
      }
    } else if (t.kind === 'one') {
      kinds.push(ONE);
      lit += ' ';
    } else if (t.kind === 'text') text(t.text);
    else {
      const v = lookup(t.key) ?? t.fallback;
      if (v === undefined) return undefined;
      text(v);
    }
  }
  return { kinds: Uint8Array.from(kinds), lit };
}

/**
 * Greedy two-pointer glob match: on a mismatch, resume just after the last
 * "*" with that star absorbing one more character. Never backtracks further
 * than the last star, so the work is O(value × pattern) at worst, with no
 * regular expression and no recursion.
 */
function globMatch(p: Compiled, value: string): boolean {
  const { kinds, lit } = p;
  const m = kinds.length;
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (j < value.length) {
    if (i < m && (kinds[i] === ONE || (kinds[i] === LIT && lit.charCodeAt(i) === value.charCodeAt(j)))) {
      i++;
      j++;
    } else if (i < m && kinds[i] === STAR) {
      star = i;
      resume = j;
      i++;
    } else if (star >= 0) {
      i = star + 1;
      resume++;
      j = resume;
    } else {
      return false;
    }
  }
  while (i < m && kinds[i] === STAR) i++;
  return i === m;
}

/**
 * The set of pattern positions alive after reading `prefix`, as a Thompson
 * simulation (O(prefix × pattern)). Position m is "the whole pattern used".
 */
function statesAfter(p: Compiled, prefix: string): Uint8Array {
  const { kinds, lit } = p;
  const m = kinds.length;
  let cur = new Uint8Array(m + 1);
  const close = (set: Uint8Array) => {
    // A star may match nothing: the position after it is alive too.
    for (let i = 0; i < m; i++) if (set[i] && kinds[i] === STAR) set[i + 1] = 1;
  };
  cur[0] = 1;
  close(cur);
  for (let j = 0; j < prefix.length; j++) {
    const c = prefix.charCodeAt(j);
    const next = new Uint8Array(m + 1);
    let any = false;
    for (let i = 0; i < m; i++) {
      if (!cur[i]) continue;
      const k = kinds[i];
      if (k === STAR) {
        next[i] = 1;
        any = true;
      } else if (k === ONE || lit.charCodeAt(i) === c) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return next;
    close(next);
    cur = next;
  }
  return cur;
}

const cache = new Map<string, Compiled>();
const CACHE_LIMIT = 4096;

function compiledStatic(pattern: string, caseInsensitive: boolean): Compiled {
  const key = (caseInsensitive ? 'i:' : 's:') + pattern;
  let c = cache.get(key);
  if (!c) {
    c = compile(tokenize(pattern, false), () => undefined, caseInsensitive) as Compiled;
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, c);
  }
  return c;
}

/** Compile a pattern that may hold variables (only var-free ones are cached: variable values come from requests). */
function compiledWith(pattern: string, lookup: VariableLookup, caseInsensitive: boolean): Compiled | undefined {
  if (!pattern.includes('${')) return compiledStatic(pattern, caseInsensitive);
  return compile(tokenize(pattern, true), lookup, caseInsensitive);
}

/** Match without variables (actions, and patterns known to have none). */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return caseInsensitive ? fold(pattern) === fold(value) : pattern === value;
  }
  return globMatch(compiledStatic(pattern, caseInsensitive), caseInsensitive ? fold(value) : value);
}

/** Match a pattern that may hold policy variables. */
export function patternMatch(pattern: string, value: string, lookup: VariableLookup, caseInsensitive = false): boolean {
  if (!pattern.includes('${')) return wildcardMatch(pattern, value, caseInsensitive);
  const c = compile(tokenize(pattern, true), lookup, caseInsensitive);
  return c !== undefined && globMatch(c, caseInsensitive ? fold(value) : value);
}

/**
 * Could the pattern match some value that starts with `prefix` and goes on
 * with characters that `suffixChar` allows (by default any)? Exact: an alive
 * position from which every literal left in the pattern is an allowed
 * character can always be completed.
 */
export function patternMayMatchPrefix(pattern: string, prefix: string, lookup: VariableLookup, suffixChar?: (code: number) => boolean): boolean {
  const c = compiledWith(pattern, lookup, false);
  if (!c) return false;
  const alive = statesAfter(c, prefix);
  const m = c.kinds.length;
  let completable = true; // from position i on, every literal is allowed
  for (let i = m; i >= 0; i--) {
    if (i < m && c.kinds[i] === LIT && suffixChar && !suffixChar(c.lit.charCodeAt(i))) completable = false;
    if (alive[i] && completable) return true;
  }
  return false;
}

/** Does the pattern match every value that starts with `prefix` (it does not depend on the rest)? Sound, not complete. */
export function patternMatchesAllWithPrefix(pattern: string, prefix: string, lookup: VariableLookup): boolean {
  const c = compiledWith(pattern, lookup, false);
  if (!c) return false;
  const alive = statesAfter(c, prefix);
  const m = c.kinds.length;
  // From an alive position, the rest of the pattern is stars only (at least one): it accepts any suffix.
  let restAllStars = true;
  let sawStar = false;
  for (let i = m - 1; i >= 0; i--) {
    if (c.kinds[i] !== STAR) {
      restAllStars = false;
    } else sawStar = true;
    if (restAllStars && sawStar && alive[i]) return true;
    if (!restAllStars) break;
  }
  return false;
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
