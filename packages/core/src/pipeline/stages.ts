/**
 * The fixed stages of the pipeline, in packet order (docs/pipeline.md). Apps
 * declare named tables inside a stage; the allocator numbers them.
 */
export const STAGES = ['classify', 'ingress-security', 'services', 'l2-lookup', 'l3', 'egress', 'egress-security', 'dispatch'] as const;

export type Stage = (typeof STAGES)[number];

/** Stages only the core may put tables in. */
export const CORE_ONLY_STAGES: readonly Stage[] = ['dispatch'];

export function isStage(name: string): name is Stage {
  return (STAGES as readonly string[]).includes(name);
}

/** The app name the core's own tables, flows and cookies are filed under (cookie slot 0). */
export const CORE_APP = 'core';
