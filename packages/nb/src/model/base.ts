import type { z } from 'zod';
import { descriptionField, nameField, projectIdField, tagsField, timestampField, uuidField } from './fields.js';

/** Version of the stored JSON layout; written into every stored object as `_schema`. */
export const NB_SCHEMA_VERSION = 1;

/** Fields every northbound object has (besides `version`, which the DB owns). */
export const baseFields = {
  id: uuidField,
  projectId: projectIdField.default(''),
  name: nameField.default(''),
  description: descriptionField.default(''),
  /** Labels clients filter on (objects stored before tags existed have none: read `tags ?? []`). */
  tags: tagsField.default([]),
  createdAt: timestampField.optional(),
  updatedAt: timestampField.optional(),
};

/**
 * `version` counts the writes of an object since it was created (1 after create).
 * It is the compare-and-swap token: an update names the version it read, and fails
 * with NB_CONFLICT when the object changed in between. It is not stored in the JSON:
 * the driver keeps it and every read fills it in.
 */
export interface Versioned {
  version: number;
}

/** Adds the issue for `path` to a zod refinement context. */
export function issue(ctx: z.RefinementCtx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}
