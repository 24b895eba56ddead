import { useEffect, useState } from 'react';

/** Client-side navigation on the History API; the shop serves index.html for every page path. */
export function navigate(path: string): void {
  history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return path;
}

/** Polls `read` every `everyMs` while mounted; `stop` ends the polling once it returns true. */
export function usePoll<T>(
  read: () => Promise<T>,
  everyMs: number,
  deps: unknown[],
  stop?: (value: T) => boolean,
): { value: T | undefined; error: string | undefined } {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let active = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const next = await read();
        if (!active) return;
        setValue(next);
        setError(undefined);
        if (stop?.(next)) return;
      } catch (caught) {
        if (active) setError((caught as Error).message);
      }
      if (active) timer = setTimeout(tick, everyMs);
    };
    void tick();
    return () => {
      active = false;
      clearTimeout(timer);
    };
    // biome-ignore lint/correctness/useExhaustiveDependencies: the caller lists what the poll depends on.
  }, deps);
  return { value, error };
}
