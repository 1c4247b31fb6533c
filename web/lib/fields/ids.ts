/** DOM ids for fields: a problem's `field` path maps to the element to focus. */
export function fieldDomId(section: string, itemId: string, path: string): string {
  return `f-${section}-${itemId}-${path}`.replace(/[^A-Za-z0-9_-]/g, '_');
}
