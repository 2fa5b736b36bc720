import { vi } from "vitest";

export interface FetchCall {
  url: string;
  method: string;
  headers: Record<string, string>;
}

type Reply = { status?: number; body?: unknown } | (() => { status?: number; body?: unknown } | Promise<{ status?: number; body?: unknown }>);

/** A fetch stand-in answering by "METHOD path" (query included) or by path prefix; records calls. */
export function fakeFetch(routes: Record<string, Reply>) {
  const calls: FetchCall[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = (init.method ?? "GET").toUpperCase();
    calls.push({ url, method, headers: { ...(init.headers as Record<string, string>) } });
    const key = Object.keys(routes)
      .filter((k) => {
        const [m, p] = k.includes(" ") ? k.split(" ", 2) : ["GET", k];
        return m === method && url.startsWith(p ?? "");
      })
      .sort((a, b) => b.length - a.length)[0];
    if (key === undefined) return new Response(JSON.stringify({ detail: "Not found." }), { status: 404 });
    const route = routes[key]!;
    const reply = typeof route === "function" ? await route() : route;
    return new Response(reply.body === undefined ? "" : JSON.stringify(reply.body), {
      status: reply.status ?? 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fn);
  return { fn, calls };
}
