import { InitialLedger1764190000000 } from './1764190000000-initial-ledger';

/** Every migration, oldest first. Append only: never edit one that has landed. */
export const MIGRATIONS = [InitialLedger1764190000000];
