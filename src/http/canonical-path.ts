// Whether a request path is one a route could have. "/events/", "/x/../admin/..." or
// "/%2e/events" is no route's path, whatever a router or a URL parser would make of it
// (Elysia's router takes "/events/" for "/events"; a Request resolves dot segments): it is
// answered 404 before any route sees it.

// an empty, "." or ".." segment, the dots also as %2e
const ODD_SEGMENT = /\/(?:\.|%2e){0,2}(?:\/|$)/i;

/** "/" or "/segment/segment...": no empty segment (so no trailing slash), no dot segment. */
export const isCanonicalPath = (path: string): boolean => path === "/" || !ODD_SEGMENT.test(path);

/** The path of a request URL, as the app was given it (no query string). */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}
