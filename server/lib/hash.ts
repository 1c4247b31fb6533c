import { createHash } from 'node:crypto';

/**
 * Content addresses. A type prefix keeps an item and a tree with the same bytes apart.
 * item id = SHA-256("item\0" + canonical item JSON); snapshot id = SHA-256("tree\0" + canonical tree JSON).
 */
export const hashItem = (canonicalItemJson: string): string => sha256(`item\0${canonicalItemJson}`);
export const hashTree = (canonicalTreeJson: string): string => sha256(`tree\0${canonicalTreeJson}`);
export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
