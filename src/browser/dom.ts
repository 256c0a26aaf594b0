// The pages' few DOM helpers (the buyer's page and the operator's console). Text goes in as
// text, never as HTML: names come from outside.

/** The element with this id; the page is broken without it, so say which. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

/** A new element with attributes (false or undefined: left out) and children (strings become text). */
export function el(
  tag: string,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Array<Node | string>
): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) element.setAttribute(name, "");
    else if (typeof value === "string") element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/**
 * Shows `text` in an element that is hidden while empty. The same text again changes nothing:
 * a live region (a notice repeated at every reading) is not announced again.
 */
export function say(element: HTMLElement, text: string | null): void {
  if (element.textContent !== (text ?? "")) element.textContent = text ?? "";
  element.hidden = !text;
}
