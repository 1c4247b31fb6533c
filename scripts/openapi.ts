/** `npm run openapi`: writes the API's OpenAPI document to schema/openapi.json (OAS-1). */
import { writeFileSync } from 'node:fs';
import { buildDocument, documentText, DOCUMENT_PATH } from './openapi-document.ts';

writeFileSync(DOCUMENT_PATH, documentText(await buildDocument()));
console.log(`Wrote ${DOCUMENT_PATH}`);
