import { SEARCH_ATTRIBUTE_NAMES } from '@mlis/contracts';

/**
 * What `temporal operator search-attribute create` would register from these arguments: the CLI pairs the i-th
 * `--type` with the i-th `--name` and drops a name without a type (five names and one type register one attribute).
 */
export function searchAttributesCreated(args: string[]): Record<string, string> {
  const values = (flag: string): string[] => args.filter((arg) => arg.startsWith(`${flag}=`)).map((arg) => arg.slice(flag.length + 1));
  const names = values('--name');
  return Object.fromEntries(values('--type').map((type, i) => [names[i], type]));
}

/** Every search attribute the workflows set, as Keyword. */
export const EXPECTED_SEARCH_ATTRIBUTES = Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((name) => [name, 'Keyword']));
