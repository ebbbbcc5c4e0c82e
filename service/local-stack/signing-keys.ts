import { randomBytes } from 'node:crypto';

/** A fresh `SYNC_SIGNING_KEYS` value for one run: signing is on wherever the project starts replicas, and no key lives in the repo. */
export const freshSigningKeys = (id = 'run'): string => `${id}:${randomBytes(32).toString('base64url')}`;
