import type { Actor } from '@mlis/auth';

export type { Actor };

/** The verified caller of one request, with the request id its audit rows carry. Services take it as a parameter. */
export interface RequestActor extends Actor {
  requestId: string;
}
