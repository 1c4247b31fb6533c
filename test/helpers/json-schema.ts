/**
 * A small JSON Schema (2020-12) checker for the keywords schema/openapi.json uses: enough to prove
 * a real answer matches what the document says (OAS-3), with no validator package. Keywords it
 * does not know are ignored; `$ref`s are resolved in the document given.
 */
type Schema = boolean | { [key: string]: unknown };

export function schemaErrors(
  value: unknown,
  schema: Schema,
  document: unknown,
  path = '$',
): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value allowed`];
  const s = schema;
  if (typeof s.$ref === 'string') {
    const target = (s.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>(
        (node, key) => (node as Record<string, unknown> | undefined)?.[decodeURIComponent(key)],
        document,
      );
    if (target === undefined) return [`${path}: unresolved ${s.$ref as string}`];
    return schemaErrors(value, target as Schema, document, path);
  }
  const errors: string[] = [];
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => isType(value, t)))
      return [`${path}: expected ${types.join(' or ')}, got ${JSON.stringify(value)}`];
  }
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value))
    errors.push(`${path}: expected ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  if (Array.isArray(s.allOf))
    for (const sub of s.allOf as Schema[]) errors.push(...schemaErrors(value, sub, document, path));
  if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf)) {
    const options = (s.anyOf ?? s.oneOf) as Schema[];
    const fits = options.filter((o) => schemaErrors(value, o, document, path).length === 0);
    if (fits.length === 0 || (s.oneOf && fits.length > 1))
      errors.push(`${path}: fits ${fits.length} of the ${s.anyOf ? 'anyOf' : 'oneOf'} options`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength)
      errors.push(`${path}: shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength)
      errors.push(`${path}: longer than ${s.maxLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value))
      errors.push(`${path}: does not match ${s.pattern}`);
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum)
      errors.push(`${path}: below ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum)
      errors.push(`${path}: above ${s.maximum}`);
  }
  if (Array.isArray(value)) {
    if (s.items !== undefined)
      value.forEach((v, i) =>
        errors.push(...schemaErrors(v, s.items as Schema, document, `${path}[${i}]`)),
      );
    if (typeof s.minItems === 'number' && value.length < s.minItems)
      errors.push(`${path}: fewer than ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems)
      errors.push(`${path}: more than ${s.maxItems} items`);
  } else if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of (s.required ?? []) as string[])
      if (!(key in object)) errors.push(`${path}: missing ${key}`);
    for (const [key, v] of Object.entries(object)) {
      const where = `${path}.${key}`;
      if (key in properties) errors.push(...schemaErrors(v, properties[key]!, document, where));
      else if (s.additionalProperties !== undefined)
        errors.push(...schemaErrors(v, s.additionalProperties as Schema, document, where));
    }
  }
  return errors;
}

function isType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    default:
      return typeof value === type;
  }
}
