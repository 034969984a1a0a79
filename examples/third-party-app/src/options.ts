import { z } from 'zod';

export const mirrorOptionsSchema = z
  .object({
    mirrors: z
      .array(
        z
          .object({
            /** Logical port id whose traffic is mirrored. */
            port: z.string().min(1),
            /** Logical port id of the local port that receives the copies. */
            to: z.string().min(1),
            direction: z.enum(['both', 'from-port', 'to-port']).default('both'),
          })
          .strict()
          .refine((m) => m.port !== m.to, { message: 'a port cannot be mirrored to itself', path: ['to'] }),
      )
      .default([]),
  })
  .strict()
  .superRefine((o, ctx) => {
    const seen = new Set<string>();
    o.mirrors.forEach((m, i) => {
      if (seen.has(m.port)) ctx.addIssue({ code: 'custom', path: ['mirrors', i, 'port'], message: `port ${m.port} is mirrored twice` });
      seen.add(m.port);
    });
  });

export type MirrorOptions = z.output<typeof mirrorOptionsSchema>;
